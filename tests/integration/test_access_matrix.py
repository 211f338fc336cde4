"""Every console page and API route, for every role, on a ticket of one's own organisation
and on one of another: what DESIGN.md's roles allow succeeds and does what it says; the rest
answers 403 or 404, changes nothing, and shows nothing of the other organisation.

One shared desk (two organisations, a user of every role in A and a caseworker in B,
tickets with notes, photos, referrals both ways, undelivered messages, logged calls, and
remediation records; tickets in remediation, validated or urgent for the routes needing them)
serves every request. Each request is a subtest named `role METHOD /rule [target]`, the
target being the user's own organisation's ticket (or referral, call, message), the other
organisation's, the other's photo asked for under one's own ticket (swap), or a ticket one's
organisation referred away (away). Whatever a request changed is put back before the next,
so the order of the table does not matter (except signing out last). A route added to the
app without a row here fails `test_every_route_has_an_expectation_for_every_role`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text
from werkzeug.test import TestResponse

from console.cli import create_user, issue_token
from intake import businesses, incidents, notes, referral, remediation, routing, triage, validation
from intake.models import Category, Ticket, User
from intake.settings import Settings
from safeguards.pseudonyms import pseudonym_for

from integration.conftest import PASSWORD, Desk, open_desk
from support import signin
from support.builders import telegram_update
from support.telegram_stub import TelegramStub

ROLES = ("admin", "supervisor", "caseworker", "hotline", "partner", "anonymous")
# The caseworker of the other organisation (B) expects what A's caseworker does, mirrored:
# B's ticket is their own and A's the other.
MIRRORED = {"caseworker_b": "caseworker"}
# Who is asked, in this order. Signing out is the last row, so each client stays signed in.
ASKED = ("admin", "supervisor", "caseworker", "hotline", "partner", "caseworker_b", "anonymous")

# What each role may do, route by route. Columns follow ROLES. A cell is one outcome for
# the user's own target and the other organisation's, or "own/other" when they differ:
#   200 302 303 202 401 403 404   exactly this status (404: also exactly like a missing one)
#   no      refused: 403 or 404
#   login   redirected to /login (not signed in)
# A ticket route's own target is a ticket of the user's organisation, the other one a ticket
# of the other organisation; referrals, undelivered messages and logged calls likewise.
# Parameters are written without converters (<ref>, not <string:ref>).
# fmt: off
EXPECTED = """
route                                              admin   super.  casew.  hotline partner anonymous
# Open to anyone: the sign-in pages, the home page, health, fonts and styles. Home sends
# staff (and strangers) on to the queue; partners, who never see a ticket, on to their
# dashboard.
GET  /                                             302     302     302     302     302     302
GET  /static/<filename>                            200     200     200     200     200     200
GET  /healthz                                      200     200     200     200     200     200
GET  /api/v1/openapi.json                          200     200     200     200     200     200
GET  /login                                        200     200     200     200     200     200
# Nobody is half signed in here: both steps send back to /login.
GET  /login/enrol                                  302     302     302     302     302     302
GET  /login/code                                   302     302     302     302     302     302
POST /ui-language                                  302     302     302     302     302     302
# One's own password: every signed-in role, partners too (a wrong current one: form again).
GET  /account/password                             200     200     200     200     200     login
POST /account/password                             200     200     200     200     200     login
# The queue and the ticket page: staff of the ticket's organisation; partners never.
GET  /tickets                                      200     200     200     200     no      login
GET  /tickets/<ref>                                200/404 200/404 200/404 200/404 no      login
# Own target: own ticket, own file; other: the other's ticket and file, and (swap) the other
# organisation's file asked for under one's own ticket.
GET  /tickets/<ref>/attachments/<attachment_id>    200/404 200/404 200/404 200/404 no      login
POST /tickets/<ref>/notes                          303/404 303/404 303/404 303/404 no      login
# Hotline staff log calls; they do not write in a worker's chat.
POST /tickets/<ref>/reply                          no      303/404 303/404 no      no      login
# Categories and urgency: DESIGN gives them to hotline staff logging a call; linking the
# businesses a ticket is about goes with them.
POST /tickets/<ref>/triage                         no      303/404 303/404 303/404 no      login
POST /tickets/<ref>/businesses                     no      303/404 303/404 303/404 no      login
POST /tickets/<ref>/businesses/<business_id>/remove no     303/404 303/404 303/404 no      login
POST /tickets/<ref>/status                         no      303/404 303/404 no      no      login
# Taking a ticket oneself.
POST /tickets/<ref>/assign                         no      303/404 303/404 no      no      login
POST /tickets/<ref>/referrals                      no      303/404 303/404 no      no      login
# The remediation record (the business's timeline, the actions it agreed to, money owed and
# repaid) and asking the worker in their chat whether it is really fixed: casework. Asking
# needs a ticket in remediation, closing one its worker validated (Request.state).
POST /tickets/<ref>/remediation/timeline           no      303/404 303/404 no      no      login
POST /tickets/<ref>/remediation/actions            no      303/404 303/404 no      no      login
POST /tickets/<ref>/remediation/actions/<action_id>/done no 303/404 303/404 no     no      login
POST /tickets/<ref>/remediation/repayments         no      303/404 303/404 no      no      login
POST /tickets/<ref>/remediation/repayments/<repayment_id> no 303/404 303/404 no    no      login
POST /tickets/<ref>/validation                     no      303/404 303/404 no      no      login
# Whoever calls the worker records the answer given on the phone: hotline staff too.
POST /tickets/<ref>/validation/phone               no      303/404 303/404 303/404 no      login
# Closing goes with the status (DESIGN: a ticket closes once its worker validated the fix).
POST /tickets/<ref>/close                          no      303/404 303/404 no      no      login
# Scoring a linked business's response (Ethical Performance Scores) is casework; the
# worker's gender and nationality, with their consent, goes with triage: hotline staff too.
POST /tickets/<ref>/scores                         no      303/404 303/404 no      no      login
POST /tickets/<ref>/worker-profile                 no      303/404 303/404 303/404 no      login
# The 72-hour incident report to the partner: keeping the next one and recording that it
# was sent are casework. Both need an urgent ticket, with a report kept (Request.state).
POST /tickets/<ref>/incident-reports               no      303/404 303/404 no      no      login
POST /tickets/<ref>/incident-reports/<report_id>/sent no  303/404 303/404 no      no      login
# Moving a misrouted new ticket to another queue, and assigning to others: supervisors.
POST /tickets/<ref>/reroute                        no      303/404 no      no      no      login
POST /tickets/assign                               no      303/404 no      no      no      login
# Logging a call: hotline staff and caseworkers (and so supervisors).
GET  /calls/new                                    no      200     200     200     no      login
POST /calls                                        no      303     303     303     no      login
# Own: the call this user logged, filed: off to its ticket. Other: a call the other
# organisation logged; the envelope is sealed, so the page cannot tell "not yours" from
# "not filed yet" and shows the waiting page, with nothing of the call.
GET  /calls/logged/<envelope_id>                   no      303/200 303/200 303/200 no      login
# Referrals waiting for our answer (own), and one waiting for the other organisation's.
GET  /referrals                                    no      200     200     no      no      login
POST /referrals/<referral_id>/accept               no      303/404 303/404 no      no      login
POST /referrals/<referral_id>/decline              no      303/404 303/404 no      no      login
GET  /directory                                    200     200     200     200     no      login
POST /directory                                    303     303     no      no      no      login
POST /directory/links                              303     303     no      no      no      login
# DESIGN.md: a supervisor does "assignment, routing rules, ..."; so do admins here.
GET  /admin/routing                                200     200     no      no      no      login
POST /admin/routing                                303     303     no      no      no      login
POST /admin/routing/<rule_id>/delete               303     303     no      no      no      login
GET  /admin/categories                             200     no      no      no      no      login
POST /admin/categories                             303     no      no      no      no      login
POST /admin/categories/<category_id>/active        303     no      no      no      no      login
GET  /audit                                        200     200     no      no      no      login
GET  /outbox/failed                                200     200     no      no      no      login
POST /outbox/failed/<message_id>/retry             302/404 302/404 no      no      no      login
GET  /simulator                                    200     200     200     200     no      login
POST /hooks/simulator                              302     302     302     302     no      login
POST /simulator/new                                302     302     302     302     no      login
# The network's reach and each business's published figures: admins and supervisors. It
# names the directory's businesses, never a ticket.
GET  /reports                                      200     200     no      no      no      login
# A partner's own supply chain, as figures and charts, and its CSV export: partners only
# (staff read the network's figures under /reports). With no business named on the account
# (as here) the page says so and the export is its header alone.
GET  /partner                                      no      no      no      no      200     login
GET  /partner/indicators.csv                       no      no      no      no      200     login
# The API: bearer tokens; another organisation's ticket is a 404 exactly like a missing one.
GET  /api/v1/tickets                               200     200     200     200     403     401
GET  /api/v1/tickets/<ref>                         200/404 200/404 200/404 200/404 403     401
POST /api/v1/tickets/<ref>/replies                 403/404 202/404 202/404 403/404 403     401
POST /api/v1/tickets/<ref>/validation-requests     403/404 202/404 202/404 403/404 403     401
POST /api/v1/tickets/<ref>/close                   403/404 200/404 200/404 403/404 403     401
# Last: signing out ends the staff session.
POST /logout                                       302     302     302     302     302     login
"""

# A ticket the user's organisation referred to the other, which accepted it: the sender
# keeps a read-only view of the case it handed over (README, "The console"); nothing on it
# changes any more. Every route that names a ticket has a row here.
AWAY_EXPECTED = """
route                                              admin   super.  casew.  hotline partner anonymous
GET  /tickets/<ref>                                200     200     200     200     no      login
GET  /tickets/<ref>/attachments/<attachment_id>    200     200     200     200     no      login
POST /tickets/<ref>/notes                          no      no      no      no      no      login
POST /tickets/<ref>/reply                          no      no      no      no      no      login
POST /tickets/<ref>/triage                         no      no      no      no      no      login
POST /tickets/<ref>/businesses                     no      no      no      no      no      login
POST /tickets/<ref>/businesses/<business_id>/remove no     no      no      no      no      login
POST /tickets/<ref>/status                         no      no      no      no      no      login
POST /tickets/<ref>/assign                         no      no      no      no      no      login
POST /tickets/<ref>/referrals                      no      no      no      no      no      login
POST /tickets/<ref>/reroute                        no      no      no      no      no      login
POST /tickets/assign                               no      no      no      no      no      login
# Its remediation record is the receiving organisation's now (it recorded an action and
# money owed there): the sender reads it and neither adds to it, asks the worker nor closes.
POST /tickets/<ref>/remediation/timeline           no      no      no      no      no      login
POST /tickets/<ref>/remediation/actions            no      no      no      no      no      login
POST /tickets/<ref>/remediation/actions/<action_id>/done no no     no      no      no      login
POST /tickets/<ref>/remediation/repayments         no      no      no      no      no      login
POST /tickets/<ref>/remediation/repayments/<repayment_id> no no    no      no      no      login
POST /tickets/<ref>/validation                     no      no      no      no      no      login
POST /tickets/<ref>/validation/phone               no      no      no      no      no      login
POST /tickets/<ref>/close                          no      no      no      no      no      login
# Nor are its business's scores or its worker's profile the sender's to record.
POST /tickets/<ref>/scores                         no      no      no      no      no      login
POST /tickets/<ref>/worker-profile                 no      no      no      no      no      login
# Its incident reports are the receiving organisation's to keep and send now.
POST /tickets/<ref>/incident-reports               no      no      no      no      no      login
POST /tickets/<ref>/incident-reports/<report_id>/sent no  no      no      no      no      login
GET  /api/v1/tickets/<ref>                         200     200     200     200     403     401
POST /api/v1/tickets/<ref>/replies                 no      no      no      no      403     401
POST /api/v1/tickets/<ref>/validation-requests     no      no      no      no      403     401
POST /api/v1/tickets/<ref>/close                   no      no      no      no      403     401
"""
# fmt: on

# Routes this test does not walk, and why. Every other route must have a row above.
NOT_WALKED = {
    "POST /login": "the sign-in steps themselves: tests/console/test_sign_in.py",
    "POST /login/enrol": "the sign-in steps themselves: tests/console/test_sign_in.py",
    "POST /login/code": "the sign-in steps themselves: tests/console/test_sign_in.py",
    "POST /hooks/telegram": "provider webhook, verifies itself: test_telegram_intake.py",
    "POST /hooks/twilio/messaging": "provider webhook, verifies itself: test_twilio_messaging.py",
    "POST /hooks/twilio/status": "provider webhook, verifies itself: test_twilio_messaging.py",
    "POST /hooks/twilio/voice": "provider webhook, verifies itself: test_hotline.py",
    "POST /hooks/twilio/voice/language": "provider webhook, verifies itself: test_hotline.py",
    "POST /hooks/twilio/voice/dial-result": "provider webhook, verifies itself: test_hotline.py",
    "POST /hooks/twilio/voice/voicemail": "provider webhook, verifies itself: test_hotline.py",
    "POST /hooks/twilio/voice/recording": "provider webhook, verifies itself: test_hotline.py",
    "POST /hooks/twilio/voice/status": "provider webhook, verifies itself: test_hotline.py",
    "POST /hooks/viber": "provider webhook, verifies itself: test_viber.py",
}

# --- what a success changes, and a refusal must not ---------------------------------------
OUT_MESSAGES = "SELECT count(*) FROM messages WHERE ticket_id = :ticket AND direction = 'out'"
AUDITED = "SELECT count(*) FROM audit_log WHERE actor = :actor AND target = :target AND action = "
READS = AUDITED + "'ticket.read'"  # opening a thread is audited, whoever opens it
FILE_OPENS = AUDITED + "'attachment.open'"
NOTES = "SELECT count(*) FROM notes WHERE ticket_id = :ticket"
URGENT = "SELECT urgent FROM tickets WHERE id = :ticket"
STATUS = "SELECT status FROM tickets WHERE id = :ticket"
ASSIGNEE = "SELECT assignee_id FROM tickets WHERE id = :ticket"
ORGANISATION = "SELECT organisation_id FROM tickets WHERE id = :ticket"
LINKED = "SELECT count(*) FROM ticket_businesses WHERE ticket_id = :ticket"
REFERRALS = "SELECT count(*) FROM referrals WHERE ticket_id = :ticket"
REFERRAL_STATUS = "SELECT status FROM referrals WHERE public_id = :referral"
DELIVERY = "SELECT delivery_status FROM messages WHERE id = :dead_letter"
CALL_LOGS = "SELECT count(*) FROM inbound_envelopes WHERE channel = 'call_log'"
SIMULATED = "SELECT count(*) FROM inbound_envelopes WHERE channel = 'simulator'"
RULES = "SELECT count(*) FROM routing_rules"
CATEGORIES = "SELECT count(*) FROM categories"
CATEGORY_ACTIVE = "SELECT active FROM categories WHERE id = :category"
BUSINESSES = "SELECT count(*) FROM businesses"
SUPPLY_LINKS = "SELECT count(*) FROM supply_links WHERE brand_id = :brand"
LIVE_SESSIONS = "SELECT count(*) FROM staff_sessions WHERE user_id = :user AND ended_at IS NULL"
TIMELINE = "SELECT count(*) FROM remediations WHERE ticket_id = :ticket"
ACTIONS = "SELECT count(*) FROM remediation_actions WHERE ticket_id = :ticket"
ACTIONS_DONE = ACTIONS + " AND done_on IS NOT NULL"
REPAYMENTS = "SELECT count(*) FROM repayments WHERE ticket_id = :ticket"
REPAID = "SELECT sum(repaid_minor) FROM repayments WHERE ticket_id = :ticket"
VALIDATIONS = "SELECT count(*) FROM validations WHERE ticket_id = :ticket"
INCIDENT_REPORTS = "SELECT count(*) FROM incident_reports WHERE ticket_id = :ticket"
REPORTS_SENT = INCIDENT_REPORTS + " AND sent_at IS NOT NULL"
SCORES = "SELECT count(*) FROM ethical_scores WHERE ticket_id = :ticket"
GENDER = "SELECT w.gender FROM workers w JOIN tickets t ON t.worker_id = w.id WHERE t.id = :ticket"


@dataclass(frozen=True)
class Request:
    """How to ask a route, and what to look for besides the status."""

    form: dict[str, str] | None = None  # a console POST's fields (formatted like the path)
    json: dict[str, str] | None = None  # an API POST's body
    effect: str | None = None  # SQL: a success changes its answer, a refusal must not
    shows: tuple[str, ...] = ()  # what success on one's own target shows (see Target)
    swap: bool = False  # also ask for the other organisation's file under one's own ticket
    refs_seen_by: tuple[str, ...] = ()  # roles that may see the other organisation's refs here
    offered_seen: bool = False  # shows the ref of a ticket offered to the user's organisation
    # The route needs a ticket in a state: "remediating", "validated" or "urgent" names the
    # target's ticket in it (see Target), asked for instead of its main one.
    state: str = ""


# Values are formatted with the request's context: t (the target), w (the world), fresh (a
# new 32-hex value), elsewhere (the id of an organisation other than the user's), home
# (the user's own organisation), today (the date in UTC, the tickets' own calendar).
REQUESTS: dict[str, Request] = {
    "POST /ui-language": Request(form={"language": "en", "next": "/tickets"}),
    "POST /account/password": Request(
        form={"current": "not the password at all", "new": "x" * 16, "again": "x" * 16}
    ),
    "GET /tickets": Request(shows=("ref",)),
    "GET /tickets/<ref>": Request(effect=READS, shows=("text", "note")),
    "GET /tickets/<ref>/attachments/<attachment_id>": Request(
        effect=FILE_OPENS, shows=("file",), swap=True
    ),
    "POST /tickets/<ref>/notes": Request(form={"text": "Called the employer."}, effect=NOTES),
    "POST /tickets/<ref>/reply": Request(
        form={"text": "Thank you, we are on it."}, effect=OUT_MESSAGES
    ),
    "POST /tickets/<ref>/triage": Request(form={"urgent": "1"}, effect=URGENT),
    "POST /tickets/<ref>/businesses": Request(form={"business": "{w.agency}"}, effect=LINKED),
    "POST /tickets/<ref>/businesses/<business_id>/remove": Request(form={}, effect=LINKED),
    "POST /tickets/<ref>/status": Request(form={"status": "triaged"}, effect=STATUS),
    "POST /tickets/<ref>/assign": Request(form={"assignee": "me"}, effect=ASSIGNEE),
    "POST /tickets/<ref>/referrals": Request(
        form={"organisation": "{elsewhere}", "consent": "chat", "reason": ""}, effect=REFERRALS
    ),
    "POST /tickets/<ref>/reroute": Request(
        form={"organisation": "{elsewhere}"}, effect=ORGANISATION
    ),
    "POST /tickets/assign": Request(
        form={"ref": "{t.ref}", "assignee": "{w.colleague}"}, effect=ASSIGNEE
    ),
    "POST /tickets/<ref>/remediation/timeline": Request(
        form={"first_response_on": "{today}"}, effect=TIMELINE
    ),
    "POST /tickets/<ref>/remediation/actions": Request(
        form={"text": "Pay the withheld wages.", "owner": "The employer", "due_on": "{today}"},
        effect=ACTIONS,
    ),
    "POST /tickets/<ref>/remediation/actions/<action_id>/done": Request(
        form={"done_on": "{today}"}, effect=ACTIONS_DONE
    ),
    "POST /tickets/<ref>/remediation/repayments": Request(
        form={
            "kind": "recruitment_fees",
            "currency": "MYR",
            "owed": "4,500.50",
            "repaid": "0",
            "workers_affected": "2",
            "workers_eligible": "2",
            "workers_repaid": "0",
        },
        effect=REPAYMENTS,
    ),
    "POST /tickets/<ref>/remediation/repayments/<repayment_id>": Request(
        form={"repaid": "5,000", "workers_repaid": "1"}, effect=REPAID
    ),
    "POST /tickets/<ref>/validation": Request(
        form={"summary": "The employer paid the wages owed."},
        effect=VALIDATIONS,
        state="remediating",
    ),
    "POST /tickets/<ref>/validation/phone": Request(
        form={"answer": "fixed", "satisfaction": "4"}, effect=VALIDATIONS, state="remediating"
    ),
    "POST /tickets/<ref>/close": Request(form={"reason": ""}, effect=STATUS, state="validated"),
    # The employer is linked to both main tickets; indicators left out are recorded as n/a.
    "POST /tickets/<ref>/scores": Request(
        form={
            "business": "{w.employer}",
            "worker_satisfaction_workplace": "4",
            "assessment_hr_social": "2",
            "attitude_toward_workers": "na",
        },
        effect=SCORES,
    ),
    "POST /tickets/<ref>/worker-profile": Request(
        form={"gender": "female", "nationality": "MM", "consent": "1"}, effect=GENDER
    ),
    "POST /tickets/<ref>/incident-reports": Request(
        form={"text": "Indicators identified: debt bondage."},
        effect=INCIDENT_REPORTS,
        state="urgent",
    ),
    "POST /tickets/<ref>/incident-reports/<report_id>/sent": Request(
        form={}, effect=REPORTS_SENT, state="urgent"
    ),
    "POST /calls": Request(
        form={
            "submission": "{fresh}",
            "anonymous": "1",
            "summary": "Asked about overtime.",
            "language": "my",
            "minutes": "3",
        },
        effect=CALL_LOGS,
    ),
    "GET /referrals": Request(shows=("referral",), offered_seen=True),
    # Accepting goes on to the ticket, which is now ours.
    "POST /referrals/<referral_id>/accept": Request(
        form={}, effect=REFERRAL_STATUS, offered_seen=True
    ),
    "POST /referrals/<referral_id>/decline": Request(form={}, effect=REFERRAL_STATUS),
    "POST /directory": Request(
        form={
            "name": "Factory {w.mark} {fresh}",
            "kind": "supplier",
            "country": "TH",
            "sector": "",
        },
        effect=BUSINESSES,
    ),
    "POST /directory/links": Request(
        form={"brand": "{w.brand}", "supplier": "{w.employer}"}, effect=SUPPLY_LINKS
    ),
    "POST /admin/routing": Request(
        # A supervisor edits the rules into their own queue; only admins route elsewhere.
        form={"organisation": "{home}", "language": "km"},
        effect=RULES,
    ),
    "POST /admin/routing/<rule_id>/delete": Request(form={}, effect=RULES),
    "POST /admin/categories": Request(
        form={"code": "m{w.mark}{fresh}", "group": "information", "name": "Test category"},
        effect=CATEGORIES,
    ),
    "POST /admin/categories/<category_id>/active": Request(
        form={"active": "0"}, effect=CATEGORY_ACTIVE
    ),
    # Admins browse everyone's audit entries (audit.read_all), whose targets name tickets;
    # a supervisor's include a colleague accepting a referral, naming the ticket offered.
    "GET /audit": Request(refs_seen_by=("admin",), offered_seen=True),
    "GET /outbox/failed": Request(shows=("dead_letter",)),
    "POST /outbox/failed/<message_id>/retry": Request(form={}, effect=DELIVERY),
    "POST /hooks/simulator": Request(form={"text": "hello {fresh}"}, effect=SIMULATED),
    "POST /simulator/new": Request(form={}),
    "GET /api/v1/tickets": Request(shows=("ref",)),
    "GET /api/v1/tickets/<ref>": Request(effect=READS, shows=("text",)),
    "POST /api/v1/tickets/<ref>/replies": Request(
        json={"text": "Thank you, we are on it."}, effect=OUT_MESSAGES
    ),
    "POST /api/v1/tickets/<ref>/validation-requests": Request(
        json={"summary": "The employer paid the wages owed."},
        effect=VALIDATIONS,
        state="remediating",
    ),
    "POST /api/v1/tickets/<ref>/close": Request(json={}, effect=STATUS, state="validated"),
    "POST /logout": Request(form={}, effect=LIVE_SESSIONS),
}

# How a rule's parameters are filled in.
PARAMETERS = {
    "<ref>": "{t.ref}",
    "<attachment_id>": "{t.attachment}",
    "<referral_id>": "{t.referral}",
    "<message_id>": "{t.dead_letter}",
    "<envelope_id>": "{t.envelope}",
    "<action_id>": "{t.action}",
    "<repayment_id>": "{t.repayment}",
    "<report_id>": "{t.report}",
    "<business_id>": "{w.employer}",
    "<rule_id>": "{w.rule}",
    "<category_id>": "{w.category}",
    "<filename>": "console.css",
}
REFUSED = {"401", "403", "404", "no", "login"}


def bare_rule(rule: str) -> str:
    """A rule without its converters: /tickets/<ref>/attachments/<attachment_id>."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", rule)


@dataclass(frozen=True)
class Row:
    route: str  # "METHOD /rule"
    cells: dict[str, str]  # role -> cell

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def path(self) -> str:
        path = self.route.split(" ", 1)[1]
        for parameter, value in PARAMETERS.items():
            path = path.replace(parameter, value)
        return path

    @property
    def request(self) -> Request:
        return REQUESTS.get(self.route, Request())

    @property
    def names_a_ticket(self) -> bool:
        return "{t.ref}" in self.path + " ".join((self.request.form or {}).values())

    @property
    def targets(self) -> tuple[str, ...]:
        asked = self.path + " ".join((self.request.form or {}).values())
        if "{t." not in asked:
            return ("-",)
        targets = ("own", "other", "swap") if self.request.swap else ("own", "other")
        return (*targets, "away") if self.route in AWAY else targets

    def expected(self, role: str, target: str) -> str:
        if target == "away":
            return AWAY[self.route].cells[MIRRORED.get(role, role)]
        own, _, other = self.cells[MIRRORED.get(role, role)].partition("/")
        return other if target in ("other", "swap") and other else own


def parse(table: str) -> list[Row]:
    rows: list[Row] = []
    lines = [line for line in table.strip().splitlines() if not line.startswith("#")]
    for line in lines[1:]:
        method, rule, *cells = line.split()
        assert len(cells) == len(ROLES), f"{method} {rule}: {len(cells)} cells"
        rows.append(Row(f"{method} {rule}", dict(zip(ROLES, cells, strict=True))))
    return rows


MATRIX = parse(EXPECTED)
AWAY = {row.route: row for row in parse(AWAY_EXPECTED)}


# --- the world every request is asked in ----------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One organisation's things a request may name, as seen from a user."""

    ticket: int
    ref: str
    text: str  # a message of the worker's, on the ticket
    note: str  # a note on the ticket
    attachment: str  # a photo the worker sent, on the ticket
    file: bytes = field(repr=False)
    referral: str  # a referral waiting for this organisation's answer
    referral_ref: str  # the ticket it offers
    dead_letter: str  # a message that could not reach a worker of this organisation
    dead_letter_ref: str
    envelope: str  # a call logged by someone of this organisation (by the user, if theirs)
    action: str  # an action the business agreed to, on the ticket
    repayment: str  # money the business owes the ticket's workers
    # Other tickets of the organisation, (id, ref), for routes that need them in a state:
    remediating: tuple[int, str]  # in remediation: the worker may be asked
    validated: tuple[int, str]  # its worker said on the phone that it is fixed
    urgent: tuple[int, str]  # flagged for forced labour, with an incident report kept
    report: str  # that report, not sent yet


MISSING = Target(
    ticket=-1,
    ref="ZZZZ-ZZZZ",
    text="-",
    note="-",
    attachment=str(uuid.uuid4()),
    file=b"",
    referral=str(uuid.uuid4()),
    referral_ref="-",
    dead_letter=str(uuid.uuid4()),
    dead_letter_ref="-",
    envelope=str(uuid.uuid4()),
    action=str(uuid.uuid4()),
    repayment=str(uuid.uuid4()),
    remediating=(-1, "ZZZZ-ZZZZ"),
    validated=(-1, "ZZZZ-ZZZZ"),
    urgent=(-1, "ZZZZ-ZZZZ"),
    report=str(uuid.uuid4()),
)
# The workers, by chat id: each organisation's main ticket (with a photo), one offered to
# the other organisation and waiting for its answer (the worker blocked the bot, so its
# acknowledgement is undelivered), one referred to the other, which accepted it, one in
# remediation and one whose worker validated the fix.
CHATS = {
    "A": 7349100001,
    "A2": 7349100002,
    "A3": 7349100005,
    "A4": 7349100007,
    "A5": 7349100008,
    "B": 7349100003,
    "B2": 7349100004,
    "B3": 7349100006,
    "B4": 7349100009,
    "B5": 7349100010,
}
BLOCKED = (CHATS["A2"], CHATS["B"])
WITH_PHOTO = ("A", "A3", "B", "B3")
RECORDED = ("A", "B", "A3", "B3")  # tickets with an agreed action and money owed
URGENT = ("A3", "B3", "A4", "B4")  # flagged for forced labour, an incident report kept
SAYS = {"A": "အလုပ်ရှင်က လစာ မပေးဘူး", "B": "นายจ้างไม่จ่ายค่าแรง"}


@dataclass
class World:
    desk: Desk
    mark: str  # in every name this test gives, so nothing here is found by chance
    organisations: dict[str, int]  # "A", "B" -> id
    users: dict[str, int]  # role -> id (caseworker_b: B's caseworker)
    tokens: dict[str, str] = field(default_factory=dict)
    tickets: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (id, ref)
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)  # organisation -> its things
    away: dict[str, Target] = field(default_factory=dict)  # organisation -> what it referred
    envelopes: dict[str, str] = field(default_factory=dict)  # role -> the call they logged
    # Viewer ("A", "B", or "nobody" for partners and strangers) -> what they must never see.
    secret: dict[str, dict[str, str]] = field(default_factory=dict)
    refs: dict[str, dict[str, str]] = field(default_factory=dict)
    offered: dict[str, str] = field(default_factory=dict)  # organisation -> ref offered to it
    employer: int = 0  # linked to both main tickets
    agency: int = 0
    brand: int = 0
    rule: int = 0
    category: int = 0
    colleague: int = 0  # A's caseworker, to assign tickets to
    reports: dict[str, str] = field(default_factory=dict)  # key -> its incident report
    saved: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def organisation_of(self, role: str) -> str:
        return "B" if role == "caseworker_b" else "A"

    def viewer(self, role: str) -> str:
        return "nobody" if role in ("partner", "anonymous") else self.organisation_of(role)


def _execute(desk: Desk, *statements: tuple[str, Any]) -> None:
    with desk.rt.session() as session:
        for statement, params in statements:
            if params != []:
                session.execute(text(statement), params)
        session.commit()


def _first(desk: Desk, statement: str, **params: Any) -> tuple[Any, ...]:
    rows = desk.sql(statement, **params)
    assert rows, (statement, params)
    return tuple(rows[0])


def _people(desk: Desk, mark: str) -> World:
    """Two organisations, a user of every role in A and a caseworker in B, with API tokens."""
    names = {"A": f"Mae Sot Migrant Centre {mark}", "B": f"Penang Workers Union {mark}"}
    organisations = {"A": desk.organisation(names["A"], ["my"])}
    organisations["B"] = desk.organisation(names["B"], ["th"])
    world = World(desk=desk, mark=mark, organisations=organisations, users={})
    with desk.rt.session() as session:
        for role in ASKED:
            if role == "anonymous":
                continue
            kind = MIRRORED.get(role, role)
            name = names[world.organisation_of(role)]
            user = create_user(session, f"{role}@{mark}.example", name, kind, PASSWORD)
            world.tokens[role] = issue_token(session, user)
            world.users[role] = user.id
        session.commit()
    world.colleague = world.users["caseworker"]
    return world


def _workers_write(world: World, stub: TelegramStub) -> dict[str, str]:
    """Every worker writes in (and some send a photo); answer their words by ticket key."""
    desk, words = world.desk, {key: f"{key}-words-{world.mark}" for key in CHATS}
    stub.blocked |= set(BLOCKED)
    for key, chat in CHATS.items():
        update = telegram_update(chat, f"{SAYS[key[0]]} {words[key]}")
        assert desk.post_update(update).status_code == 200
        if key in WITH_PHOTO:
            stub.files[f"photo{chat}"] = f"photo of {key} {world.mark}".encode()
            size = {"file_id": f"photo{chat}", "file_unique_id": key, "width": 90, "height": 90}
            picture = telegram_update(chat, None, extra={"photo": [size]})
            assert desk.post_update(picture).status_code == 200
    desk.work()
    for key, chat in CHATS.items():
        pseudonym = pseudonym_for(desk.rt.keys.pepper, "telegram", str(chat))
        ticket_id, ref, organisation_id = _first(
            desk,
            "SELECT t.id, t.ref, t.organisation_id FROM tickets t "
            "JOIN workers w ON w.id = t.worker_id WHERE w.pseudonym = :p",
            p=pseudonym,
        )
        assert organisation_id == world.organisations[key[0]], f"{key} went to the wrong queue"
        world.tickets[key] = (ticket_id, ref)
    return words


def _casework(world: World, notes_by_key: dict[str, str]) -> dict[str, str]:
    """Notes on every ticket, referrals across, businesses, a routing rule; their ids."""
    ring, organisations = world.desk.rt.keys.content, world.organisations
    with world.desk.rt.session() as session:
        user = {role: session.get_one(User, user_id) for role, user_id in world.users.items()}
        ticket = {key: session.get_one(Ticket, t[0]) for key, t in world.tickets.items()}
        caseworker = {"A": user["caseworker"], "B": user["caseworker_b"]}
        for key, said in notes_by_key.items():
            notes.add_note(session, ring, caseworker[key[0]], ticket[key], said)
        referred = {}
        for key in ("A2", "B2", "A3", "B3"):
            to = "B" if key[0] == "A" else "A"
            referred[key] = referral.refer(
                session,
                ring,
                caseworker[key[0]],
                ticket[key],
                organisations[to],
                "chat",
                f"{key}-reason-{world.mark}",
            )
        admin = user["admin"]
        employer = businesses.add_business(
            session, admin, f"Employer {world.mark}", "supplier", "TH", ""
        )
        agency = businesses.add_business(session, admin, f"Agency {world.mark}", "agency", "MM", "")
        brand = businesses.add_business(session, admin, f"Brand {world.mark}", "brand", "US", "")
        triage.link_business(session, caseworker["A"], ticket["A"], employer.id)
        triage.link_business(session, caseworker["B"], ticket["B"], employer.id)
        rule = routing.add_rule(session, admin, organisations["A"], language="km")
        category = session.scalars(
            select(Category).where(Category.active).order_by(Category.position.desc())
        ).first()
        assert category is not None, "the taxonomy is seeded by the migrations"
        session.commit()
        ids = {key: str(r.public_id) for key, r in referred.items()}
        world.employer, world.agency, world.brand = employer.id, agency.id, brand.id
        world.rule, world.category = rule.id, category.id
    # The other organisation accepts the third tickets: they move to its queue.
    with world.desk.rt.session() as session:
        for key, receiver in (("A3", "caseworker_b"), ("B3", "caseworker")):
            answering = session.get_one(User, world.users[receiver])
            referral.decide(session, answering, uuid.UUID(ids[key]), accept=True)
        session.commit()
    return ids


def _remediation(world: World) -> dict[str, tuple[str, str]]:
    """The business's answers, recorded by the organisation whose queue holds the ticket: an
    action agreed and money owed on each main ticket and on each referred away (by the
    organisation that took it); the fourth tickets in remediation, the fifth validated by
    their worker on the phone. Answer each ticket's action and repayment by ticket key."""
    ring, today = world.desk.rt.keys.content, dt.datetime.now(dt.UTC).date()
    recorded: dict[str, tuple[str, str]] = {}
    with world.desk.rt.session() as session:
        caseworker = {
            world.organisations["A"]: session.get_one(User, world.users["caseworker"]),
            world.organisations["B"]: session.get_one(User, world.users["caseworker_b"]),
        }
        ticket = {key: session.get_one(Ticket, t[0]) for key, t in world.tickets.items()}
        for key in RECORDED:
            by = caseworker[ticket[key].organisation_id]
            words = f"{key}-action-{world.mark}"  # sealed, and shown only on its ticket
            action = remediation.add_action(
                session, ring, by, ticket[key], words, "The employer", today
            )
            owed = remediation.add_repayment(
                session,
                by,
                ticket[key],
                kind="wages",
                currency="THB",
                owed_minor=1_250_000,
                workers_affected=3,
                workers_eligible=3,
            )
            recorded[key] = (str(action.id), str(owed.public_id))
        for key in ("A4", "B4", "A5", "B5"):
            by = caseworker[ticket[key].organisation_id]
            for status in ("triaged", "in_remediation"):
                triage.change_status(session, by, ticket[key], status)
            if key.endswith("5"):
                validation.record_by_phone(session, by, ticket[key], "fixed", 5)
        session.commit()
        assert {ticket[key].status for key in ("A5", "B5")} == {"validated"}
    return recorded


def _incident_reports(world: World) -> None:
    """The URGENT tickets flagged for forced labour, each with a report kept (not sent) by the
    organisation whose queue holds it."""
    ring = world.desk.rt.keys.content
    with world.desk.rt.session() as session:
        for key in URGENT:
            ticket = session.get_one(Ticket, world.tickets[key][0])
            ours = ticket.organisation_id == world.organisations["A"]
            user = session.get_one(User, world.users["caseworker" if ours else "caseworker_b"])
            triage.set_urgent(session, user, ticket, True)
            words = f"{key}-report-{world.mark}"  # sealed, and shown only on its ticket
            world.reports[key] = str(incidents.add_report(session, ring, user, ticket, words).id)
        session.commit()


def _sign_everyone_in(world: World) -> None:
    """A browser per role, signed in with password and code; a CSRF token from its pages."""
    totp_secrets: dict[str, str] = {}
    for role in ASKED:
        client = world.desk.app.test_client()
        if role == "anonymous":
            page = client.get("/login")
        else:
            signin.sign_in(client, f"{role}@{world.mark}.example", PASSWORD, totp_secrets)
            page = client.get("/account/password")
        assert page.status_code == 200, f"{role} could not sign in"
        world.clients[role], world.csrf[role] = client, signin.csrf_token(page.text)


def _calls_logged(world: World) -> dict[int, str]:
    """Everyone who may log calls logs one, and a worker files it; answer ticket -> summary."""
    summaries: dict[int, str] = {}
    said = {role: f"{role}-call-{world.mark}" for role in ASKED if role in world.users}
    for role in ("supervisor", "caseworker", "hotline", "caseworker_b"):
        form = {
            "submission": uuid.uuid4().hex,
            "anonymous": "1",
            "summary": said[role],
            "language": "th" if role == "caseworker_b" else "my",
            "minutes": "3",
        }
        logged = world.clients[role].post("/calls", data={"csrf_token": world.csrf[role], **form})
        assert logged.status_code == 303, f"{role} could not log a call"
        world.envelopes[role] = logged.headers["Location"].rsplit("/", 1)[1]
    world.desk.work()
    for role, envelope in world.envelopes.items():
        ticket_id = _first(
            world.desk, "SELECT ticket_id FROM messages WHERE envelope_id = :e", e=envelope
        )[0]
        summaries[ticket_id] = said[role]
    return summaries


def _targets(
    world: World,
    words: dict[str, str],
    notes_by_key: dict[str, str],
    referrals: dict[str, str],
    recorded: dict[str, tuple[str, str]],
) -> None:
    desk, tickets = world.desk, world.tickets

    def attachment(key: str) -> str:
        return str(
            _first(
                desk,
                "SELECT a.id FROM attachments a JOIN messages m "
                "ON m.id = a.message_id WHERE m.ticket_id = :t",
                t=tickets[key][0],
            )[0]
        )

    def dead_letter(key: str) -> str:
        return str(
            _first(
                desk,
                "SELECT id FROM messages WHERE ticket_id = :t AND "
                "delivery_status = 'failed' ORDER BY created_at",
                t=tickets[key][0],
            )[0]
        )

    def things(key: str) -> dict[str, Any]:
        return {
            "ticket": tickets[key][0],
            "ref": tickets[key][1],
            "text": words[key],
            "note": notes_by_key[key],
            "attachment": attachment(key),
            "file": f"photo of {key} {world.mark}".encode(),
            "action": recorded[key][0],
            "repayment": recorded[key][1],
        }

    world.targets = {
        "A": Target(
            **things("A"),
            referral=referrals["B2"],
            referral_ref=tickets["B2"][1],
            dead_letter=dead_letter("A2"),
            dead_letter_ref=tickets["A2"][1],
            envelope=world.envelopes["hotline"],
            remediating=tickets["A4"],
            validated=tickets["A5"],
            urgent=tickets["A4"],
            report=world.reports["A4"],
        ),
        "B": Target(
            **things("B"),
            referral=referrals["A2"],
            referral_ref=tickets["A2"][1],
            dead_letter=dead_letter("B"),
            dead_letter_ref=tickets["B"][1],
            envelope=world.envelopes["caseworker_b"],
            remediating=tickets["B4"],
            validated=tickets["B5"],
            urgent=tickets["B4"],
            report=world.reports["B4"],
        ),
    }
    # A ticket referred away stands for itself in every state: nothing on it changes.
    world.away = {
        organisation: dataclasses.replace(
            world.targets[organisation],
            **things(f"{organisation}3"),
            remediating=tickets[f"{organisation}3"],
            validated=tickets[f"{organisation}3"],
            urgent=tickets[f"{organisation}3"],
            report=world.reports[f"{organisation}3"],
        )
        for organisation in ("A", "B")
    }
    world.offered = {"A": tickets["B2"][1], "B": tickets["A2"][1]}


def _never_seen(
    world: World, words: dict[str, str], notes_by_key: dict[str, str], said: dict[int, str]
) -> None:
    """What each viewer must never see: of every ticket it may not open, its words, call
    summary, pseudonym and reference. An organisation opens its own tickets and those it
    referred away; a partner or a stranger, none. Notes stay with the organisation that
    wrote them, even when the ticket moves (README: a referral hands over the case, not
    what the referring organisation's staff wrote among themselves)."""
    desk = world.desk
    opens: dict[str, set[int]] = {"A": set(), "B": set(), "nobody": set()}
    for ticket_id, organisation_id in desk.sql("SELECT id, organisation_id FROM tickets"):
        owner = "A" if organisation_id == world.organisations["A"] else "B"
        opens[owner].add(ticket_id)
    for ticket_id, organisation_id in desk.sql(
        "SELECT ticket_id, from_organisation_id FROM referrals WHERE status = 'accepted'"
    ):
        opens["A" if organisation_id == world.organisations["A"] else "B"].add(ticket_id)
    secrets = {
        ticket_id: {words[key]: f"{key}'s message"} for key, (ticket_id, _) in world.tickets.items()
    }
    for ticket_id, summary in said.items():
        secrets[ticket_id] = {summary: f"a logged call ({summary})"}
    for key in RECORDED:
        secrets[world.tickets[key][0]][f"{key}-action-{world.mark}"] = f"{key}'s agreed action"
    for key in URGENT:
        secrets[world.tickets[key][0]][f"{key}-report-{world.mark}"] = f"{key}'s incident report"
    rows = desk.sql(
        "SELECT t.id, t.ref, w.pseudonym FROM tickets t JOIN workers w ON w.id = t.worker_id"
    )
    for viewer in ("A", "B", "nobody"):
        world.secret[viewer] = {
            note: f"{key}'s note, written by {key[0]}"
            for key, note in notes_by_key.items()
            if key[0] != viewer
        }
        world.refs[viewer] = {}
        for ticket_id, ref, pseudonym in rows:
            if ticket_id in opens[viewer]:
                continue
            world.secret[viewer] |= secrets.get(ticket_id, {})
            world.secret[viewer][pseudonym] = f"the pseudonym of {ref}'s worker"
            world.refs[viewer][ref] = f"the ticket {ref}"


def build_world(desk: Desk, stub: TelegramStub) -> World:
    world = _people(desk, uuid.uuid4().hex[:8])
    words = _workers_write(world, stub)
    notes_by_key = {key: f"{key}-note-{world.mark}" for key in CHATS}
    referrals = _casework(world, notes_by_key)
    recorded = _remediation(world)
    _incident_reports(world)
    _sign_everyone_in(world)
    said = _calls_logged(world)
    _targets(world, words, notes_by_key, referrals, recorded)
    _never_seen(world, words, notes_by_key, said)
    world.saved = {
        "tickets": [
            dict(row._mapping)
            for row in desk.sql(
                "SELECT id, organisation_id, status, assignee_id, urgent, urgent_since, "
                "person_requested_at, closed_at, closed_as, closed_by, close_reason_sealed, "
                "validation_status FROM tickets"
            )
        ],
        "referrals": [
            dict(row._mapping)
            for row in desk.sql("SELECT id, status, decided_by, decided_at FROM referrals")
        ],
        "links": [dict(row._mapping) for row in desk.sql("SELECT * FROM ticket_businesses")],
        "dead_letters": [
            dict(row._mapping)
            for row in desk.sql(
                "SELECT id, delivery_status, attempts, failure_reason, next_attempt_at "
                "FROM messages WHERE id = ANY(:ids)",
                ids=[uuid.UUID(t.dead_letter) for t in world.targets.values()],
            )
        ],
        "rule": [dict(row._mapping) for row in desk.sql("SELECT * FROM routing_rules")],
        "actions": [
            dict(row._mapping) for row in desk.sql("SELECT id, done_on FROM remediation_actions")
        ],
        "repayments": [
            dict(row._mapping)
            for row in desk.sql(
                "SELECT id, repaid_minor, workers_repaid, validation_id FROM repayments"
            )
        ],
        "validations": [
            dict(row._mapping)
            for row in desk.sql("SELECT id, status, awaiting, next_due_at FROM validations")
        ],
        "workers": [
            dict(row._mapping)
            for row in desk.sql(
                "SELECT id, awaiting, gender, nationality, profile_consent_at FROM workers"
            )
        ],
        "incident_reports": [
            dict(row._mapping) for row in desk.sql("SELECT id FROM incident_reports")
        ],
    }
    return world


def put_back(world: World) -> None:
    """Undo whatever the last request changed that a later one depends on."""
    saved = world.saved
    _execute(
        world.desk,
        (
            "UPDATE tickets SET organisation_id = :organisation_id, status = :status, "
            "assignee_id = :assignee_id, urgent = :urgent, urgent_since = :urgent_since, "
            "person_requested_at = :person_requested_at, closed_at = :closed_at, "
            "closed_as = :closed_as, closed_by = :closed_by, "
            "close_reason_sealed = :close_reason_sealed, validation_status = :validation_status "
            "WHERE id = :id",
            saved["tickets"],
        ),
        (
            "DELETE FROM referrals WHERE NOT (id = ANY(:ids))",
            {"ids": [r["id"] for r in saved["referrals"]]},
        ),
        (
            "UPDATE referrals SET status = :status, decided_by = :decided_by, "
            "decided_at = :decided_at WHERE id = :id",
            saved["referrals"],
        ),
        ("DELETE FROM ticket_businesses", {}),
        (
            "INSERT INTO ticket_businesses (ticket_id, business_id) "
            "VALUES (:ticket_id, :business_id)",
            saved["links"],
        ),
        ("DELETE FROM supply_links WHERE brand_id = :brand", {"brand": world.brand}),
        ("UPDATE categories SET active = true WHERE id = :category", {"category": world.category}),
        (
            "UPDATE messages SET delivery_status = :delivery_status, attempts = :attempts, "
            "failure_reason = :failure_reason, next_attempt_at = :next_attempt_at WHERE id = :id",
            saved["dead_letters"],
        ),
        (
            "INSERT INTO routing_rules (id, position, language, country, channel, category_id, "
            "business_id, organisation_id, created_at) VALUES (:id, :position, :language, "
            ":country, :channel, :category_id, :business_id, :organisation_id, :created_at) "
            "ON CONFLICT (id) DO NOTHING",
            saved["rule"],
        ),
        # The world records no timeline; asking the worker withdraws their open requests,
        # covers the repayments and clears what the bot waits for in the worker's chat.
        ("DELETE FROM remediations", {}),
        (
            "DELETE FROM remediation_actions WHERE NOT (id = ANY(:ids))",
            {"ids": [a["id"] for a in saved["actions"]]},
        ),
        ("UPDATE remediation_actions SET done_on = :done_on WHERE id = :id", saved["actions"]),
        (
            "DELETE FROM validations WHERE NOT (id = ANY(:ids))",
            {"ids": [v["id"] for v in saved["validations"]]},
        ),
        (
            "UPDATE validations SET status = :status, awaiting = :awaiting, "
            "next_due_at = :next_due_at WHERE id = :id",
            saved["validations"],
        ),
        (
            "DELETE FROM repayments WHERE NOT (id = ANY(:ids))",
            {"ids": [r["id"] for r in saved["repayments"]]},
        ),
        (
            "UPDATE repayments SET repaid_minor = :repaid_minor, workers_repaid = "
            ":workers_repaid, validation_id = :validation_id WHERE id = :id",
            saved["repayments"],
        ),
        # Scores and the worker's profile: the world records none.
        ("DELETE FROM ethical_scores", {}),
        (
            "UPDATE workers SET awaiting = :awaiting, gender = :gender, "
            "nationality = :nationality, profile_consent_at = :profile_consent_at WHERE id = :id",
            saved["workers"],
        ),
        (
            "DELETE FROM incident_reports WHERE NOT (id = ANY(:ids))",
            {"ids": [r["id"] for r in saved["incident_reports"]]},
        ),
        ("UPDATE incident_reports SET sent_at = NULL, sent_by = NULL", {}),
    )


@pytest.fixture
def world(settings: Settings, telegram_stub: TelegramStub) -> Iterator[World]:
    with open_desk(settings.with_changes(simulator_enabled=True)) as desk:
        built = build_world(desk, telegram_stub)
        yield built
        # Businesses and categories outlive the per-test truncation: take ours away.
        _execute(
            desk,
            ("DELETE FROM ticket_businesses", {}),
            ("DELETE FROM ethical_scores", {}),
            ("DELETE FROM routing_rules", {}),
            ("DELETE FROM businesses WHERE name LIKE :like", {"like": f"% {built.mark}%"}),
            ("DELETE FROM categories WHERE code LIKE :like", {"like": f"m{built.mark}%"}),
        )


# --- asking, and judging the answer ---------------------------------------------------------


def target_for(world: World, role: str, target: str) -> Target:
    mine = world.organisation_of(role)
    theirs = "B" if mine == "A" else "A"
    if target == "other":
        return world.targets[theirs]
    if target == "away":
        return world.away[mine]
    own = world.targets[mine]
    if role in world.envelopes:
        own = dataclasses.replace(own, envelope=world.envelopes[role])
    if target == "swap":  # one's own ticket, the other organisation's file
        other = world.targets[theirs]
        return dataclasses.replace(own, attachment=other.attachment, file=other.file)
    return own


def context_of(world: World, role: str, target: Target) -> dict[str, Any]:
    mine = world.organisation_of(role)
    return {
        "t": target,
        "w": world,
        "fresh": uuid.uuid4().hex,
        "elsewhere": world.organisations["B" if mine == "A" else "A"],
        "home": world.organisations[mine],
        "today": dt.datetime.now(dt.UTC).date().isoformat(),
    }


def named_in(world: World, role: str, row: Row, target: Target) -> str:
    """What the user names in the request (an answer may repeat it without showing anything)."""
    context = context_of(world, role, target)
    form = [value.format(**context) for value in (row.request.form or {}).values()]
    return " ".join([row.path.format(**context), *form])


def ask(world: World, role: str, row: Row, target: Target) -> TestResponse:
    """Send the request; the answer is read whole and closed (a static file holds a handle)."""
    answer = _send(world, role, row, target)
    answer.get_data()
    answer.close()
    return answer


def _send(world: World, role: str, row: Row, target: Target) -> TestResponse:
    context = context_of(world, role, target)
    path = row.path.format(**context)
    request = row.request
    if path.startswith("/api/"):
        client = world.desk.client  # no console session: the token alone decides
        headers = {"Authorization": f"Bearer {world.tokens[role]}"} if role in world.tokens else {}
        if row.method == "GET":
            return client.get(path, headers=headers)
        return client.post(path, json=request.json, headers=headers)
    client = world.clients[role]
    if row.method == "GET":
        return client.get(path)
    form = {name: value.format(**context) for name, value in (request.form or {}).items()}
    return client.post(path, data={"csrf_token": world.csrf[role], **form})


def effect_of(world: World, role: str, row: Row, target: Target) -> Any:
    if row.request.effect is None:
        return None
    user = world.users.get(role, -1)
    return world.desk.sql(
        row.request.effect,
        ticket=target.ticket,
        referral=target.referral,
        dead_letter=uuid.UUID(target.dead_letter),
        user=user,
        actor=f"user:{user}",
        target=f"ticket:{target.ref}",
        category=world.category,
        brand=world.brand,
    )[0][0]


def status_problem(cell: str, answer: TestResponse) -> str | None:
    status = answer.status_code
    if cell == "login":
        where = urlsplit(answer.headers.get("Location", "")).path
        if status == 302 and where == "/login":
            return None
        return f"expected a redirect to /login, got {status} {where}".rstrip()
    if cell == "no":
        return None if status in (403, 404) else f"expected 403 or 404, got {status}"
    return None if status == int(cell) else f"expected {cell}, got {status}"


def body_of(answer: TestResponse) -> str:
    return answer.get_data().decode("utf-8", "replace") + " " + answer.headers.get("Location", "")


def leaks(world: World, role: str, row: Row, target: Target, answer: TestResponse) -> list[str]:
    """What this answer shows that this user must never see (and did not name)."""
    body = body_of(answer)
    named = named_in(world, role, row, target)
    viewer = world.viewer(role)
    never = [world.secret[viewer]]
    if role not in row.request.refs_seen_by:
        refs = dict(world.refs[viewer])
        if row.request.offered_seen and viewer in world.offered:
            refs.pop(world.offered[viewer])
        never.append(refs)
    return [
        f"shows {label} ({value})"
        for found in never
        for value, label in found.items()
        if value in body and value not in named
    ]


def shown(row: Row, target: Target, answer: TestResponse) -> list[str]:
    """What success on one's own target must show, and does not."""
    body = body_of(answer)
    wanted = {
        "ref": target.ref,
        "text": target.text,
        "note": target.note,
        "referral": target.referral_ref,
        "dead_letter": target.dead_letter_ref,
    }
    missing = [
        f"does not show its {kind}"
        for kind in row.request.shows
        if kind != "file" and wanted[kind] not in body
    ]
    if "file" in row.request.shows and answer.get_data() != target.file:
        missing.append("does not answer the file")
    return missing


def unlike_missing(
    world: World, role: str, row: Row, target_name: str, target: Target, answer: TestResponse
) -> str:
    """How this 404 differs from the one for something that does not exist ('' if not)."""
    if target_name == "swap":  # one's own ticket, a file that does not exist
        missing = dataclasses.replace(target, attachment=MISSING.attachment)
    else:
        missing = MISSING
    nothing = ask(world, role, row, missing)
    if row.method == "POST":
        put_back(world)
    body = body_of(answer)
    for name in ("ref", "attachment", "dead_letter", "envelope"):
        body = body.replace(getattr(target, name), getattr(missing, name))
    if (nothing.status_code, body_of(nothing)) != (answer.status_code, body):
        return f"differs from asking for one that does not exist ({nothing.status_code})"
    return ""


def in_state(target: Target, state: str) -> Target:
    """The target with its ticket in this state (see Request.state) as the one asked for."""
    if not state:
        return target
    ticket, ref = getattr(target, state)
    return dataclasses.replace(target, ticket=ticket, ref=ref)


def judge(world: World, role: str, row: Row, target_name: str) -> list[str]:
    target = in_state(target_for(world, role, target_name), row.request.state)
    cell = row.expected(role, target_name)
    before = effect_of(world, role, row, target)
    answer = ask(world, role, row, target)
    after = effect_of(world, role, row, target)
    if row.method == "POST":
        put_back(world)
    problems = [status_problem(cell, answer)]
    succeeded = cell not in REFUSED
    if row.request.effect and succeeded and after == before:
        problems.append(f"succeeded but changed nothing ({row.request.effect})")
    if row.request.effect and not succeeded and after != before:
        problems.append(f"refused but changed {before!r} to {after!r} ({row.request.effect})")
    problems += leaks(world, role, row, target, answer)
    if succeeded and target_name in ("own", "away"):
        problems += shown(row, target, answer)
    if cell == "404" and target_name != "own" and answer.status_code == 404:
        problems.append(unlike_missing(world, role, row, target_name, target, answer))
    return [p for p in problems if p]


def test_every_route_has_an_expectation_for_every_role(desk: Desk) -> None:
    routes = {
        f"{method} {bare_rule(rule.rule)}"
        for rule in desk.app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    listed = [row.route for row in MATRIX]
    assert len(listed) == len(set(listed)), "a route is listed twice"
    assert routes - set(listed) - set(NOT_WALKED) == set(), "routes without an expectation"
    assert set(listed) | set(NOT_WALKED) <= routes, "expectations for routes that are gone"
    assert set(REQUESTS) <= set(listed), "how to ask routes that have no expectation"
    naming_tickets = {row.route for row in MATRIX if row.names_a_ticket}
    assert naming_tickets == set(AWAY), "routes naming a ticket need a row for one referred away"
    assert MATRIX[-1].route == "POST /logout", "signing out must be asked last"


# Rows URLs may name by a sequential id: configuration an admin keeps, which tells
# nothing of any worker or case (the directory's businesses, routing rules, categories).
SEQUENTIAL_IDS_ALLOWED = {"<business_id>", "<rule_id>", "<category_id>"}


def test_no_url_names_a_case_or_anything_of_it_by_a_guessable_id(desk: Desk) -> None:
    """Tickets go by a random reference (8 of 31 characters), everything on them and
    every referral or undelivered message by a random UUID: a next id to try would
    tell how many there are and invite trying it."""
    sequential = {
        f"{rule.rule}: <{name}>"
        for rule in desk.app.url_map.iter_rules()
        for name, converter in rule._converters.items()
        if type(converter).__name__ == "IntegerConverter"
        and f"<{name}>" not in SEQUENTIAL_IDS_ALLOWED
    }
    assert sequential == set()
    assert {f"<{name}>" for rule in desk.app.url_map.iter_rules() for name in rule.arguments} >= (
        SEQUENTIAL_IDS_ALLOWED
    ), "an allowed sequential id no route names any more"


def test_each_role_reaches_only_what_its_role_allows_and_sees_nothing_of_others(
    world: World, subtests: pytest.Subtests
) -> None:
    for role in ASKED:
        for row in MATRIX:
            for target in row.targets:
                with subtests.test(msg=f"{role} {row.route} [{target}]"):
                    problems = judge(world, role, row, target)
                    assert not problems, "\n".join(problems)
