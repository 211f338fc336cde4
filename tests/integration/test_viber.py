"""Viber: a worker's message becomes a ticket, and what we send is tracked to the end.

Each test drives the product's webhook with callbacks shaped as Viber's REST bot
API documents them, signed as Viber signs them, and lets the product send through
its real HTTP client to the local Viber stub.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from intake import tickets
from intake.db import utcnow
from intake.envelopes import open_envelope
from intake.models import Direction, InboundEnvelope, Message, Ticket
from translations.prompts import language_menu
from translations.scripts import detect_language
from workers import jobs

from support.viber_stub import ViberStub, viber_signature

ORG = "Bangkok Workers Centre"
SENDER_NAME = "Worker Voice Desk"  # the product's default VIBER_SENDER_NAME
MENU_LABELS = ["မြန်မာ", "ខ្មែរ", "नेपाली", "ไทย", "English"]
_tokens = itertools.count(4_912_661_846_655_238_145)

# Viber user id, language, what the worker types
WORKERS = [
    ("01234567890A=", "my", "မင်္ဂလာပါ။ လစာ မရသေးပါဘူး"),
    ("01234567890B=", "km", "សួស្តី ខ្ញុំមិនទាន់បានប្រាក់ខែទេ"),
    ("01234567890C=", "ne", "नमस्ते, मेरो पासपोर्ट कम्पनीले राखेको छ"),
    ("01234567890D=", "th", "สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง"),
]


# --- builders for Viber callbacks ------------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


def viber_message(
    user_id: str,
    text: str | None,
    *,
    language: str = "en",
    token: int | None = None,
    **message: Any,
) -> dict[str, Any]:
    """A `message` callback: what a worker sent, with their phone's language."""
    body: dict[str, Any] = {"type": "text", "tracking_data": "", **message}
    if text is not None:
        body["text"] = text
    return {
        "event": "message",
        "timestamp": _now_ms(),
        "message_token": token if token is not None else next(_tokens),
        "sender": {
            "id": user_id,
            "name": "",
            "language": language,
            "country": "TH",
            "api_version": 1,
        },
        "message": body,
    }


def viber_subscription(event: str, user_id: str) -> dict[str, Any]:
    """A `subscribed` or `unsubscribed` callback."""
    body: dict[str, Any] = {"event": event, "timestamp": _now_ms(), "message_token": next(_tokens)}
    if event == "subscribed":
        body["user"] = {"id": user_id, "name": "", "language": "th", "api_version": 1}
    else:
        body["user_id"] = user_id
    return body


def viber_status(event: str, our_token: str, user_id: str, desc: str | None = None) -> dict:
    """A `delivered`, `seen` or `failed` callback about a message we sent."""
    body: dict[str, Any] = {
        "event": event,
        "timestamp": _now_ms(),
        "message_token": int(our_token),
        "user_id": user_id,
    }
    if desc is not None:
        body["desc"] = desc
    return body


def post_viber(desk, payload: dict[str, Any] | bytes, signature: str | None = "sign") -> Any:
    """POST a callback as Viber does: the raw JSON body signed with the auth token."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Viber-Content-Signature"] = viber_signature(body)
    elif signature is not None:
        headers["X-Viber-Content-Signature"] = signature
    return desk.client.post("/hooks/viber", data=body, headers=headers)


# --- helpers over the product ------------------------------------------------------


def count(desk, table: str) -> int:
    return desk.sql(f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608 - a fixed table name


def thread(desk, token: str, ref: str | None = None) -> dict[str, Any]:
    """The one ticket (or the named one) as the API shows it to a caseworker."""
    if ref is None:
        listing = desk.api("/api/v1/tickets", token).get_json()["tickets"]
        assert len(listing) == 1, listing
        ref = listing[0]["ref"]
    answer = desk.api(f"/api/v1/tickets/{ref}", token)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def outbound(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in ticket["messages"] if m["direction"] == "out"]


def reply_token(desk) -> str:
    """The provider's token of the one message we sent (what status callbacks name)."""
    rows = desk.sql("SELECT provider_message_id FROM messages WHERE direction = 'out'")
    assert len(rows) == 1, rows
    return str(rows[0][0])


def queue_outbound(desk, text: str, language: str = "th") -> str:
    """A caseworker's message to the worker of the one open ticket; return its id."""
    with desk.rt.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        message = tickets.add_message(
            session, desk.rt.keys.content, ticket, direction=Direction.OUT, text=text,
            language=language,
        )  # fmt: skip
        session.commit()
        return str(message.id)


def message_row(desk, message_id: str) -> tuple[Any, ...]:
    rows = desk.sql(
        "SELECT delivery_status, failure_reason, attempts, next_attempt_at "
        "FROM messages WHERE id = :id",
        id=uuid.UUID(message_id),
    )
    return tuple(rows[0])


def vault_state(desk) -> tuple[Any, Any]:
    rows = desk.sql("SELECT unreachable_at, unreachable_reason FROM vault_entries")
    assert len(rows) == 1, rows
    return rows[0][0], rows[0][1]


@pytest.fixture
def caseworker(desk) -> str:
    """An organisation serving every worker language, and a caseworker's API token."""
    desk.organisation(ORG, ["my", "km", "ne", "th"])
    return desk.token("cw@bwc.example", ORG)


# --- intake ---------------------------------------------------------------------


@pytest.mark.parametrize(("user_id", "language", "typed"), WORKERS, ids=[w[1] for w in WORKERS])
def test_viber_message_becomes_a_ticket_answered_in_the_workers_language(
    desk, viber_stub: ViberStub, caseworker: str, user_id: str, language: str, typed: str
) -> None:
    # The phone says English; the script the worker writes in decides.
    answer = post_viber(desk, viber_message(user_id, typed, language="en"))
    assert answer.status_code == 200
    assert answer.get_json() == {"ok": True}
    desk.work()

    ticket = thread(desk, caseworker)
    assert ticket["language"] == language
    assert ticket["channel"] == "viber"
    inbound = [(m["text"], m["language"]) for m in ticket["messages"] if m["direction"] == "in"]
    assert inbound == [(typed, language)]
    assert [m["delivery_status"] for m in outbound(ticket)] == ["sent"]

    replies = viber_stub.texts_to(user_id)
    assert len(replies) == 1, viber_stub.sent
    assert detect_language(replies[0]) == language, replies[0]
    assert ticket["ref"] in replies[0]
    assert viber_stub.bad_token == 0  # every send carried X-Viber-Auth-Token
    sent = viber_stub.sent[0]
    assert sent["sender"] == {"name": SENDER_NAME}
    assert sent["type"] == "text"
    assert "keyboard" not in sent  # an acknowledgement offers no choices


def test_same_viber_message_token_twice_is_stored_once(desk, viber_stub: ViberStub) -> None:
    desk.organisation(ORG)
    update = viber_message("01234567890E=", "สวัสดีค่ะ")
    answers = [post_viber(desk, update) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.get_json().get("duplicate", False) for a in answers] == [False, True]
    desk.work()
    assert count(desk, "inbound_envelopes") == 1
    assert desk.sql("SELECT count(*) FROM messages WHERE direction = 'in'")[0][0] == 1
    assert len(viber_stub.texts_to("01234567890E=")) == 1


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "0" * 64,
        viber_signature(b"a different body"),
    ],
    ids=["missing", "empty", "zeros", "other-body"],
)
def test_forged_or_missing_viber_signature_gets_403_and_stores_nothing(
    desk, viber_stub: ViberStub, signature: str | None
) -> None:
    desk.organisation(ORG)
    body = json.dumps(viber_message("01234567890F=", "สวัสดี")).encode()
    answer = post_viber(desk, body, signature=signature)
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "forbidden"
    desk.work()
    assert count(desk, "inbound_envelopes") == 0
    assert count(desk, "workers") == 0
    assert viber_stub.sent == []


def test_body_signed_with_another_token_gets_403(desk) -> None:
    body = json.dumps(viber_message("01234567890G=", "สวัสดี")).encode()
    answer = post_viber(desk, body, signature=viber_signature(body, token="not-our-auth-token"))
    assert answer.status_code == 403
    assert count(desk, "inbound_envelopes") == 0


def test_conversation_started_is_answered_at_once_with_welcome_and_language_keyboard(
    desk, viber_stub: ViberStub
) -> None:
    desk.organisation(ORG)
    event = {
        "event": "conversation_started",
        "timestamp": _now_ms(),
        "message_token": next(_tokens),
        "type": "open",
        "context": "",
        "user": {"id": "01234567890H=", "name": "", "language": "my", "api_version": 1},
        "subscribed": False,
    }
    answer = post_viber(desk, event)
    assert answer.status_code == 200
    welcome = answer.get_json()
    assert welcome["type"] == "text"
    assert welcome["sender"] == {"name": SENDER_NAME}
    assert welcome["text"] == language_menu()[0]
    buttons = welcome["keyboard"]["Buttons"]
    assert welcome["keyboard"]["Type"] == "keyboard"
    assert [b["ActionBody"] for b in buttons] == ["1", "2", "3", "4", "5"]
    assert [b["Text"] for b in buttons] == MENU_LABELS
    assert {b["ActionType"] for b in buttons} == {"reply"}
    desk.work()
    # Nothing of the worker's is kept until they write, and nothing is sent separately.
    assert count(desk, "inbound_envelopes") == 0
    assert count(desk, "workers") == 0
    assert count(desk, "vault_entries") == 0
    assert viber_stub.sent == []


def test_viber_webhook_check_answers_200_and_stores_nothing(desk) -> None:
    check = {
        "event": "webhook",
        "timestamp": _now_ms(),
        "chat_hostname": "SN-CHAT-05_",
        "message_token": next(_tokens),
    }
    answer = post_viber(desk, check)
    assert answer.status_code == 200
    assert count(desk, "inbound_envelopes") == 0


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"message_token": 1}', b'{"event": "message"}'],
    ids=["not-json", "array", "no-event", "no-token"],
)
def test_malformed_viber_callback_gets_400_and_stores_nothing(desk, body: bytes) -> None:
    answer = post_viber(desk, body)
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "malformed"
    assert count(desk, "inbound_envelopes") == 0


def test_signed_message_without_sender_gets_400_and_stores_nothing(desk) -> None:
    answer = post_viber(desk, {"event": "message", "timestamp": _now_ms(), "message_token": 7})
    assert answer.status_code == 400
    assert count(desk, "inbound_envelopes") == 0


def test_message_without_script_gets_language_menu_then_khmer_after_button_two(
    desk, viber_stub: ViberStub
) -> None:
    desk.organisation("Phnom Penh Desk", ["km"])
    user = "01234567890I="
    post_viber(desk, viber_message(user, "👋", language="en"))
    desk.work()
    menu = viber_stub.sent[-1]
    assert menu["receiver"] == user
    assert menu["text"] == language_menu()[0]
    buttons = menu["keyboard"]["Buttons"]
    assert [(b["ActionBody"], b["Text"]) for b in buttons] == [
        (str(n), label) for n, label in enumerate(MENU_LABELS, start=1)
    ]
    # Pressing a reply button sends its ActionBody back as a text message.
    post_viber(desk, viber_message(user, "2", language="en"))
    desk.work()
    answer = viber_stub.texts_to(user)[-1]
    assert detect_language(answer) == "km", answer
    rows = desk.sql("SELECT ref, language FROM tickets")
    assert len(rows) == 1
    assert rows[0][1] == "km"
    assert rows[0][0] in answer
    assert len(viber_stub.texts_to(user)) == 2


# --- what happened to what we sent ------------------------------------------------


def test_delivered_then_seen_move_the_reply_to_read_and_a_late_delivered_does_not(
    desk, viber_stub: ViberStub, caseworker: str
) -> None:
    user = "01234567890J="
    post_viber(desk, viber_message(user, "สวัสดีค่ะ"))
    desk.work()
    ours = reply_token(desk)

    def status() -> str:
        return outbound(thread(desk, caseworker))[0]["delivery_status"]

    assert status() == "sent"
    assert post_viber(desk, viber_status("delivered", ours, user)).status_code == 200
    assert status() == "delivered"
    assert post_viber(desk, viber_status("seen", ours, user)).status_code == 200
    assert status() == "read"
    assert post_viber(desk, viber_status("delivered", ours, user)).status_code == 200
    assert status() == "read"
    # A forged "failed" changes nothing; status callbacks are never stored as envelopes.
    forged = post_viber(desk, viber_status("failed", ours, user, "x"), signature="0" * 64)
    assert forged.status_code == 403
    assert status() == "read"
    assert count(desk, "inbound_envelopes") == 1


def test_failed_callback_marks_the_reply_failed_with_vibers_reason(
    desk, viber_stub: ViberStub, caseworker: str
) -> None:
    user = "01234567890K="
    post_viber(desk, viber_message(user, "สวัสดีค่ะ"))
    desk.work()
    ours = reply_token(desk)
    failed = viber_status("failed", ours, user, desc="failure description")
    assert post_viber(desk, failed).status_code == 200
    reply = outbound(thread(desk, caseworker))[0]
    assert reply["delivery_status"] == "failed"
    assert reply["failure_reason"] == "failure description"


def test_status_for_a_message_we_never_sent_answers_200_and_changes_nothing(
    desk, viber_stub: ViberStub, caseworker: str
) -> None:
    user = "01234567890L="
    post_viber(desk, viber_message(user, "สวัสดีค่ะ"))
    desk.work()
    stranger = viber_status("seen", "1234567890123456789", user)
    assert post_viber(desk, stranger).status_code == 200
    assert outbound(thread(desk, caseworker))[0]["delivery_status"] == "sent"


def test_unsubscribed_worker_gets_nothing_until_they_subscribe_again(
    desk, viber_stub: ViberStub
) -> None:
    desk.organisation(ORG)
    user = "01234567890M="
    post_viber(desk, viber_message(user, "สวัสดีค่ะ"))
    desk.work()
    assert len(viber_stub.texts_to(user)) == 1

    assert post_viber(desk, viber_subscription("unsubscribed", user)).status_code == 200
    desk.work()
    unreachable_at, reason = vault_state(desk)
    assert unreachable_at is not None
    assert reason == "opted out"
    assert desk.sql("SELECT count(*) FROM messages WHERE kind = 'event'")[0][0] == 0

    held = queue_outbound(desk, "เราได้คุยกับนายจ้างแล้ว")
    assert jobs.send_outbound(held) == "failed"
    status, failure, _, _ = message_row(desk, held)
    assert status == "failed"
    assert "cannot be reached on viber" in failure
    assert "opted out" in failure
    assert len(viber_stub.texts_to(user)) == 1  # it never reached Viber

    assert post_viber(desk, viber_subscription("subscribed", user)).status_code == 200
    desk.work()
    assert vault_state(desk) == (None, None)
    again = queue_outbound(desk, "เราได้คุยกับนายจ้างแล้ว")
    assert jobs.send_outbound(again) == "sent"
    assert viber_stub.texts_to(user)[-1] == "เราได้คุยกับนายจ้างแล้ว"
    assert len(viber_stub.texts_to(user)) == 2


def test_not_subscribed_answer_marks_the_reply_failed_and_the_worker_unreachable(
    desk, viber_stub: ViberStub, caseworker: str
) -> None:
    user = "01234567890N="
    viber_stub.unsubscribed.add(user)
    post_viber(desk, viber_message(user, "สวัสดีค่ะ"))
    desk.work()
    reply = outbound(thread(desk, caseworker))[0]
    assert reply["delivery_status"] == "failed"
    assert "cannot be reached on viber" in reply["failure_reason"]
    assert "notSubscribed" in reply["failure_reason"]
    unreachable_at, reason = vault_state(desk)
    assert unreachable_at is not None
    assert "Viber status 6" in reason
    assert viber_stub.texts_to(user) == []
    # The worker's own message is kept all the same.
    assert desk.sql("SELECT count(*) FROM messages WHERE direction = 'in'")[0][0] == 1


def test_too_many_requests_then_ok_delivers_the_reply_once(
    desk, viber_stub: ViberStub, caseworker: str
) -> None:
    user = "01234567890O="
    viber_stub.script.append({"status": 12, "status_message": "tooManyRequests"})
    post_viber(desk, viber_message(user, "สวัสดีค่ะ"))
    desk.work()  # the first try meets the rate limit; its retry is scheduled, not run
    message_id = str(desk.sql("SELECT id FROM messages WHERE direction = 'out'")[0][0])
    status, failure, attempts, next_attempt_at = message_row(desk, message_id)
    assert (status, attempts) == ("queued", 1)
    assert "Viber status 12" in failure
    assert next_attempt_at is not None
    assert viber_stub.texts_to(user) == []
    assert vault_state(desk) == (None, None)  # a busy Viber says nothing about the worker

    # The scheduler does not run in tests: make the retry due and run it as it would.
    with desk.rt.session() as session:
        session.execute(
            update(Message)
            .where(Message.id == uuid.UUID(message_id))
            .values(next_attempt_at=utcnow())
        )
        session.commit()
    assert jobs.send_outbound(message_id) == "sent"
    assert jobs.send_outbound(message_id) == "done before"
    replies = viber_stub.texts_to(user)
    assert len(replies) == 1
    reply = outbound(thread(desk, caseworker))[0]
    assert reply["delivery_status"] == "sent"
    assert reply["failure_reason"] is None
    assert message_row(desk, message_id)[2] == 2


def test_too_many_requests_retry_is_sent_once_by_the_worker(
    desk, viber_stub: ViberStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry rq schedules (same job id as the run that failed) really goes out."""
    desk.organisation(ORG)
    user = "01234567890S="
    monkeypatch.setattr(jobs, "backoff_seconds", lambda attempt, retry_after: 0.2)
    viber_stub.script.append({"status": 12, "status_message": "tooManyRequests"})
    post_viber(desk, viber_message(user, "สวัสดีค่ะ"))
    desk.work()
    assert viber_stub.texts_to(user) == []
    time.sleep(0.5)
    desk.work()  # the worker's scheduler enqueues the due retry, then runs it
    assert len(viber_stub.texts_to(user)) == 1
    assert desk.sql("SELECT delivery_status, attempts FROM messages WHERE direction = 'out'")[
        0
    ] == ("sent", 2)
    desk.work()
    assert len(viber_stub.texts_to(user)) == 1


def test_viber_account_blocked_fails_the_reply_without_blaming_the_worker(
    desk, viber_stub: ViberStub
) -> None:
    desk.organisation(ORG)
    viber_stub.script.append({"status": 7, "status_message": "publicAccountBlocked"})
    post_viber(desk, viber_message("01234567890P=", "สวัสดีค่ะ"))
    desk.work()
    status, failure = desk.sql(
        "SELECT delivery_status, failure_reason FROM messages WHERE direction = 'out'"
    )[0]
    assert status == "failed"
    assert "publicAccountBlocked" in failure
    # Once the account is unblocked the worker must be reachable without writing first.
    assert vault_state(desk) == (None, None)


# --- media ------------------------------------------------------------------------

PHOTO = b"\xff\xd8\xff\xe0 payslip photo from viber"


def _picture(viber_stub: ViberStub, user: str) -> dict[str, Any]:
    viber_stub.media["/media/pic1.jpg"] = PHOTO
    viber_stub.media["/media/thumb1.jpg"] = b"\xff\xd8 thumb"
    return viber_message(
        user,
        "สลิปเงินเดือน",
        type="picture",
        media=viber_stub.base + "/media/pic1.jpg",
        thumbnail=viber_stub.base + "/media/thumb1.jpg",
        file_name="a.jpg",
        size=len(PHOTO),
    )


def test_picture_is_downloaded_and_kept_sealed_with_its_caption(
    desk, viber_stub: ViberStub, caseworker: str
) -> None:
    user = "01234567890Q="
    assert post_viber(desk, _picture(viber_stub, user)).status_code == 200
    desk.work()
    ticket = thread(desk, caseworker)
    inbound = [m for m in ticket["messages"] if m["direction"] == "in"]
    assert [(m["kind"], m["text"]) for m in inbound] == [("photo", "สลิปเงินเดือน")]
    attachments = inbound[0]["attachments"]
    assert [(a["kind"], a["size"], a["content_type"]) for a in attachments] == [
        ("photo", len(PHOTO), "image/jpeg")
    ]
    sealed = b"".join(bytes(row[0]) for row in desk.sql("SELECT data_sealed FROM attachments"))
    assert b"payslip photo" not in sealed
    assert detect_language(viber_stub.texts_to(user)[0]) == "th"


def test_picture_url_is_forgotten_once_the_picture_is_ours(desk, viber_stub: ViberStub) -> None:
    desk.organisation(ORG)
    post_viber(desk, _picture(viber_stub, "01234567890R="))
    desk.work()
    with desk.rt.session() as session:
        envelope = session.scalars(select(InboundEnvelope)).one()
        assert envelope.processed_at is not None
        payload = open_envelope(envelope, desk.rt.envelope_keys)
    assert b"/media/pic1.jpg" not in payload
    assert b"/media/thumb1.jpg" not in payload
