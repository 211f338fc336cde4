"""`voicedesk demo`: one command, a working desk on SQLite, reachable over real HTTP."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.signin import continue_link, next_code, recovery_codes_on_page, secret_on_page

STARTUP_SECONDS = 30
_LOGIN = re.compile(r"^\s*login: (\S+)\s+password: (\S+)\s*$", re.M)
_URL = re.compile(r"^Worker Voice Desk demo at (http://\S+)\s*$", re.M)
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# Settings the operator's own shell might hold; the demo must run without any of them.
_FOREIGN = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PUBLIC_BASE_URL")
_FOREIGN_PREFIXES = ("VOICEDESK_", "TELEGRAM_", "TWILIO_", "VIBER_")


def _voicedesk() -> list[str]:
    script = shutil.which("voicedesk")
    if script is not None:
        return [script]
    return [sys.executable, "-c", "from console.cli import main; main()"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clean_env() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name not in _FOREIGN and not name.startswith(_FOREIGN_PREFIXES)
    }


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    url: str
    logins: dict[str, str]

    def printed(self) -> str:
        return self.stdout.read_text(encoding="utf-8")

    def warnings(self) -> str:
        return self.stderr.read_text(encoding="utf-8")


def _wait_for_banner(process: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> Demo:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        printed = stdout.read_text(encoding="utf-8")
        url = _URL.search(printed)
        logins = dict(_LOGIN.findall(printed))
        if url and len(logins) >= 4:
            return Demo(process, stdout, stderr, url.group(1), logins)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(
        f"`voicedesk demo` printed no URL and logins within {STARTUP_SECONDS}s "
        f"(exit {process.poll()}):\n{stdout.read_text()}\n{stderr.read_text()}"
    )


@contextmanager
def running_demo(folder: Path, instance: str | None = "instance") -> Iterator[Demo]:
    """Run `voicedesk demo` from this folder, as a first-time user would; stop it after."""
    env = _clean_env()
    if instance is not None:
        env["VOICEDESK_INSTANCE"] = str(folder / instance)
    stdout, stderr = folder / "stdout.txt", folder / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [*_voicedesk(), "demo", "--port", str(_free_port())],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    try:
        yield _wait_for_banner(process, stdout, stderr)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with running_demo(tmp_path) as running:
        yield running


def _browser() -> urllib.request.OpenerDirector:
    # No proxy: a proxy from the environment would take loopback requests off the machine.
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
    )


def _get(browser: urllib.request.OpenerDirector, url: str) -> tuple[int, str, str]:
    with browser.open(url, timeout=10) as answer:
        return answer.status, answer.geturl(), answer.read().decode("utf-8")


def _wait_until_serving(browser: urllib.request.OpenerDirector, demo: Demo) -> tuple[int, str]:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            status, _, body = _get(browser, demo.url + "/healthz")
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline or demo.process.poll() is not None:
                raise
            time.sleep(0.1)
        else:
            return status, body


def test_demo_prints_url_and_logins_and_serves_a_desk_one_can_sign_in_to(demo: Demo) -> None:
    assert demo.url.startswith("http://127.0.0.1:")
    assert f"{demo.url}/simulator" in demo.printed()
    assert set(demo.logins) == {
        "caseworker@demo.local",
        "supervisor@demo.local",
        "hotline@demo.local",
        "partner@demo.local",
    }

    browser = _browser()
    status, body = _wait_until_serving(browser, demo)
    assert status == 200
    assert '"status":"ok"' in body.replace(" ", "")

    _, _, page = _get(browser, demo.url + "/login")
    token = _CSRF.search(page)
    assert token is not None
    email = "caseworker@demo.local"
    form = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "email": email, "password": demo.logins[email]}
    ).encode()
    with browser.open(demo.url + "/login", data=form, timeout=10) as answer:
        landed, page = answer.geturl(), answer.read().decode("utf-8")
    # Two-step sign-in for everyone: a demo user sets up an authenticator app first.
    assert landed == demo.url + "/login/enrol"
    token = _CSRF.search(page)
    assert token is not None
    form = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "code": next_code(secret_on_page(page))}
    ).encode()
    with browser.open(demo.url + "/login/enrol", data=form, timeout=10) as answer:
        shown = answer.read().decode("utf-8")
    assert len(recovery_codes_on_page(shown)) == 10
    with browser.open(demo.url + continue_link(shown), timeout=10) as answer:
        landed, queue = answer.geturl(), answer.read().decode("utf-8")
        assert answer.status == 200
    assert landed == demo.url + "/tickets"
    assert "<h1>Tickets</h1>" in queue
    assert email in queue

    demo.process.terminate()
    assert demo.process.wait(timeout=10) is not None

    assert "DEVELOPMENT KEYS" in demo.warnings()
    for password in demo.logins.values():
        assert password not in demo.warnings()


def test_demo_keeps_its_logins_when_run_again_on_the_same_instance(tmp_path: Path) -> None:
    """A second `voicedesk demo` reuses the seeded desk instead of failing or reseeding."""
    runs = []
    for _ in range(2):
        with running_demo(tmp_path) as run:
            runs.append(run.logins)
    assert runs[0] == runs[1]


def test_demo_reads_the_dotenv_file_in_the_folder_it_runs_from(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("VOICEDESK_INSTANCE=desk-from-dotenv\n", encoding="utf-8")
    with running_demo(tmp_path, instance=None) as run:
        assert len(run.logins) == 4
    assert (tmp_path / "desk-from-dotenv" / "voicedesk.sqlite3").exists()
    assert not (tmp_path / "instance").exists()
