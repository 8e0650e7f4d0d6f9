"""Test settings: the real services on 127.0.0.1 (PostgreSQL, Redis, RabbitMQ), never SQLite.

Each can be pointed elsewhere with TEST_DATABASE_URL, TEST_REDIS_URL and TEST_RABBITMQ_URL.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")
os.environ["DATABASE_URL"] = os.environ.get(
    "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/contacts"
)
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["RABBITMQ_URL"] = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")

from contacts_service.settings import *  # noqa: F403

if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":  # noqa: F405
    raise RuntimeError("The test suite runs on PostgreSQL only (set TEST_DATABASE_URL to a postgres:// URL)")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
# Tasks run eagerly as a worker runs them; tests play the redelivery (a broker's) themselves.
TASKS_WITHOUT_WORKER = False
JWT_VERIFYING_KEY = "test-jwt-shared-secret-0123456789abcdef0123456789"
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "contacts-service"
JWT_ISSUER = "https://auth.platform.test"
# Rate limits far above what any test sends (tests of the limits lower them with override_settings).
RATE_LIMIT_PLANS = {
    plan: {"tenant": 1_000_000, "api_key": 1_000_000, "user": 1_000_000, "expensive": 1_000_000}
    for plan in ("free", "standard", "enterprise")
}
