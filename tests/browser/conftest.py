"""A real server and a real headless Chromium for the pages people use: the admin and Swagger UI.

The browser is Debian's chromium (/usr/bin/chromium, installed by scripts/test) driven by
Playwright; Playwright never downloads a browser here. Without chromium these tests FAIL, so CI
cannot pass without running them; a developer may opt out with SKIP_BROWSER_TESTS=1.

The server is Django's LiveServerThread on 127.0.0.1 serving the full WSGI stack, static files
included: they are collected into a temporary STATIC_ROOT and served by WhiteNoise as in
production (pytest-django's live_server would serve them with Django's own static handler instead,
so WhiteNoise would go untested). Data a test makes must be committed for the server thread to see
it: every test here uses transactional_db.

A failing test leaves a screenshot and the page's HTML in test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.test.testcases import LiveServerThread

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the networking flags Chromium waits on connections this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
TIMEOUT_MS = 15_000


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)  # the page fixture looks at it to save a screenshot
    return report


@pytest.fixture(scope="package")
def chromium_browser():
    if os.environ.get("SKIP_BROWSER_TESTS", "") == "1":
        pytest.skip("SKIP_BROWSER_TESTS is set")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"No Chromium at {CHROMIUM}: install it (apt-get install -y chromium; scripts/test does this "
            "as root) or set SKIP_BROWSER_TESTS=1 to skip the browser tests.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs its event loop in a greenlet of this thread, so while it is open
    # Django sees a "running loop" and refuses the tests' own (synchronous) queries. The guard is
    # lifted for this package only, and Playwright closes before the next package's tests.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def web_server(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """The service on 127.0.0.1 (a free port), static files collected and served by WhiteNoise."""
    static_root = tmp_path_factory.mktemp("static")
    plain_copy = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    # A plain copy: compressing Swagger UI's and ReDoc's bundles (what the deploy does) takes ~40 s.
    with override_settings(STATIC_ROOT=static_root, STORAGES={"staticfiles": plain_copy}):
        call_command("collectstatic", interactive=False, verbosity=0)
    with override_settings(
        STATIC_ROOT=static_root, WHITENOISE_USE_FINDERS=False, WHITENOISE_AUTOREFRESH=False
    ):
        # static_handler: none of Django's; WhiteNoiseMiddleware (read at startup) serves /static/.
        server = LiveServerThread("127.0.0.1", static_handler=lambda app: app)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        yield f"http://127.0.0.1:{server.port}"
        server.terminate()


@pytest.fixture
def page(chromium_browser, web_server, transactional_db, request):
    context = chromium_browser.new_context(base_url=web_server, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    failed = [
        r for r in (getattr(request.node, f"report_{w}", None) for w in ("setup", "call")) if r and r.failed
    ]
    if failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        (ARTIFACTS / f"{name}.html").write_text(page.content())
    context.close()
