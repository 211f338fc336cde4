"""WhatsApp and SMS through Twilio: signed callbacks in, replies out through the real client."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, text

from intake import tickets
from intake.envelopes import open_envelope
from intake.models import Direction, InboundEnvelope, Ticket
from intake.settings import Settings
from translations.scripts import detect_language
from workers import jobs

from integration.conftest import (
    PUBLIC_BASE,
    SMS_FROM,
    WHATSAPP_FROM,
    Desk,
    open_desk,
)
from integration.conftest import run_jobs_or_fail as work
from support.twilio_stub import (
    ACCOUNT_SID,
    TwilioStub,
    sign,
    signed_post,
    start_twilio_stub,
)

MESSAGING = "/hooks/twilio/messaging"
STATUS = "/hooks/twilio/status"
ORG = "Bangkok Workers Centre"
# What a worker types in each language (the first words of a report).
TYPED = {
    "my": "မင်္ဂလာပါ။ လစာ မရသေးပါဘူး",
    "km": "សួស្តី ខ្ញុំមិនទាន់បានប្រាក់ខែទេ",
    "ne": "नमस्ते, मेरो पासपोर्ट कम्पनीले राखेको छ",
    "th": "สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง",
}
TEMPLATE_SID = "HX" + "a1" * 16


def message_sid() -> str:
    return f"SM{uuid.uuid4().hex}"


def inbound(sender: str, body: str, **extra: str) -> dict[str, str]:
    """The form Twilio posts for a WhatsApp message (From whatsapp:+...) or an SMS."""
    sid = message_sid()
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": WHATSAPP_FROM if sender.startswith("whatsapp:") else SMS_FROM,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def status_callback(
    sid: str, status: str, worker: str, error_code: str | None = None
) -> dict[str, str]:
    """The form Twilio posts to the status callback of a message we sent."""
    fields = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "From": WHATSAPP_FROM if worker.startswith("whatsapp:") else SMS_FROM,
        "To": worker,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        fields["ErrorCode"] = error_code
    return fields


def post(desk: Desk, params: dict[str, str], path: str = MESSAGING, **kwargs: Any) -> Any:
    return signed_post(desk.client, path, params, PUBLIC_BASE, **kwargs)


def count(desk: Desk, table: str, where: str = "true") -> int:
    return int(desk.sql(f"SELECT count(*) FROM {table} WHERE {where}")[0][0])  # noqa: S608


def execute(desk: Desk, statement: str, **params: Any) -> None:
    """Run one SQL statement and commit it (desk.sql only reads)."""
    with desk.rt.session() as session:
        session.execute(text(statement), params)
        session.commit()


def outbound_rows(desk: Desk) -> list[Any]:
    return desk.sql(
        "SELECT id, delivery_status, failure_reason, provider_message_id, attempts,"
        " next_attempt_at, template_sid FROM messages WHERE direction = 'out'"
        " ORDER BY created_at"
    )


def only_ticket(desk: Desk, token: str) -> dict[str, Any]:
    listing = desk.api("/api/v1/tickets", token).get_json()["tickets"]
    assert len(listing) == 1, listing
    return desk.api(f"/api/v1/tickets/{listing[0]['ref']}", token).get_json()


def queue_outbound(desk: Desk, body: str) -> str:
    """Add a caseworker's reply to the only ticket, as the console does; return its id."""
    with desk.rt.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        message = tickets.add_message(
            session,
            desk.rt.keys.content,
            ticket,
            direction=Direction.OUT,
            text=body,
            language=ticket.language,
        )
        session.commit()
        return str(message.id)


@pytest.fixture
def open_with(product_env: dict[str, str]) -> Iterator[Callable[..., Desk]]:
    """Open the desk with some settings changed, as an operator's environment would."""
    with ExitStack() as stack:

        def opener(**changes: str) -> Desk:
            settings = Settings.from_env({**product_env, **changes}).with_changes(testing=True)
            return stack.enter_context(open_desk(settings))

        yield opener


# --- languages, addresses, duplicates ---------------------------------------------------


def test_whatsapp_and_sms_in_four_languages_are_answered_in_the_workers_language(
    desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG, ["my", "km", "ne", "th"])
    token = desk.token("cw@bwc.example", ORG)
    workers = []
    for n, (language, typed) in enumerate(TYPED.items()):
        workers.append((f"whatsapp:+6681000{n:04d}", "whatsapp", WHATSAPP_FROM, language, typed))
        workers.append((f"+6682000{n:04d}", "sms", SMS_FROM, language, typed))
    for address, _, _, _, typed in workers:
        assert post(desk, inbound(address, typed)).status_code == 200
    work(desk)

    listing = desk.api("/api/v1/tickets", token).get_json()["tickets"]
    assert len(listing) == len(workers)
    refs = set()
    for address, channel, sender, language, typed in workers:
        replies = [m for m in twilio_stub.sent if m.to == address]
        assert len(replies) == 1, (address, replies)
        reply = replies[0]
        assert reply.sender == sender
        assert reply.content_sid is None
        assert detect_language(reply.body) == language, reply.body
        ref = next(t["ref"] for t in listing if t["ref"] in (reply.body or ""))
        refs.add(ref)
        ticket = desk.api(f"/api/v1/tickets/{ref}", token).get_json()
        assert (ticket["language"], ticket["channel"]) == (language, channel)
        assert [(m["direction"], m["text"]) for m in ticket["messages"]][0] == ("in", typed)
        assert [m["delivery_status"] for m in ticket["messages"]] == ["received", "sent"]
    assert len(refs) == len(workers)
    # Nothing went to anyone else, and nothing twice.
    assert sorted(m.to for m in twilio_stub.sent) == sorted(w[0] for w in workers)
    # One SMS a second from the long-code sender (the default per-sender limit).
    sms_times = sorted(m.at for m in twilio_stub.sent if m.sender == SMS_FROM)
    assert all(b - a > 0.8 for a, b in itertools.pairwise(sms_times)), sms_times


@pytest.mark.parametrize("address", ["whatsapp:+66812345678", "+66812345678"])
def test_same_message_sid_posted_twice_is_stored_once(
    desk, twilio_stub: TwilioStub, address: str
) -> None:
    desk.organisation(ORG)
    form = inbound(address, TYPED["th"])
    answers = [post(desk, form) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.get_json().get("duplicate", False) for a in answers] == [False, True]
    work(desk)
    assert count(desk, "inbound_envelopes") == 1
    assert count(desk, "messages", "direction = 'in'") == 1
    assert len([m for m in twilio_stub.sent if m.to == address]) == 1
    assert len(twilio_stub.sent) == 1


# --- authenticity -------------------------------------------------------------------------


def _forged_post(desk: Desk, path: str, params: dict[str, str], forgery: str) -> Any:
    url = PUBLIC_BASE + path
    body = dict(params)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if forgery == "another token":
        headers["X-Twilio-Signature"] = sign(url, params, auth_token="not-our-auth-token")
    elif forgery == "another url":
        headers["X-Twilio-Signature"] = sign(PUBLIC_BASE + "/hooks/twilio/voice", params)
    elif forgery == "changed field":
        headers["X-Twilio-Signature"] = sign(url, params)
        body["To" if path == STATUS else "Body"] = "changed after signing"
        if path == STATUS:
            body["ErrorCode"] = "21610"
    elif forgery == "empty signature":
        headers["X-Twilio-Signature"] = ""
    else:
        assert forgery == "no signature"
    return desk.client.post(path, data=urlencode(body).encode(), headers=headers)


FORGERIES = ["another token", "no signature", "empty signature", "another url", "changed field"]


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_message_gets_403_and_stores_nothing(desk, twilio_stub, forgery: str) -> None:
    desk.organisation(ORG)
    answer = _forged_post(desk, MESSAGING, inbound("whatsapp:+66812340001", "สวัสดี"), forgery)
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "forbidden"
    work(desk)
    assert count(desk, "inbound_envelopes") == 0
    assert count(desk, "messages") == 0
    assert twilio_stub.sent == []


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_status_callback_gets_403_and_changes_nothing(
    desk, twilio_stub, forgery: str
) -> None:
    desk.organisation(ORG)
    worker = "whatsapp:+66812340002"
    post(desk, inbound(worker, "สวัสดี"))
    work(desk)
    sid = outbound_rows(desk)[0].provider_message_id
    forged = status_callback(sid, "undelivered", worker, error_code="21610")
    answer = _forged_post(desk, STATUS, forged, forgery)
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "forbidden"
    assert outbound_rows(desk)[0].delivery_status == "sent"
    assert desk.sql("SELECT unreachable_at FROM vault_entries")[0][0] is None
    assert count(desk, "inbound_envelopes") == 1  # only the worker's message


def test_signature_over_the_proxy_url_is_accepted_with_forwarded_headers(desk) -> None:
    desk.organisation(ORG)
    public = "https://proxy-public.example.net" + MESSAGING
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "proxy-public.example.net"}
    first = inbound("+66812340003", TYPED["km"])
    assert post(desk, first, signed_url=public, headers=forwarded).status_code == 200
    # The same signature without the proxy's word for the URL does not match ours.
    second = inbound("+66812340003", TYPED["km"])
    assert post(desk, second, signed_url=public).status_code == 403
    assert count(desk, "inbound_envelopes") == 1


def test_post_from_a_messaging_service_pool_number_is_accepted_and_answered(
    desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG)
    worker = "+66812340004"
    form = inbound(worker, TYPED["ne"], MessagingServiceSid="MG" + "5" * 32, To="+15005550009")
    assert post(desk, form).status_code == 200
    work(desk)
    assert count(desk, "messages", "direction = 'in'") == 1
    replies = [m for m in twilio_stub.sent if m.to == worker]
    assert len(replies) == 1
    assert detect_language(replies[0].body) == "ne"


# --- media --------------------------------------------------------------------------------

PHOTO = b"\xff\xd8\xff\xe0 JFIF payslip photo, March, 9000 baht short"


def _media_path(n: int = 1) -> str:
    return f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{n:032d}/Media/ME{n:032d}"


def _with_media(sender: str, caption: str, url: str, content_type: str) -> dict[str, str]:
    return inbound(sender, caption, NumMedia="1", MediaUrl0=url, MediaContentType0=content_type)


def _every_row_as_text(desk: Desk) -> str:
    tables = [
        row[0]
        for row in desk.sql(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    ]
    # Table names come from the catalogue, not from input.
    query = "SELECT t::text FROM {} t"
    return "\n".join(str(row[0]) for table in tables for row in desk.sql(query.format(table)))


@pytest.mark.parametrize("sender", ["whatsapp:+66812340005", "+66812340005"])
def test_photo_is_downloaded_with_account_credentials_and_kept_sealed_without_its_url(
    desk, twilio_stub: TwilioStub, sender: str
) -> None:
    desk.organisation(ORG)
    token = desk.token("cw@bwc.example", ORG)
    path = _media_path()
    url = twilio_stub.media_url(path, PHOTO, "image/jpeg")
    assert post(desk, _with_media(sender, "สลิปเงินเดือน", url, "image/jpeg")).status_code == 200
    work(desk)

    # The stub serves media only with the account's Basic auth.
    assert twilio_stub.downloads == [path]
    assert twilio_stub.unauthorised == 0
    ticket = only_ticket(desk, token)
    first = ticket["messages"][0]
    assert (first["direction"], first["text"]) == ("in", "สลิปเงินเดือน")
    assert [(a["kind"], a["content_type"], a["size"]) for a in first["attachments"]] == [
        ("photo", "image/jpeg", len(PHOTO))
    ]
    sealed = b"".join(bytes(row[0]) for row in desk.sql("SELECT data_sealed FROM attachments"))
    assert b"payslip photo" not in sealed
    assert PHOTO.hex() not in _every_row_as_text(desk)

    # Once the file is ours, the provider's URL is forgotten, even inside the envelope.
    everything = _every_row_as_text(desk)
    for needle in (url, path, url.encode().hex(), "ME" + "0" * 31 + "1"):
        assert needle not in everything
    with desk.rt.session() as session:
        envelope = session.scalars(select(InboundEnvelope)).one()
        payload = open_envelope(envelope, desk.rt.envelope_keys)
    fields = dict(parse_qsl(payload.decode()))
    assert "MediaUrl0" not in fields
    assert path.encode() not in payload
    assert fields["Body"] == "สลิปเงินเดือน"  # the rest of what Twilio sent is kept
    assert detect_language(next(m.body for m in twilio_stub.sent if m.to == sender)) == "th"


def test_photo_over_the_media_limit_is_not_kept_and_the_message_says_so(
    open_with, twilio_stub: TwilioStub
) -> None:
    desk = open_with(VOICEDESK_MAX_MEDIA_BYTES="1000")
    desk.organisation(ORG)
    token = desk.token("cw@bwc.example", ORG)
    url = twilio_stub.media_url(_media_path(2), b"\xff\xd8" + b"x" * 5000, "image/jpeg")
    sender = "whatsapp:+66812340006"
    assert post(desk, _with_media(sender, "รูปสัญญาจ้าง", url, "image/jpeg")).status_code == 200
    work(desk)

    first = only_ticket(desk, token)["messages"][0]
    assert first["attachments"] == []
    assert first["text"].startswith("รูปสัญญาจ้าง\n")
    assert "attachment not kept" in first["text"]
    assert count(desk, "attachments") == 0
    assert url not in _every_row_as_text(desk)
    # The worker still gets the acknowledgement.
    assert len([m for m in twilio_stub.sent if m.to == sender]) == 1


def test_media_url_outside_the_twilio_api_is_never_fetched(desk, twilio_stub: TwilioStub) -> None:
    desk.organisation(ORG)
    token = desk.token("cw@bwc.example", ORG)
    elsewhere = start_twilio_stub()  # accepts the account's credentials, records every GET
    try:
        url = elsewhere.media_url(_media_path(3), PHOTO, "image/jpeg")
        assert not url.startswith(twilio_stub.base)
        sender = "+66812340007"
        assert post(desk, _with_media(sender, "", url, "image/jpeg")).status_code == 200
        work(desk)
        assert elsewhere.downloads == []
        assert elsewhere.unauthorised == 0
    finally:
        elsewhere.server.shutdown()
        elsewhere.server.server_close()
    first = only_ticket(desk, token)["messages"][0]
    assert first["attachments"] == []
    assert "attachment not kept" in first["text"]
    assert url not in _every_row_as_text(desk)


# --- delivery status ----------------------------------------------------------------------


@pytest.mark.parametrize("worker", ["whatsapp:+66812340008", "+66812340008"])
def test_delivery_status_only_moves_forward(desk, worker: str) -> None:
    desk.organisation(ORG)
    token = desk.token("cw@bwc.example", ORG)
    post(desk, inbound(worker, TYPED["my"]))
    work(desk)
    sid = outbound_rows(desk)[0].provider_message_id
    assert sid

    def reply_status() -> str:
        messages = only_ticket(desk, token)["messages"]
        return next(m["delivery_status"] for m in messages if m["direction"] == "out")

    assert reply_status() == "sent"
    for status, expected in [
        ("delivered", "delivered"),
        ("sent", "delivered"),  # late: Twilio does not promise order
        ("queued", "delivered"),
        ("read", "read"),
        ("delivered", "read"),
    ]:
        answer = post(desk, status_callback(sid, status, worker), path=STATUS)
        assert answer.status_code == 200
        assert reply_status() == expected, status
    assert count(desk, "inbound_envelopes") == 1  # callbacks are not stored as messages


def test_status_callback_for_an_unknown_message_is_answered_and_changes_nothing(desk) -> None:
    desk.organisation(ORG)
    answer = post(desk, status_callback(message_sid(), "delivered", "+66812340009"), path=STATUS)
    assert answer.status_code == 200
    assert count(desk, "messages") == 0
    assert count(desk, "inbound_envelopes") == 0


# --- opt-out and unreachable workers ------------------------------------------------------


def test_sms_stop_is_stored_unanswered_and_blocks_replies_until_start(
    desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG)
    token = desk.token("cw@bwc.example", ORG)
    worker = "+66812340010"
    post(desk, inbound(worker, TYPED["th"]))
    work(desk)
    assert len(twilio_stub.sent) == 1

    post(desk, inbound(worker, "STOP"))
    work(desk)
    thread = only_ticket(desk, token)["messages"]
    assert [(m["direction"], m["text"]) for m in thread] == [
        ("in", TYPED["th"]),
        ("out", thread[1]["text"]),
        ("in", "STOP"),
    ]
    assert len(twilio_stub.sent) == 1  # no reply to STOP
    assert desk.sql("SELECT unreachable_reason FROM vault_entries")[0][0] == "opted out"

    blocked = queue_outbound(desk, "เราได้ติดต่อนายจ้างแล้ว")
    assert jobs.send_outbound(blocked) == "failed"
    reason = desk.sql("SELECT failure_reason FROM messages WHERE id = :id", id=blocked)[0][0]
    assert "cannot be reached" in reason
    assert len(twilio_stub.sent) == 1

    post(desk, inbound(worker, "START"))
    work(desk)
    assert desk.sql("SELECT unreachable_at FROM vault_entries")[0][0] is None
    assert len(twilio_stub.sent) == 2  # START is answered: "we added your message to case ..."
    later = queue_outbound(desk, "นายจ้างจะจ่ายค่าแรงวันศุกร์")
    assert jobs.send_outbound(later) == "sent"
    assert twilio_stub.bodies_to(worker)[-1] == "นายจ้างจะจ่ายค่าแรงวันศุกร์"


def test_advanced_opt_out_type_marks_worker_unreachable(desk, twilio_stub: TwilioStub) -> None:
    desk.organisation(ORG)
    worker = "+66812340011"
    post(desk, inbound(worker, TYPED["km"]))
    work(desk)
    # Twilio's Advanced Opt-Out may use a custom keyword and says so in OptOutType.
    post(desk, inbound(worker, "ឈប់", OptOutType="STOP"))
    work(desk)
    assert desk.sql("SELECT unreachable_reason FROM vault_entries")[0][0] == "opted out"
    assert len(twilio_stub.sent) == 1


@pytest.mark.parametrize("worker", ["whatsapp:+66812340012", "+66812340012"])
def test_error_21610_on_a_sent_reply_stops_further_sends_to_that_worker(
    desk, twilio_stub: TwilioStub, worker: str
) -> None:
    desk.organisation(ORG)
    post(desk, inbound(worker, TYPED["ne"]))
    work(desk)
    sid = outbound_rows(desk)[0].provider_message_id
    answer = post(desk, status_callback(sid, "undelivered", worker, "21610"), path=STATUS)
    assert answer.status_code == 200
    first = outbound_rows(desk)[0]
    assert first.delivery_status == "failed"
    assert "21610" in first.failure_reason
    assert desk.sql("SELECT unreachable_at FROM vault_entries")[0][0] is not None

    following = queue_outbound(desk, "हामीले तपाईंको रोजगारदातालाई सम्पर्क गर्यौं")
    assert jobs.send_outbound(following) == "failed"
    status, reason = desk.sql(
        "SELECT delivery_status, failure_reason FROM messages WHERE id = :id", id=following
    )[0]
    assert status == "failed"
    assert "cannot be reached" in reason
    assert len(twilio_stub.sent) == 1  # only the first acknowledgement


def test_error_21610_answering_a_send_marks_the_worker_unreachable(
    desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG)
    worker = "+66812340013"
    twilio_stub.script.append(
        (400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
               "status": 400}, {})
    )  # fmt: skip
    post(desk, inbound(worker, TYPED["th"]))
    work(desk)
    row = outbound_rows(desk)[0]
    assert row.delivery_status == "failed"
    assert "cannot be reached" in row.failure_reason
    assert desk.sql("SELECT unreachable_at FROM vault_entries")[0][0] is not None
    assert twilio_stub.sent == []


# --- WhatsApp's 24-hour window ------------------------------------------------------------


def _worker_wrote(desk: Desk, hours_ago: int) -> None:
    """Pretend the worker's last message came this many hours ago."""
    execute(desk, "UPDATE workers SET last_inbound_at = now() - make_interval(hours => :h)",
            h=hours_ago)  # fmt: skip
    assert count(desk, "workers") == 1


def test_whatsapp_reply_25_hours_later_goes_as_the_approved_template(
    open_with, twilio_stub: TwilioStub
) -> None:
    desk = open_with(TWILIO_WHATSAPP_TEMPLATES=json.dumps({"reply": {"th": TEMPLATE_SID}}))
    desk.organisation(ORG)
    worker = "whatsapp:+66812340014"
    post(desk, inbound(worker, TYPED["th"]))
    work(desk)
    assert twilio_stub.sent[0].content_sid is None  # the acknowledgement: free text
    ref = desk.sql("SELECT ref FROM tickets")[0][0]

    _worker_wrote(desk, 25)
    late = queue_outbound(desk, "นายจ้างตกลงจ่ายค่าแรงแล้ว")
    assert jobs.send_outbound(late) == "sent"
    template = twilio_stub.sent[-1]
    assert (template.to, template.sender) == (worker, WHATSAPP_FROM)
    assert template.content_sid == TEMPLATE_SID
    assert template.content_variables == {"1": ref}
    assert template.body is None
    assert desk.sql("SELECT template_sid FROM messages WHERE id = :id", id=late)[0][0] == (
        TEMPLATE_SID
    )


def test_whatsapp_reply_25_hours_later_without_template_fails_naming_the_window(
    desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG)
    token = desk.token("cw@bwc.example", ORG)
    post(desk, inbound("whatsapp:+66812340015", TYPED["my"]))
    work(desk)
    _worker_wrote(desk, 25)
    late = queue_outbound(desk, "ကျေးဇူးပါ")
    assert jobs.send_outbound(late) == "failed"
    assert len(twilio_stub.sent) == 1  # only the acknowledgement, a day ago
    shown = only_ticket(desk, token)["messages"][-1]
    assert shown["delivery_status"] == "failed"
    assert "24-hour window" in shown["failure_reason"]


@pytest.mark.parametrize(
    ("worker", "hours_ago"), [("whatsapp:+66812340016", 23), ("+66812340016", 25)]
)
def test_reply_within_the_window_or_by_sms_goes_as_free_text(
    open_with, twilio_stub: TwilioStub, worker: str, hours_ago: int
) -> None:
    desk = open_with(TWILIO_WHATSAPP_TEMPLATES=json.dumps({"reply": {"km": TEMPLATE_SID}}))
    desk.organisation(ORG)
    post(desk, inbound(worker, TYPED["km"]))
    work(desk)
    _worker_wrote(desk, hours_ago)
    reply = queue_outbound(desk, "យើងបានទាក់ទងនិយោជករបស់អ្នកហើយ")
    assert jobs.send_outbound(reply) == "sent"
    sent = twilio_stub.sent[-1]
    assert sent.to == worker
    assert sent.body == "យើងបានទាក់ទងនិយោជករបស់អ្នកហើយ"
    assert sent.content_sid is None


# --- retries and permanent errors ---------------------------------------------------------


def _run_due_retries_with_scheduler(desk: Desk, message_id: uuid.UUID) -> None:
    """Do what `voicedesk worker` does (its rq scheduler on) once Retry-After has passed."""
    time.sleep(2.1)  # Retry-After: 1, plus at most a second of jitter
    work(desk, with_scheduler=True)


def _run_due_retries_with_sweeper(desk: Desk, message_id: uuid.UUID) -> None:
    """Make the retry due and let the sweeper queue it (the scheduler's safety net)."""
    execute(desk, "UPDATE messages SET next_attempt_at = now() WHERE id = :id", id=message_id)
    assert jobs.sweep() == 1
    work(desk)


@pytest.mark.parametrize(
    "run_retries",
    [_run_due_retries_with_scheduler, _run_due_retries_with_sweeper],
    ids=["scheduler", "sweeper"],
)
def test_429_then_success_delivers_the_reply_exactly_once(
    desk, twilio_stub: TwilioStub, run_retries: Any
) -> None:
    desk.organisation(ORG)
    token = desk.token("cw@bwc.example", ORG)
    worker = "whatsapp:+66812340017"
    twilio_stub.script.append(
        (429, {"code": 20429, "message": "Too Many Requests", "status": 429},
         {"Retry-After": "1"})
    )  # fmt: skip
    post(desk, inbound(worker, TYPED["th"]))
    work(desk)

    row = outbound_rows(desk)[0]
    assert (row.delivery_status, row.attempts) == ("queued", 1)
    assert "429" in row.failure_reason
    assert twilio_stub.sent == []
    waiting = only_ticket(desk, token)["messages"][-1]
    assert waiting["delivery_status"] == "queued"
    assert "429" in waiting["failure_reason"]
    # Retry-After: 1 is honoured (plus up to a second of jitter), not minutes of backoff.
    assert desk.sql(
        "SELECT next_attempt_at <= now() + interval '2 seconds' FROM messages WHERE id = :id",
        id=row.id,
    )[0][0]

    run_retries(desk, row.id)
    assert jobs.send_outbound(str(row.id)) == "done before"  # any other copy of the job
    jobs.sweep()
    work(desk)
    assert len(twilio_stub.sent) == 1
    assert (twilio_stub.sent[0].to, twilio_stub.sent[0].sender) == (worker, WHATSAPP_FROM)
    done = outbound_rows(desk)[0]
    assert (done.delivery_status, done.attempts, done.failure_reason) == ("sent", 2, None)
    assert done.next_attempt_at is None
    assert only_ticket(desk, token)["messages"][-1]["delivery_status"] == "sent"


def test_permanent_error_fails_the_reply_at_once_with_the_reason(
    desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG)
    token = desk.token("cw@bwc.example", ORG)
    twilio_stub.script.append(
        (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}, {})
    )
    post(desk, inbound("+66812340018", TYPED["ne"]))
    work(desk)

    row = outbound_rows(desk)[0]
    assert (row.delivery_status, row.attempts, row.next_attempt_at) == ("failed", 1, None)
    assert "21211" in row.failure_reason
    shown = only_ticket(desk, token)["messages"][-1]
    assert shown["delivery_status"] == "failed"
    assert "21211" in shown["failure_reason"]
    # Nothing comes back for another try: no scheduled job, nothing for the sweeper.
    dispatcher = desk.rt.dispatcher
    assert all(ScheduledJobRegistry(queue=q).count == 0 for q in dispatcher.queues())
    assert jobs.sweep() == 0
    assert jobs.send_outbound(str(row.id)) == "done before"
    assert twilio_stub.script == []
    assert twilio_stub.sent == []
