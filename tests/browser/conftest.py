"""The seeded demo console served over real HTTP on loopback, for a real browser to open."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import WSGIRequestHandler, make_server

from console.app import create_app
from console.cli import init_database, seed_demo
from intake.settings import Settings
from workers import runtime
from workers.queue import InlineDispatcher

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
        self.post_form("/login", "/login", email=email, password=self.logins[email])

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
        app.extensions["voicedesk"]["engine"].dispose()
        runtime.current().close()
