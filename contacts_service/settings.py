"""Settings, all read from the environment (docs/operations.md lists every variable).

With no environment at all the service runs embedded: SQLite, an in-process cache, Celery tasks
run eagerly and events stay in the outbox. Production sets DATABASE_URL, REDIS_URL,
CELERY_BROKER_URL and RABBITMQ_URL.
"""

import json
import logging
import math
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer variable; a value that is not one (or is outside `minimum`..`maximum`) stops start-up
    naming it."""
    value = os.environ.get(name)
    if not value or not value.strip():  # unset, empty or blank: the default (as gunicorn_conf.env_int)
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value!r}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value!r}")
    return number


def env_float(name: str, default: float) -> float:
    """A number variable (e.g. seconds); a value that is not a finite number stops start-up naming it."""
    value = os.environ.get(name)
    if not value:
        return float(default)
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ImproperlyConfigured(f"{name} must be a finite number, not {value!r}")
    return number


# Schemes redis-py (the cache, the rate limiter) can connect with.
REDIS_URL_SCHEMES = ("redis://", "rediss://", "unix://")


def env_redis_url(name: str, default: str = "") -> str:
    """A Redis URL variable (empty: none); another scheme (none, http://) stops start-up naming it,
    instead of failing every request that uses it."""
    value = os.environ.get(name, default).strip()
    if value and not value.startswith(REDIS_URL_SCHEMES):
        raise ImproperlyConfigured(
            f"{name} must be a Redis URL starting with {', '.join(REDIS_URL_SCHEMES)} (e.g. redis://host:6379/0)"
        )
    return value


def env_database(name: str, default: str, **options) -> dict:
    """The database of a URL variable (empty: the default, as for the other URL variables); one
    dj-database-url cannot read (a typo in the scheme, an unquoted character) stops start-up naming
    it. The message never repeats the URL (it may hold a password)."""
    value = os.environ.get(name, "").strip() or default
    try:
        return dj_database_url.parse(value, **options)
    except ValueError as exc:  # UnknownSchemeError, ParseError
        raise ImproperlyConfigured(
            f"{name} is not a database URL (e.g. postgres://user:pass@host:5432/db): {exc}"
        ) from None


# Level names logging knows (CRITICAL, FATAL, ERROR, WARN, WARNING, INFO, DEBUG, NOTSET).
LOG_LEVEL_NAMES = tuple(logging.getLevelNamesMapping())


def env_log_level(name: str, default: str) -> str:
    """A log level variable in any case (`info` is INFO); another value stops start-up naming it."""
    value = os.environ.get(name, "").strip().upper() or default
    if value not in LOG_LEVEL_NAMES:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(LOG_LEVEL_NAMES)} (any case), not {value!r}"
        )
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
# Reverse proxies in front of the service that append the caller's address to X-Forwarded-For: the
# consent ledger records the address the outermost one saw (consent.api.client_ip); 0: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets served from here, not from a CDN
    "guardian",
    "import_export",
    "contacts_service",
    "events",
    "contacts",
    "tags",
    "lists",
    "consent",
    "imports",
]

# Object permissions (django-guardian): one list can be shared with one user beyond their role.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # no guardian anonymous user: anonymous callers never hold grants

MIDDLEWARE = [
    "contacts_service.middleware.RequestContextMiddleware",
    "contacts_service.middleware.RequestLimitsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "contacts_service.urls"
WSGI_APPLICATION = "contacts_service.wsgi.application"
AUTH_USER_MODEL = "contacts_service.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env_database(
        "DATABASE_URL",
        f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves threads (runserver) and in-process tasks at once: a transaction
    # takes the write lock when it begins (a deferred one that read first failed at once with
    # "database is locked" when another wrote), waits up to 20 s for it, and WAL lets reads go on.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"]["OPTIONS"],
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_redis_url("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# Admin and Swagger UI assets served by the web process itself (no separate static server needed).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# Request bodies above this size get a 413 before anything reads them (file uploads excepted).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 25)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 100)
# Lists count exactly up to this many rows, then show the planner's estimate (count_is_estimate).
API_COUNT_EXACT_LIMIT = env_int("API_COUNT_EXACT_LIMIT", 1_000)
# How long a process reuses the planner's estimate for the same list statement (seconds; 0: never).
API_COUNT_ESTIMATE_SECONDS = env_int("API_COUNT_ESTIMATE_SECONDS", 60)
# A first page whose filter the planner expects to match at least this many rows is not counted.
API_COUNT_ESTIMATE_TRUSTED_ABOVE = env_int("API_COUNT_ESTIMATE_TRUSTED_ABOVE", 20_000)
# `search`: a word at least this fraction of contacts hold is matched as a plain filter, not through
# the trigram index (which would return nearly every contact); 0 turns this off.
SEARCH_COMMON_WORD_FRACTION = env_float("SEARCH_COMMON_WORD_FRACTION", 0.2)
# How long a process reuses the planner's sample of search texts that tells common words (seconds).
SEARCH_STATS_SECONDS = env_int("SEARCH_STATS_SECONDS", 300)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "contacts_service.auth.ApiKeyAuthentication",
        "contacts_service.auth.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "contacts_service.pagination.PageNumberPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "contacts_service.schema.AutoSchema",
    "EXCEPTION_HANDLER": "contacts_service.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["contacts_service.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Contacts service API",
    "DESCRIPTION": (
        "Contacts, identifiers, custom attributes, history and timeline of every tenant. "
        "Authenticate with `Authorization: Api-Key <key>` (the key fixes the tenant) or as a user "
        "(`Authorization: Bearer <JWT>` or a session) choosing a tenant with `X-Tenant-ID`. "
        "Every error has the shape `{code, message, errors[{field, code, message}], correlation_id}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ContactStatusEnum": "contacts.models.ContactStatus",
        "ListStatusEnum": "lists.models.ListStatus",
        "HealthStatusEnum": ["ok", "degraded", "down"],
        "ConsentChannelEnum": "consent.models.ConsentChannel",
        "ConsentStatusEnum": "consent.models.ConsentStatus",
        "IdentifierChannelEnum": "contacts.models.IdentifierChannel",
        "MergeStatusEnum": "contacts.models.MergeStatus",
        "MergeRoleEnum": "contacts.models.MergeRole",
        "RoleEnum": "contacts_service.roles.Role",
        "MergeStrategyEnum": "contacts.models.MergeStrategy",
        "MatchKeyEnum": "contacts.models.MatchKey",
    },
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]",
    # /api/docs/ loads Swagger UI from this service's own static files (drf-spectacular-sidecar), so
    # it works on networks that cannot reach a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Rate limits and request limits (throttling: contacts_service/throttling.py) -------------------
# Requests per minute per plan (Tenant.plan): `tenant` for all of a tenant's callers together,
# `api_key` for one API key, `user` for one user (JWT or session) in one tenant, `expensive` for the
# expensive starts (imports, exports, bulk tag/list changes, set operations, replays) of one tenant.
# RATE_LIMIT_PLANS (JSON) overrides any of them, e.g. {"free": {"tenant": 60}, "gold": {...}}.
RATE_LIMIT_DEFAULT_PLANS = {
    "free": {"tenant": 120, "api_key": 60, "user": 60, "expensive": 5},
    "standard": {"tenant": 1200, "api_key": 600, "user": 600, "expensive": 30},
    "enterprise": {"tenant": 12000, "api_key": 6000, "user": 6000, "expensive": 300},
}


def rate_limit_plans(raw: str) -> dict[str, dict[str, int]]:
    """The default plans with the JSON of RATE_LIMIT_PLANS laid over them, checked at start-up."""
    plans = {name: dict(limits) for name, limits in RATE_LIMIT_DEFAULT_PLANS.items()}
    if not raw.strip():
        return plans
    try:
        override = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"RATE_LIMIT_PLANS is not JSON: {exc}") from exc
    if not isinstance(override, dict):
        raise ImproperlyConfigured("RATE_LIMIT_PLANS must be a JSON object of plans")
    for name, limits in override.items():
        # Tenant.plan holds the name (at most 32 characters).
        if not name.strip() or len(name) > 32 or "\x00" in name:
            raise ImproperlyConfigured(f"RATE_LIMIT_PLANS: plan name {name!r} must be 1 to 32 characters")
        if not isinstance(limits, dict):
            raise ImproperlyConfigured(f"RATE_LIMIT_PLANS[{name!r}] must be an object")
        for scope, value in limits.items():
            if scope not in RATE_LIMIT_DEFAULT_PLANS["standard"]:
                raise ImproperlyConfigured(f"RATE_LIMIT_PLANS[{name!r}]: unknown limit {scope!r}")
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ImproperlyConfigured(
                    f"RATE_LIMIT_PLANS[{name!r}][{scope!r}] must be a positive integer"
                )
        plans[name] = {**plans.get(name, RATE_LIMIT_DEFAULT_PLANS["standard"]), **limits}
    return plans


RATE_LIMIT_PLANS = rate_limit_plans(os.environ.get("RATE_LIMIT_PLANS", ""))
# 0 or less would make every bucket's interval 1 µs, i.e. no limit at all: refused.
RATE_LIMIT_PERIOD_SECONDS = env_int("RATE_LIMIT_PERIOD_SECONDS", 60, minimum=1)
# Empty (no Redis, the embedded default): requests are not limited, and a warning says so.
RATE_LIMIT_REDIS_URL = env_redis_url("RATE_LIMIT_REDIS_URL", REDIS_URL)
RATE_LIMIT_REDIS_TIMEOUT_SECONDS = env_float("RATE_LIMIT_REDIS_TIMEOUT_SECONDS", 0.25)
# After Redis failed, requests pass unlimited for this long before Redis is tried again.
RATE_LIMIT_REDIS_RETRY_SECONDS = env_float("RATE_LIMIT_REDIS_RETRY_SECONDS", 5)
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["contacts_service.throttling.PlanRateThrottle"]
MIDDLEWARE.append("contacts_service.throttling.RateLimitHeadersMiddleware")
# Most contacts one CSV export may hold: a POST /exports/ whose filters match more is a 400.
EXPORT_MAX_ROWS = env_int("EXPORT_MAX_ROWS", 1_000_000)
# Longest line of an import file (characters), and most separators in one CSV record: both are
# refused before the line is parsed, so a 50 MB line or a million columns never sit in memory.
IMPORT_MAX_LINE_CHARS = env_int("IMPORT_MAX_LINE_CHARS", 2 * 1024 * 1024)
IMPORT_MAX_SEPARATORS = env_int("IMPORT_MAX_SEPARATORS", 20_000)
# Longest CSV record (characters), its lines added up: quoted cells may span lines.
IMPORT_MAX_RECORD_CHARS = env_int("IMPORT_MAX_RECORD_CHARS", 4 * 1024 * 1024)
# --- end of rate limits and request limits ---------------------------------------------------------

# Platform auth service: JWTs are verified with this key (a PEM public key for RS256/ES256,
# a shared secret for HS256). Without a key, Bearer tokens are refused.
JWT_VERIFYING_KEY = os.environ.get("JWT_VERIFYING_KEY", "")
JWT_ALGORITHM = os.environ.get("JWT_ALGORITHM", "RS256")
JWT_AUDIENCE = os.environ.get("JWT_AUDIENCE", "") or None
JWT_ISSUER = os.environ.get("JWT_ISSUER", "") or None
JWT_LEEWAY_SECONDS = env_int("JWT_LEEWAY_SECONDS", 30)

# Celery: without a broker URL (unset or empty) tasks run in-process (the embedded default).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "").strip() or "memory://"
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = True
# No worker and no beat at all (no broker): a job an error interrupted is not redelivered nor queued
# again, so an import resumes in-process a few times and then fails naming the reason, and a running
# one whose process stopped can be cancelled at once (imports.services).
TASKS_WITHOUT_WORKER = CELERY_BROKER_URL == "memory://"
# With no beat process (the embedded default), runserver runs CELERY_BEAT_SCHEDULE itself in a thread
# (contacts_service.periodic).
EMBEDDED_PERIODIC = env_bool("EMBEDDED_PERIODIC", TASKS_WITHOUT_WORKER)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE = {
    # Publishes what the relay process has not (or everything, where no relay process runs).
    "relay-outbox-stragglers": {"task": "events.tasks.relay_stragglers", "schedule": 60.0},
    "prune-sent-outbox-events": {"task": "events.tasks.prune_outbox", "schedule": 3600.0},
    "requeue-stalled-imports": {"task": "imports.tasks.imports_requeue_stalled", "schedule": 60.0},
    "expire-import-drafts": {"task": "imports.tasks.imports_expire_drafts", "schedule": 3600.0},
    "requeue-stalled-exports": {"task": "imports.tasks.exports_requeue_stalled", "schedule": 60.0},
    "prune-export-files": {"task": "imports.tasks.exports_prune", "schedule": 3600.0},
    # Duplicate candidates of every tenant, also those no change of a contact triggered.
    "recompute-duplicates": {
        "task": "contacts.tasks.duplicates_recompute_all",
        "schedule": env_int("DUPLICATES_RECOMPUTE_SECONDS", 24 * 3600),
    },
    # Segments with "in the last N days" rules drift as time passes.
    "rebuild-time-relative-segments": {
        "task": "lists.tasks.segments_rebuild_time_relative",
        "schedule": env_int("SEGMENTS_TIME_RELATIVE_REBUILD_SECONDS", 3600),
    },
}

# Dynamic segments: with more active segments than this, a contact's segments are refreshed in a
# task right after commit instead of inside the request.
SEGMENTS_INLINE_LIMIT = env_int("SEGMENTS_INLINE_LIMIT", 20)

# Duplicates: an email or phone more contacts than this share pairs no one; also the most name
# candidates per contact.
DUPLICATES_MAX_GROUP = env_int("DUPLICATES_MAX_GROUP", 50)

# CSV imports: limits checked before anything is processed, and when a job's worker counts as dead.
IMPORT_MAX_FILE_BYTES = env_int("IMPORT_MAX_FILE_BYTES", 512 * 1024 * 1024)  # also after gunzip
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 2_000_000)
IMPORT_MAX_COLUMNS = env_int("IMPORT_MAX_COLUMNS", 500)
IMPORT_STALL_SECONDS = env_int("IMPORT_STALL_SECONDS", 300)
# An import uploaded but never started is cancelled after this long and its upload deleted (beat,
# hourly: imports_expire_drafts); 0 keeps drafts forever.
IMPORT_DRAFT_RETENTION_SECONDS = env_int("IMPORT_DRAFT_RETENTION_SECONDS", 7 * 24 * 3600)
# An import queues ANALYZE contacts_contact once it has created this many contacts, and again at its end
# if it created twice as many, so the planner knows the tenant's new size (imports.services.contacts_analyze;
# 0: never).
IMPORT_ANALYZE_MIN_ROWS = env_int("IMPORT_ANALYZE_MIN_ROWS", 10_000)
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", str(BASE_DIR / "var" / "media"))
# Operators' import and export of contacts in the admin (django-import-export, imports.resources).
# The upload waits for the confirm step in Django's storage, which every web process shares.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"
IMPORT_EXPORT_USE_TRANSACTIONS = True  # a confirmed import is one transaction: every row or none
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"  # contacts.change_contact
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"  # contacts.view_contact
# Its escape only drops a leading "=" (+ - @ tab and CR pass): the resource neutralises every cell
# as the API export does instead.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False
# CSV exports: seconds a download link (GET /exports/{id}/ signs a fresh one) stays valid.
EXPORT_LINK_MAX_AGE = env_int("EXPORT_LINK_MAX_AGE", 24 * 3600)
# An export queued this long, or running without a worker holding it, is queued again (seconds).
EXPORT_STALL_SECONDS = env_int("EXPORT_STALL_SECONDS", 300)
# How long an export's file is kept after it is written (seconds); then its download is a 410.
EXPORT_FILE_RETENTION_SECONDS = env_int("EXPORT_FILE_RETENTION_SECONDS", 7 * 24 * 3600)

# Double opt-in: how long a confirmation token stays valid, and the link sent to the contact
# ("{token}" is replaced; empty = this service's own GET /api/v1/consent/confirm/{token}/).
CONSENT_CONFIRMATION_MAX_AGE = env_int("CONSENT_CONFIRMATION_MAX_AGE", 7 * 24 * 3600)
CONSENT_CONFIRM_URL = os.environ.get("CONSENT_CONFIRM_URL", "")

# Events: the outbox always records them; the relay publishes to RABBITMQ_URL when set.
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "")
EVENTS_EXCHANGE = os.environ.get("EVENTS_EXCHANGE", "contacts.events")
EVENTS_SOURCE = "contacts-service"
# The range relay_events --batch-size accepts: 0 would claim nothing (LIMIT 0) and publish nothing.
EVENTS_RELAY_BATCH_SIZE = env_int("EVENTS_RELAY_BATCH_SIZE", 1000, minimum=1, maximum=10_000)
# Send a contact's next event only once the one before is confirmed (events.relay._waves): off, a
# batch goes out at once (faster when contacts have several events in a row), and an event a queue
# refuses (x-overflow reject-publish) can then arrive after a later event of its contact.
EVENTS_RELAY_ORDERED_ROUNDS = env_bool("EVENTS_RELAY_ORDERED_ROUNDS", True)
EVENTS_RELAY_IDLE_SECONDS = env_float("EVENTS_RELAY_IDLE_SECONDS", 0.2)
EVENTS_RELAY_CONFIRM_TIMEOUT_SECONDS = env_float("EVENTS_RELAY_CONFIRM_TIMEOUT_SECONDS", 30)
EVENTS_RELAY_MAX_BACKOFF_SECONDS = env_float("EVENTS_RELAY_MAX_BACKOFF_SECONDS", 30)
EVENTS_RETENTION_DAYS = env_float("EVENTS_RETENTION_DAYS", 7)
EVENTS_LAG_UNHEALTHY_SECONDS = env_float("EVENTS_LAG_UNHEALTHY_SECONDS", 300)
EVENTS_REPLAY_MAX_EVENTS = env_int("EVENTS_REPLAY_MAX_EVENTS", 1_000_000)
# Consumer of the auth service's user events (manage.py consume_events).
AUTH_EVENTS_EXCHANGE = os.environ.get("AUTH_EVENTS_EXCHANGE", "auth.events")
AUTH_EVENTS_QUEUE = os.environ.get("AUTH_EVENTS_QUEUE", "contacts-service.auth-users")
EVENTS_CONSUMER_MAX_DELIVERIES = env_int("EVENTS_CONSUMER_MAX_DELIVERIES", 5)
HEALTH_CHECK_TIMEOUT_SECONDS = env_float("HEALTH_CHECK_TIMEOUT_SECONDS", 2)

# --- Logs and metrics (docs/operations.md, "Logs" and "Metrics") ---------------------------------
LOG_LEVEL = env_log_level("LOG_LEVEL", "INFO")
# json: one JSON object per line (production default); plain: one readable line (DJANGO_DEBUG default).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "") or ("plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "contacts_service.context.RequestContextLogFilter"}},
    "formatters": {
        "plain": {
            "()": "contacts_service.context.PlainLogFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [cid=%(correlation_id)s tenant=%(tenant_id)s "
            "actor=%(actor)s] %(message)s",
        },
        "json": {
            # Every attribute a record carries beyond the standard ones (the filter's correlation_id,
            # tenant_id, actor; extra= fields such as duration_ms) becomes a field of the object.
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{levelname}{name}{message}",
            "style": "{",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_context"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "pika": {"level": "CRITICAL"}},
}
# Workers log through LOGGING too (JSON lines with the task's correlation id), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# GET /metrics: with a token, only "Authorization: Bearer <token>"; without one, localhost only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_QUERY_TIMEOUT_MS = env_int("METRICS_QUERY_TIMEOUT_MS", 1000)  # each scrape-time query, and Redis
METRICS_CELERY_QUEUES = env_list("METRICS_CELERY_QUEUES", "celery")
# --- end of logs and metrics ------------------------------------------------------------------------
