from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from contacts_service import errors
from contacts_service.api import ApiKeyViewSet, MeView
from contacts_service.health import HealthView
from contacts_service.metrics import METRICS_VIEW_NAME, metrics_view

router = SimpleRouter(trailing_slash=True)
router.register("api-keys", ApiKeyViewSet, basename="api-key")

api_v1 = [
    path("me/", MeView.as_view(), name="me"),
    *router.urls,
    path("", include("contacts.urls")),
    path("", include("tags.urls")),
    path("", include("lists.urls")),
    path("", include("events.urls")),
    path("", include("consent.urls")),
    path("", include("imports.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/health/", HealthView.as_view(), name="health"),
    path("metrics", metrics_view, name=METRICS_VIEW_NAME),  # Prometheus' default metrics_path
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
    # Any other /api/ path ending in a slash: the JSON 404 of the error contract also with
    # DJANGO_DEBUG=1 (the quick start's default), where Django would answer its HTML debug page
    # instead of handler404. Without the slash, APPEND_SLASH still redirects to a path that exists.
    re_path(r"^api/(?:.*/)?$", csrf_exempt(errors.handler404), name="api-not-found"),
]

handler400 = "contacts_service.errors.handler400"
handler403 = "contacts_service.errors.handler403"
handler404 = "contacts_service.errors.handler404"
handler500 = "contacts_service.errors.handler500"
