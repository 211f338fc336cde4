"""The desk as an operator runs it, opened in headless Chromium as a caseworker does.

`serve_desk` starts `voicedesk serve` (gunicorn) and `voicedesk worker` as processes
against the test run's PostgreSQL and Redis; the browser helpers sign in with a password
and an authenticator code, and wait for what a worker process files in the background.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from playwright.sync_api import Locator, Page, expect
from sqlalchemy.orm import Session

from console.cli import create_organisation, create_user, init_database
from intake.db import make_engine, make_sessionmaker
from intake.settings import Settings

from support import signin
from support.builders import as_body, telegram_update
from support.services import free_port

# `voicedesk …` with this interpreter, whatever is on PATH.
VOICEDESK = [sys.executable, "-m", "console.cli"]
PASSWORD = "correct horse battery staple"
# How long a worker process may take to file what the web process stored.
FILING_SECONDS = 20.0
# A ticket reference, K7M4-Q9P2: no 0, 1, I, L or O.
REF = r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}"
TICKET_REF = re.compile(rf"\b{REF}\b")


def chromium_path() -> str | None:
    """Debian's Chromium, as tests/browser/test_glyphs.py finds it."""
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class Login:
    email: str
    password: str


@dataclass
class ServedDesk:
    """A running `voicedesk serve` and `voicedesk worker`, and the test's way into the database."""

    url: str
    env: dict[str, str] = field(repr=False)  # the machine's environment: not for test output
    logs: Path
    settings: Settings = field(repr=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        engine = make_engine(self.settings.database_url)
        try:
            with make_sessionmaker(engine)() as session:
                yield session
                session.commit()
        finally:
            engine.dispose()

    def organisation(self, name: str, languages: list[str]) -> None:
        """Add an organisation, as `voicedesk org create` does."""
        with self._session() as session:
            create_organisation(session, name, languages, ["TH"])

    def user(self, email: str, organisation: str, role: str = "caseworker") -> Login:
        """Add a console user, as `voicedesk user create` does; answer their login."""
        with self._session() as session:
            create_user(session, email, organisation, role, PASSWORD)
        return Login(email, PASSWORD)

    def worker_writes(self, chat_id: int, text: str) -> None:
        """Deliver a worker's Telegram message as Telegram does: a signed webhook POST."""
        request = urllib.request.Request(  # noqa: S310 - http on loopback
            f"{self.url}/hooks/telegram",
            data=as_body(telegram_update(chat_id, text)),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": self.env["TELEGRAM_WEBHOOK_SECRET"],
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            assert answer.status == 200, answer.read()

    def log_text(self) -> str:
        return "".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in sorted(self.logs.glob("*.log"))
        )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:  # noqa: S310
            return answer.status == 200 and json.loads(answer.read())["status"] == "ok"
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _start(args: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*VOICEDESK, *args], env=env, stdout=log, stderr=subprocess.STDOUT)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop them all at once: gunicorn at once (SIGINT), the rq worker warm (SIGTERM)."""
    for process, how in zip(processes, (signal.SIGINT, signal.SIGTERM), strict=True):
        if process.poll() is None:
            process.send_signal(how)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def serve_desk(product_env: dict[str, str], folder: Path) -> Iterator[ServedDesk]:
    """Run `voicedesk serve` and `voicedesk worker` until the block ends; yield the desk."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Where the operator serves it: plain http on loopback, so the session cookie is not Secure.
    env = {**os.environ, **product_env, "PUBLIC_BASE_URL": url}
    settings = Settings.from_env(env)
    init_database(settings)  # `voicedesk init`: schema, and the envelope key the web process needs
    logs = folder / "logs"
    logs.mkdir()
    with (logs / "serve.log").open("wb") as serve_log, (logs / "worker.log").open("wb") as work_log:
        serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        processes = [_start(serve, env, serve_log), _start(["worker"], env, work_log)]
        desk = ServedDesk(url, env, logs, settings)
        try:
            deadline = time.monotonic() + 30
            while not _healthy(url):
                for process in processes:
                    assert process.poll() is None, f"{process.args} exited\n{desk.log_text()}"
                assert time.monotonic() < deadline, f"no healthy /healthz\n{desk.log_text()}"
                time.sleep(0.1)
            yield desk
        finally:
            _stop(processes)


# --- what a person does in the browser ------------------------------------------------


def wait_for(check: Callable[[], Any], what: str, seconds: float = FILING_SECONDS) -> Any:
    """Poll until check() answers something true; answer it, or fail saying what never came."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s"
        time.sleep(0.2)


def reload_until_visible(page: Page, locator: Locator, seconds: float = FILING_SECONDS) -> None:
    """Reload the page, as a caseworker would, until what a worker process files shows."""

    def shown() -> bool:
        if locator.count() > 0:
            return True
        page.reload()
        return locator.count() > 0

    wait_for(shown, f"{locator} on {page.url}", seconds)


def enter_code(page: Page, secret: str) -> None:
    """Type the code the authenticator app shows now (a step not used yet) into the form."""
    page.get_by_role("textbox", name=re.compile("code", re.I)).fill(signin.next_code(secret))


def sign_in(page: Page, login: Login, secrets: dict[str, str]) -> None:
    """Sign in with email, password and a code, enrolling first if the console asks to."""
    page.goto("/login")
    page.get_by_label("Email").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login/(enrol|code)$"))
    if page.url.endswith("/login/enrol"):
        secrets[login.email] = page.locator("#totp-secret").inner_text().replace(" ", "")
        enter_code(page, secrets[login.email])
        page.get_by_role("button", name="Confirm").click()
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        page.get_by_role("link", name="I have kept them safe: continue").click()
    else:
        enter_code(page, secrets[login.email])
        page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("header .who")).to_contain_text(login.email)
