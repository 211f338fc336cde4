"""Sending to workers: retries with backoff, permanent failures, rate limits, dead letters."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from console.cli import create_user
from intake.settings import Settings

from integration.conftest import PASSWORD, PUBLIC_BASE, open_desk
from support import signin
from support.builders import telegram_update
from support.telegram_stub import TelegramStub
from support.viber_stub import ViberStub

TOO_MANY = (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                  "parameters": {"retry_after": 1}})  # fmt: skip


def test_telegram_429_then_ok_delivers_the_reply_exactly_once(
    desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    telegram_stub.script["sendMessage"] = [TOO_MANY]
    desk.post_update(telegram_update(7340080001, "สวัสดี"))
    desk.work()
    waiting = desk.sql("SELECT delivery_status, failure_reason, attempts FROM messages "
                       "WHERE direction = 'out'")[0]  # fmt: skip
    assert waiting[0] == "queued"
    assert "slow down" in waiting[1]
    assert telegram_stub.messages_to(7340080001) == []
    desk.work(wait_for_scheduled=15)
    assert len(telegram_stub.messages_to(7340080001)) == 1
    done = desk.sql("SELECT delivery_status, failure_reason, attempts FROM messages "
                    "WHERE direction = 'out'")[0]  # fmt: skip
    assert tuple(done) == ("sent", None, 2)


def test_permanent_error_fails_at_once_with_the_reason_shown(
    desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    telegram_stub.script["sendMessage"] = [
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    ]
    desk.post_update(telegram_update(7340080002, "สวัสดี"))
    desk.work(wait_for_scheduled=2)
    status, reason, attempts = desk.sql(
        "SELECT delivery_status, failure_reason, attempts FROM messages WHERE direction = 'out'"
    )[0]
    assert (status, attempts) == ("failed", 1)
    assert "chat not found" in reason.lower()
    assert telegram_stub.calls.count("sendMessage") == 1


def test_replies_to_one_chat_never_come_faster_than_one_a_second(
    desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    for text in ("สวัสดี", "นายจ้างไม่จ่าย", "ช่วยด้วย"):
        desk.post_update(telegram_update(7340080003, text))
    desk.work()
    times = telegram_stub.sent_at
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # Slots are 1.025 s apart; what the provider sees also carries each request's own
    # few milliseconds on the way, more on a loaded machine: the gaps between arrivals
    # may be that much shorter, never the whole.
    assert min(gaps) >= 0.85, gaps
    assert times[-1] - times[0] >= 1.9, gaps


def test_the_bot_never_sends_faster_than_the_configured_channel_rate(
    product_env: dict[str, str], telegram_stub: TelegramStub
) -> None:
    settings = Settings.from_env(
        {**product_env, "VOICEDESK_RATE_LIMITS": "telegram=3/1,telegram:chat=100/1"}
    )
    with open_desk(settings) as desk:
        desk.organisation("Bangkok Workers Centre")
        for chat in range(7340081000, 7340081009):
            desk.post_update(telegram_update(chat, "สวัสดี"))
        desk.work()
    times = sorted(telegram_stub.sent_at)
    assert len(times) == 9
    for i, start in enumerate(times):
        in_window = [t for t in times[i:] if t < start + 0.95]
        assert len(in_window) <= 3, times


def _sign_in(desk, email: str, role: str) -> None:
    with desk.rt.session() as session:
        create_user(session, email, "Bangkok Workers Centre", role, PASSWORD)
        session.commit()
    landed = signin.sign_in(desk.client, email, PASSWORD, secrets={})
    assert landed.request.path == "/tickets"


def test_supervisor_sees_an_undelivered_message_and_sends_it_again(
    desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    telegram_stub.blocked.add(7340080004)
    desk.post_update(telegram_update(7340080004, "ខ្ញុំត្រូវការជំនួយ"))
    desk.work()
    _sign_in(desk, "sup@bwc.example", "supervisor")
    page = desk.client.get("/outbox/failed").text
    ref = desk.sql("SELECT ref FROM tickets")[0][0]
    assert ref in page
    assert "blocked the bot" in page
    # The worker unblocks the bot; the supervisor tries again.
    telegram_stub.blocked.clear()
    desk.post_update({"update_id": 910_000_001, "my_chat_member": {
        "chat": {"id": 7340080004, "type": "private"}, "date": 0,
        "new_chat_member": {"status": "member"}}})  # fmt: skip
    desk.work()
    message_id = re.search(r"/outbox/failed/([0-9a-f-]+)/retry", page).group(1)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = desk.client.post(f"/outbox/failed/{message_id}/retry", data={"csrf_token": token})
    assert answer.status_code == 302
    desk.work()
    assert len(telegram_stub.messages_to(7340080004)) == 1
    assert desk.sql("SELECT count(*) FROM audit_log WHERE action = 'message.retry'")[0][0] == 1
    assert "Nothing undelivered" in desk.client.get("/outbox/failed").text


def test_caseworker_cannot_open_the_dead_letter_list(desk) -> None:
    desk.organisation("Bangkok Workers Centre")
    _sign_in(desk, "cw@bwc.example", "caseworker")
    assert desk.client.get("/outbox/failed").status_code == 403


def test_webhooks_set_registers_telegram_and_viber_and_prints_twilio_urls(
    product_env: dict[str, str], telegram_stub: TelegramStub, viber_stub: ViberStub
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from console.cli import main; main()", "webhooks", "set"],
        env={**os.environ, **product_env}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    registered = [params for method, params in telegram_stub.requests if method == "setWebhook"]
    assert registered[0]["url"] == f"{PUBLIC_BASE}/hooks/telegram"
    assert registered[0]["secret_token"] == product_env["TELEGRAM_WEBHOOK_SECRET"]
    assert viber_stub.webhooks[0]["url"] == f"{PUBLIC_BASE}/hooks/viber"
    assert f"{PUBLIC_BASE}/hooks/twilio/messaging" in done.stdout
    assert f"{PUBLIC_BASE}/hooks/twilio/voice" in done.stdout
    assert product_env["TELEGRAM_WEBHOOK_SECRET"] not in done.stdout + done.stderr
