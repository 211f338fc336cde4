"""What Twilio is asked about a send a worker began and never recorded.

The real twilio client against the stub's message list: a message counts only if it
went to this worker from our number, after the attempt began (less the clock skew
allowed), with this text; a template's text is Twilio's, so any then will do.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from bots.base import Outgoing
from bots.twilio import CLOCK_SKEW, TwilioMessaging
from intake.settings import TwilioSettings

from support.twilio_stub import ACCOUNT_SID, AUTH_TOKEN, TwilioStub

WORKER = "whatsapp:+66812345678"
OTHER = "whatsapp:+66812345679"
FROM = "whatsapp:+14155238886"


@pytest.fixture
def whatsapp(twilio_stub: TwilioStub) -> TwilioMessaging:
    settings = TwilioSettings(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base=twilio_stub.base,
        whatsapp_from=FROM, sms_from=None, messaging_service_sid=None, whatsapp_templates={},
    )  # fmt: skip
    return TwilioMessaging("whatsapp", settings)


def _aged(stub: TwilioStub, sid: str, seconds: float) -> None:
    [message] = [m for m in stub.sent if m.sid == sid]
    message.created -= seconds


def test_only_this_text_to_this_worker_since_the_attempt_began_is_found(
    whatsapp: TwilioMessaging, twilio_stub: TwilioStub
) -> None:
    reply = Outgoing("ได้รับแล้วค่ะ", ("ใช่", "ไม่ใช่"))
    began = dt.datetime.now(dt.UTC)
    old = whatsapp.send(WORKER, reply)
    _aged(twilio_stub, old, CLOCK_SKEW.total_seconds() + 60)  # before the attempt, skew and all
    whatsapp.send(WORKER, Outgoing("another text"))
    whatsapp.send(OTHER, reply)
    this = whatsapp.send(WORKER, reply)
    later = whatsapp.send(WORKER, reply)

    assert whatsapp.find_sent(WORKER, reply, began) == [this, later]  # oldest first
    assert whatsapp.find_sent(WORKER, Outgoing("not sent"), began) == []
    # Twilio's clock may be behind ours: a message stamped a little before still counts.
    time.sleep(1.1)
    assert whatsapp.find_sent(WORKER, reply, dt.datetime.now(dt.UTC)) == [this, later]


def test_a_template_is_found_whatever_text_twilio_gave_it(
    whatsapp: TwilioMessaging, twilio_stub: TwilioStub
) -> None:
    template = Outgoing("ignored", template="HX" + "a1" * 16, template_variables={"1": "T-1"})
    began = dt.datetime.now(dt.UTC)
    sid = whatsapp.send(WORKER, template)
    assert whatsapp.find_sent(WORKER, template, began) == [sid]
    assert twilio_stub.listed == 1
