"""Every channel's parser, on hostile input: it reads a delivery or refuses it, nothing else.

No service is needed: these are the functions the webhook and the worker call on a
body, run on many thousands of generated bodies (tests/support/hostile.py). A refusal
is `Malformed` (the webhook's 400); any other exception would be a 500 or a worker
job failing forever. What a parser returns must be what the rest of intake expects,
and the text pipeline the worker runs next must take it too.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given

from bots.base import Channel, InboundMessage, Malformed, provider_id
from bots.registry import build_channels
from bots.twilio import with_step
from intake.settings import Settings
from safeguards.pseudonyms import pseudonym_for
from translations.scripts import detect_language, normalise_text, parse_number
from translations.words import command_of, yes_or_no

from support.hostile import (
    EXAMPLES,
    TELEGRAM,
    TWILIO_MESSAGING,
    TWILIO_VOICE,
    VIBER,
    cases,
    form_bodies,
    json_bodies,
)

SETTINGS = Settings.from_env(
    {
        "TELEGRAM_BOT_TOKEN": "123:ABC",
        "TELEGRAM_WEBHOOK_SECRET": "s",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_SMS_FROM": "+15005550006",
        "VIBER_AUTH_TOKEN": "v",
        "VOICEDESK_HOTLINE_NUMBERS": "+66800000001",
    }
)
CHANNELS = build_channels(SETTINGS)
PEPPER = b"p" * 32


def _read(channel: Channel, body: bytes) -> None:
    """Everything the webhook and the worker ask of a body, in their order."""
    try:
        channel.channel_for(body)
        update = channel.status_update(body)
        if update is not None:
            assert isinstance(update.provider_message_id, str)
            assert update.error is None or isinstance(update.error, str)
            return
        reply = channel.instant_reply(body)
        if reply is not None:
            assert isinstance(reply, dict)
            return
        provider_id(channel.envelope_key(body), "an id")  # the webhook's check on it
        inbound = channel.parse(body)
    except Malformed:
        return
    if inbound is None:
        return
    _check(inbound)
    if inbound.media:
        assert isinstance(channel.forget_media(body), bytes)


def _check(inbound: InboundMessage) -> None:
    assert isinstance(inbound.address, str)
    assert inbound.address or inbound.kind == "call"
    assert isinstance(inbound.provider_message_id, str)
    assert inbound.text is None or isinstance(inbound.text, str)
    # The worker seals the text and takes an HMAC of the address: both UTF-8.
    inbound.address.encode("utf-8")
    (inbound.text or "").encode("utf-8")
    assert inbound.language_hint is None or isinstance(inbound.language_hint, str)
    assert inbound.sent_at is None or isinstance(inbound.sent_at, dt.datetime)
    assert all(isinstance(ref.ref, str) for ref in inbound.media)
    pseudonym_for(PEPPER, inbound.channel, inbound.address)
    text = normalise_text(inbound.text) if inbound.text else None
    detect_language(text)
    parse_number(text)
    command_of(text)
    yes_or_no(text)


@pytest.mark.parametrize("name", ["telegram", "viber"])
def test_json_channels_read_or_refuse_every_body(name: str) -> None:
    channel = CHANNELS[name]
    templates = TELEGRAM if name == "telegram" else VIBER

    @cases(EXAMPLES)
    @given(json_bodies(templates))
    def reads_or_refuses(body: bytes) -> None:
        _read(channel, body)

    reads_or_refuses()


def test_twilio_messaging_reads_or_refuses_every_body() -> None:
    @cases(EXAMPLES)
    @given(form_bodies(TWILIO_MESSAGING))
    def reads_or_refuses(body: bytes) -> None:
        _read(CHANNELS["sms"], body)

    reads_or_refuses()


@pytest.mark.parametrize("step", ["started", "language", "dial_result", "recording", "ended"])
def test_the_hotline_reads_or_refuses_every_callback(step: str) -> None:
    @cases(EXAMPLES // 5)
    @given(form_bodies(TWILIO_VOICE))
    def reads_or_refuses(body: bytes) -> None:
        _read(CHANNELS["voice"], with_step(body, step, "my"))

    reads_or_refuses()


# What the generated cases found, kept as they were found (each raised before its fix).
FOUND = [
    ("telegram", b'{"update_id":1,"my_chat_member":{"chat":{"id":1,"type":"private"},'
                 b'"new_chat_member":{"status":[]}}}'),
    ("telegram", b'{"update_id":2,"message":{"chat":{"id":3},"from":"x","text":"hi"}}'),
    ("telegram", b'{"update_id":3,"message":{"chat":{"id":3},"date":100000000000000000000}}'),
    ("telegram", b'{"update_id":4,"callback_query":{"message":{"chat":[]},"from":1}}'),
    ("telegram", b'{"update_id":5,"message":{"chat":{"id":3},"message_id":"' + b"9" * 300 + b'"}}'),
    ("telegram", b'{"message":' * 100_000 + b"1" + b"}" * 100_000),
    ("viber", b'{"event":"failed","message_token":1,"desc":[]}'),
    ("viber", b'{"event":"subscribed","message_token":1,"user":{}}'),
    ("viber", b'{"event":"message","message_token":1,"sender":{"id":[]},"message":{}}'),
    ("viber", b'{"event":"message","message_token":"\\ud800","sender":{"id":"a"},"message":{}}'),
    ("viber", b'{"event": "\xed\xa0\x80", "message_token": 6}'),
    ("viber", b'{"event":"message","message_token":2,"sender":{"id":"a\\udfff"},'
              b'"message":{"type":"text","text":"\\ud800 hi"}}'),
    ("sms", b"MessageSid=SM1&From=%2B66812345678&NumMedia=+"),
    ("sms", b"MessageSid=SM1&From=%2B66812345678&NumMedia=99999999999&MediaUrl0=x"),
    ("sms", b"MessageSid=SM1&From=%2B66812345678&NumMedia=%C2%B3"),
    ("sms", b"MessageSid=SM1&MessageStatus=failed&ErrorCode=%C2%B3"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body"), FOUND)
def test_what_the_generated_cases_found_is_read_or_refused(name: str, body: bytes) -> None:
    _read(CHANNELS[name], body)


def test_a_call_longer_than_twilio_allows_has_no_duration() -> None:
    body = with_step(b"CallSid=CA1&From=%2B959123&CallDuration=99999999999", "ended", None)
    inbound = CHANNELS["voice"].parse(body)
    assert inbound is not None
    assert inbound.call is not None
    assert inbound.call.duration_seconds is None
