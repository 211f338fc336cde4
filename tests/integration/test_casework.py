"""Casework in the console, driven like a caseworker's browser against PostgreSQL and Redis.

Every person signs in with password and authenticator code in a browser of their own,
fills in the forms the pages show (CSRF tokens taken from the page), and the tests
check what that person sees (pages, redirects, flash messages, status codes) and what
the database holds afterwards.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from werkzeug.test import TestResponse

from intake.conversation import worker_for
from intake.db import utcnow
from intake.models import Organisation, Referral, Ticket, User
from intake.tickets import create_ticket

from integration.conftest import PASSWORD, Desk
from integration.test_hotline import DIGIT, Call
from support.builders import telegram_update
from support.services import redis_values
from support.signin import csrf_token, sign_in
from support.telegram_stub import TelegramStub
from support.twilio_stub import TwilioStub

pytestmark = pytest.mark.integration

ORG_A = "Mae Sot Workers Centre"
ORG_B = "Chiang Mai Legal Aid"
THAI_REPORT = "นายจ้างยึดหนังสือเดินทางของผมไว้ ไม่ยอมคืน"
BURMESE_REPORT = "အလုပ်ရှင်က ကျွန်တော့်ပတ်စ်ပို့ကို သိမ်းထားပါတယ်"
REF = r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}"
# The console verifies a password with the parameters its hash names, so sign-in runs for
# real; argon2id's cheapest ones spare each person half a second of memory-hard work.
CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
# Each person's authenticator app: the TOTP secret they enrolled, by email.
_totp_secrets: dict[str, str] = {}


# --- a browser per person ------------------------------------------------------------------


def seen(response: TestResponse) -> str:
    """The page's text as a person reads it (entities such as &#39; decoded)."""
    return html.unescape(response.get_data(as_text=True))


@dataclass
class Browser:
    """One person's browser on the console: its own cookies, signed in with two factors."""

    desk: Desk
    email: str
    pages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = self.desk.app.test_client()
        landed = sign_in(self.client, self.email, PASSWORD, _totp_secrets)
        assert landed.status_code == 200, landed.text
        assert landed.request.path == "/tickets", landed.request.path

    def get(self, path: str, *, follow: bool = False, **query: Any) -> TestResponse:
        response = self.client.get(path, query_string=query or None, follow_redirects=follow)
        self.pages.append(response.get_data(as_text=True))
        return response

    def post_form(
        self, page_path: str, action: str, data: dict[str, Any], *, follow: bool = True
    ) -> TestResponse:
        """Open the page, then send a form to `action` with the page's CSRF token."""
        page = self.get(page_path)
        assert page.status_code == 200, (page_path, page.status_code)
        response = self.client.post(
            action,
            data={"csrf_token": csrf_token(page.text), **data},
            follow_redirects=follow,
        )
        self.pages.append(response.get_data(as_text=True))
        return response

    def queue_refs(self, **filters: str) -> list[str]:
        """Every ticket reference of the queue, page after page through "Next page"."""
        refs: list[str] = []
        page = self.get("/tickets", **filters)
        for _ in range(20):
            assert page.status_code == 200, page.status_code
            refs += row_refs(page.text)
            found = re.search(r'<a rel="next" href="([^"]+)">Next page</a>', page.text)
            if found is None:
                return refs
            page = self.get(html.unescape(found.group(1)))
        raise AssertionError("the queue never ended")


def add_user(desk: Desk, email: str, org: str, role: str) -> int:
    with desk.rt.session() as session:
        organisation = session.scalar(select(Organisation).where(Organisation.name == org))
        assert organisation is not None, org
        user = User(
            email=email, organisation_id=organisation.id, role=role, password_hash=CHEAP_HASH
        )
        session.add(user)
        session.commit()
        return int(user.id)


def person(desk: Desk, email: str, org: str, role: str) -> tuple[Browser, int]:
    """Add a console user and open a browser signed in as them."""
    user_id = add_user(desk, email, org, role)
    return Browser(desk, email), user_id


# --- reading pages ---------------------------------------------------------------------------


def row_refs(page: str) -> list[str]:
    return re.findall(rf'<td><a href="/tickets/({REF})">', page)


def flashes(response: TestResponse) -> list[str]:
    return [
        html.unescape(text)
        for text in re.findall(r'<p class="flash [a-z]*" role="alert">([^<]*)</p>', response.text)
    ]


def filter_counts(page: str) -> dict[str, dict[str, int]]:
    """The counts the filter bar shows beside each choice, by select name and value."""
    bar = re.search(r'<form method="get" class="filters".*?</form>', page, re.S)
    assert bar is not None, "no filter bar"
    counts: dict[str, dict[str, int]] = {}
    for name, body in re.findall(r'<select name="(\w+)">(.*?)</select>', bar.group(0), re.S):
        counts[name] = {
            value: int(number.replace(",", ""))
            for value, number in re.findall(
                r'<option value="([^"]*)"[^>]*>[^<]*\((\d[\d,]*)\)</option>', body
            )
        }
    return counts


def category_ids(page: str) -> dict[str, int]:
    """The triage form's categories, by the label a person reads."""
    found = re.findall(
        r'<input type="checkbox" name="category" value="(\d+)"(?: checked)?> ([^<]+)</label>', page
    )
    return {html.unescape(label).strip(): int(value) for value, label in found}


def option_value(page: str, select: str, label: str) -> str:
    """The value of the option a person picks by its label in a <select name=...>."""
    for body in re.findall(rf'<select name="{select}"[^>]*>(.*?)</select>', page, re.S):
        for value, text in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', body):
            if html.unescape(text).strip() == label:
                return str(value)
    raise AssertionError(f"no option {label!r} in <select name={select!r}>")


# --- tickets made quickly, and as workers make them ------------------------------------------


def seed_ticket(
    desk: Desk,
    org_id: int,
    *,
    channel: str = "telegram",
    language: str | None = "my",
    status: str = "new",
    pseudonym: str | None = None,
) -> str:
    with desk.rt.session() as session:
        worker = worker_for(session, pseudonym or f"WSEED{uuid.uuid4().hex[:20]}", channel)
        ticket = create_ticket(session, worker, channel, language, org_id)
        ticket.status = status
        session.commit()
        return ticket.ref


def telegram_ticket(desk: Desk, chat_id: int, text: str) -> str:
    """A worker writes to the bot; answer the reference of the ticket it opened."""
    assert desk.post_update(telegram_update(chat_id, text)).status_code == 200
    desk.work()
    return str(desk.sql("SELECT ref FROM tickets ORDER BY id DESC LIMIT 1")[0][0])


def ticket_row(desk: Desk, ref: str) -> Any:
    rows = desk.sql(
        "SELECT t.status, t.organisation_id, t.assignee_id, t.urgent, t.id, t.worker_id "
        "FROM tickets t WHERE t.ref = :ref",
        ref=ref,
    )
    assert len(rows) == 1, rows
    return rows[0]


def audit_actions(desk: Desk, ref: str) -> list[str]:
    rows = desk.sql("SELECT action FROM audit_log WHERE target = :t ORDER BY id", t=f"ticket:{ref}")
    return [action for (action,) in rows]


# --- 1. the queue ----------------------------------------------------------------------------

LANGUAGES = ("my", "th", "km", "ne")


@dataclass(frozen=True)
class Seeded:
    ref: str
    id: int
    status: str
    language: str
    urgent: bool
    mine: bool
    created_at: dt.datetime


def seed_queue(desk: Desk, org_id: int, caseworker_id: int, count: int = 130) -> list[Seeded]:
    """Tickets of varied age, urgency, status, language and assignee, made in one transaction."""
    now = utcnow()
    made: list[Seeded] = []
    with desk.rt.session() as session:
        tickets: list[tuple[Ticket, bool]] = []
        for i in range(count):
            worker = worker_for(session, f"WQUEUE{i:04d}", "telegram")
            ticket = create_ticket(session, worker, "telegram", LANGUAGES[i % 4], org_id)
            # Threes share one opening time, so the keyset's id tie-break is needed too.
            ticket.created_at = now - dt.timedelta(hours=30 * (i // 3), minutes=1)
            ticket.urgent = i % 7 == 2
            ticket.urgent_since = ticket.created_at if ticket.urgent else None
            ticket.status = "closed" if i % 10 == 3 else "triaged" if i % 4 == 1 else "new"
            mine = i % 5 == 0
            ticket.assignee_id = caseworker_id if mine else None
            tickets.append((ticket, mine))
        session.commit()
        for ticket, mine in tickets:
            made.append(
                Seeded(
                    ticket.ref,
                    ticket.id,
                    ticket.status,
                    str(ticket.language),
                    ticket.urgent,
                    mine,
                    ticket.created_at,
                )
            )
    return made


def queue_order(tickets: list[Seeded]) -> list[str]:
    """Urgent first, then oldest first (ties by id): the order the queue promises."""
    open_ones = [t for t in tickets if t.status != "closed"]
    return [t.ref for t in sorted(open_ones, key=lambda t: (not t.urgent, t.created_at, t.id))]


def test_queue_pages_show_urgent_then_oldest_and_every_open_ticket_once(desk: Desk) -> None:
    org = desk.organisation(ORG_A, ["my", "th"])
    caseworker, caseworker_id = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    seeded = seed_queue(desk, org, caseworker_id)
    expected = queue_order(seeded)
    by_ref = {t.ref: t for t in seeded}
    # The seed puts tickets of one opening time on both sides of a page break.
    assert by_ref[expected[49]].created_at == by_ref[expected[50]].created_at

    first = caseworker.get("/tickets")
    assert f"Open tickets: {len(expected)}" in seen(first)
    shown = caseworker.queue_refs()

    assert shown == expected
    assert len(shown) == len(set(shown)) == 117
    closed = {t.ref for t in seeded if t.status == "closed"}
    assert closed
    assert not closed & set(shown)
    urgent_rows = re.findall(rf'<tr class="urgent">\s*<td><a href="/tickets/({REF})">', first.text)
    assert urgent_rows == [ref for ref in expected if by_ref[ref].urgent]


def cursor_of(raw: bytes) -> str:
    """A cursor as the queue writes one (unpadded URL-safe base64), around any bytes."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FORGED_CURSORS = (
    "not-a-cursor!",
    cursor_of(b"1|2024-01-01T00:00:00|1"),  # a time without its zone
    cursor_of(b"2|2024-01-01T00:00:00+00:00|1"),  # urgency neither 0 nor 1
    cursor_of(b"0|yesterday|1"),
    cursor_of(b"0|2024-01-01T00:00:00+00:00|one"),
    cursor_of(b"0|2024-01-01T00:00:00+00:00"),  # a part missing
    cursor_of(b"\xff\xfe|"),  # not UTF-8
    cursor_of(b"0|2024-01-01T00:00:00+00:00|99999999999999999999999"),  # id past bigint
)


def test_forged_queue_cursor_answers_400(desk: Desk) -> None:
    # Answer as a browser would see a crash (a 500 page), not as an exception in the test.
    desk.app.config["PROPAGATE_EXCEPTIONS"] = False
    org = desk.organisation(ORG_A, ["my"])
    caseworker, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    seed_ticket(desk, org)

    answers = {
        cursor: caseworker.get("/tickets", after=cursor).status_code for cursor in FORGED_CURSORS
    }

    assert answers == dict.fromkeys(FORGED_CURSORS, 400)


def test_filter_bar_counts_match_the_rows_each_filter_shows(desk: Desk) -> None:
    org = desk.organisation(ORG_A, ["my", "th"])
    caseworker, caseworker_id = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    seeded = [t for t in seed_queue(desk, org, caseworker_id) if t.status != "closed"]
    thirty_days_ago = utcnow() - dt.timedelta(days=30)
    expected = {
        ("status", "new"): {t.ref for t in seeded if t.status == "new"},
        ("status", "triaged"): {t.ref for t in seeded if t.status == "triaged"},
        ("language", "th"): {t.ref for t in seeded if t.language == "th"},
        ("urgent", "1"): {t.ref for t in seeded if t.urgent},
        ("urgent", "0"): {t.ref for t in seeded if not t.urgent},
        ("assignee", "me"): {t.ref for t in seeded if t.mine},
        ("age", "30d"): {t.ref for t in seeded if t.created_at < thirty_days_ago},
    }
    counts = filter_counts(caseworker.get("/tickets").text)

    for (name, value), refs in expected.items():
        assert refs, (name, value)  # every filter has something to show
        rows = caseworker.queue_refs(**{name: value})
        assert len(rows) == len(set(rows)), (name, value)
        assert set(rows) == refs, (name, value)
        assert counts[name][value] == len(refs), (name, value)


# --- 2. the lifecycle ------------------------------------------------------------------------

NOT_NEXT_STEP = "That is not the next step of this ticket's lifecycle."
CLOSE_BUTTON = "Close a ticket with the Close button: it checks the worker's validation."
NOT_CLOSABLE = (
    "A ticket closes only once the worker has confirmed the fix, or when it was only a question."
)


def test_ticket_moves_new_triaged_in_remediation_and_refuses_skipping_steps(desk: Desk) -> None:
    org = desk.organisation(ORG_A, ["my"])
    caseworker, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    ref = seed_ticket(desk, org)
    page = f"/tickets/{ref}"
    status = f"/tickets/{ref}/status"

    opened = caseworker.get(page)
    assert "Mark as: Triaged" in seen(opened)
    assert "Close ticket" not in seen(opened)

    refused = caseworker.post_form(page, status, {"status": "closed"})
    assert refused.request.path == page
    assert flashes(refused) == [CLOSE_BUTTON]
    refused = caseworker.post_form(page, f"/tickets/{ref}/close", {})
    assert flashes(refused) == [NOT_CLOSABLE]
    assert ticket_row(desk, ref).status == "new"

    triaged = caseworker.post_form(page, status, {"status": "triaged"})
    assert triaged.request.path == page
    assert "<dd>Triaged</dd>" in triaged.text
    assert "Mark as: In remediation" in seen(triaged)
    assert ticket_row(desk, ref).status == "triaged"

    skipped = caseworker.post_form(page, status, {"status": "validated"})
    assert flashes(skipped) == [NOT_NEXT_STEP]
    assert ticket_row(desk, ref).status == "triaged"

    remediation = caseworker.post_form(page, status, {"status": "in_remediation"})
    assert "<dd>In remediation</dd>" in remediation.text
    assert "Mark as:" not in seen(remediation)  # on from here by asking the worker
    assert ticket_row(desk, ref).status == "in_remediation"
    assert audit_actions(desk, ref).count("ticket.status") == 2


def test_information_request_closes_from_triaged_but_a_wage_case_cannot(desk: Desk) -> None:
    org = desk.organisation(ORG_A, ["my"])
    caseworker, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    question = seed_ticket(desk, org, status="triaged")
    wages = seed_ticket(desk, org, status="triaged")
    labels = category_ids(caseworker.get(f"/tickets/{question}").text)

    for ref, category in (
        (question, "Request for information or help"),
        (wages, "Wages"),
    ):
        saved = caseworker.post_form(
            f"/tickets/{ref}", f"/tickets/{ref}/triage", {"category": labels[category]}
        )
        assert saved.status_code == 200

    can_close = caseworker.get(f"/tickets/{question}")
    assert "Close ticket" in seen(can_close)
    closed = caseworker.post_form(f"/tickets/{question}", f"/tickets/{question}/close", {})
    assert "<dd>Closed</dd>" in closed.text
    assert ticket_row(desk, question).status == "closed"
    assert desk.sql(
        "SELECT closed_at IS NOT NULL, closed_as FROM tickets WHERE ref = :r", r=question
    )[0] == (True, "information_only")
    assert question not in caseworker.queue_refs()

    cannot = caseworker.get(f"/tickets/{wages}")
    assert "Close ticket" not in seen(cannot)
    forced = caseworker.post_form(f"/tickets/{wages}", f"/tickets/{wages}/close", {})
    assert flashes(forced) == [NOT_CLOSABLE]
    assert ticket_row(desk, wages).status == "triaged"


# --- 3. urgency ------------------------------------------------------------------------------


def test_forced_labour_indicator_makes_the_ticket_urgent_with_a_72_hour_clock(desk: Desk) -> None:
    org = desk.organisation(ORG_A, ["my"])
    caseworker, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    ref = seed_ticket(desk, org)
    calm = seed_ticket(desk, org)
    page = f"/tickets/{ref}"
    before = caseworker.get(page)
    assert '<span class="badge urgent">' not in before.text
    documents = category_ids(before.text)["Retention of identity documents"]

    saved = caseworker.post_form(page, f"/tickets/{ref}/triage", {"category": documents})

    assert saved.request.path == page
    assert '<span class="badge urgent">urgent</span>' in saved.text
    assert re.search(r"72 h: 7[12] h left", saved.text), "no 72-hour clock on the ticket"
    assert ticket_row(desk, ref).urgent is True
    queue = caseworker.get("/tickets").text
    first_row = re.search(
        r"<tr([^>]*)>\s*<td><a href=\"/tickets/([^\"]+)\">(.*?)</tr>", queue, re.S
    )
    assert first_row is not None
    assert first_row.group(2) == ref  # urgent first, though the other is as old
    assert 'class="urgent"' in first_row.group(1)
    assert re.search(r"72 h: 7[12] h left", first_row.group(3))
    assert calm in row_refs(queue)
    urgent_entries = desk.sql(
        "SELECT detail FROM audit_log WHERE action = 'ticket.urgent' AND target = :t",
        t=f"ticket:{ref}",
    )
    assert [detail["reason"] for (detail,) in urgent_entries] == ["indicator"]


# --- 4. assignment ---------------------------------------------------------------------------


def test_supervisor_assigns_ticked_tickets_and_the_caseworker_finds_them_as_mine(
    desk: Desk,
) -> None:
    org = desk.organisation(ORG_A, ["my"])
    supervisor, _ = person(desk, "lead@maesot.example", ORG_A, "supervisor")
    caseworker, caseworker_id = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    refs = [seed_ticket(desk, org) for _ in range(4)]
    queue = supervisor.get("/tickets").text
    for ref in refs:
        assert f'name="ref" value="{ref}"' in queue
    assignee = option_value(queue, "assignee", "cw@maesot.example")

    done = supervisor.post_form(
        "/tickets", "/tickets/assign", {"ref": refs[:3], "assignee": assignee}
    )

    assert done.request.path == "/tickets"
    assert "3 tickets assigned." in flashes(done)
    assert [ticket_row(desk, ref).assignee_id for ref in refs] == [caseworker_id] * 3 + [None]
    mine = caseworker.get("/tickets", assignee="me")
    assert sorted(row_refs(mine.text)) == sorted(refs[:3])
    assert filter_counts(mine.text)["assignee"]["me"] == 3
    assert audit_actions(desk, refs[0]) == ["ticket.assign"]

    # Bulk assignment is the supervisor's: a caseworker's forged form is forbidden.
    forged = caseworker.post_form(
        "/tickets", "/tickets/assign", {"ref": refs[3], "assignee": caseworker_id}, follow=False
    )
    assert forged.status_code == 403
    assert ticket_row(desk, refs[3]).assignee_id is None

    page = f"/tickets/{refs[3]}"
    assert "Take this ticket" in caseworker.get(page).text
    taken = caseworker.post_form(page, f"{page}/assign", {"assignee": "me"})
    assert "Give it back" in taken.text
    assert "<dd>cw@maesot.example</dd>" in taken.text
    assert ticket_row(desk, refs[3]).assignee_id == caseworker_id
    given_back = caseworker.post_form(page, f"{page}/assign", {"assignee": "none"})
    assert "Take this ticket" in given_back.text
    assert ticket_row(desk, refs[3]).assignee_id is None


def test_caseworker_cannot_take_a_ticket_a_colleague_holds(desk: Desk) -> None:
    org = desk.organisation(ORG_A, ["my"])
    colleague = add_user(desk, "other@maesot.example", ORG_A, "caseworker")
    caseworker, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    ref = seed_ticket(desk, org)
    with desk.rt.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.ref == ref)).one()
        ticket.assignee_id = colleague
        session.commit()
    page = f"/tickets/{ref}"
    shown = caseworker.get(page).text
    assert "Take this ticket" not in shown  # the page offers no way to take it…

    forced = caseworker.post_form(page, f"{page}/assign", {"assignee": "me"}, follow=False)

    # …and a forged form must not take it either: reassigning is the supervisor's call.
    assert ticket_row(desk, ref).assignee_id == colleague, forced.status_code


# --- 5. routing ------------------------------------------------------------------------------


def test_admin_routing_rule_sends_thai_messages_to_its_organisation(
    desk: Desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation(ORG_A)  # the oldest: where a ticket goes when nothing else says
    org_b = desk.organisation(ORG_B)
    admin, _ = person(desk, "admin@maesot.example", ORG_A, "admin")
    thai_desk, _ = person(desk, "cw@chiangmai.example", ORG_B, "caseworker")
    fallback, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")

    rules = admin.get("/admin/routing")
    assert rules.status_code == 200
    goes_to = option_value(rules.text, "organisation", ORG_B)
    assert goes_to == str(org_b)
    added = admin.post_form(
        "/admin/routing", "/admin/routing", {"language": "th", "organisation": goes_to}
    )
    assert "Rule added." in flashes(added)
    assert re.search(rf"<td>th</td>.*?<td>{ORG_B}</td>", added.text, re.S)
    assert thai_desk.get("/admin/routing").status_code == 403

    thai = telegram_ticket(desk, 81_000_001, THAI_REPORT)
    burmese = telegram_ticket(desk, 81_000_002, BURMESE_REPORT)

    assert ticket_row(desk, thai).organisation_id == org_b
    assert thai_desk.queue_refs() == [thai]
    assert fallback.queue_refs() == [burmese]
    assert thai_desk.get(f"/tickets/{burmese}").status_code == 404


def test_supervisor_reroutes_a_new_ticket_but_not_a_triaged_one(desk: Desk) -> None:
    org_a = desk.organisation(ORG_A)
    org_b = desk.organisation(ORG_B)
    supervisor, _ = person(desk, "lead@maesot.example", ORG_A, "supervisor")
    other_desk, _ = person(desk, "cw@chiangmai.example", ORG_B, "caseworker")
    fresh = seed_ticket(desk, org_a)
    worked = seed_ticket(desk, org_a, status="triaged")
    page = f"/tickets/{fresh}"
    form = supervisor.get(page).text
    assert "Move to its queue" in form

    supervisor.post_form(
        page,
        f"{page}/reroute",
        {"organisation": option_value(form, "organisation", ORG_B)},
        follow=False,
    )

    assert ticket_row(desk, fresh).organisation_id == org_b
    assert fresh not in supervisor.queue_refs()
    assert other_desk.queue_refs() == [fresh]
    assert "ticket.rerouted" in audit_actions(desk, fresh)

    worked_page = f"/tickets/{worked}"
    assert "Move to its queue" not in supervisor.get(worked_page).text
    refused = supervisor.post_form(worked_page, f"{worked_page}/reroute", {"organisation": org_b})
    assert flashes(refused) == ["Only a new ticket is re-routed; refer a worked ticket instead."]
    assert ticket_row(desk, worked).organisation_id == org_a
    assert worked not in other_desk.queue_refs()


def test_supervisor_sees_where_a_rerouted_ticket_went_not_a_404(desk: Desk) -> None:
    org_a = desk.organisation(ORG_A)
    desk.organisation(ORG_B)
    supervisor, _ = person(desk, "lead@maesot.example", ORG_A, "supervisor")
    ref = seed_ticket(desk, org_a)
    page = f"/tickets/{ref}"
    form = supervisor.get(page).text

    moved = supervisor.post_form(
        page, f"{page}/reroute", {"organisation": option_value(form, "organisation", ORG_B)}
    )

    # The move worked; the person who made it should land on a page, not "Not Found".
    assert moved.status_code == 200, (moved.request.path, moved.status_code)


# --- 6. referral -----------------------------------------------------------------------------


def test_referral_with_consent_shows_the_reason_and_hands_the_ticket_over_once_accepted(
    desk: Desk,
) -> None:
    org_a = desk.organisation(ORG_A, ["my"])
    org_b = desk.organisation(ORG_B, ["th"])
    sender, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    receiver, _ = person(desk, "cw@chiangmai.example", ORG_B, "caseworker")
    ref = seed_ticket(desk, org_a)
    page = f"/tickets/{ref}"
    reason = "The worker moved to Chiang Mai; your lawyers can meet him there."

    form = sender.get(page).text
    referred = sender.post_form(
        page,
        f"{page}/referrals",
        {
            "organisation": option_value(form, "organisation", ORG_B),
            "consent": "chat",
            "reason": reason,
        },
    )
    assert "Referral sent. The other organisation sees the ticket once it accepts." in flashes(
        referred
    )
    assert f"Referred to {ORG_B}; waiting for its answer." in seen(referred)
    assert ticket_row(desk, ref).organisation_id == org_a
    assert database_holding(desk, "lawyers can meet") == []  # the reason is sealed

    waiting = receiver.get("/referrals")
    assert ref in waiting.text
    assert reason in seen(waiting)
    assert f"From {ORG_A}" in seen(waiting)
    assert receiver.get(page).status_code == 404  # the referral, not the case, until accepted
    referral_id = re.search(r'action="/referrals/([0-9a-f-]{36})/accept"', waiting.text)
    assert referral_id is not None

    accepted = receiver.post_form("/referrals", f"/referrals/{referral_id.group(1)}/accept", {})

    assert accepted.request.path == page
    assert "Referral accepted: the ticket is in your queue." in flashes(accepted)
    assert ticket_row(desk, ref).organisation_id == org_b
    assert ref in receiver.queue_refs()
    assert ref not in sender.queue_refs()
    actions = audit_actions(desk, ref)
    assert "referral.made" in actions
    assert "referral.accepted" in actions


def test_referring_organisation_reads_an_accepted_referral_but_cannot_change_it(
    desk: Desk, telegram_stub: TelegramStub
) -> None:
    org_a = desk.organisation(ORG_A, ["my"])
    org_b = desk.organisation(ORG_B, ["th"])
    sender, sender_id = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    receiver, receiver_id = person(desk, "cw@chiangmai.example", ORG_B, "caseworker")
    chat = 82_000_001
    ref = telegram_ticket(desk, chat, BURMESE_REPORT)
    with desk.rt.session() as session:  # what accepting the referral writes
        ticket = session.scalars(select(Ticket).where(Ticket.ref == ref)).one()
        ticket.organisation_id = org_b
        session.add(
            Referral(
                ticket_id=ticket.id,
                from_organisation_id=org_a,
                to_organisation_id=org_b,
                status="accepted",
                consent="chat",
                created_by=sender_id,
                created_at=utcnow(),
                decided_by=receiver_id,
                decided_at=utcnow(),
            )
        )
        session.commit()
    page = f"/tickets/{ref}"

    taken_over = receiver.get(page)
    assert taken_over.status_code == 200
    assert "Send reply" in taken_over.text
    answer = "We are the Chiang Mai office. We will call you tomorrow."
    replied = receiver.post_form(page, f"{page}/reply", {"text": answer})
    assert "Reply queued for the worker's chat." in flashes(replied)
    desk.work()
    assert telegram_stub.messages_to(chat)[-1] == answer

    read_only = sender.get(page)
    assert read_only.status_code == 200
    assert f"Referred to {ORG_B}: you can read this ticket but no longer change it." in seen(
        read_only
    )
    assert answer in seen(read_only)
    assert "Send reply" not in read_only.text
    assert "Add note" not in read_only.text
    assert "Save triage" not in read_only.text
    for action, data in (
        ("reply", {"text": "Still here?"}),
        ("notes", {"text": "We keep an eye on it."}),
        ("triage", {"category": "1"}),
        ("status", {"status": "triaged"}),
    ):
        forbidden = sender.post_form(page, f"{page}/{action}", data, follow=False)
        assert forbidden.status_code == 403, action
    assert ref not in sender.queue_refs()
    assert desk.sql("SELECT count(*) FROM notes") == [(0,)]
    assert desk.sql("SELECT count(*) FROM ticket_categories") == [(0,)]
    assert telegram_stub.messages_to(chat)[-1] == answer


def test_declined_referral_leaves_the_ticket_with_its_organisation(desk: Desk) -> None:
    org_a = desk.organisation(ORG_A, ["my"])
    desk.organisation(ORG_B, ["th"])
    sender, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    receiver, _ = person(desk, "cw@chiangmai.example", ORG_B, "caseworker")
    ref = seed_ticket(desk, org_a)
    page = f"/tickets/{ref}"
    to_b = option_value(sender.get(page).text, "organisation", ORG_B)

    no_consent = sender.post_form(page, f"{page}/referrals", {"organisation": to_b, "reason": "x"})
    assert flashes(no_consent) == ["Record how the worker agreed to the referral."]
    assert desk.sql("SELECT count(*) FROM referrals")[0][0] == 0
    assert "Nothing is waiting." in receiver.get("/referrals").text

    sender.post_form(page, f"{page}/referrals", {"organisation": to_b, "consent": "call"})
    waiting = receiver.get("/referrals").text
    referral_id = re.search(r'action="/referrals/([0-9a-f-]{36})/decline"', waiting)
    assert referral_id is not None
    declined = receiver.post_form("/referrals", f"/referrals/{referral_id.group(1)}/decline", {})

    assert "Referral declined." in flashes(declined)
    assert ticket_row(desk, ref).organisation_id == org_a
    assert receiver.get(page).status_code == 404
    back_home = sender.get(page)
    assert "waiting for its answer" not in back_home.text
    assert "Refer to another organisation" in back_home.text
    assert "Send reply" in back_home.text
    assert ref in sender.queue_refs()
    actions = audit_actions(desk, ref)
    assert actions.count("referral.made") == 1
    assert "referral.declined" in actions


# --- 7. hotline calls logged by hand ---------------------------------------------------------

TYPED_NUMBER = "081 234 5678"
DIGITS = "812345678"


def call_form(hotline: Browser) -> tuple[str, dict[str, int]]:
    """Open the call form; answer its submission id and its categories by label."""
    form = hotline.get("/calls/new")
    assert form.status_code == 200
    submission = re.search(r'name="submission" value="([0-9a-f]{32})"', form.text)
    assert submission is not None
    return submission.group(1), category_ids(form.text)


def log_call(hotline: Browser, **fields: Any) -> TestResponse:
    """Fill in and save the call form as it is on the page (its own submission id)."""
    submission, _ = call_form(hotline)
    data = {"submission": submission, "language": "my", "minutes": "5", **fields}
    return hotline.post_form("/calls/new", "/calls", data, follow=False)


def filed_ticket(hotline: Browser, saved: TestResponse) -> TestResponse:
    """Follow a saved call to its ticket once the worker process has filed it."""
    assert saved.status_code == 303
    logged = saved.headers["Location"]
    assert re.fullmatch(r"/calls/logged/[0-9a-f-]{36}", logged), logged
    waiting = hotline.get(logged)
    assert waiting.status_code == 200
    assert "Filing the call" in waiting.text
    hotline.desk.work()
    found = hotline.get(logged)
    assert found.status_code == 303
    assert re.fullmatch(rf"/tickets/{REF}", found.headers["Location"]), found.headers["Location"]
    ticket = hotline.get(found.headers["Location"])
    assert ticket.status_code == 200
    assert "Call logged." in flashes(ticket)
    return ticket


def database_holding(desk: Desk, needle: str) -> list[str]:
    """Every table (as text) and bytea column whose contents hold the needle."""
    found = []
    tables = desk.sql(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    for (table,) in tables:
        # Names come from the catalogue, not from input.
        statement = f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE :n'  # noqa: S608
        if desk.sql(statement, n=f"%{needle}%")[0][0]:
            found.append(table)
    columns = desk.sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type = 'bytea'"
    )
    for table, column in columns:
        statement = (
            f'SELECT count(*) FROM "{table}" '  # noqa: S608 - names from the catalogue
            f"WHERE position(convert_to(:n, 'UTF8') in \"{column}\") > 0"
        )
        if desk.sql(statement, n=needle)[0][0]:
            found.append(f"{table}.{column}")
    return found


def test_logged_call_files_a_ticket_and_the_number_is_nowhere_to_be_read(
    desk: Desk, twilio_stub: TwilioStub
) -> None:
    desk.organisation(ORG_A, ["my"])
    hotline, _ = person(desk, "hotline@maesot.example", ORG_A, "hotline")
    summary = "Caller works on a fishing boat; the captain keeps the crew's seaman books."
    submission, labels = call_form(hotline)

    saved = hotline.post_form(
        "/calls/new",
        "/calls",
        {
            "submission": submission,
            "number": TYPED_NUMBER,
            "language": "my",
            "minutes": "12",
            "summary": summary,
            "category": labels["Retention of identity documents"],
        },
        follow=False,
    )
    ticket = filed_ticket(hotline, saved)

    ref = ticket.request.path.rsplit("/", 1)[1]
    assert summary in seen(ticket)
    assert "call summary" in ticket.text
    assert "answered · my" in seen(ticket)
    assert "12:00" in ticket.text
    status, _, _, urgent, ticket_id, worker_id = ticket_row(desk, ref)
    assert (status, urgent) == ("new", True)
    assert desk.sql("SELECT channel FROM vault_entries") == [("voice",)]

    # The same caller again, typed as +66: the same worker, the same open ticket.
    again = log_call(hotline, number="+66812345678", summary="Called back: boat is in port.")
    assert filed_ticket(hotline, again).request.path == f"/tickets/{ref}"
    # And on the IVR from the same phone: still the same ticket.
    call = Call(desk, "+66812345678")
    call.start()
    call.press(DIGIT["my"])
    call.dial_result("my", "completed", "300")
    assert call.hang_up("310").status_code == 200
    desk.work()

    assert desk.sql("SELECT count(*) FROM tickets") == [(1,)]
    assert desk.sql("SELECT count(*) FROM calls WHERE ticket_id = :t", t=ticket_id) == [(3,)]
    assert desk.sql("SELECT count(*) FROM workers") == [(1,)]
    assert desk.sql("SELECT channel FROM vault_entries WHERE worker_id = :w", w=worker_id) == [
        ("voice",)
    ]
    final = hotline.get(f"/tickets/{ref}")
    assert "Called back: boat is in port." in seen(final)
    hotline.get("/tickets")

    for page in hotline.pages:
        assert DIGITS not in page
        assert "234 5678" not in page
    assert database_holding(desk, DIGITS) == []
    assert not any(DIGITS.encode() in value for value in redis_values(desk.settings.redis_url))


def test_the_same_call_form_sent_twice_stores_one_call(desk: Desk) -> None:
    desk.organisation(ORG_A, ["my"])
    hotline, _ = person(desk, "hotline@maesot.example", ORG_A, "hotline")
    submission, _ = call_form(hotline)
    data = {
        "submission": submission,
        "number": "089 765 4321",
        "language": "my",
        "minutes": "3",
        "summary": "Asked about overtime pay.",
    }

    first = hotline.post_form("/calls/new", "/calls", data, follow=False)
    second = hotline.post_form("/calls/new", "/calls", data, follow=False)
    desk.work()

    assert first.headers["Location"] == second.headers["Location"]
    assert desk.sql("SELECT count(*) FROM calls") == [(1,)]
    assert desk.sql("SELECT count(*) FROM messages WHERE kind = 'call_log'") == [(1,)]
    assert desk.sql("SELECT count(*) FROM inbound_envelopes") == [(1,)]
    assert hotline.get(first.headers["Location"]).status_code == 303


def test_anonymous_call_opens_a_ticket_with_nothing_in_the_vault(desk: Desk) -> None:
    desk.organisation(ORG_A, ["my"])
    hotline, _ = person(desk, "hotline@maesot.example", ORG_A, "hotline")
    summary = "Anonymous caller: agency charges 30,000 baht in fees."

    ticket = filed_ticket(hotline, log_call(hotline, anonymous="1", summary=summary))

    assert summary in seen(ticket)
    assert desk.sql("SELECT count(*) FROM tickets WHERE channel = 'voice'") == [(1,)]
    assert desk.sql("SELECT count(*) FROM vault_entries") == [(0,)]


def test_call_form_with_a_bad_number_is_shown_again_without_the_number(desk: Desk) -> None:
    desk.organisation(ORG_A, ["my"])
    hotline, _ = person(desk, "hotline@maesot.example", ORG_A, "hotline")
    summary = "Caller from the rubber plantation; line dropped."

    refused = log_call(hotline, number="12", minutes="7", summary=summary)

    assert refused.status_code == 400
    assert "That is not a phone number." in flashes(refused)
    assert summary in seen(refused)  # the rest of what was typed is kept
    number_field = re.search(r'<input type="tel" name="number"[^>]*>', refused.text)
    assert number_field is not None
    assert "value" not in number_field.group(0)
    assert desk.sql("SELECT count(*) FROM inbound_envelopes") == [(0,)]


# --- 8. notes --------------------------------------------------------------------------------


def test_note_is_sealed_at_rest_shown_to_colleagues_and_hidden_from_another_org(
    desk: Desk,
) -> None:
    org_a = desk.organisation(ORG_A, ["my"])
    desk.organisation(ORG_B, ["th"])
    author, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    colleague, _ = person(desk, "lead@maesot.example", ORG_A, "supervisor")
    outsider, _ = person(desk, "cw@chiangmai.example", ORG_B, "caseworker")
    ref = seed_ticket(desk, org_a)
    page = f"/tickets/{ref}"
    note = "Broker Ko Aung holds the passports at the dormitory office."

    added = author.post_form(page, f"{page}/notes", {"text": note})

    assert note in seen(added)
    assert note in seen(colleague.get(page))
    assert desk.sql("SELECT count(*) FROM notes") == [(1,)]
    assert database_holding(desk, "Ko Aung") == []
    assert database_holding(desk, "passports") == []
    assert outsider.get(page).status_code == 404
    author.post_form(
        page,
        f"{page}/referrals",
        {"organisation": option_value(added.text, "organisation", ORG_B), "consent": "call"},
    )
    for view in (outsider.get("/referrals"), outsider.get("/tickets"), outsider.get(page)):
        assert "Ko Aung" not in seen(view)


# --- 9. replies ------------------------------------------------------------------------------


def test_replies_reach_the_workers_chat_in_their_language(
    desk: Desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation(ORG_A, ["my"])
    caseworker, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    chat = 83_000_001
    ref = telegram_ticket(desk, chat, BURMESE_REPORT)
    page = f"/tickets/{ref}"
    before = len(telegram_stub.messages_to(chat))

    written = "ကျေးဇူးတင်ပါတယ်။ မနက်ဖြန် ဖုန်းဆက်ပါမယ်။"
    replied = caseworker.post_form(page, f"{page}/reply", {"text": written})
    assert "Reply queued for the worker's chat." in flashes(replied)
    desk.work()
    assert telegram_stub.messages_to(chat)[before:] == [written]

    form = re.search(r'<select name="saved">(.*?)</select>', replied.text, re.S)
    assert form is not None
    saved = dict(
        (key, html.unescape(text))
        for key, text in re.findall(r'<option value="(\w+)" lang="my">([^<]+)</option>', form[1])
    )
    assert re.search("[\u1000-\u109f]", saved["working"]), saved["working"]  # Burmese script
    sent_saved = caseworker.post_form(page, f"{page}/reply", {"saved": "working"})
    assert "Reply queued for the worker's chat." in flashes(sent_saved)
    desk.work()
    assert telegram_stub.messages_to(chat)[before:] == [written, saved["working"]]
    assert audit_actions(desk, ref).count("ticket.reply") == 2


def test_hotline_ticket_has_no_reply_form_and_a_forced_reply_sends_nothing(
    desk: Desk, telegram_stub: TelegramStub, twilio_stub: TwilioStub
) -> None:
    org = desk.organisation(ORG_A, ["my"])
    caseworker, _ = person(desk, "cw@maesot.example", ORG_A, "caseworker")
    ref = seed_ticket(desk, org, channel="voice")
    page = f"/tickets/{ref}"
    shown = caseworker.get(page)
    assert "Send reply" not in shown.text
    assert f"{page}/reply" not in shown.text

    forced = caseworker.post_form(page, f"{page}/reply", {"text": "Hello?"})

    assert forced.request.path == page
    assert flashes(forced) == ["A hotline caller has no chat; call them back or log the call."]
    desk.work()
    assert desk.sql("SELECT count(*) FROM messages WHERE direction = 'out'") == [(0,)]
    assert telegram_stub.sent == []
    assert twilio_stub.sent == []
