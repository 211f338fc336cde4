"""A worker calls the hotline: the IVR in their language, staff rung, or a voicemail kept sealed.

Every callback is what Twilio would post, signed over the public URL it called; the
recording is served by the local Twilio stub only to the account's credentials.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
import zoneinfo
from dataclasses import dataclass
from itertools import count
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from sqlalchemy import text
from werkzeug.test import TestResponse

from console.cli import create_user
from intake.calls import CallNotStartedYet
from intake.settings import Settings
from workers import jobs

from integration.conftest import HOTLINE_STAFF, PASSWORD, PUBLIC_BASE, Desk, open_desk
from support import signin
from support.twilio_stub import ACCOUNT_SID, TwilioStub, sign, signed_post

HOTLINE = "+6620000000"
ORG = "Bangkok Workers Centre"
LANGUAGES = ("my", "km", "ne", "th")
DIGIT = {"my": "1", "km": "2", "ne": "3", "th": "4"}
VOICE = "/hooks/twilio/voice"
_SIDS = count(1)
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                   r'type="hidden" name="csrf_token" value="([^"]+)"')  # fmt: skip
_AUDIO = re.compile(r'<audio controls preload="none" src="([^"]+)"></audio>')


def twiml(answer: TestResponse) -> ElementTree.Element:
    """The TwiML the hotline answered with, parsed."""
    assert answer.status_code == 200, answer.text
    assert answer.mimetype == "text/xml"
    # Our own application's answer, not untrusted input.
    root = ElementTree.fromstring(answer.data)  # noqa: S314
    assert root.tag == "Response"
    return root


def verbs(root: ElementTree.Element) -> list[str]:
    return [child.tag for child in root]


def recording_bytes(tag: str) -> bytes:
    """A small MP3-looking file whose bytes no test could find by chance."""
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + tag.encode() + os.urandom(4096)


@dataclass
class Call:
    """One caller on the line, driving the IVR the way Twilio's callbacks would."""

    desk: Desk
    caller: str
    sid: str = ""

    def __post_init__(self) -> None:
        self.sid = self.sid or f"CA{uuid.uuid4().hex}"

    def fields(self, **extra: str) -> dict[str, str]:
        return {
            "CallSid": self.sid,
            "AccountSid": ACCOUNT_SID,
            "From": self.caller,
            "To": HOTLINE,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **extra,
        }

    def post(self, path: str, **extra: str) -> TestResponse:
        return signed_post(self.desk.client, path, self.fields(**extra), PUBLIC_BASE)

    def start(self) -> ElementTree.Element:
        return twiml(self.post(VOICE, CallStatus="ringing"))

    def press(self, digits: str) -> ElementTree.Element:
        return twiml(self.post(f"{VOICE}/language", CallStatus="in-progress", Digits=digits))

    def dial_result(self, language: str, status: str, seconds: str = "0") -> ElementTree.Element:
        return twiml(
            self.post(
                f"{VOICE}/dial-result?lang={language}",
                CallStatus="in-progress",
                DialCallStatus=status,
                DialCallSid=f"CA{uuid.uuid4().hex}",
                DialCallDuration=seconds,
            )
        )

    def leave_voicemail(
        self, language: str, stub: TwilioStub, audio: bytes, seconds: str = "21"
    ) -> tuple[ElementTree.Element, str]:
        """Speak after the beep; answer the goodbye TwiML and the recording's URL."""
        recording_sid = f"RE{next(_SIDS):032d}"
        path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}"
        # The adapter asks for the MP3 rendition: RecordingUrl + ".mp3".
        url = stub.media_url(path + ".mp3", audio, "audio/mpeg").removesuffix(".mp3")
        goodbye = twiml(
            self.post(
                f"{VOICE}/voicemail?lang={language}",
                CallStatus="in-progress",
                RecordingUrl=url,
                RecordingDuration=seconds,
                Digits="hangup",
            )
        )
        return goodbye, url

    def recording_ready(self, language: str, url: str, seconds: str = "21") -> TestResponse:
        return self.post(
            f"{VOICE}/recording?lang={language}",
            RecordingSid=url.rsplit("/", 1)[1],
            RecordingUrl=url,
            RecordingStatus="completed",
            RecordingDuration=seconds,
            RecordingChannels="1",
            RecordingSource="RecordVerb",
        )

    def hang_up(self, seconds: str = "47") -> TestResponse:
        return self.post(f"{VOICE}/status", CallStatus="completed", CallDuration=seconds)


def sign_in(desk: Desk, email: str = "cw@bwc.example", role: str = "caseworker") -> int:
    """Add a console user of ORG and sign in (password, then enrol a TOTP app); return the id."""
    with desk.rt.session() as session:
        user = create_user(session, email, ORG, role, PASSWORD)
        session.commit()
        user_id = user.id
    landed = signin.sign_in(desk.client, email, PASSWORD, secrets={})
    assert landed.request.path == "/tickets", landed.text
    return int(user_id)


def only_ticket(desk: Desk) -> tuple[str, str | None, str, int]:
    rows = desk.sql("SELECT ref, language, channel, id FROM tickets")
    assert len(rows) == 1, rows
    ref, language, channel, ticket_id = rows[0]
    return ref, language, channel, ticket_id


def calls_of(desk: Desk, ticket_id: int) -> list[tuple[str, str | None, int | None]]:
    return [
        tuple(row)
        for row in desk.sql(
            "SELECT outcome, language, duration_seconds FROM calls WHERE ticket_id = :t",
            t=ticket_id,
        )
    ]


def open_tasks(desk: Desk, ticket_id: int) -> list[str]:
    rows = desk.sql("SELECT kind FROM tasks WHERE ticket_id = :t AND done_at IS NULL", t=ticket_id)
    return [kind for (kind,) in rows]


# --- a voicemail in each language -----------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_caller_walks_the_ivr_and_leaves_a_voicemail_a_caseworker_plays_back(
    desk: Desk, twilio_stub: TwilioStub, language: str
) -> None:
    desk.organisation(ORG, list(LANGUAGES))
    caller = f"+6681234{DIGIT[language]}001"
    call = Call(desk, caller)
    audio = recording_bytes(f"voicemail-{language}")
    answers: list[ElementTree.Element] = []

    menu = call.start()
    answers.append(menu)
    gather = menu.find("Gather")
    assert gather is not None
    assert gather.get("action") == f"{PUBLIC_BASE}{VOICE}/language"
    assert gather.get("numDigits") == "1"

    ringing = call.press(DIGIT[language])
    answers.append(ringing)
    dial = ringing.find("Dial")
    assert dial is not None, ElementTree.tostring(ringing)
    assert ringing.find("Record") is None
    # Staff see the hotline's number, never the caller's.
    assert dial.get("callerId") == HOTLINE
    assert [number.text for number in dial.findall("Number")] == [HOTLINE_STAFF]
    assert dial.get("action") == f"{PUBLIC_BASE}{VOICE}/dial-result?lang={language}"

    nobody = call.dial_result(language, "no-answer")
    answers.append(nobody)
    record = nobody.find("Record")
    assert record is not None, ElementTree.tostring(nobody)
    assert record.get("action") == f"{PUBLIC_BASE}{VOICE}/voicemail?lang={language}"
    assert record.get("recordingStatusCallback") == (
        f"{PUBLIC_BASE}{VOICE}/recording?lang={language}"
    )

    goodbye, url = call.leave_voicemail(language, twilio_stub, audio)
    answers.append(goodbye)
    assert verbs(goodbye)[-1] == "Hangup"
    assert "Dial" not in verbs(goodbye)
    assert "Record" not in verbs(goodbye)

    assert call.recording_ready(language, url).status_code == 200
    assert call.hang_up("47").status_code == 200
    for answer in answers:
        assert caller not in ElementTree.tostring(answer, encoding="unicode")
    desk.work()

    ref, ticket_language, channel, ticket_id = only_ticket(desk)
    assert (ticket_language, channel) == (language, "voice")
    assert calls_of(desk, ticket_id) == [("voicemail", language, 47)]
    assert open_tasks(desk, ticket_id) == []
    assert twilio_stub.unauthorised == 0
    assert twilio_stub.downloads == [url.removeprefix(twilio_stub.base) + ".mp3"]
    attachments = desk.sql(
        "SELECT a.id, a.kind, a.content_type, a.size FROM attachments a "
        "JOIN messages m ON m.id = a.message_id "
        "WHERE m.ticket_id = :t AND m.kind = 'voicemail'",
        t=ticket_id,
    )
    assert len(attachments) == 1, attachments
    attachment_id, _, content_type, size = attachments[0]
    assert (content_type, size) == ("audio/mpeg", len(audio))
    assert desk.sql("SELECT count(*) FROM messages WHERE kind = 'voicemail'")[0][0] == 1

    # Sealed at rest: no stretch of the recording is in the table as it was sent.
    for needle in (audio[:64], audio[-64:], audio[2000:2064]):
        stored = desk.sql(
            "SELECT count(*) FROM attachments WHERE position(:needle in data_sealed) > 0",
            needle=needle,
        )
        assert stored[0][0] == 0

    user_id = sign_in(desk)
    page = desk.client.get(f"/tickets/{ref}")
    assert page.status_code == 200
    assert "voicemail" in page.text
    assert _AUDIO.findall(page.text) == [f"/tickets/{ref}/attachments/{attachment_id}"]

    played = desk.client.get(f"/tickets/{ref}/attachments/{attachment_id}")
    assert played.status_code == 200
    assert played.data == audio
    assert played.mimetype == "audio/mpeg"
    assert "sandbox" in played.headers["Content-Security-Policy"]
    audits = desk.sql(
        "SELECT actor, target, detail FROM audit_log WHERE action = 'attachment.open'"
    )
    assert [(actor, target) for actor, target, _ in audits] == [
        (f"user:{user_id}", f"ticket:{ref}")
    ]
    assert audits[0][2]["attachment"] == str(attachment_id)


# --- answered, missed -------------------------------------------------------------------


def test_answered_call_hangs_up_after_and_leaves_no_call_back_task(
    desk: Desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG, list(LANGUAGES))
    call = Call(desk, "+66812342002")
    call.start()
    assert call.press(DIGIT["km"]).find("Dial") is not None
    after = call.dial_result("km", "completed", "120")
    assert verbs(after) == ["Hangup"]
    assert call.hang_up("130").status_code == 200
    desk.work()

    ref, language, channel, ticket_id = only_ticket(desk)
    assert (language, channel) == ("km", "voice")
    assert calls_of(desk, ticket_id) == [("answered", "km", 130)]
    assert open_tasks(desk, ticket_id) == []
    assert desk.sql("SELECT count(*) FROM messages WHERE kind = 'voicemail'")[0][0] == 0
    assert twilio_stub.downloads == []

    sign_in(desk)
    page = desk.client.get(f"/tickets/{ref}")
    assert page.status_code == 200
    assert "answered" in page.text
    assert "call this worker back" not in page.text
    assert "<audio" not in page.text


def test_missed_call_without_voicemail_asks_staff_to_call_the_worker_back(
    desk: Desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG, list(LANGUAGES))
    call = Call(desk, "+66812343003")
    call.start()
    call.press(DIGIT["ne"])
    assert call.dial_result("ne", "no-answer").find("Record") is not None
    assert call.hang_up("31").status_code == 200  # gone before the beep
    desk.work()

    ref, language, _, ticket_id = only_ticket(desk)
    assert language == "ne"
    assert calls_of(desk, ticket_id) == [("missed", "ne", 31)]
    assert open_tasks(desk, ticket_id) == ["call_back"]

    sign_in(desk)
    page = desk.client.get(f"/tickets/{ref}")
    assert page.status_code == 200
    assert "call this worker back" in page.text
    assert "missed" in page.text


def test_recording_that_arrives_after_the_hang_up_closes_the_call_back_task(
    desk: Desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG, list(LANGUAGES))
    call = Call(desk, "+66812344004")
    audio = recording_bytes("late")
    call.start()
    call.press(DIGIT["my"])
    call.dial_result("my", "busy")
    url = twilio_stub.media_url(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{next(_SIDS):032d}.mp3",
        audio,
        "audio/mpeg",
    ).removesuffix(".mp3")
    call.hang_up("60")
    desk.work()
    _, _, _, ticket_id = only_ticket(desk)
    assert open_tasks(desk, ticket_id) == ["call_back"]

    assert call.recording_ready("my", url).status_code == 200
    desk.work()
    assert open_tasks(desk, ticket_id) == []
    assert calls_of(desk, ticket_id) == [("voicemail", "my", 60)]
    sizes = desk.sql(
        "SELECT a.size FROM attachments a JOIN messages m ON m.id = a.message_id "
        "WHERE m.ticket_id = :t",
        t=ticket_id,
    )
    assert sizes == [(len(audio),)]


def test_recording_callback_that_overtakes_the_voicemail_step_is_still_kept(
    desk: Desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG, list(LANGUAGES))
    call = Call(desk, "+66812344014")
    audio = recording_bytes("overtaken")
    call.start()
    call.press(DIGIT["th"])
    call.dial_result("th", "no-answer")
    url = twilio_stub.media_url(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{next(_SIDS):032d}.mp3",
        audio,
        "audio/mpeg",
    ).removesuffix(".mp3")
    # Twilio's callbacks race; a worker may take the recording's job first.
    assert call.recording_ready("th", url).status_code == 200
    desk.work()
    call.post(
        f"{VOICE}/voicemail?lang=th",
        CallStatus="in-progress",
        RecordingUrl=url,
        RecordingDuration="21",
        Digits="hangup",
    )
    call.hang_up("50")
    desk.work()

    _, _, _, ticket_id = only_ticket(desk)
    assert calls_of(desk, ticket_id) == [("voicemail", "th", 50)]
    sizes = desk.sql(
        "SELECT a.size FROM attachments a JOIN messages m ON m.id = a.message_id "
        "WHERE m.ticket_id = :t AND m.kind = 'voicemail'",
        t=ticket_id,
    )
    assert sizes == [(len(audio),)]


def test_recording_callback_exactly_as_twilio_sends_it_is_kept(
    desk: Desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG, list(LANGUAGES))
    call = Call(desk, "+66812348008")
    audio = recording_bytes("documented")
    call.start()
    call.press(DIGIT["th"])
    call.dial_result("th", "no-answer")
    _, url = call.leave_voicemail("th", twilio_stub, audio)
    documented = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call.sid,
        "RecordingSid": url.rsplit("/", 1)[1],
        "RecordingUrl": url,
        "RecordingStatus": "completed",
        "RecordingDuration": "21",
        "RecordingChannels": "1",
        "RecordingStartTime": "Mon, 01 Jan 2024 10:00:00 +0000",
        "RecordingSource": "RecordVerb",
        "RecordingTrack": "both",
    }
    answer = signed_post(desk.client, f"{VOICE}/recording?lang=th", documented, PUBLIC_BASE)
    assert answer.status_code == 200, answer.text
    call.hang_up("40")
    desk.work()

    _, _, _, ticket_id = only_ticket(desk)
    sizes = desk.sql(
        "SELECT a.size FROM attachments a JOIN messages m ON m.id = a.message_id "
        "WHERE m.ticket_id = :t",
        t=ticket_id,
    )
    assert sizes == [(len(audio),)]


def test_call_in_burmese_reaches_the_organisation_that_serves_burmese(
    desk: Desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation("Thai Helpline", ["th"])
    burmese = desk.organisation("Myanmar Migrants Network", ["my"])
    call = Call(desk, "+66812349009")
    call.start()
    call.press(DIGIT["my"])
    call.dial_result("my", "completed")
    call.hang_up()
    desk.work()
    assert desk.sql("SELECT organisation_id, language FROM tickets") == [(burmese, "my")]


# --- only Twilio may post ----------------------------------------------------------------

ROUTES = [
    VOICE,
    f"{VOICE}/language",
    f"{VOICE}/dial-result?lang=th",
    f"{VOICE}/voicemail?lang=th",
    f"{VOICE}/recording?lang=th",
    f"{VOICE}/status",
]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("forgery", ["missing", "wrong token", "other url", "tampered"])
def test_voice_callback_without_twilios_signature_gets_403_and_stores_nothing(
    desk: Desk, twilio_stub: TwilioStub, route: str, forgery: str
) -> None:
    desk.organisation(ORG, list(LANGUAGES))
    call = Call(desk, "+66812345005")
    fields = call.fields(
        CallStatus="completed",
        Digits="4",
        DialCallStatus="no-answer",
        RecordingSid=f"RE{next(_SIDS):032d}",
        RecordingUrl=f"{twilio_stub.base}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE1",
        RecordingStatus="completed",
        RecordingDuration="5",
        CallDuration="9",
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    sent = dict(fields)
    if forgery == "wrong token":
        headers["X-Twilio-Signature"] = sign(PUBLIC_BASE + route, fields, "not-the-auth-token")
    elif forgery == "other url":
        other = f"{VOICE}/status" if route != f"{VOICE}/status" else VOICE
        headers["X-Twilio-Signature"] = sign(PUBLIC_BASE + other, fields)
    elif forgery == "tampered":
        headers["X-Twilio-Signature"] = sign(PUBLIC_BASE + route, fields)
        sent["From"] = "+66812345999"
    answer = desk.client.post(route, data=urlencode(sent).encode(), headers=headers)

    assert answer.status_code == 403
    assert answer.mimetype != "text/xml"
    desk.work()
    for table in ("inbound_envelopes", "tickets", "calls", "workers", "messages"):
        assert desk.sql(f"SELECT count(*) FROM {table}")[0][0] == 0, table  # noqa: S608


@pytest.mark.parametrize("route", ROUTES)
def test_unsigned_voice_callback_that_is_not_utf8_gets_403(desk: Desk, route: str) -> None:
    answer = desk.client.post(
        route,
        data=b"CallSid=CA1&From=%FF%FE&Digits=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": "forged"},
    )  # fmt: skip
    assert answer.status_code == 403
    assert desk.sql("SELECT count(*) FROM inbound_envelopes")[0][0] == 0


# --- the caller's number --------------------------------------------------------------


def test_callers_number_is_nowhere_in_the_database_or_on_the_ticket_page(
    desk: Desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG, list(LANGUAGES))
    caller = "+66812346006"
    forms = (caller, caller.removeprefix("+"), "0" + caller.removeprefix("+66"))
    missed = Call(desk, caller)
    missed.start()
    missed.press(DIGIT["th"])
    missed.dial_result("th", "no-answer")
    missed.hang_up("12")
    call = Call(desk, caller)
    call.start()
    call.press(DIGIT["th"])
    call.dial_result("th", "no-answer")
    _, url = call.leave_voicemail("th", twilio_stub, recording_bytes("privacy"))
    call.recording_ready("th", url)
    call.hang_up("40")
    desk.work()

    ref, _, _, ticket_id = only_ticket(desk)
    assert sorted(outcome for outcome, _, _ in calls_of(desk, ticket_id)) == [
        "missed",
        "voicemail",
    ]
    for table in (
        "tickets",
        "calls",
        "workers",
        "messages",
        "tasks",
        "attachments",
        "vault_entries",
        "inbound_envelopes",
        "audit_log",
    ):
        rows = desk.sql(f"SELECT t::text FROM {table} t")  # noqa: S608
        assert rows or table in {"audit_log", "tasks"}, table
        for (row,) in rows:
            for written in forms:
                assert written not in row, (table, row)

    sign_in(desk)
    page = desk.client.get(f"/tickets/{ref}")
    assert page.status_code == 200
    for written in forms:
        assert written not in page.text
    audio = _AUDIO.findall(page.text)
    assert len(audio) == 1
    assert desk.client.get(audio[0]).status_code == 200


# --- nobody to ring -------------------------------------------------------------------


def _closed_hours() -> str:
    """An opening window of one hour that starts an hour from now, Bangkok time."""
    now = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Bangkok"))
    start, end = now + dt.timedelta(hours=1), now + dt.timedelta(hours=2)
    return f"{start:%H:%M}-{end:%H:%M}"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"VOICEDESK_HOTLINE_HOURS": "out of hours"}, id="out-of-hours"),
        pytest.param({"VOICEDESK_HOTLINE_NUMBERS": ""}, id="nobody-on-duty"),
    ],
)
def test_out_of_hours_the_caller_goes_straight_to_voicemail(
    product_env: dict[str, str], twilio_stub: TwilioStub, change: dict[str, str]
) -> None:
    if change.get("VOICEDESK_HOTLINE_HOURS") == "out of hours":
        change = {"VOICEDESK_HOTLINE_HOURS": _closed_hours()}
    settings = Settings.from_env({**product_env, **change}).with_changes(testing=True)
    assert settings.hotline is not None
    with open_desk(settings) as desk:
        desk.organisation(ORG, list(LANGUAGES))
        call = Call(desk, "+66812347007")
        call.start()
        answer = call.press(DIGIT["km"])
        assert answer.find("Dial") is None, ElementTree.tostring(answer)
        record = answer.find("Record")
        assert record is not None
        assert record.get("action") == f"{PUBLIC_BASE}{VOICE}/voicemail?lang=km"
        assert record.get("recordingStatusCallback") == f"{PUBLIC_BASE}{VOICE}/recording?lang=km"

        audio = recording_bytes("night")
        goodbye, url = call.leave_voicemail("km", twilio_stub, audio)
        assert verbs(goodbye)[-1] == "Hangup"
        call.recording_ready("km", url)
        call.hang_up("25")
        desk.work()

        _, language, _, ticket_id = only_ticket(desk)
        assert language == "km"
        assert calls_of(desk, ticket_id) == [("voicemail", "km", 25)]
        assert open_tasks(desk, ticket_id) == []


def test_a_recording_whose_call_never_started_waits_a_day_then_is_kept_and_left(
    desk: Desk, twilio_stub: TwilioStub
) -> None:
    """Twilio's recording callback names no caller: it waits for its call's first step,
    tried again by the sweeper; after a day without one it is kept and not tried again,
    instead of failing every sweep for ever."""
    desk.organisation("Bangkok Workers Centre", ["th"])
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{next(_SIDS):032d}"
    audio = recording_bytes("never-started")
    url = twilio_stub.media_url(path + ".mp3", audio, "audio/mpeg").removesuffix(".mp3")
    fields = {"CallSid": f"CA{uuid.uuid4().hex}", "AccountSid": ACCOUNT_SID,
              "RecordingSid": url.rsplit("/", 1)[1], "RecordingUrl": url,
              "RecordingStatus": "completed", "RecordingDuration": "9"}  # fmt: skip
    answer = signed_post(desk.client, f"{VOICE}/recording?lang=th", fields, PUBLIC_BASE)
    assert answer.status_code == 200
    [envelope_id] = desk.rt.dispatcher.waiting_envelopes()
    with pytest.raises(CallNotStartedYet):
        jobs.process_envelope(envelope_id)
    assert desk.sql("SELECT processed_at FROM inbound_envelopes") == [(None,)]  # tried again

    with desk.rt.session() as session:
        session.execute(text("UPDATE inbound_envelopes SET received_at = now() - interval '1 day'"))
        session.commit()
    assert jobs.process_envelope(envelope_id) == "call never started"
    assert desk.sql("SELECT outcome, processed_at IS NOT NULL, payload_sealed IS NOT NULL"
                    " FROM inbound_envelopes") == [("call never started", True, True)]  # fmt: skip
    assert desk.sql("SELECT count(*) FROM tickets")[0][0] == 0
