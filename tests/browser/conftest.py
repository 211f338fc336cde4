"""Browser fixtures: the product served for real, and headless Chromium to open it.

`live_console` is the seeded demo desk (SQLite, jobs in-process) served from a thread,
for the glyph screenshots. `live_desk` is the product as an operator runs it —
`voicedesk serve` (gunicorn) and `voicedesk worker` against the run's PostgreSQL and
Redis, Telegram pointed at the local stub — and `browser_page` opens it in Playwright's
Chromium (Debian's /usr/bin/chromium; Playwright's own download is not used).

Like the integration tests: with CI=true a missing Chromium fails the run; elsewhere
those tests are skipped with the reason.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Error, Page, Playwright, expect, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

from console.app import close_app, create_app
from console.cli import init_database, seed_demo
from intake.settings import Settings
from workers import runtime
from workers.queue import InlineDispatcher

# The run's PostgreSQL database and Redis and `product_env`: the same fixtures the
# integration tests use (imported, so they are fixtures here too; the provider stubs are
# the whole suite's, in tests/conftest.py).
from integration.conftest import (  # noqa: F401
    clean,
    database_url,
    product_env,
    redis_url,
)
from support import CI, signin
from support.browser import ServedDesk, chromium_path, serve_desk

CASEWORKER = "caseworker@demo.local"
_CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Keep the test output to the test's own words."""


@dataclass
class LiveConsole:
    """A running console, plus what the browser's next request will carry."""

    app: Flask
    logins: dict[str, str]
    url: str = ""
    accept_language: str = "en"
    # Font files whose name starts with this answer 404: what a browser shows without them.
    block_fonts: str | None = None
    # A session cookie, so a fresh headless profile is signed in as a test client was.
    cookie: str | None = None
    client: FlaskClient = field(init=False)
    # The authenticator app: each user's TOTP secret, by email, once they enrolled.
    totp_secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = self.app.test_client()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if self.block_fonts and path.startswith(f"/static/fonts/{self.block_fonts}"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"fonts blocked by the test"]
        # A fresh headless profile says en-US; the test decides what it asks for instead.
        environ["HTTP_ACCEPT_LANGUAGE"] = self.accept_language
        if self.cookie is not None:
            environ["HTTP_COOKIE"] = self.cookie
        return self.app(environ, start_response)

    def post_form(self, page: str, action: str, **data: str) -> None:
        """Submit a form of this page with the test client, as a browser would."""
        found = _CSRF.search(self.client.get(page).text)
        assert found is not None, f"no csrf_token on {page}"
        answer = self.client.post(action, data={"csrf_token": found.group(1), **data})
        assert answer.status_code in (200, 302), (action, answer.status_code)

    def sign_in(self, email: str = CASEWORKER) -> None:
        """Sign in with password and code (enrolling the first time), as the browser would."""
        landed = signin.sign_in(self.client, email, self.logins[email], self.totp_secrets)
        assert landed.request.path == "/tickets", landed.request.path

    def share_session_with_browser(self) -> None:
        """Give the browser the test client's session (signed in, language chosen)."""
        session = self.client.get_cookie("session")
        assert session is not None
        self.cookie = f"session={session.value}"


@pytest.fixture
def live_console(demo_settings: Settings) -> Iterator[LiveConsole]:
    """The demo desk (jobs in-process) on a free loopback port, served from a thread."""
    init_database(demo_settings)
    logins = seed_demo(demo_settings)
    dispatcher = InlineDispatcher(runtime.run_job)
    runtime.configure(demo_settings, dispatcher)
    app = create_app(demo_settings, dispatcher)
    live = LiveConsole(app, logins)
    server = make_server("127.0.0.1", 0, live, threaded=True, request_handler=_QuietHandler)
    live.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="live-console", daemon=True)
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        close_app(app)
        runtime.current().close()


# --- the product as an operator runs it, in headless Chromium ----------------------------

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so fixtures know whether it failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(_REPORTS, {})
    return any(report.failed for report in reports.values())


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium driven by Playwright, one per test module that asks for it."""
    path = chromium_path()
    if path is None:
        message = "chromium is not installed (apt-get install chromium)"
        if CI:
            pytest.fail(f"{message} (CI=true: browser tests must run)", pytrace=False)
        pytest.skip(message)
    playwright: Playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=path)
    except Error:
        playwright.stop()
        raise
    expect.set_options(timeout=10_000)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def live_desk(
    chromium: Browser,
    product_env: dict[str, str],  # noqa: F811 - the fixture imported above, asked for by name
    tmp_path: Path,
) -> Iterator[ServedDesk]:
    """`voicedesk serve` and `voicedesk worker` on the run's PostgreSQL and Redis, for this test.

    Chromium comes first: without it, nothing is started only to be skipped.
    """
    with serve_desk(product_env, tmp_path) as desk:
        yield desk


@pytest.fixture
def browser_page(
    chromium: Browser, live_desk: ServedDesk, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Page]]:
    """Open a page in a browser of its own (one person, one cookie jar) on the served desk.

    When the test fails, each page's screenshot goes to the test's tmp_path (the path is
    printed) and the desk's serve and worker logs are printed with the failure.
    """
    contexts = []

    def open_page() -> Page:
        context = chromium.new_context(base_url=live_desk.url, locale="en-GB")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    if _failed(request):
        for number, context in enumerate(contexts, start=1):
            for page in context.pages:
                shot = tmp_path / f"browser-{number}.png"
                try:
                    page.screenshot(path=shot, full_page=True)
                    print(f"screenshot of {page.url}: {shot}", file=sys.stderr)
                except Error as exc:
                    print(f"no screenshot of {page.url}: {exc}", file=sys.stderr)
        print(live_desk.log_text(), file=sys.stderr)
    for context in contexts:
        context.close()
