"""docs/operations.md, "Settings (environment variables)": a value the service cannot use stops
start-up with one line naming the variable (ImproperlyConfigured); an empty URL variable is its
default. Each test starts the settings (or gunicorn's config) in a fresh interpreter, as a process
would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def clean_environ(**env) -> dict[str, str]:
    """This process's environment without the service's variables, plus `env`."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "LOG_", "EVENTS_", "GUNICORN_"))
    }
    environ.update({"DJANGO_SETTINGS_MODULE": "contacts_service.settings", "DJANGO_SECRET_KEY": "x" * 50})
    environ.update(env)
    return environ


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean_environ(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def start(code: str = "print('started')", **env) -> subprocess.CompletedProcess:
    return run_python(f"import django; django.setup(); {code}", **env)


def last_line(result: subprocess.CompletedProcess) -> str:
    return (result.stderr.strip().splitlines() or [""])[-1]


@pytest.mark.parametrize(("value", "level"), [("info", "INFO"), ("Warning", "WARNING"), ("DEBUG", "DEBUG")])
def test_log_level_is_taken_in_any_case(value, level):
    """`LOG_LEVEL=info` (as Celery's `-l info` is written) is INFO: the root logger gets that level."""
    result = start(
        "import logging; from django.conf import settings as s; "
        "print(s.LOG_LEVEL, logging.getLevelName(logging.getLogger().level))",
        LOG_LEVEL=value,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [level, level]


@pytest.mark.parametrize("value", ["verbose", "10", "inf o"])
def test_an_unknown_log_level_stops_start_up_naming_log_level(value):
    """A level logging does not know stops start-up with one ImproperlyConfigured line naming
    LOG_LEVEL, not dictConfig's "Unable to configure root logger"."""
    result = start(LOG_LEVEL=value)
    assert result.returncode != 0
    line = last_line(result)
    assert "ImproperlyConfigured" in line and "LOG_LEVEL" in line, line


def test_an_empty_database_url_is_the_default_sqlite_database():
    """`DATABASE_URL=` (a blank line of an env file) is unset, as for REDIS_URL or LOG_FORMAT."""
    result = start(
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'])", DATABASE_URL=""
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "django.db.backends.sqlite3"


@pytest.mark.parametrize(
    "value", ["postgres//contacts@db:5432/contacts", "contacts@db:5432/contacts", "postgres://u:p@h:port/db"]
)
def test_a_malformed_database_url_stops_start_up_naming_database_url(value):
    """A URL dj-database-url cannot read (a typo in the scheme, no scheme, a port that is not a number)
    stops start-up with one ImproperlyConfigured line naming DATABASE_URL and not repeating the URL
    (it may hold a password)."""
    result = start(DATABASE_URL=value)
    assert result.returncode != 0
    line = last_line(result)
    assert "ImproperlyConfigured" in line and "DATABASE_URL" in line, line
    assert value not in result.stderr


def test_an_empty_celery_broker_url_is_no_broker_tasks_run_in_process():
    """`CELERY_BROKER_URL=` is no broker, as unset: memory://, tasks eager, beat's schedule embedded."""
    result = start(
        "from django.conf import settings as s; print(s.CELERY_BROKER_URL, "
        "s.CELERY_TASK_ALWAYS_EAGER, s.EMBEDDED_PERIODIC, s.TASKS_WITHOUT_WORKER)",
        CELERY_BROKER_URL="",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["memory://", "True", "True", "True"], result.stdout


@pytest.mark.parametrize("value", ["0", "-5", "10001"])
def test_a_relay_batch_size_outside_what_relay_events_accepts_stops_start_up(value):
    """EVENTS_RELAY_BATCH_SIZE takes what `relay_events --batch-size` takes (1 to 10000): 0 would
    claim `LIMIT 0` and publish nothing, forever, without an error."""
    result = start(EVENTS_RELAY_BATCH_SIZE=value)
    assert result.returncode != 0, "started with EVENTS_RELAY_BATCH_SIZE=" + value
    line = last_line(result)
    assert "ImproperlyConfigured" in line and "EVENTS_RELAY_BATCH_SIZE" in line, line


@pytest.mark.parametrize(("value", "taken"), [("1", "1"), ("10000", "10000"), ("  ", "1000")])
def test_a_relay_batch_size_within_the_range_starts(value, taken):
    """A blank value is the default, as an empty one (and as the GUNICORN_* variables take it)."""
    result = start(
        "from django.conf import settings as s; print(s.EVENTS_RELAY_BATCH_SIZE)",
        **{"EVENTS_RELAY_BATCH_SIZE": value},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == taken


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GUNICORN_WORKERS", "four"),
        ("GUNICORN_THREADS", "4.5"),
        ("GUNICORN_TIMEOUT", "60s"),
        ("GUNICORN_WORKERS", "0"),
        ("GUNICORN_THREADS", "-1"),
    ],
)
def test_a_gunicorn_variable_that_is_not_a_usable_integer_stops_start_up_in_one_line(name, value):
    """gunicorn_conf.py (read by gunicorn before Django is set up) stops with one line naming the
    variable, no traceback."""
    result = run_python("import contacts_service.gunicorn_conf", **{name: value})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert name in result.stderr, result.stderr


def test_gunicorn_defaults_and_empty_values():
    """Unset or empty: 4 workers of 4 threads, 60 s timeout, 0.0.0.0:8000."""
    result = run_python(
        "import contacts_service.gunicorn_conf as g; print(g.workers, g.threads, g.timeout, g.bind)",
        GUNICORN_WORKERS="",
        GUNICORN_BIND="",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4", "4", "60", "0.0.0.0:8000"]
