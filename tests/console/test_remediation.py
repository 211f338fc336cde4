"""Remediation and worker validation in the console, on the embedded default.

A caseworker records the business response and the money owed, asks the worker (the
simulator) whether the fix happened, and the ticket closes only on the worker's word;
a supervisor alone closes an unanswered one, with a reason.
"""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import select

from intake.models import AuditEntry, RemediationAction, Repayment
from translations import prompts
from workers import jobs

from support.console_flows import in_remediation, post, ticket_row

SUPERVISOR = "supervisor@demo.local"


def _ask(console, ref: str, summary: str = "จ่ายค่าจ้างที่ค้างครบแล้ว") -> str:
    page = post(console, f"/tickets/{ref}/validation", ref, summary=summary)
    console.app.extensions["voicedesk"]["dispatcher"].drain()  # the prompt is sent
    return page


def test_worker_confirms_in_thai_digits_and_only_then_the_ticket_closes(console) -> None:
    ref = in_remediation(console)
    page = post(console, f"/tickets/{ref}/close", ref)
    assert ticket_row(console, ref).status == "in_remediation"  # not validated: refused
    assert "A ticket closes only once the worker has confirmed the fix" in page

    _ask(console, ref)
    chat = console.chat(console.client.get("/simulator").text)
    direction, prompt = chat[-1]
    assert direction == "out"
    assert prompt.startswith(
        prompts.validation_question("th", ref, "จ่ายค่าจ้างที่ค้างครบแล้ว").split("\n")[0]
    )
    for number, label in enumerate(prompts.validation_options("th"), start=1):
        assert f"{number}. {label}" in prompt
    assert ticket_row(console, ref).status == "awaiting_validation"

    answered = console.chat(html.unescape(console.say("๑").text))
    assert answered[-1][1].startswith(prompts.satisfaction_question("th"))
    ticket = ticket_row(console, ref)
    assert (ticket.status, ticket.validation_status) == ("validated", "validated")
    thanks = console.chat(html.unescape(console.say("๔").text))[-1][1]
    assert thanks == prompts.validation_thanks("th", True, ref)

    page = html.unescape(console.client.get(f"/tickets/{ref}").text)
    assert "confirmed by the worker" in page
    assert "4 / 5" in page  # satisfaction
    page = post(console, f"/tickets/{ref}/close", ref)
    closed = ticket_row(console, ref)
    assert (closed.status, closed.closed_as) == ("closed", "validated")
    assert "Closed: confirmed by the worker." in page


def test_not_fixed_sends_the_ticket_back_to_remediation_with_the_workers_words(
    console,
) -> None:
    ref = in_remediation(console)
    _ask(console, ref)
    console.say("ยังไม่ได้เงินเลย")  # free text: kept, asked once more
    again = console.chat(html.unescape(console.client.get("/simulator").text))[-1][1]
    assert again.startswith(prompts.validation_again("th"))
    console.say("3")
    ticket = ticket_row(console, ref)
    assert (ticket.status, ticket.validation_status) == ("in_remediation", "disputed")
    page = html.unescape(console.client.get(f"/tickets/{ref}").text)
    assert "disputed by the worker" in page
    words = page.split("The worker's words since we asked")[1]
    assert "ยังไม่ได้เงินเลย" in words
    post(console, f"/tickets/{ref}/close", ref)
    assert ticket_row(console, ref).status == "in_remediation"
    # The queue flags the dispute.
    queue = html.unescape(console.client.get("/tickets").text)
    assert re.search(rf"{ref}</a></td>\s*<td>In remediation <span class=\"badge", queue)


def test_repayment_the_worker_disputes_is_shown_and_not_counted_as_repaid(console) -> None:
    ref = in_remediation(console)
    post(
        console,
        f"/tickets/{ref}/remediation/repayments",
        ref,
        kind="recruitment_fees",
        currency="thb",
        owed="12,000.50",
        repaid="12000.50",
        workers_affected="3",
        workers_eligible="2",
        workers_repaid="2",
    )
    with console.session() as session:
        repayment = session.scalars(select(Repayment)).one()
        assert (repayment.currency, repayment.owed_minor, repayment.repaid_minor) == (
            "THB",
            1200050,
            1200050,
        )
    page = html.unescape(console.client.get(f"/tickets/{ref}").text)
    assert "reported by the business" in page
    _ask(console, ref, "คืนค่าหัวครบแล้ว")
    console.say("ไม่")  # "no" is not one of the four answers: asked again
    console.say("2")  # partly fixed
    page = html.unescape(console.client.get(f"/tickets/{ref}").text)
    assert "disputed by the worker: not counted" in page
    assert "disputed: THB12,000.50" in page
    assert "<td>THB12,000.50</td><td>THB0.00</td>" in page  # total: owed, repaid

    # Asking again does not count it as repaid before the worker answers.
    _ask(console, ref, "คืนค่าหัวครบแล้วจริง ๆ")
    page = html.unescape(console.client.get(f"/tickets/{ref}").text)
    assert "disputed by the worker: not counted" in page
    # The business repays again: reported, then confirmed by the worker's answer.
    with console.session() as session:
        repayment_id = session.scalars(select(Repayment.public_id)).one()
    page = post(
        console,
        f"/tickets/{ref}/remediation/repayments/{repayment_id}",
        ref,
        repaid="12000.50",
        workers_repaid="2",
    )
    assert "reported by the business" in page
    _ask(console, ref, "คืนค่าหัวครบแล้วจริง ๆ")
    console.say("1")
    page = html.unescape(console.client.get(f"/tickets/{ref}").text)
    assert "<td>confirmed by the worker</td>" in page
    assert "<td>THB12,000.50</td><td>THB12,000.50</td>" in page


def test_bad_amounts_and_dates_are_refused_with_a_message_and_store_nothing(console) -> None:
    ref = in_remediation(console)
    page = post(
        console,
        f"/tickets/{ref}/remediation/repayments",
        ref,
        kind="wages",
        currency="THB",
        owed="twelve",
    )
    assert "An amount is a number" in page
    page = post(
        console,
        f"/tickets/{ref}/remediation/repayments",
        ref,
        kind="wages",
        currency="XYZ1",
        owed="10",
    )
    assert "three-letter code" in page
    assert console.count(Repayment) == 0
    future = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    page = post(console, f"/tickets/{ref}/remediation/timeline", ref, first_response_on=future)
    assert "cannot be in the future" in page


def test_timeline_and_actions_are_recorded_and_shown(console) -> None:
    ref = in_remediation(console)
    today = dt.date.today().isoformat()
    post(console, f"/tickets/{ref}/remediation/timeline", ref, first_response_on=today)
    page = post(
        console,
        f"/tickets/{ref}/remediation/actions",
        ref,
        text="Return passports to all 12 workers",
        owner="Factory HR manager",
        due_on=today,
    )
    assert "Return passports to all 12 workers" in page
    assert "Factory HR manager" in page
    assert 'name="first_response_on" value="' + today in page
    with console.session() as session:
        actions = [
            e.action
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            if e.action.startswith("remediation.")
        ]
    assert actions == ["remediation.timeline", "remediation.action_added"]


def test_only_a_supervisor_closes_an_unanswered_ticket_and_must_say_why(console) -> None:
    ref = in_remediation(console)
    _ask(console, ref)
    asked_at = ticket_row(console, ref).updated_at
    with console.app.app_context():
        jobs.validation_rounds(now=(asked_at + dt.timedelta(days=15)).isoformat())
    ticket = ticket_row(console, ref)
    assert (ticket.status, ticket.validation_status) == ("awaiting_validation", "unvalidated")
    page = post(console, f"/tickets/{ref}/close", ref, reason="gone home")
    assert "Only a supervisor may close" in page
    assert ticket_row(console, ref).status == "awaiting_validation"

    console.sign_out()
    console.sign_in(SUPERVISOR)
    page = post(console, f"/tickets/{ref}/close", ref)
    assert "Write why you close this ticket" in page
    page = post(console, f"/tickets/{ref}/close", ref, reason="Worker returned to Myanmar")
    closed = ticket_row(console, ref)
    assert (closed.status, closed.closed_as) == ("closed", "unvalidated")
    assert "Worker returned to Myanmar" in page
    audit = html.unescape(
        console.client.get(f"/audit?action=ticket.closed&target=ticket:{ref}").text
    )
    with console.session() as session:
        supervisor_id = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "ticket.closed")
        ).one()
    assert supervisor_id.startswith("user:")
    assert SUPERVISOR in audit  # who
    assert "Reason: Worker returned to Myanmar" in audit  # why
    assert '"closed_as": "unvalidated"' in audit


def test_an_action_or_repayment_of_another_ticket_is_not_found_under_this_one(console) -> None:
    first = in_remediation(console)
    today = dt.date.today().isoformat()
    post(
        console,
        f"/tickets/{first}/remediation/actions",
        first,
        text="Pay wages",
        owner="HR",
        due_on=today,
    )
    post(
        console,
        f"/tickets/{first}/remediation/repayments",
        first,
        kind="wages",
        currency="THB",
        owed="10",
    )
    console.new_worker()
    console.say("ค่าแรงไม่ครบ")
    second = next(ref for ref, _, _ in console.tickets() if ref != first)
    with console.session() as session:
        action_id = session.scalars(select(RemediationAction.id)).one()
        repayment_id = session.scalars(select(Repayment.public_id)).one()
    token = console.csrf_token(console.client.get(f"/tickets/{second}").text)
    for path in (
        f"/tickets/{second}/remediation/actions/{action_id}/done",
        f"/tickets/{second}/remediation/repayments/{repayment_id}",
    ):
        answer = console.client.post(path, data={"csrf_token": token, "repaid": "10"})
        assert answer.status_code == 404, path
    with console.session() as session:
        assert session.get_one(RemediationAction, action_id).done_on is None
        repayment = session.scalars(select(Repayment).where(Repayment.public_id == repayment_id))
        assert repayment.one().repaid_minor == 0
