"""What an attacker, a broken phone or a confused provider might send: hypothesis strategies.

Every channel's payload is built from a real delivery's shape, then mutated: fields
dropped, replaced by any JSON value (deeply nested, the wrong type, huge), texts
made of zero-width and bidi controls, Zawgyi, emoji floods, NULs and lone
surrogates; bodies truncated, spliced with invalid UTF-8, or nested past any
parser's recursion limit.

How many cases: VOICEDESK_HOSTILE_EXAMPLES (default 10,000 per channel for the parsers,
a tenth of that through the webhooks and the worker; the README says how to run more).
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("VOICEDESK_HOSTILE_EXAMPLES", "10000"))


def cases(examples: int) -> settings:
    """Hypothesis settings for a property run over this many cases, without a deadline.

    A property here is about what comes out, not how fast: the timing is the benchmark's.
    """
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=os.environ.get("CI") == "true",  # CI reruns the same cases
    )


NASTY_TEXTS = [
    "",
    " ",
    "\x00",
    "\u200b\u200c\u200d\u2060\ufeff",  # zero-width
    "\u202e\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d",  # bidi overrides
    "\u202eเงินเดือน\u202c",
    "ေနေကာင္းလား",  # Zawgyi
    "မင်္ဂလာပါ",  # Burmese Unicode
    "ខ្ញុំមិនបានទទួលប្រាក់ខែ",
    "मलाई तलब दिइएन",
    "นายจ้างยึดพาสปอร์ต",
    "😀" * 4000,
    "👨‍👩‍👧‍👦" * 500,
    "A" * 200_000,
    "\ud800",  # a lone surrogate: valid as a JSON escape, not as UTF-8
    "९८७६५४३२१०",
    "/start",
    "STOP",
    "1",
    "<script>alert(1)</script>",
    "'; DROP TABLE tickets; --",
    "%s%s%s%n",
    "{{7*7}}",
]

texts = st.one_of(st.sampled_from(NASTY_TEXTS), st.text(max_size=300))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any]) -> Any:
    """The template with some fields (at any depth) dropped or replaced by anything."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                action = draw(st.sampled_from(["keep", "keep", "keep", "drop", "replace"]))
                if action == "keep":
                    out[key] = walk(value)
                elif action == "replace":
                    out[key] = draw(json_values)
            if draw(st.booleans()):
                out[draw(st.text(max_size=12))] = draw(json_values)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return draw(st.one_of(st.just(node), json_values))

    return walk(template)


def _nested(depth: int) -> bytes:
    return b'{"message":' * depth + b"1" + b"}" * depth


@st.composite
def json_bodies(draw: st.DrawFn, templates: list[dict[str, Any]]) -> bytes:
    """A JSON body as a provider might send it, or any of the ways it can go wrong."""
    value = draw(mutated(draw(st.sampled_from(templates))))
    body = json.dumps(value, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    how = draw(st.sampled_from(["whole"] * 6 + ["truncated", "spliced", "nested", "bytes"]))
    if how == "truncated":
        return body[: draw(st.integers(0, max(len(body) - 1, 0)))]
    if how == "spliced":
        at = draw(st.integers(0, len(body)))
        return (
            body[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"]))
            + body[at:]
        )
    if how == "nested":
        return _nested(draw(st.sampled_from([50, 1_000, 100_000])))
    if how == "bytes":
        return draw(st.binary(max_size=200))
    return body


@st.composite
def form_bodies(draw: st.DrawFn, templates: list[dict[str, str]]) -> bytes:
    """A form-encoded Twilio callback, fields dropped, replaced or made absurd."""
    template = draw(st.sampled_from(templates))
    fields: dict[str, str] = {}
    for key, value in template.items():
        action = draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
        if action == "keep":
            fields[key] = value
        elif action == "replace":
            fields[key] = draw(
                st.one_of(
                    texts,
                    st.sampled_from(["-1", "99999999999", "1e9", "0x10", "NaN", "١٢", "３", "³"]),
                )
            )
    for _ in range(draw(st.integers(0, 2))):
        fields[draw(st.sampled_from(["MediaUrl5", "NumMedia", "OptOutType", "x"]))] = draw(texts)
    body = urlencode(fields, errors="surrogatepass").encode()
    how = draw(st.sampled_from(["whole"] * 8 + ["spliced", "bytes"]))
    if how == "spliced":
        at = draw(st.integers(0, len(body)))
        return (
            body[:at] + draw(st.sampled_from([b"\xff", b"%ff", b"%", b"&&=", b"\x00"])) + body[at:]
        )
    if how == "bytes":
        return draw(st.binary(max_size=200))
    return body


TELEGRAM = [
    {
        "update_id": 1001,
        "message": {
            "message_id": 7,
            "date": 1764000000,
            "chat": {"id": 7340000001, "type": "private"},
            "from": {"id": 7340000001, "is_bot": False, "language_code": "my"},
            "text": "လစာ မရသေးပါ",
        },
    },
    {
        "update_id": 1002,
        "edited_message": {
            "message_id": 7,
            "date": 1764000000,
            "edit_date": 1764000100,
            "chat": {"id": 7340000001, "type": "private"},
            "text": "edited",
        },
    },
    {
        "update_id": 1003,
        "message": {
            "message_id": 8,
            "chat": {"id": 7340000001, "type": "private"},
            "photo": [{"file_id": "AgAD", "file_unique_id": "u", "width": 9, "height": 9}],
            "voice": {"file_id": "AwAD", "duration": 3, "mime_type": "audio/ogg"},
            "caption": "payslip",
        },
    },
    {
        "update_id": 1004,
        "callback_query": {
            "id": "cb1",
            "from": {"id": 7340000001, "language_code": "th"},
            "message": {"message_id": 9, "chat": {"id": 7340000001, "type": "private"}},
            "data": "1",
        },
    },
    {
        "update_id": 1005,
        "my_chat_member": {
            "chat": {"id": 7340000001, "type": "private"},
            "new_chat_member": {"status": "kicked"},
        },
    },
]

VIBER = [
    {
        "event": "message",
        "timestamp": 1764000000000,
        "message_token": 5741311803571721087,
        "sender": {"id": "01234567890A=", "name": "W", "language": "km"},
        "message": {"type": "text", "text": "ខ្ញុំ"},
    },
    {
        "event": "message",
        "message_token": 5741311803571721088,
        "sender": {"id": "01234567890A="},
        "message": {"type": "picture", "media": "http://127.0.0.1:9/p.jpg", "text": "x"},
    },
    {"event": "subscribed", "message_token": 1, "user": {"id": "01234567890A="}},
    {"event": "unsubscribed", "message_token": 2, "user_id": "01234567890A="},
    {"event": "conversation_started", "message_token": 3, "user": {"id": "01234567890A="}},
    {"event": "delivered", "message_token": 4, "user_id": "01234567890A="},
    {"event": "failed", "message_token": 5, "user_id": "01234567890A=", "desc": "x"},
    {"event": "webhook", "message_token": 6},
]

TWILIO_MESSAGING = [
    {
        "MessageSid": "SM" + "a" * 32,
        "From": "whatsapp:+66812345678",
        "To": "whatsapp:+14155238886",
        "Body": "นายจ้างไม่จ่าย",
        "NumMedia": "0",
    },
    {
        "MessageSid": "SM" + "b" * 32,
        "From": "+9779812345678",
        "To": "+15005550006",
        "Body": "",
        "NumMedia": "1",
        "MediaUrl0": "http://127.0.0.1:9/m.jpg",
        "MediaContentType0": "image/jpeg",
        "ButtonPayload": "2",
        "OptOutType": "STOP",
    },
    {"MessageSid": "SM" + "c" * 32, "MessageStatus": "undelivered", "ErrorCode": "63024"},
]

TWILIO_VOICE = [
    {
        "CallSid": "CA" + "a" * 32,
        "From": "+959123456789",
        "To": "+15005550006",
        "CallStatus": "ringing",
        "Digits": "2",
        "DialCallStatus": "no-answer",
        "RecordingSid": "RE" + "a" * 32,
        "RecordingUrl": "http://127.0.0.1:9/r",
        "RecordingDuration": "12",
        "CallDuration": "30",
    }
]
