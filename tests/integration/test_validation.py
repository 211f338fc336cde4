"""No ticket closes until the worker says it is fixed (issue 6).

A caseworker's script asks for validation and closes through the JSON API; the
worker answers through each channel's real webhook, in their own language and
script; the product sends through the real provider clients to the local stubs.
The clock of reminders and deadlines is moved by handing `validation_rounds` the
time, as the sweeper would see it days later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from intake import remediation, triage, validation
from intake.errors import NotAllowed
from intake.models import Ticket, User
from intake.remediation import MoneyTotals
from intake.settings import Settings
from translations import prompts
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
from support.builders import telegram_update
from support.conversations import GREETING, digit
from support.telegram_stub import TelegramStub
from support.twilio_stub import ACCOUNT_SID, TwilioStub, signed_post
from support.viber_stub import ViberStub, viber_signature

ORG = "Bangkok Workers Centre"
OTHER_ORG = "Penang Workers Union"
LANGUAGES = ["my", "km", "ne", "th"]
CASEWORKER = "cw@bwc.example"
SUPERVISOR = "sup@bwc.example"
HOTLINE_USER = "hotline@bwc.example"
# What the caseworker writes the employer did, in the worker's language.
SUMMARY = {
    "my": "အလုပ်ရှင်က ကျန်နေတဲ့ လစာကို ပြန်ပေးပြီးပါပြီ",
    "km": "និយោជកបានបង់ប្រាក់ខែដែលនៅជំពាក់រួចហើយ",
    "ne": "कम्पनीले भर्ती शुल्क फिर्ता गरेको छ",
    "th": "นายจ้างจ่ายค่าแรงที่ค้างครบแล้ว",
}
# Something a worker writes that answers none of the options.
FREE_TEXT = {
    "my": "အလုပ်ရှင်က ဒီနေ့ ကျွန်တော့်ကို ခေါ်တွေ့တယ်",
    "km": "ថ្ងៃនេះនិយោជកបានហៅខ្ញុំទៅជួប",
    "ne": "कम्पनीले अझै पूरा पैसा फिर्ता गरेको छैन, आधा मात्र दियो",
    "th": "วันนี้นายจ้างเรียกฉันไปคุย",
}
FREE_TEXT_AGAIN = {"my": "မနက်ဖြန် ထပ်ပြောပါမယ်"}
VALIDATION_SID = {"km": "HX" + "6b" * 16, "my": "HX" + "3d" * 16, "en": "HX" + "e1" * 16}
REPLY_SID = "HX" + "a1" * 16
HOTLINE = "+6620000000"
VOICE = "/hooks/twilio/voice"
IVR_DIGIT = {"my": "1", "km": "2", "ne": "3", "th": "4"}

_update_ids = itertools.count(910_000_001)
_viber_tokens = itertools.count(5_912_661_846_655_238_145)


# --- the product, opened with an operator's settings --------------------------------------


@pytest.fixture
def open_with(product_env: dict[str, str]) -> Iterator[Callable[..., Desk]]:
    """Open the desk with an operator's settings: the validation schedule, templates."""
    with ExitStack() as stack:

        def opener(**changes: str) -> Desk:
            env = {
                **product_env,
                "VOICEDESK_VALIDATION_REMINDERS": "2,5",
                "VOICEDESK_VALIDATION_DEADLINE": "14",
                # Per-chat pacing is tested elsewhere; here it would only slow the run.
                "VOICEDESK_RATE_LIMITS": "telegram:chat=100/1,sms=100/1",
                **changes,
            }
            settings = Settings.from_env(env).with_changes(testing=True)
            opened = stack.enter_context(open_desk(settings))
            opened.organisation(ORG, LANGUAGES)
            return opened

        yield opener


def execute(desk: Desk, statement: str, **params: Any) -> None:
    """Run one SQL statement and commit it (desk.sql only reads)."""
    with desk.rt.session() as session:
        session.execute(text(statement), params)
        session.commit()


def user_id(desk: Desk, email: str) -> int:
    return int(desk.sql("SELECT id FROM users WHERE email = :e", e=email)[0][0])


def as_staff(desk: Desk, email: str, ref: str, act: Callable[[Session, User, Ticket], Any]) -> Any:
    """Do something in the domain as this console user, on this ticket, and commit."""
    with desk.rt.session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        ticket = session.scalars(select(Ticket).where(Ticket.ref == ref)).one()
        done = act(session, user, ticket)
        session.commit()
        return done


def add_repayment(
    desk: Desk,
    ref: str,
    kind: str,
    currency: str,
    owed: int,
    repaid: int,
    eligible: int,
    paid: int,
) -> None:
    """The caseworker records money the business owes and says it repaid (minor units)."""

    def record(session: Session, user: User, ticket: Ticket) -> None:
        remediation.add_repayment(
            session,
            user,
            ticket,
            kind=kind,
            currency=currency,
            owed_minor=owed,
            repaid_minor=repaid,
            workers_affected=eligible,
            workers_eligible=eligible,
            workers_repaid=paid,
        )

    as_staff(desk, CASEWORKER, ref, record)


def to_remediation(desk: Desk, ref: str) -> None:
    """The caseworker triages the ticket and starts work with the employer."""

    def steps(session: Session, user: User, ticket: Ticket) -> None:
        triage.change_status(session, user, ticket, "triaged")
        triage.change_status(session, user, ticket, "in_remediation")

    as_staff(desk, CASEWORKER, ref, steps)


def api_post(desk: Desk, path: str, token: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if body is None:
        return desk.client.post(path, headers=headers)
    return desk.client.post(path, json=body, headers=headers)


def ask(desk: Desk, token: str, ref: str, summary: str) -> Any:
    return api_post(desk, f"/api/v1/tickets/{ref}/validation-requests", token, {"summary": summary})


def close(desk: Desk, token: str, ref: str, reason: str | None = None) -> Any:
    body = None if reason is None else {"reason": reason}
    return api_post(desk, f"/api/v1/tickets/{ref}/close", token, body)


def ticket(desk: Desk, token: str, ref: str) -> dict[str, Any]:
    answer = desk.api(f"/api/v1/tickets/{ref}", token)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def worker_said(shown: dict[str, Any]) -> list[str]:
    return [m["text"] for m in shown["messages"] if m["direction"] == "in"]


def only_ref(desk: Desk) -> str:
    rows = desk.sql("SELECT ref FROM tickets")
    assert len(rows) == 1, rows
    return str(rows[0][0])


def requested_at(shown: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(shown["validation"]["requested_at"])


# --- a worker's chat, on each channel -------------------------------------------------------

# What the worker's phone shows of one message: text and buttons (label, what a press
# sends back), or for Twilio the body, or the approved template and its variables.
Shown = tuple[Any, ...]


@dataclass
class Chat:
    """One worker on one channel: what they send, and what reaches their phone."""

    desk: Desk
    channel: str
    language: str
    address: str
    telegram: TelegramStub
    twilio: TwilioStub
    viber: ViberStub
    presses: list[str] = field(default_factory=list)

    # what the worker does

    def say(self, words: str) -> None:
        if self.channel == "telegram":
            answer = self.desk.post_update(telegram_update(int(self.address), words))
        elif self.channel == "viber":
            answer = self._viber(words)
        else:
            answer = self._twilio(Body=words)
        assert answer.status_code == 200, answer.data

    def press(self, number: int) -> None:
        """Press button `number` of the last message: the channel sends back its payload."""
        if self.channel in ("telegram", "viber"):
            buttons = next(shown[1] for shown in reversed(self.received()) if shown[1])
            payload = buttons[number - 1][1]
            if self.channel == "telegram":
                answer = self.desk.post_update(self._callback(payload))
            else:
                answer = self._viber(payload)  # a keyboard reply arrives as its ActionBody
        else:
            assert self.channel == "whatsapp", "SMS has no buttons"
            # A quick reply of an approved template: its text, and the payload we set.
            label = prompts.validation_options(self.language)[number - 1]
            answer = self._twilio(Body=label, ButtonText=label, ButtonPayload=str(number))
        assert answer.status_code == 200, answer.data

    def _callback(self, data: str) -> dict[str, Any]:
        chat = int(self.address)
        press_id = f"cbq-{uuid.uuid4().hex[:12]}"
        self.presses.append(press_id)
        return {
            "update_id": next(_update_ids),
            "callback_query": {
                "id": press_id,
                "from": {"id": chat, "is_bot": False, "first_name": "Worker"},
                "chat_instance": "-4200",
                "data": data,
                "message": {"message_id": 7, "date": 0, "chat": {"id": chat, "type": "private"}},
            },
        }

    def _viber(self, words: str) -> Any:
        body = json.dumps(
            {
                "event": "message",
                "timestamp": int(time.time() * 1000),
                "message_token": next(_viber_tokens),
                "sender": {
                    "id": self.address,
                    "name": "",
                    "language": "en",
                    "country": "TH",
                    "api_version": 1,
                },
                "message": {"type": "text", "text": words, "tracking_data": ""},
            }  # fmt: skip
        ).encode()
        return self.desk.client.post(
            "/hooks/viber",
            data=body,
            headers={"Content-Type": "application/json",
                     "X-Viber-Content-Signature": viber_signature(body)},
        )  # fmt: skip

    def _twilio(self, **fields: str) -> Any:
        sid = f"SM{uuid.uuid4().hex}"
        form = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": self.address,
            "To": WHATSAPP_FROM if self.channel == "whatsapp" else SMS_FROM,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
            **fields,
        }
        return signed_post(self.desk.client, "/hooks/twilio/messaging", form, PUBLIC_BASE)

    # what reaches the worker's phone

    def received(self) -> list[Shown]:
        if self.channel == "telegram":
            return [
                (m.text, _telegram_buttons(m.reply_markup))
                for m in self.telegram.sent
                if m.chat_id == int(self.address)
            ]
        if self.channel == "viber":
            return [
                (m["text"], tuple((b["Text"], b["ActionBody"])
                                  for b in (m.get("keyboard") or {}).get("Buttons", [])))
                for m in self.viber.sent
                if m["receiver"] == self.address
            ]  # fmt: skip
        return [
            (m.body, m.content_sid, m.content_variables)
            for m in self.twilio.sent
            if m.to == self.address
        ]

    def shown(self, words: str, options: tuple[str, ...] = ()) -> Shown:
        """How this channel shows a message with numbered options."""
        if self.channel in ("telegram", "viber"):
            # Buttons, each sending back its number.
            return (words, tuple((label, str(n)) for n, label in enumerate(options, start=1)))
        # Neither SMS nor free-form WhatsApp has buttons: numbered lines.
        lines = [words, *(f"{n}. {label}" for n, label in enumerate(options, start=1))]
        return ("\n".join(lines), None, None)

    def last(self) -> Shown:
        received = self.received()
        assert received, f"nothing reached the worker on {self.channel}"
        return received[-1]


def _telegram_buttons(markup: Any) -> tuple[tuple[str, str], ...]:
    if not markup:
        return ()
    rows = markup["inline_keyboard"]
    assert all(len(row) == 1 for row in rows), rows  # one button a row: long labels fit
    return tuple((row[0]["text"], row[0]["callback_data"]) for row in rows)


ADDRESSES = {
    "telegram": "7340060001",
    "whatsapp": "whatsapp:+66812346001",
    "sms": "+66812346002",
    "viber": "01234567896A=",
}


@pytest.fixture
def chat_on(
    telegram_stub: TelegramStub, twilio_stub: TwilioStub, viber_stub: ViberStub
) -> Callable[..., Chat]:
    def make(desk: Desk, channel: str, language: str, address: str | None = None) -> Chat:
        return Chat(desk, channel, language, address or ADDRESSES[channel],
                    telegram_stub, twilio_stub, viber_stub)  # fmt: skip

    return make


def report(desk: Desk, chat: Chat) -> str:
    """The worker reports in their language; answer the new ticket's reference."""
    chat.say(GREETING[chat.language])
    work(desk)
    refs = [r for (r,) in desk.sql("SELECT ref FROM tickets")]
    ref = next(r for r in refs if r in chat.last()[0])  # the acknowledgement names it
    assert detect_language(chat.last()[0]) == chat.language
    return ref


# --- 1. end to end on every channel ----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    channel: str
    language: str
    answer: tuple[str, Any]  # ("say", words) or ("press", button number)
    satisfaction: tuple[str, Any]
    score: int
    outcome: str  # validation status the answer gives
    templates: dict[str, dict[str, str]] | None = None

    @property
    def id(self) -> str:
        return f"{self.channel}-{self.language}" + ("-template" if self.templates else "")


CASES = [
    # Telegram, Burmese: an inline button press answers, a Burmese digit scores.
    Case("telegram", "my", ("press", 1), ("say", digit(4, "my")), 4, "validated"),
    # WhatsApp with no validation template, Khmer: numbered lines, a Khmer digit answers.
    Case("whatsapp", "km", ("say", digit(1, "km")), ("say", digit(5, "km")), 5, "validated"),
    # WhatsApp with approved templates: the validation template, a quick reply answers.
    Case(
        "whatsapp",
        "km",
        ("press", 1),
        ("say", digit(3, "km")),
        3,
        "validated",
        templates={
            "validation": {"km": VALIDATION_SID["km"], "en": VALIDATION_SID["en"]},
            "reply": {"km": REPLY_SID, "en": REPLY_SID},
        },
    ),
    # SMS, Nepali: a Devanagari digit says "not fixed"; the worker disputes the fix.
    Case("sms", "ne", ("say", digit(3, "ne")), ("say", digit(2, "ne")), 2, "disputed"),
    # Viber, Thai: a Thai word answers, a keyboard button scores.
    Case("viber", "th", ("say", "แก้แล้ว"), ("press", 4), 4, "validated"),
]


def _act(chat: Chat, step: tuple[str, Any]) -> None:
    how, what = step
    if how == "press":
        chat.press(what)
    else:
        chat.say(what)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_worker_confirms_or_disputes_the_fix_in_their_own_chat_and_language(
    open_with, chat_on, case: Case
) -> None:
    changes = {"TWILIO_WHATSAPP_TEMPLATES": json.dumps(case.templates)} if case.templates else {}
    desk = open_with(**changes)
    token = desk.token(CASEWORKER, ORG)
    lang = case.language
    chat = chat_on(desk, case.channel, lang)
    ref = report(desk, chat)
    to_remediation(desk, ref)

    asked = ask(desk, token, ref, SUMMARY[lang])
    assert asked.status_code == 202, asked.get_json()
    assert asked.get_json()["status"] == "awaiting_validation"
    assert asked.get_json()["validation"]["status"] == "requested"
    work(desk)

    # The question reached the worker's chat in their language, with four options.
    question = prompts.validation_question(lang, ref, SUMMARY[lang])
    options = prompts.validation_options(lang)
    assert question != prompts.validation_question("en", ref, SUMMARY[lang])
    assert options != prompts.validation_options("en")
    assert detect_language(question.replace(SUMMARY[lang], "")) == lang
    if case.templates:
        assert chat.last() == (None, VALIDATION_SID[lang], {"1": ref, "2": SUMMARY[lang]})
    else:
        assert chat.last() == chat.shown(question, options)
    seen = len(chat.received())

    _act(chat, case.answer)
    work(desk)
    shown = ticket(desk, token, ref)
    assert shown["validation"]["status"] == case.outcome
    assert shown["validation"]["answered_at"] is not None
    if case.outcome == "validated":
        assert (shown["status"], shown["validation"]["answer"]) == ("validated", "fixed")
    else:
        assert (shown["status"], shown["validation"]["answer"]) == ("in_remediation", "not_fixed")
    # Next: how happy the worker is, five options.
    assert len(chat.received()) == seen + 1
    assert chat.last() == chat.shown(
        prompts.satisfaction_question(lang), prompts.satisfaction_options(lang)
    )
    if case.channel == "telegram":
        assert ("answerCallbackQuery", {"callback_query_id": chat.presses[-1]}) in (
            chat.telegram.requests
        )  # the pressed button stops spinning

    _act(chat, case.satisfaction)
    work(desk)
    fixed = case.outcome == "validated"
    assert chat.last() == chat.shown(prompts.validation_thanks(lang, fixed, ref))
    assert detect_language(chat.last()[0]) == lang
    shown = ticket(desk, token, ref)
    assert shown["validation"]["satisfaction"] == case.score

    if fixed:
        closed = close(desk, token, ref)
        assert closed.status_code == 200, closed.get_json()
        assert (closed.get_json()["status"], closed.get_json()["closed_as"]) == (
            "closed",
            "validated",
        )
        assert ticket(desk, token, ref)["status"] == "closed"
    else:
        # The worker says what is still wrong: it is kept in the case, not taken as an answer.
        chat.say(FREE_TEXT[lang])
        work(desk)
        assert chat.last() == chat.shown(prompts.added_to_case(lang, ref))
        shown = ticket(desk, token, ref)
        assert worker_said(shown)[-1] == FREE_TEXT[lang]
        assert (shown["status"], shown["validation"]["status"]) == ("in_remediation", "disputed")
        refused = close(desk, token, ref)
        assert refused.status_code == 409
        assert refused.get_json()["error"] == "conflict"
        assert ticket(desk, token, ref)["status"] == "in_remediation"


def test_a_reply_that_answers_nothing_is_kept_and_asked_again_only_once(open_with, chat_on) -> None:
    desk = open_with()
    token = desk.token(CASEWORKER, ORG)
    chat = chat_on(desk, "telegram", "my")
    ref = report(desk, chat)
    to_remediation(desk, ref)
    assert ask(desk, token, ref, SUMMARY["my"]).status_code == 202
    work(desk)
    asked_again = chat.shown(prompts.validation_again("my"), prompts.validation_options("my"))
    assert detect_language(asked_again[0]) == "my"

    chat.say(FREE_TEXT["my"])
    work(desk)
    assert chat.last() == asked_again

    chat.say(FREE_TEXT_AGAIN["my"])
    work(desk)
    assert chat.received().count(asked_again) == 1
    assert chat.last() == chat.shown(prompts.added_to_case("my", ref))
    shown = ticket(desk, token, ref)
    assert worker_said(shown)[-2:] == [FREE_TEXT["my"], FREE_TEXT_AGAIN["my"]]
    assert (shown["status"], shown["validation"]["status"]) == ("awaiting_validation", "requested")

    # The question still stands: the worker may answer it later.
    chat.press(1)
    work(desk)
    shown = ticket(desk, token, ref)
    assert (shown["status"], shown["validation"]["status"]) == ("validated", "validated")


# --- 2. reminders and the deadline ----------------------------------------------------------


def test_reminders_at_two_and_five_days_then_unvalidated_and_only_a_supervisor_closes(
    open_with, chat_on, database_url: str
) -> None:
    desk = open_with()
    caseworker = desk.token(CASEWORKER, ORG)
    supervisor = desk.token(SUPERVISOR, ORG, role="supervisor")
    chat = chat_on(desk, "telegram", "th")
    ref = report(desk, chat)
    to_remediation(desk, ref)
    assert ask(desk, caseworker, ref, SUMMARY["th"]).status_code == 202
    work(desk)
    shown = ticket(desk, caseworker, ref)
    asked_at = requested_at(shown)
    assert dt.datetime.fromisoformat(shown["validation"]["deadline_at"]) == asked_at + dt.timedelta(
        days=14
    )
    reminder = chat.shown(
        prompts.validation_reminder("th", ref, SUMMARY["th"]), prompts.validation_options("th")
    )
    assert detect_language(reminder[0].replace(SUMMARY["th"], "")) == "th"

    def rounds_after(days: float, minutes: int = 0) -> int:
        at = asked_at + dt.timedelta(days=days, minutes=minutes)
        queued = jobs.validation_rounds(now=at.isoformat())
        work(desk)
        return queued

    def reminders() -> int:
        return chat.received().count(reminder)

    assert (rounds_after(1), reminders()) == (0, 0)
    assert (rounds_after(2, 1), reminders()) == (1, 1)
    assert (rounds_after(2, 1), reminders()) == (0, 1)  # the same time again: no second
    assert (rounds_after(3), reminders()) == (0, 1)
    assert (rounds_after(5, 1), reminders()) == (1, 2)
    assert (rounds_after(5, 1), reminders()) == (0, 2)
    assert ticket(desk, caseworker, ref)["validation"]["status"] == "requested"
    assert (rounds_after(14, 1), reminders()) == (0, 2)
    assert chat.last() == reminder  # nothing more was sent at the deadline

    shown = ticket(desk, caseworker, ref)
    assert shown["validation"]["status"] == "unvalidated"
    assert shown["validation"]["reminders_sent"] == 2
    assert shown["status"] == "awaiting_validation"  # still open

    reason = "Worker went home to Udon Thani; three calls unanswered; payslips checked on site."
    for token, body in ((caseworker, None), (caseworker, reason), (supervisor, None),
                        (supervisor, "   ")):  # fmt: skip
        refused = close(desk, token, ref, body)
        assert refused.status_code == 409, (body, refused.get_json())
        assert refused.get_json()["error"] == "conflict"
    assert ticket(desk, caseworker, ref)["status"] == "awaiting_validation"

    closed = close(desk, supervisor, ref, reason)
    assert closed.status_code == 200, closed.get_json()
    assert (closed.get_json()["status"], closed.get_json()["closed_as"]) == (
        "closed",
        "unvalidated",
    )
    entries = desk.sql("SELECT actor, target, detail FROM audit_log WHERE action = 'ticket.closed'")
    assert len(entries) == 1
    actor, target, detail = entries[0]
    assert (actor, target) == (f"user:{user_id(desk, SUPERVISOR)}", f"ticket:{ref}")
    assert detail["closed_as"] == "unvalidated"
    assert detail["reason_sha256"] == hashlib.sha256(reason.encode()).hexdigest()

    # The reason is kept sealed: readable through the content keys, nowhere in plaintext.
    with desk.rt.session() as session:
        row = session.scalars(select(Ticket).where(Ticket.ref == ref)).one()
        assert triage.close_reason(desk.rt.keys.content, row) == reason
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--data-only", database_url],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    assert b"COPY public.tickets" in dump
    for secret in (reason, "Udon Thani", SUMMARY["th"]):
        assert secret.encode() not in dump, secret


# --- 3. WhatsApp's 24-hour window -----------------------------------------------------------


@pytest.mark.parametrize("templates", [True, False], ids=["template", "no-template"])
def test_whatsapp_validation_three_days_after_the_workers_last_message(
    open_with, chat_on, templates: bool
) -> None:
    configured = {"validation": {"my": VALIDATION_SID["my"], "km": VALIDATION_SID["km"],
                                 "en": VALIDATION_SID["en"]}}  # fmt: skip
    desk = open_with(**({"TWILIO_WHATSAPP_TEMPLATES": json.dumps(configured)} if templates else {}))
    token = desk.token(CASEWORKER, ORG)
    chat = chat_on(desk, "whatsapp", "my")
    ref = report(desk, chat)
    to_remediation(desk, ref)
    execute(desk, "UPDATE workers SET last_inbound_at = last_inbound_at - interval '3 days'")
    assert ask(desk, token, ref, SUMMARY["my"]).status_code == 202
    work(desk)

    prompt = ticket(desk, token, ref)["messages"][-1]
    assert prompt["direction"] == "out"
    if templates:
        assert chat.last() == (None, VALIDATION_SID["my"], {"1": ref, "2": SUMMARY["my"]})
        assert prompt["delivery_status"] == "sent"
    else:
        assert len(chat.received()) == 1  # only the acknowledgement, three days ago
        assert prompt["delivery_status"] == "failed"
        assert "24-hour window" in prompt["failure_reason"]
        assert "validation" in prompt["failure_reason"]


# --- 4. money owed and repaid ---------------------------------------------------------------


def test_repayments_sum_per_kind_and_currency_and_a_disputed_one_is_not_repaid(
    open_with, chat_on
) -> None:
    desk = open_with()
    token = desk.token(CASEWORKER, ORG)
    chats = [chat_on(desk, "telegram", "th", str(7340060100 + n)) for n in range(3)]
    claimed, disputed, confirmed = (report(desk, chat) for chat in chats)
    # Amounts in minor units: satang (THB) and sen (MYR), both two decimals.
    recorded = {
        claimed: [("recruitment_fees", "THB", 3_000_000, 1_500_000, 3, 2),
                  ("wages", "MYR", 250_000, 250_000, 1, 1)],
        disputed: [("recruitment_fees", "THB", 2_000_000, 2_000_000, 2, 2),
                   ("wages", "THB", 800_000, 500_000, 4, 3)],
        confirmed: [("recruitment_fees", "MYR", 400_000, 400_000, 1, 1),
                    ("recruitment_fees", "THB", 1_000_000, 1_000_000, 1, 1)],
    }  # fmt: skip
    for ref, rows in recorded.items():
        to_remediation(desk, ref)
        for kind, currency, owed, repaid, eligible, paid in rows:
            add_repayment(desk, ref, kind, currency, owed, repaid, eligible, paid)

    for ref in (disputed, confirmed):
        assert ask(desk, token, ref, SUMMARY["th"]).status_code == 202
    work(desk)
    not_fixed = prompts.validation_options("th")[2]  # the worker types the button's words
    assert detect_language(not_fixed) == "th"
    chats[1].say(not_fixed)
    chats[2].say(digit(1, "th"))
    work(desk)
    assert ticket(desk, token, disputed)["validation"]["status"] == "disputed"
    assert ticket(desk, token, confirmed)["validation"]["status"] == "validated"
    assert ticket(desk, token, claimed)["validation"] is None

    with desk.rt.session() as session:
        totals = remediation.money_totals(session)
        standing = {
            ref: [view.standing for view in remediation.repayments_of(
                session, session.scalars(select(Ticket).where(Ticket.ref == ref)).one())]
            for ref in recorded
        }  # fmt: skip
    assert standing == {
        claimed: ["claimed", "claimed"],
        disputed: ["disputed", "disputed"],
        confirmed: ["confirmed", "confirmed"],
    }
    # Worked by hand from the table above; THB and MYR are never added together.
    assert totals == {
        ("recruitment_fees", "THB"): MoneyTotals(
            owed=3_000_000 + 2_000_000 + 1_000_000,
            repaid=1_500_000 + 1_000_000,  # not the 2,000,000 the worker disputes
            confirmed=1_000_000,
            disputed=2_000_000,
            workers_eligible=3 + 2 + 1,
            workers_repaid=2 + 1,
        ),
        ("recruitment_fees", "MYR"): MoneyTotals(
            owed=400_000, repaid=400_000, confirmed=400_000, disputed=0,
            workers_eligible=1, workers_repaid=1,
        ),
        ("wages", "THB"): MoneyTotals(
            owed=800_000, repaid=0, confirmed=0, disputed=500_000,
            workers_eligible=4, workers_repaid=0,
        ),
        ("wages", "MYR"): MoneyTotals(
            owed=250_000, repaid=250_000, confirmed=0, disputed=0,
            workers_eligible=1, workers_repaid=1,
        ),
    }  # fmt: skip


# --- 5. the hotline, by phone; and another organisation's tickets ---------------------------


def hotline_call(desk: Desk, caller: str, language: str) -> None:
    """A worker rings the hotline, picks a language and talks to staff: Twilio's callbacks."""
    sid = f"CA{uuid.uuid4().hex}"

    def post(path: str, **extra: str) -> None:
        form = {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": caller, "To": HOTLINE,
                "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}  # fmt: skip
        answer = signed_post(desk.client, path, form, PUBLIC_BASE)
        assert answer.status_code == 200, answer.data

    post(VOICE, CallStatus="ringing")
    post(f"{VOICE}/language", CallStatus="in-progress", Digits=IVR_DIGIT[language])
    post(
        f"{VOICE}/dial-result?lang={language}",
        CallStatus="in-progress",
        DialCallStatus="completed",
        DialCallSid=f"CA{uuid.uuid4().hex}",
        DialCallDuration="95",
    )
    post(f"{VOICE}/status", CallStatus="completed", CallDuration="110")  # fmt: skip
    work(desk)


def test_a_hotline_caller_is_validated_on_the_phone_not_through_the_bot(
    open_with, twilio_stub: TwilioStub
) -> None:
    desk = open_with()
    token = desk.token(CASEWORKER, ORG)
    desk.token(HOTLINE_USER, ORG, role="hotline")
    hotline_call(desk, "+66812347001", "ne")
    ref = only_ref(desk)
    assert desk.sql("SELECT channel FROM tickets")[0][0] == "voice"
    to_remediation(desk, ref)
    sent, messages = len(twilio_stub.sent), desk.sql("SELECT count(*) FROM messages")[0][0]

    refused = ask(desk, token, ref, SUMMARY["ne"])
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "conflict"
    assert "call" in refused.get_json()["detail"]
    work(desk)
    assert len(twilio_stub.sent) == sent
    assert desk.sql("SELECT count(*) FROM messages")[0][0] == messages
    shown = ticket(desk, token, ref)
    assert (shown["status"], shown["validation"]) == ("in_remediation", None)
    assert close(desk, token, ref).status_code == 409

    # Staff ring the worker back and write down what they said.
    as_staff(
        desk, HOTLINE_USER, ref, lambda s, u, t: validation.record_by_phone(s, u, t, "fixed", 4)
    )
    shown = ticket(desk, token, ref)
    assert shown["status"] == "validated"
    assert {k: shown["validation"][k] for k in ("status", "answer", "method", "satisfaction")} == {
        "status": "validated", "answer": "fixed", "method": "phone", "satisfaction": 4,
    }  # fmt: skip
    entries = desk.sql(
        "SELECT actor, target, detail FROM audit_log WHERE action = 'validation.answered'"
    )
    assert len(entries) == 1
    actor, target, detail = entries[0]
    assert (actor, target) == (f"user:{user_id(desk, HOTLINE_USER)}", f"ticket:{ref}")
    assert (detail["method"], detail["answer"]) == ("phone", "fixed")

    closed = close(desk, token, ref)
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json()["closed_as"] == "validated"


def record_fixed_by_phone(session: Session, user: User, ticket: Ticket) -> None:
    validation.record_by_phone(session, user, ticket, "fixed", None)


def test_another_organisations_caseworker_gets_404_from_every_validation_endpoint(
    open_with, chat_on
) -> None:
    desk = open_with()
    desk.organisation(OTHER_ORG, [])
    own = desk.token(CASEWORKER, ORG)
    other = desk.token("cw@penang.example", OTHER_ORG)
    desk.token("sup@penang.example", OTHER_ORG, role="supervisor")
    desk.token("hotline@penang.example", OTHER_ORG, role="hotline")
    chat = chat_on(desk, "telegram", "km")
    ref = report(desk, chat)
    to_remediation(desk, ref)
    received = len(chat.received())

    for answer in (
        desk.api(f"/api/v1/tickets/{ref}", other),
        ask(desk, other, ref, SUMMARY["km"]),
        close(desk, other, ref),
        close(desk, other, ref, "the worker moved away"),
    ):
        assert answer.status_code == 404, answer.get_json()
        assert answer.get_json()["error"] == "not found"
    for email in ("sup@penang.example", "hotline@penang.example"):
        with pytest.raises(NotAllowed):
            as_staff(desk, email, ref, record_fixed_by_phone)
    work(desk)
    assert len(chat.received()) == received
    shown = ticket(desk, own, ref)
    assert (shown["status"], shown["validation"]) == ("in_remediation", None)
    assert desk.sql("SELECT count(*) FROM audit_log WHERE action LIKE 'validation.%'")[0][0] == 0
