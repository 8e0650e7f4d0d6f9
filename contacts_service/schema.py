"""OpenAPI: auth schemes, the X-Tenant-ID header and the error responses of every operation."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from contacts_service.serializers import ErrorSerializer, RateLimitedSerializer, StrictInputSerializer
from contacts_service.viewsets import TenantScopedMixin


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "contacts_service.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key csk_<prefix>_<secret>`; the key decides the tenant and the role.",
        }


class JWTScheme(OpenApiAuthenticationExtension):
    target_class = "contacts_service.auth.JWTAuthentication"
    name = "Bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


ERRORS = {
    "400": "Invalid input: the errors list names each field and reason.",
    "401": "No or invalid credentials.",
    "403": "Not a member of the tenant, or the role lacks the permission.",
    "404": "Not found (including another tenant's id).",
    # /lists/preview/ is both an action's URL (POST) and /lists/{id}/ with id "preview".
    "405": "Method not allowed on this URL (e.g. GET /lists/preview/: an action, not an id).",
    "413": "Request body too large.",
    "429": "Rate limit of the tenant's plan exceeded (code `rate_limited`, `limit`, `retry_after`; "
    "Retry-After header).",
}


# Of every write: a state the change cannot apply to (a taken email, a started import, a dynamic
# list, a purpose in a ledger, ...); operations with a state of their own document it by name.
WRITE_ERRORS = {
    "409": "Conflict with the resource's state (the `code` says which, e.g. `unique`, `started`, "
    "`dynamic`, `in_use`, `merged`).",
}
BODY_ERRORS = {
    "415": "Unsupported media type: send the body in a content type the operation lists (application/json; "
    "multipart/form-data for uploads) (code `unsupported_media_type`).",
}


class AutoSchema(SpectacularAutoSchema):
    """Adds X-Tenant-ID and the shared error responses to every tenant-scoped operation."""

    def get_override_parameters(self):
        params = super().get_override_parameters()
        if isinstance(self.view, TenantScopedMixin):
            params = [
                *params,
                OpenApiParameter(
                    "X-Tenant-ID",
                    OpenApiTypes.UUID,
                    OpenApiParameter.HEADER,
                    required=False,
                    description="Tenant to act for when authenticated as a user (ignored for API keys, "
                    "which must not name another tenant).",
                ),
            ]
        return params

    def _process_override_parameters(self, direction="request"):
        """A query parameter of extend_schema made with empty_skipped() says allowEmptyValue."""
        result = super()._process_override_parameters(direction)
        for parameter in self.get_override_parameters():
            if getattr(parameter, "empty_skipped", False):
                built = result.get((parameter.name, parameter.location))
                if built:
                    built["allowEmptyValue"] = True
        return result

    def _get_filter_parameters(self):
        """django-filter skips a filter sent empty (?city=), as an HTML form sends it: say so."""
        parameters = super()._get_filter_parameters()
        for parameter in parameters:
            if parameter.get("in") == "query":
                parameter["allowEmptyValue"] = True
        return parameters

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """Arrays say what the field refuses: allow_empty=False is minItems 1 and a many=True
        serializer's max_length is maxItems (drf-spectacular emits those of a ListField only). A field
        whose format the service checks says it as `style={"schema_pattern": ...}`."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        pattern = (getattr(field, "style", None) or {}).get("schema_pattern")
        if pattern:  # a format the service checks itself (see the field's style)
            schema["pattern"] = pattern
        if direction == "request" and isinstance(field, serializers.ListSerializer | serializers.ListField):
            target = schema
            if getattr(field, "allow_empty", True) is False:
                target["minItems"] = max(target.get("minItems", 0), 1)
            if getattr(field, "max_length", None) is not None and "maxItems" not in target:
                target["maxItems"] = field.max_length
        return schema

    def _map_basic_serializer(self, serializer, direction):
        """A strict input serializer refuses unknown fields: its object says additionalProperties: false."""
        schema = super()._map_basic_serializer(serializer, direction)
        if isinstance(force_instance(serializer), StrictInputSerializer):
            schema["additionalProperties"] = False
        if (
            direction == "request"
            and self.method == "PATCH"
            and getattr(self.view, "empty_patch_refused", False)
            and type(force_instance(serializer)) is type(force_instance(self.get_request_serializer()))
        ):
            schema["minProperties"] = 1
        return schema

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = super()._get_response_headers_for_code(status_code, direction)
        if isinstance(self.view, TenantScopedMixin):
            headers = {**rate_limit_headers(str(status_code)), **headers}
        return headers

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if not isinstance(self.view, TenantScopedMixin):
            return responses
        errors = dict(ERRORS)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors.update(WRITE_ERRORS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update(BODY_ERRORS)
        for code, description in errors.items():
            if code not in responses:
                body = OpenApiResponse(
                    RateLimitedSerializer if code == "429" else ErrorSerializer, description=description
                )
                responses[code] = self._get_response_for_code(body, code)
        return responses


RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": ("integer", "Requests a minute of the bucket with the fewest left."),
    "X-RateLimit-Remaining": ("integer", "Requests left in that bucket now."),
    "X-RateLimit-Reset": ("integer", "Seconds until that bucket is full again."),
    "X-RateLimit-Scope": ("string", "The bucket: tenant, api_key, user or expensive."),
}
# Answered before the request is counted (authentication and permissions come first).
UNCOUNTED = {"401", "403"}


def rate_limit_headers(status_code: str) -> dict:
    """The headers of a counted answer (RateLimitHeadersMiddleware): the X-RateLimit-* of every answer
    after the permission checks, and Retry-After on a 429."""
    if status_code in UNCOUNTED:
        return {}
    headers = {
        name: {"schema": {"type": kind}, "description": description}
        for name, (kind, description) in RATE_LIMIT_HEADERS.items()
    }
    if status_code == "429":
        headers["Retry-After"] = {
            "schema": {"type": "integer", "minimum": 1},
            "description": "Whole seconds until the next request fits.",
            "required": True,
        }
    return headers


def empty_skipped(parameter: OpenApiParameter) -> OpenApiParameter:
    """Mark a query parameter the view skips when sent empty (?type=), as django-filter skips its
    filters: the schema says allowEmptyValue, as for the filters."""
    parameter.empty_skipped = True
    return parameter
