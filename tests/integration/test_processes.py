"""The product as an operator runs it: `voicedesk serve` and `voicedesk worker`, for real.

Then the safety check no unit test can make: a dump of the database, every Redis
key and every log line hold no chat id and no message text in plaintext.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from translations.scripts import detect_language

from integration.test_telegram_intake import SECOND, WORKERS
from support.builders import as_body, telegram_update
from support.services import free_port, redis_values
from support.telegram_stub import TelegramStub

CLI = [sys.executable, "-c", "from console.cli import main; main()"]


def _run(env: dict[str, str], *args: str, stdin: str = "", log: Path) -> str:
    done = subprocess.run(
        [*CLI, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    with log.open("a") as handle:
        handle.write(done.stderr)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http on loopback
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def served(
    product_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, dict[str, str], Path]]:
    env = {**os.environ, **product_env}
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    with (logs / "serve.log").open("w") as serve_log:
        _run(env, "init", log=logs / "cli.log")
        server = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=serve_log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if _http("GET", base + "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, (logs / "serve.log").read_text()
                time.sleep(0.2)
            yield base, env, logs
        finally:
            server.terminate()
            server.wait(timeout=20)


def test_serve_and_worker_turn_telegram_messages_into_tickets_and_leak_nothing(
    served: tuple[str, dict[str, str], Path],
    telegram_stub: TelegramStub,
    database_url: str,
    product_env: dict[str, str],
) -> None:
    base, env, logs = served
    _run(
        env,
        "org",
        "create",
        "Bangkok Workers Centre",
        "--languages",
        "my,km,ne,th",
        "--countries",
        "TH,MY",
        log=logs / "cli.log",
    )
    _run(
        env,
        "user",
        "create",
        "cw@bwc.example",
        "--org",
        "Bangkok Workers Centre",
        "--role",
        "caseworker",
        stdin="a long enough password\n",
        log=logs / "cli.log",
    )
    token = _run(env, "token", "create", "cw@bwc.example", log=logs / "cli.log").strip()
    assert token.startswith("vd_")
    assert "\n" not in token

    secret = {
        "X-Telegram-Bot-Api-Secret-Token": product_env["TELEGRAM_WEBHOOK_SECRET"],
        "Content-Type": "application/json",
    }
    for chat_id, language, typed, _ in WORKERS:
        for text in (typed, SECOND[language]):
            status, _body = _http(
                "POST", base + "/hooks/telegram", as_body(telegram_update(chat_id, text)), secret
            )
            assert status == 200
    _run(env, "worker", "--burst", log=logs / "worker.log")

    auth = {"Authorization": f"Bearer {token}"}
    status, listing = _http("GET", base + "/api/v1/tickets", headers=auth)
    assert status == 200
    assert len(listing["tickets"]) == len(WORKERS)
    for chat_id, language, _, readable in WORKERS:
        first = telegram_stub.messages_to(chat_id)[0]
        assert detect_language(first) == language
        ref = next(t["ref"] for t in listing["tickets"] if t["ref"] in first)
        status, ticket = _http("GET", f"{base}/api/v1/tickets/{ref}", headers=auth)
        assert ticket["language"] == language
        assert [m["text"] for m in ticket["messages"] if m["direction"] == "in"] == [
            readable,
            SECOND[language],
        ]

    secrets = [str(chat_id).encode() for chat_id, *_ in WORKERS]
    for _, language, typed, readable in WORKERS:
        secrets += [typed.encode(), readable.encode(), SECOND[language].encode()]

    dump = subprocess.run(
        ["pg_dump", "--no-owner", database_url], capture_output=True, check=True, timeout=120
    ).stdout
    assert b"COPY public.messages" in dump  # the dump holds the tables we look through
    in_redis = list(redis_values(product_env["REDIS_URL"]))
    assert any(b"send_outbound" in value for value in in_redis)  # replies went through Redis
    log_text = b"".join(path.read_bytes() for path in logs.iterdir())
    assert b"ticket " in log_text  # the worker logged what it did, by id

    for secret_value in secrets:
        assert secret_value not in dump, secret_value.decode()
        assert not any(secret_value in value for value in in_redis), secret_value.decode()
        assert secret_value not in log_text, secret_value.decode()
