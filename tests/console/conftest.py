"""Console fixtures: the embedded default (SQLite, no Redis, jobs in-process), seeded as `demo`."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from console.app import close_app, create_app
from console.cli import DEMO_ORG, create_organisation, create_user, init_database, seed_demo
from intake.db import make_engine, make_sessionmaker
from intake.models import Organisation
from intake.settings import Settings
from workers import runtime
from workers.queue import InlineDispatcher

from support import signin

CASEWORKER = "caseworker@demo.local"
PASSWORD = "correct horse battery staple"

_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'type="hidden" name="csrf_token" value="([^"]+)"'
)
_LINE = re.compile(r'<li class="msg (in|out)"><div class="text">(.*?)</div></li>', re.S)
_ROW = re.compile(
    r'<td><a href="/tickets/([^"]+)">[^<]*</a></td>\s*<td>([^<]*)</td>\s*'
    r'<td lang="[^"]*">([^<]*)</td>'
)


def csrf_token(page: str) -> str:
    """Return the CSRF token a form on this page carries."""
    found = _CSRF.search(page)
    assert found is not None, "no csrf_token on the page"
    return found.group(1) or found.group(2)


@dataclass
class Console:
    """The console as a caseworker's browser drives it, plus a way into its database."""

    settings: Settings
    app: Flask
    client: FlaskClient
    logins: dict[str, str]
    caseworker: str = CASEWORKER
    engines: list[Engine] = field(default_factory=list)

    csrf_token = staticmethod(csrf_token)

    # Each user's authenticator app: the TOTP secret they enrolled, by email.
    totp_secrets: dict[str, str] = field(default_factory=dict)

    def sign_in(self, email: str = CASEWORKER, password: str | None = None) -> TestResponse:
        """Sign in with password and code (enrolling the first time); answer the page landed on."""
        password = self.logins[email] if password is None else password
        return signin.sign_in(self.client, email, password, self.totp_secrets)

    def say(self, text: str) -> TestResponse:
        """Write to the bot as the simulated worker; answer the simulator page shown next."""
        token = csrf_token(self.client.get("/simulator").text)
        return self.client.post(
            "/hooks/simulator", data={"csrf_token": token, "text": text}, follow_redirects=True
        )

    def new_worker(self) -> None:
        """Start the simulator over as a different worker."""
        token = csrf_token(self.client.get("/simulator").text)
        self.client.post("/simulator/new", data={"csrf_token": token})

    def sign_out(self) -> None:
        token = csrf_token(self.client.get("/tickets").text)
        self.client.post("/logout", data={"csrf_token": token})

    def tickets(self) -> list[tuple[str, str, str]]:
        """The queue as the signed-in user sees it: (ref, status, language) per row."""
        page = self.client.get("/tickets")
        assert page.status_code == 200
        return [tuple(html.unescape(v) for v in row) for row in _ROW.findall(page.text)]

    @staticmethod
    def chat(page: str) -> list[tuple[str, str]]:
        """The chat on a simulator page: (direction, text) per line, oldest first."""
        return [(direction, html.unescape(text)) for direction, text in _LINE.findall(page)]

    def count(self, model: type) -> int:
        """How many rows of this model the database holds."""
        with self.session() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def session(self) -> Session:
        """A database session of the test's own, on its own engine (closed by the caller)."""
        engine = make_engine(self.settings.database_url)
        self.engines.append(engine)
        return make_sessionmaker(engine)()

    def add_user(self, email: str, role: str, org: str = DEMO_ORG) -> None:
        """Add a user (and their organisation, if new) as `voicedesk user create` would."""
        with self.session() as session:
            if session.scalar(select(Organisation.id).where(Organisation.name == org)) is None:
                create_organisation(session, org, ["th"], ["TH"])
            create_user(session, email, org, role, PASSWORD)
            session.commit()
        self.logins[email] = PASSWORD

    def close(self) -> None:
        for engine in self.engines:
            engine.dispose()
        close_app(self.app)
        runtime.current().close()


@pytest.fixture
def console(demo_settings: Settings) -> Iterator[Console]:
    """A freshly seeded demo desk, nobody signed in yet (so a test may still add routes)."""
    init_database(demo_settings)
    logins = seed_demo(demo_settings)
    dispatcher = InlineDispatcher(runtime.run_job)
    runtime.configure(demo_settings, dispatcher)
    app = create_app(demo_settings, dispatcher)
    desk = Console(demo_settings, app, app.test_client(), logins)
    yield desk
    desk.close()
