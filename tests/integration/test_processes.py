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
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest

from translations.scripts import detect_language

from integration.conftest import PUBLIC_BASE
from integration.test_telegram_intake import SECOND, WORKERS
from support.builders import as_body, telegram_update
from support.services import free_port, redis_values
from support.telegram_stub import TelegramStub
from support.twilio_stub import sign
from support.viber_stub import viber_signature

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


def _raw_http(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_canaries_sent_through_every_channel_are_nowhere_in_plaintext(
    served: tuple[str, dict[str, str], Path],
    database_url: str,
    product_env: dict[str, str],
) -> None:
    """Unique texts and addresses through Telegram, WhatsApp, SMS, Viber and the hotline,
    and through refused requests (forged, malformed, oversize): then the dump, Redis, every
    log line and every answer the product gave are searched for them."""
    base, env, logs = served
    _run(env, "org", "create", "Bangkok Workers Centre", "--languages", "my,km,ne,th",
         log=logs / "cli.log")  # fmt: skip
    tag = uuid.uuid4().hex[:10]
    canary = {
        "telegram": (str(7_300_000_000 + int(tag[:6], 16)), f"Canary-TG-{tag} ဆရာ"),
        "whatsapp": (f"+6681{int(tag[:6], 16) % 10_000_000:07d}", f"Canary-WA-{tag} นายจ้าง"),
        "sms": (f"+9779{int(tag[4:], 16) % 100_000_000:08d}", f"Canary-SMS-{tag} तलब"),
        "viber": (f"CanaryViber{tag}==", f"Canary-VB-{tag} ប្រាក់"),
        "voice": (f"+9591{int(tag[2:8], 16) % 10_000_000:07d}", None),
    }
    answers: list[bytes] = []

    def post(path: str, body: bytes, headers: dict[str, str], expect: int) -> None:
        status, answer = _raw_http(base + path, body, headers)
        assert status == expect, (path, status, answer[:200])
        answers.append(answer)

    chat, text = canary["telegram"]
    telegram_headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": product_env["TELEGRAM_WEBHOOK_SECRET"],
    }
    post("/hooks/telegram", as_body(telegram_update(int(chat), text)), telegram_headers, 200)
    for name, sid in (("whatsapp", "SM" + tag * 3 + "aa"), ("sms", "SM" + tag * 3 + "bb")):
        number, text = canary[name]
        sender = f"whatsapp:{number}" if name == "whatsapp" else number
        form = {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": text}
        body = urlencode(form).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(PUBLIC_BASE + "/hooks/twilio/messaging", form),
        }
        post("/hooks/twilio/messaging", body, headers, 200)
    user, text = canary["viber"]
    viber = as_body({
        "event": "message", "timestamp": 1764000000000, "message_token": int(tag[:8], 16),
        "sender": {"id": user, "name": "W", "language": "km"},
        "message": {"type": "text", "text": text},
    })  # fmt: skip
    post("/hooks/viber", viber, {"X-Viber-Content-Signature": viber_signature(viber)}, 200)
    caller = canary["voice"][0]
    call = {"CallSid": "CA" + tag * 3 + "cc", "From": caller, "To": "+15005550006"}
    post(
        "/hooks/twilio/voice",
        urlencode(call).encode(),
        {"Content-Type": "application/x-www-form-urlencoded",
         "X-Twilio-Signature": sign(PUBLIC_BASE + "/hooks/twilio/voice", call)},
        200,
    )  # fmt: skip

    # Refused requests carry canaries too: forged, malformed, oversize.
    forged = as_body(telegram_update(int(chat), f"Forged-{tag}"))
    post("/hooks/telegram", forged, {**telegram_headers, "X-Telegram-Bot-Api-Secret-Token": "x"},
         403)  # fmt: skip
    post("/hooks/telegram", f'{{"update_id": "Malformed-{tag}'.encode(), telegram_headers, 400)
    huge = (f"Oversize-{tag}" * 100_000).encode()
    post("/hooks/telegram", huge, telegram_headers, 413)

    _run(env, "worker", "--burst", log=logs / "worker.log")
    assert _count(database_url, "SELECT count(*) FROM tickets") == 5

    needles = [f"{kind}-{tag}".encode() for kind in ("Forged", "Malformed", "Oversize")]
    for address, said in canary.values():
        needles += [address.encode(), address.lstrip("+").encode()]
        if said is not None:
            needles += [said.encode(), said.split()[0].encode()]
    dump = subprocess.run(
        ["pg_dump", "--no-owner", database_url], capture_output=True, check=True, timeout=120
    ).stdout
    in_redis = list(redis_values(product_env["REDIS_URL"]))
    log_text = b"".join(path.read_bytes() for path in logs.iterdir())
    for needle in needles:
        assert needle not in dump, needle.decode()
        assert not any(needle in value for value in in_redis), needle.decode()
        assert needle not in log_text, needle.decode()
        assert not any(needle in answer for answer in answers), needle.decode()


def _count(database_url: str, query: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])
