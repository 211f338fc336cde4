"""Worker validation: ask the worker whether the fix really happened, and hear the answer.

The network's rule: a ticket closes only once the worker confirms, in their own chat
and language, that what the business claims it did was done. A caseworker asks
(`request_validation`); the bot sends the question with four numbered options; the
worker's answer (`take_reply`, from the conversation) moves the ticket on: fixed ->
validated, partly or not fixed -> disputed and back in remediation, talk to a person
-> a flag in the queue. The scheduled rounds (`run_rounds`) send reminders and, at the
deadline, mark a request unvalidated. A hotline caller is validated on a call that
staff record (`record_by_phone`).

Every change writes an audit entry and leaves the commit to the caller.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake import tickets
from intake.db import utcnow
from intake.errors import Conflict, Invalid
from intake.models import (
    Direction,
    Message,
    Repayment,
    Ticket,
    TicketStatus,
    User,
    Validation,
    ValidationAnswer,
    ValidationStatus,
    Worker,
)
from intake.settings import ValidationSchedule as Schedule
from safeguards import audit
from safeguards.access import require
from safeguards.sealing import KeyRing, binding
from translations import prompts
from translations.i18n import N_, UI_LANGUAGES
from translations.words import VALIDATION_WORDS, choice_of, command_of

S = TicketStatus
V = ValidationStatus
A = ValidationAnswer
ANSWERS = tuple(A)  # 1 fixed, 2 partly fixed, 3 not fixed, 4 talk to a person
PURPOSE = "validation"  # outbound messages of a validation: a prompt, with its template
MAX_SUMMARY = 500
# What the bot waits for on an open request.
AWAITING_ANSWER = "answer"
AWAITING_SATISFACTION = "satisfaction"
# A request may be made (again) while the business works and while the worker is asked.
REQUESTABLE = (S.IN_REMEDIATION.value, S.AWAITING_VALIDATION.value)


@dataclass(frozen=True)
class Reply:
    """What the bot answers a worker during validation: text, options, purpose."""

    text: str
    options: tuple[str, ...] = ()
    purpose: str = "reply"


def summary_binding(validation_id: uuid.UUID) -> bytes:
    return binding("validations", "summary_sealed", validation_id)


def summary_of(ring: KeyRing, validation: Validation) -> str:
    if validation.summary_sealed is None:
        return ""
    return ring.open_text(validation.summary_sealed, summary_binding(validation.id))


def latest_of(session: Session, ticket_ids: Sequence[int]) -> dict[int, Validation]:
    """Each ticket's newest validation (one query for a whole page)."""
    if not ticket_ids:
        return {}
    found: dict[int, Validation] = {}
    for validation in session.scalars(
        select(Validation)
        .where(Validation.ticket_id.in_(ticket_ids))
        .order_by(Validation.ticket_id, Validation.requested_at.desc())
    ):
        found.setdefault(validation.ticket_id, validation)
    return found


def latest(session: Session, ticket: Ticket) -> Validation | None:
    return latest_of(session, [ticket.id]).get(ticket.id)


def pending(session: Session, ticket: Ticket) -> Validation | None:
    """The request whose answer the bot waits for on this ticket, if any.

    An answer that comes after the deadline still counts: the worker's word is what
    the method waits for, late or not.
    """
    validation = latest(session, ticket)
    if validation is None or validation.awaiting is None or validation.status == V.WITHDRAWN:
        return None
    return validation


def _set_status(ticket: Ticket, validation: Validation, status: ValidationStatus) -> None:
    validation.status = status.value
    ticket.validation_status = status.value
    ticket.updated_at = utcnow()


def _withdraw_open(session: Session, ticket: Ticket) -> None:
    """A new request or a recorded call takes the place of an unanswered request."""
    if ticket.validation_status is None:
        # Never asked: every request or recorded call sets the ticket's status, so there
        # is nothing to withdraw (a first round to many workers skips two UPDATEs each).
        return
    session.execute(
        update(Validation)
        .where(
            Validation.ticket_id == ticket.id,
            Validation.status.in_([V.REQUESTED.value, V.UNVALIDATED.value]),
        )
        .values(status=V.WITHDRAWN.value, awaiting=None, next_due_at=None)
        .execution_options(synchronize_session="fetch")
    )
    # A satisfaction question still open on an answered request is dropped too.
    session.execute(
        update(Validation)
        .where(Validation.ticket_id == ticket.id, Validation.awaiting.is_not(None))
        .values(awaiting=None)
        .execution_options(synchronize_session="fetch")
    )


def _cover_repayments(session: Session, ticket: Ticket, validation: Validation) -> None:
    """The worker's answer speaks for every repayment as it stood when we asked.

    Until the worker answers, a repayment keeps their previous word: one they disputed
    is not counted as repaid again just because we ask once more. A repayment recorded
    or changed after the question was asked waits for the next one.
    """
    session.execute(
        update(Repayment)
        .where(Repayment.ticket_id == ticket.id, Repayment.updated_at <= validation.requested_at)
        .values(validation_id=validation.id, updated_at=Repayment.updated_at)
        .execution_options(synchronize_session="fetch")
    )


def _check_open(ticket: Ticket) -> None:
    if ticket.status not in REQUESTABLE:
        raise Conflict(
            N_("Ask for validation once the business has acted: the ticket must be in remediation.")
        )


def request_validation(
    session: Session,
    ring: KeyRing,
    user: User,
    ticket: Ticket,
    summary: str,
    schedule: Schedule,
) -> Message:
    """Ask the worker, in their chat and language, whether the fix really happened.

    Returns the queued prompt; the caller enqueues `send_prompt` after commit.
    """
    require(user, "tickets.validate", ticket)
    summary = " ".join(summary.split())
    if not summary or len(summary) > MAX_SUMMARY:
        raise Invalid(N_("Say in 1 to 500 characters what the business did."))
    if ticket.channel == "voice":
        raise Conflict(N_("A hotline caller has no chat: call them and record their answer."))
    _check_open(ticket)
    worker = session.get_one(Worker, ticket.worker_id)
    if worker.erased_at is not None:
        raise Conflict(N_("The worker asked us to erase their data; they cannot be written to."))
    _withdraw_open(session, ticket)
    now = utcnow()
    validation = Validation(
        id=uuid.uuid4(),
        ticket_id=ticket.id,
        status=V.REQUESTED.value,
        method="chat",
        awaiting=AWAITING_ANSWER,
        reminders_sent=0,
        unclear_replies=0,
        requested_by=user.id,
        requested_at=now,
        deadline_at=now + schedule.deadline,
    )
    validation.summary_sealed = ring.seal_text(summary, summary_binding(validation.id))
    validation.next_due_at = schedule.next_due(
        validation.requested_at, validation.reminders_sent, validation.deadline_at
    )
    session.add(validation)
    session.flush()
    _set_status(ticket, validation, V.REQUESTED)
    previous, ticket.status = ticket.status, S.AWAITING_VALIDATION.value
    worker.awaiting = None  # the numbers the worker sends now answer this question
    message = _question(session, ring, ticket, worker, prompts.validation_question, summary, user)
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="validation.requested",
        target=f"ticket:{ticket.ref}",
        validation=str(validation.id),
        previous=previous,
    )
    return message


def _answer(
    session: Session,
    ticket: Ticket,
    validation: Validation,
    answer: ValidationAnswer,
    actor: str,
) -> None:
    """Record the worker's answer and move the ticket: the heart of the method."""
    now = utcnow()
    validation.answer = answer.value
    validation.next_due_at = None
    if answer is A.PERSON:
        ticket.person_requested_at = now
        validation.awaiting = None
    else:
        validation.answered_at = now
        _cover_repayments(session, ticket, validation)
        if answer is A.FIXED:
            _set_status(ticket, validation, V.VALIDATED)
            ticket.status = S.VALIDATED.value
        else:
            _set_status(ticket, validation, V.DISPUTED)
            ticket.status = S.IN_REMEDIATION.value
    audit.record(
        session,
        actor=actor,
        action="validation.answered",
        target=f"ticket:{ticket.ref}",
        validation=str(validation.id),
        answer=answer.value,
        method=validation.method,
    )


@functools.cache
def _labels(options: Callable[[str | None], tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The buttons' labels in every language, read from the catalogs once."""
    return [options(language) for language in UI_LANGUAGES]


def answer_of(text: str | None) -> ValidationAnswer | None:
    """Which of the four answers a whole message gives, in any language or digits."""
    number = choice_of(text, len(ANSWERS), _labels(prompts.validation_options), VALIDATION_WORDS)
    if number is None and command_of(text) == "person":
        number = len(ANSWERS)
    return ANSWERS[number - 1] if number else None


def satisfaction_of(text: str | None) -> int | None:
    return choice_of(text, 5, _labels(prompts.satisfaction_options))


def take_reply(
    session: Session, worker: Worker, ticket: Ticket, validation: Validation, text: str | None
) -> Reply | None:
    """Match a worker's message to the open request; None when it is not an answer.

    A message that answers nothing is kept in the thread like any other; the first
    one is met with the question once more, the next ones are simply added to the case.
    """
    language = worker.language
    actor = f"worker:{worker.pseudonym}"
    if validation.awaiting == AWAITING_SATISFACTION:
        score = satisfaction_of(text)
        if score is None:
            if validation.unclear_replies >= 1:
                validation.awaiting = None  # asked twice: the worker has moved on
                return None
            validation.unclear_replies += 1
            return Reply(
                prompts.satisfaction_again(language), prompts.satisfaction_options(language)
            )
        validation.satisfaction = score
        validation.awaiting = None
        audit.record(
            session,
            actor=actor,
            action="validation.satisfaction",
            target=f"ticket:{ticket.ref}",
            validation=str(validation.id),
            satisfaction=score,
        )
        fixed = validation.answer == A.FIXED
        return Reply(prompts.validation_thanks(language, fixed, ticket.ref))
    answer = answer_of(text)
    if answer is None:
        if validation.unclear_replies >= 1:
            return None
        validation.unclear_replies += 1
        return Reply(prompts.validation_again(language), prompts.validation_options(language))
    _answer(session, ticket, validation, answer, actor)
    if answer is A.PERSON:
        return Reply(prompts.person_requested(language))
    validation.awaiting = AWAITING_SATISFACTION
    validation.unclear_replies = 0
    return Reply(prompts.satisfaction_question(language), prompts.satisfaction_options(language))


def record_by_phone(
    session: Session,
    user: User,
    ticket: Ticket,
    answer: str,
    satisfaction: int | None,
) -> Validation:
    """Record a worker's answer given on a call (a hotline caller has no chat)."""
    require(user, "tickets.validate_by_phone", ticket)
    try:
        choice = A(answer)
    except ValueError:
        raise Invalid(
            N_("Choose what the worker said: fixed, partly fixed or not fixed.")
        ) from None
    if choice is A.PERSON:
        raise Invalid(N_("Choose what the worker said: fixed, partly fixed or not fixed."))
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise Invalid(N_("Satisfaction is a number from 1 to 5."))
    _check_open(ticket)
    _withdraw_open(session, ticket)
    validation = Validation(
        id=uuid.uuid4(),
        ticket_id=ticket.id,
        status=V.REQUESTED.value,
        method="phone",
        reminders_sent=0,
        unclear_replies=0,
        requested_by=user.id,
        requested_at=utcnow(),
        recorded_by=user.id,
        satisfaction=satisfaction,
    )
    session.add(validation)
    session.flush()
    _answer(session, ticket, validation, choice, actor=f"user:{user.id}")
    return validation


def run_rounds(
    session: Session, ring: KeyRing, schedule: Schedule, now: dt.datetime | None = None
) -> list[Message]:
    """Send the reminders that are due and mark requests past their deadline unvalidated.

    Returns the queued reminders; the caller commits and enqueues `send_prompt`. Rows
    are locked and skipped when another run holds them, so two runs never remind twice.
    """
    now = now or utcnow()
    due = list(
        session.scalars(
            select(Validation)
            .where(Validation.next_due_at.is_not(None), Validation.next_due_at <= now)
            .order_by(Validation.next_due_at)
            .limit(500)
            .with_for_update(skip_locked=True)
        )
    )
    reminders: list[Message] = []
    for validation in due:
        ticket = session.get_one(Ticket, validation.ticket_id)
        if ticket.status == S.CLOSED or validation.status != V.REQUESTED:
            validation.next_due_at = None
            continue
        if validation.deadline_at is not None and now >= validation.deadline_at:
            validation.next_due_at = None
            _set_status(ticket, validation, V.UNVALIDATED)
            _system_audit(
                session,
                ticket,
                validation,
                "validation.unvalidated",
                reminders=validation.reminders_sent,
            )
            continue
        times = schedule.reminder_times(validation.requested_at)
        passed = sum(1 for at in times if at <= now)
        if passed > validation.reminders_sent:
            # One reminder, however many fell due while the worker process was down.
            validation.reminders_sent = passed
            worker = session.get_one(Worker, ticket.worker_id)
            if validation.awaiting == AWAITING_ANSWER and worker.erased_at is None:
                summary = summary_of(ring, validation)
                reminders.append(
                    _question(session, ring, ticket, worker, prompts.validation_reminder, summary)
                )
                _system_audit(session, ticket, validation, "validation.reminded", reminder=passed)
        validation.next_due_at = schedule.next_due(
            validation.requested_at, validation.reminders_sent, validation.deadline_at
        )
    return reminders


def _question(
    session: Session,
    ring: KeyRing,
    ticket: Ticket,
    worker: Worker,
    wording: Callable[[str | None, str, str], str],
    summary: str,
    user: User | None = None,
) -> Message:
    """Queue the question (or a reminder of it) with the four options, in the worker's language."""
    language = ticket.language or worker.language
    return tickets.add_message(
        session,
        ring,
        ticket,
        direction=Direction.OUT,
        text=wording(language, ticket.ref, summary),
        language=language,
        options=prompts.validation_options(language),
        author_user_id=user.id if user else None,
        purpose=PURPOSE,
    )


def _system_audit(
    session: Session, ticket: Ticket, validation: Validation, action: str, **detail: object
) -> None:
    """What the scheduled rounds did, audited under "system"."""
    audit.record(
        session,
        actor="system",
        action=action,
        target=f"ticket:{ticket.ref}",
        validation=str(validation.id),
        **detail,
    )
