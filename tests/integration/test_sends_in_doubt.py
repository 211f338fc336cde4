"""A worker killed in the instant between the provider taking a reply and our commit.

The window no design closes by itself: the provider has the message, our database
does not know. The stub kills the real `voicedesk worker` process at that very instant
(the message taken, the answer not yet written), and a second worker picks the reply
up. Where the provider can be asked what it holds (Twilio: WhatsApp and SMS) the reply
is recorded as sent, never sent twice; where it cannot (Telegram) it is sent again,
never lost (README, "Exactly once, and where it cannot be").
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workers import jobs

from integration.conftest import WHATSAPP_FROM, Desk
from integration.conftest import run_jobs_or_fail as work
from integration.test_twilio_messaging import inbound, outbound_rows, post, queue_outbound
from support.builders import telegram_update
from support.telegram_stub import TelegramStub
from support.twilio_stub import TwilioStub

CLI = [sys.executable, "-c", "from console.cli import main; main()"]
pytestmark = pytest.mark.integration
REPORT = "สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง"


class Workers:
    """`voicedesk worker` processes, as a process manager starts them."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.started)}.log").open("w")
        process = subprocess.Popen([*CLI, "worker"], env=self.env, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        log.close()
        self.started.append(process)
        return process

    def log(self) -> str:
        return "".join(path.read_text() for path in sorted(self.logs.glob("worker-*.log")))

    def stop(self) -> None:
        """Stop every worker, for good: one left running would take later tests' messages."""
        for process in self.started:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def workers(product_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    env = {**os.environ, **product_env, "VOICEDESK_SWEEP_INTERVAL": "1"}
    running = Workers(env, tmp_path)
    yield running
    running.stop()


def _until(what: Callable[[], Any], seconds: float, why: Callable[[], str]) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := what()):
        assert time.monotonic() < deadline, why()
        time.sleep(0.2)
    return found


def _killed_while_sending(workers: Workers, hooks: list[Any]) -> None:
    """Start a worker that the provider's stub kills as it sends (the stub's hook says when)."""
    first: list[subprocess.Popen[bytes]] = []
    hooks.append(lambda: first[0].send_signal(signal.SIGKILL))
    first.append(workers.start())
    _until(lambda: first[0].poll() is not None, 60, workers.log)
    assert first[0].returncode == -signal.SIGKILL, workers.log()


def _reply_recorded(desk: Desk, workers: Workers) -> Any:
    def sent() -> Any:
        rows = outbound_rows(desk)
        return rows if rows and all(row.delivery_status == "sent" for row in rows) else None

    return _until(sent, 60, lambda: f"{outbound_rows(desk)}\n{workers.log()}")


def _whatsapp_ticket(desk: Desk, worker: str) -> None:
    """A worker writes in; their ticket opens and the bot's answer is queued."""
    desk.organisation("Bangkok Workers Centre", ["th"])
    assert post(desk, inbound(worker, REPORT)).status_code == 200
    while jobs.drain_intake(wait=0, raise_errors=True):
        pass


def test_a_whatsapp_reply_twilio_took_from_a_killed_worker_is_recorded_not_sent_again(
    desk: Desk, twilio_stub: TwilioStub, workers: Workers
) -> None:
    worker = "whatsapp:+66812345678"
    _whatsapp_ticket(desk, worker)  # a worker process sends the bot's answer

    _killed_while_sending(workers, twilio_stub.while_sending)
    assert [m.to for m in twilio_stub.sent] == [worker]  # Twilio has it; we never heard
    workers.start()
    [reply] = _reply_recorded(desk, workers)

    assert [m.to for m in twilio_stub.sent] == [worker], workers.log()  # once, not twice
    assert reply.provider_message_id == twilio_stub.sent[0].sid
    assert twilio_stub.listed >= 1  # the second worker asked Twilio before sending
    assert twilio_stub.sent[0].sender == WHATSAPP_FROM
    assert "had it from an earlier attempt" in workers.log()


def test_a_whatsapp_reply_twilio_never_took_from_a_killed_worker_is_sent_once(
    desk: Desk, twilio_stub: TwilioStub, workers: Workers
) -> None:
    worker = "whatsapp:+66812345679"
    _whatsapp_ticket(desk, worker)
    work(desk)  # the bot's answer, sent and recorded
    assert jobs.send_outbound(queue_outbound(desk, "ได้รับแล้วค่ะ")) == "sent"  # a caseworker's
    assert len(twilio_stub.bodies_to(worker)) == 2
    queue_outbound(desk, "ได้รับแล้วค่ะ")  # the same words again; the sweeper queues them

    _killed_while_sending(workers, twilio_stub.instead_of_taking)  # before Twilio took it
    assert len(twilio_stub.bodies_to(worker)) == 2
    workers.start()
    replies = _reply_recorded(desk, workers)

    # Twilio holds the same words once already, recorded as the earlier message: that is
    # not this one, which is sent now, once.
    assert twilio_stub.bodies_to(worker)[1:] == ["ได้รับแล้วค่ะ", "ได้รับแล้วค่ะ"]
    assert [r.provider_message_id for r in replies] == [m.sid for m in twilio_stub.sent]
    assert twilio_stub.listed >= 1


def test_a_telegram_reply_from_a_killed_worker_is_sent_again_never_lost(
    desk: Desk, telegram_stub: TelegramStub, workers: Workers
) -> None:
    desk.organisation("Bangkok Workers Centre", ["th"])
    chat = 7_400_000_001
    assert desk.post_update(telegram_update(chat, REPORT)).status_code == 200
    while jobs.drain_intake(wait=0, raise_errors=True):
        pass

    _killed_while_sending(workers, telegram_stub.while_sending)
    assert [m.chat_id for m in telegram_stub.sent] == [chat]
    workers.start()
    _reply_recorded(desk, workers)

    # Telegram cannot be asked whether it has a message: the worker hears it twice
    # rather than not at all, and the log says why.
    assert [m.chat_id for m in telegram_stub.sent] == [chat, chat], workers.log()
    assert telegram_stub.sent[0].text == telegram_stub.sent[1].text
    assert "cannot say whether it arrived; sending again" in workers.log()
