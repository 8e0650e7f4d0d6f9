"""Settings from the environment: a bad value stops start-up with a line naming the variable (as
RATE_LIMIT_PLANS and LOG_FORMAT do), not a bare ValueError or a silently broken limiter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(**env) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contacts_service.settings",
        "DJANGO_SECRET_KEY": "x" * 50,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def refused(result: subprocess.CompletedProcess) -> str:
    """The last line of a start-up that failed."""
    assert result.returncode != 0, result.stdout
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("name", "value"),
    [("API_PAGE_SIZE", "ten"), ("RATE_LIMIT_PERIOD_SECONDS", "1m"), ("HEALTH_CHECK_TIMEOUT_SECONDS", "2s")],
)
def test_a_non_numeric_setting_stops_start_up_naming_the_variable(name, value):
    """The last line of the failure says which of the ~40 numeric variables is wrong (int()/float()
    alone would say only "invalid literal for int() with base 10: 'ten'")."""
    result = start(**{name: value})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line and name in last_line, last_line


@pytest.mark.parametrize("value", ["0", "-60"])
def test_a_rate_limit_period_that_is_not_positive_stops_start_up(value):
    """RATE_LIMIT_PLANS must be positive integers ("a bad value stops start-up"), and so must
    RATE_LIMIT_PERIOD_SECONDS: with 0 every bucket's interval would be 1 µs, and no request ever
    limited, silently."""
    result = start(RATE_LIMIT_PERIOD_SECONDS=value)
    assert result.returncode != 0, result.stdout
    assert "RATE_LIMIT_PERIOD_SECONDS" in result.stderr


@pytest.mark.parametrize("name", ["REDIS_URL", "RATE_LIMIT_REDIS_URL"])
@pytest.mark.parametrize("value", ["127.0.0.1:6379", "http://127.0.0.1:6379/0", "REDIS://127.0.0.1:6379/0"])
def test_a_redis_url_without_a_redis_scheme_stops_start_up_naming_the_variable(name, value):
    """redis-py takes redis://, rediss:// and unix:// only: any other URL started, and then every
    tenant-scoped request (the limiter) or cache use failed."""
    last_line = refused(start(**{name: value}))
    assert "ImproperlyConfigured" in last_line and name in last_line, last_line


@pytest.mark.parametrize(
    "env",
    [
        {"REDIS_URL": "redis://127.0.0.1:6379/0"},
        {"REDIS_URL": "", "RATE_LIMIT_REDIS_URL": "rediss://user:pw@cache.internal:6380/1"},
        {"RATE_LIMIT_REDIS_URL": "unix:///run/redis.sock?db=2"},
        {"RATE_LIMIT_PERIOD_SECONDS": "1", "HEALTH_CHECK_TIMEOUT_SECONDS": "0.5", "API_PAGE_SIZE": "10"},
    ],
)
def test_good_values_start(env):
    result = start(**env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


@pytest.mark.parametrize("name", ["", "x" * 33])
def test_a_rate_limit_plan_name_the_tenant_column_cannot_hold_stops_start_up(name):
    last_line = refused(start(RATE_LIMIT_PLANS=f'{{"{name}": {{"api_key": 10}}}}'))
    assert "ImproperlyConfigured" in last_line and "RATE_LIMIT_PLANS" in last_line, last_line
