"""The jobs: each takes one id, opens its own session, and is idempotent."""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
import uuid

from redis.exceptions import RedisError
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bots.base import (
    Channel,
    InboundMessage,
    Malformed,
    Media,
    Outgoing,
    Permanent,
    Retryable,
    Unreachable,
)
from intake import calls, conversation, delivery, tickets, validation
from intake.conversation import ERASE
from intake.db import utcnow
from intake.envelopes import envelope_binding, open_envelope
from intake.erasure import Purged, erase_worker, purge_expired
from intake.models import DeliveryStatus, InboundEnvelope, Message, Ticket, Worker
from safeguards.redaction import sensitive
from safeguards.vault import address_for
from workers import runtime
from workers.ratelimit import acquire

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 1800.0
RATE_WAIT_SECONDS = 30.0
# A later step of a hotline call waits this long for the call's first step.
CALL_START_WAIT = dt.timedelta(days=1)
# Below rq's job timeout (180 s), which would cut the job off.
RECORD_SENT_WITHIN_SECONDS = 150.0


def _download(channel: Channel, inbound: InboundMessage, max_bytes: int) -> list[Media | str]:
    """Fetch every attachment; a permanent failure is kept as its reason, not raised."""
    fetched: list[Media | str] = []
    for ref in inbound.media:
        try:
            fetched.append(channel.fetch_media(ref, max_bytes))
        except Permanent as exc:
            logger.warning("%s media not kept: %s", inbound.channel, exc.reason)
            fetched.append(exc.reason)
    return fetched


def process_envelope(envelope_id: str) -> str:
    """Turn one stored envelope into a message in its worker's ticket.

    Idempotent: a processed envelope is skipped, and the unique envelope id on
    messages stops a concurrent second run from storing the message twice. The
    envelope is read once, locked; a message with media lets go of the lock while the
    media downloads, so a slow provider holds none, and takes it again after.
    """
    rt = runtime.current()
    key = uuid.UUID(envelope_id)
    with rt.session() as session:
        envelope = session.get(InboundEnvelope, key, with_for_update=True)
        if envelope is None or envelope.processed_at is not None:
            return "done before"
        if envelope.channel == calls.CALL_LOG_CHANNEL:
            return _file_logged_call(session, envelope)
        channel = rt.channels.get(envelope.channel)
        if channel is None:
            logger.warning(
                "envelope %s: channel %s is off; left for later", envelope.id, envelope.channel
            )
            return "channel off"
        payload = open_envelope(envelope, rt.envelope_keys)
        try:
            inbound = channel.parse(payload)
        except Malformed:
            # The webhook checks this before storing; an envelope from before that check
            # is kept as it is (nothing lost) and not tried again.
            envelope.outcome, envelope.processed_at = "malformed", utcnow()
            session.commit()
            return "malformed"
        replies: list[Message] = []
        try:
            media: list[Media | str] = []
            if inbound is not None:
                sensitive.add([inbound.address, inbound.text or ""])
                if inbound.media:
                    session.rollback()  # no lock while the provider sends the media
                    media = _download(channel, inbound, rt.settings.max_media_bytes)
                    envelope = session.get_one(
                        InboundEnvelope, key, with_for_update=True, populate_existing=True
                    )
                    if envelope.processed_at is not None:
                        return "done before"
            if inbound is None:
                envelope.outcome = "no message"
            elif inbound.kind == "call":
                envelope.outcome = _receive_call_step(session, rt, envelope, inbound, media)
            else:
                received = conversation.receive(
                    session, rt.keys, inbound, envelope.id, rt.settings.flood_per_minute
                )
                if received.message is not None:
                    for item in media:
                        tickets.attach(session, rt.keys.content, received.message, item)
                replies = received.replies
                envelope.outcome = "stored"
            if inbound is not None and inbound.media:
                # Provider URLs are not kept once the media is ours.
                envelope.payload_sealed = rt.envelope_keys.current().seal(
                    channel.forget_media(payload), envelope_binding(envelope.id)
                )
            envelope.processed_at = utcnow()
            outcome = envelope.outcome
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                logger.info("envelope %s was stored by another run", envelope_id)
                return "done before"
        finally:
            sensitive.clear()
    if inbound is not None:
        channel.acknowledge(inbound)
    for reply in replies:
        rt.dispatcher.enqueue("send_outbound", str(reply.id))
    logger.info("envelope %s processed: %s", envelope_id, outcome)
    return outcome or ""


def drain_intake(
    most: int = 100,
    wait: float = 1.0,
    stop: threading.Event | None = None,
    raise_errors: bool = False,
) -> int:
    """Process one batch of envelope ids from the intake list; return how many were taken.

    Each envelope is its own transaction, as `process_envelope` always was. An
    envelope that fails stays unprocessed in the database and the sweeper queues it
    again; ids taken but not reached when `stop` is set go back to the list's head.
    """
    rt = runtime.current()
    take = getattr(rt.dispatcher, "take_envelopes", None)
    if take is None:
        return 0  # the embedded default runs each envelope as it is queued
    try:
        taken: list[str] = take(most, wait)
    except RedisError:
        logger.warning("intake list unreachable; trying again")
        if stop is not None:
            stop.wait(wait)
        return 0
    handled = 0
    try:
        for envelope_id in taken:
            if stop is not None and stop.is_set():
                rt.dispatcher.put_back(taken[handled:])  # type: ignore[attr-defined]
                break
            try:
                process_envelope(envelope_id)
            except calls.CallNotStartedYet:
                if raise_errors:
                    raise
                logger.info("envelope %s waits for its call's start", envelope_id)
            except Exception:
                if raise_errors:
                    raise
                logger.exception("envelope %s failed; the sweeper will queue it again", envelope_id)
            handled += 1
    finally:
        try:
            rt.dispatcher.let_go(taken[:handled])  # type: ignore[attr-defined]
        except RedisError:
            logger.warning("queue unreachable; what this worker held is dropped in a day")
    return len(taken)


def _receive_call_step(
    session: Session,
    rt: runtime.Runtime,
    envelope: InboundEnvelope,
    inbound: InboundMessage,
    media: list[Media | str],
) -> str:
    """File one step of a hotline call. A step before the call's start (Twilio's
    recording callback names no caller) waits for the start, tried again by the
    sweeper; one whose call never started in a day never will: kept, not tried again."""
    try:
        calls.receive(session, rt.keys, inbound, media)
    except calls.CallNotStartedYet:
        if utcnow() - envelope.received_at < CALL_START_WAIT:
            raise
        logger.warning("envelope %s: its call never started; kept, not tried again", envelope.id)
        return "call never started"
    return "stored"


def _file_logged_call(session: Session, envelope: InboundEnvelope) -> str:
    """File a call staff logged in the console (its envelope, locked, holds the form)."""
    rt = runtime.current()
    log = calls.CallLog.from_payload(open_envelope(envelope, rt.envelope_keys))
    try:
        sensitive.add([log.number or "", log.summary])
        ticket = calls.log_call(session, rt.keys, envelope.id, log)
    finally:
        sensitive.clear()
    envelope.outcome, envelope.processed_at = "stored", utcnow()
    session.commit()
    logger.info("envelope %s filed as a logged call on ticket %s", envelope.id, ticket.ref)
    return "stored"


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """How long to wait before attempt+1: the provider's word, or exponential with jitter."""
    if retry_after is not None:
        # Honour the provider, within our own ceiling.
        return min(retry_after, BACKOFF_CAP_SECONDS) + random.uniform(0, 1)  # noqa: S311
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not secrecy


# Purposes whose own template carries quick-reply buttons, used inside the window too.
# Other templates (a "reply" notice of news on the case) only stand in outside it.
QUICK_REPLY_TEMPLATES = frozenset({"validation"})


def _template_for(
    rt: runtime.Runtime, message: Message, ticket: Ticket, exact: bool = False
) -> tuple[str | None, str]:
    """Pick the approved template for this message's purpose and language.

    Outside the session window any purpose falls back to the "reply" template (a
    notice that there is news on the case); `exact` asks for the purpose's own only.
    """
    templates = rt.settings.twilio.whatsapp_templates if rt.settings.twilio else {}
    by_language = templates.get(message.purpose) or ({} if exact else templates.get("reply")) or {}
    language = message.language or ticket.language or "en"
    sid = by_language.get(language) or by_language.get("en")
    return sid, f"{message.purpose}/{language}"


def _template_variables(
    rt: runtime.Runtime, session: Session, message: Message, ticket: Ticket
) -> dict[str, str]:
    """{{1}} is the case number; a validation template names what was fixed in {{2}}."""
    variables = {"1": ticket.ref}
    if message.purpose == validation.PURPOSE:
        asked = validation.latest(session, ticket)
        if asked is not None:
            variables["2"] = validation.summary_of(rt.keys.content, asked)
    return variables


def send_outbound(message_id: str) -> str:
    """Send one queued outbound message to its worker.

    Idempotent: only a message still queued is sent; its row stays locked while
    sending so two runs cannot both send it. Retryable failures come back later
    with backoff; permanent ones are marked failed with the reason.
    """
    rt = runtime.current()
    with rt.session() as session:
        message = session.get(Message, uuid.UUID(message_id), with_for_update=True)
        if message is None or message.delivery_status != DeliveryStatus.QUEUED.value:
            return "done before"
        ticket = session.get_one(Ticket, message.ticket_id)
        worker = session.get_one(Worker, ticket.worker_id)
        channel = rt.channels.get(message.channel)

        def fail(reason: str) -> str:
            message.delivery_status = DeliveryStatus.FAILED.value
            message.failure_reason = reason[:300]
            message.next_attempt_at = None
            if message.purpose == ERASE:
                # Goodbye or not, erase.
                erase_worker(session, rt.keys.content, rt.envelope_keys, worker)
            session.commit()
            rt.in_flight.end(message_id)
            logger.warning("message %s failed: %s", message_id, reason)
            return "failed"

        if channel is None:
            return fail(f"the {message.channel} channel is switched off")
        blocked = delivery.unreachable_reason(session, worker.id, message.channel)
        if blocked:
            return fail(f"the worker cannot be reached on {message.channel} ({blocked})")
        address = address_for(session, rt.keys.vault, worker.id, message.channel)
        if address is None:
            return fail("no address for this worker on this channel")
        text = tickets.message_text(rt.keys.content, message) or ""
        outgoing = Outgoing(text, tuple(message.options))
        window = getattr(channel, "session_window", None)
        last = worker.last_inbound_at
        outside = window is not None and (last is None or utcnow() - last > window)
        # Inside the window a question with options goes as its own template where one
        # is approved: WhatsApp shows quick-reply buttons only through templates.
        sid, wanted = _template_for(rt, message, ticket, exact=not outside)
        if outside and sid is None:
            return fail(
                f"outside the {message.channel} 24-hour window and no approved "
                f"template for {wanted}"
            )
        buttons = message.options and message.purpose in QUICK_REPLY_TEMPLATES
        if window is not None and sid is not None and (outside or buttons):
            variables = _template_variables(rt, session, message, ticket)
            outgoing = Outgoing(
                text, tuple(message.options), template=sid, template_variables=variables
            )
            message.template_sid = sid
        warm_up = getattr(channel, "warm_up", None)
        if warm_up is not None:
            warm_up()  # a first send's client start must not fall between slot and send
        limits = rt.settings.rate_limits
        for key, limit in (
            (f"{message.channel}:chat:{worker.id}", limits.get(f"{message.channel}:chat")),
            (message.channel, limits.get(message.channel)),
        ):
            if limit is not None and not acquire(rt.limiter, key, limit, RATE_WAIT_SECONDS):
                message.next_attempt_at = utcnow() + dt.timedelta(seconds=RATE_WAIT_SECONDS)
                session.commit()
                rt.dispatcher.enqueue_in(RATE_WAIT_SECONDS, "send_outbound", message_id)
                return "rate limited"
        message.attempts += 1
        sensitive.add([address, text])
        began = rt.in_flight.began(message_id)
        try:
            provider_id = (
                _taken_unrecorded(session, channel, message, address, outgoing, began)
                if began is not None
                else None
            )
            if provider_id is None:
                rt.in_flight.begin(message_id, utcnow())
                provider_id = channel.send(address, outgoing)
        except Unreachable as exc:
            delivery.mark_unreachable(session, worker.id, message.channel, exc.reason)
            return fail(f"the worker cannot be reached on {message.channel}: {exc.reason}")
        except Permanent as exc:
            return fail(exc.reason)
        except Retryable as exc:
            if message.attempts >= MAX_SEND_ATTEMPTS:
                return fail(f"gave up after {message.attempts} attempts: {exc.reason}")
            if exc.retry_after is not None:
                rt.in_flight.end(message_id)  # asked to wait, the provider took nothing
            delay = backoff_seconds(message.attempts, exc.retry_after)
            message.failure_reason = f"retrying: {exc.reason}"[:300]
            message.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
            session.commit()
            rt.dispatcher.enqueue_in(delay, "send_outbound", message_id)
            logger.info("message %s: retry %d in %.1fs", message_id, message.attempts, delay)
            return "retrying"
        finally:
            sensitive.clear()
        pseudonym = worker.pseudonym
        try:
            _mark_sent(rt, session, message, worker, provider_id)
        except (OperationalError, InterfaceError):
            session.rollback()
            logger.warning("message %s sent, but the database went away; recording it", message_id)
            _record_sent_when_back(rt, message_id, provider_id)
    logger.info("message %s sent to worker %s", message_id, pseudonym)
    return "sent"


def _mark_sent(
    rt: runtime.Runtime, session: Session, message: Message, worker: Worker, provider_id: str
) -> None:
    message.provider_message_id = provider_id
    message.delivery_status = DeliveryStatus.SENT.value
    message.failure_reason = None
    message.next_attempt_at = None
    message.sent_at = utcnow()
    if message.purpose == ERASE:
        # The goodbye is out: erase now.
        erase_worker(session, rt.keys.content, rt.envelope_keys, worker)
    session.commit()
    rt.in_flight.end(str(message.id))


def _taken_unrecorded(
    session: Session,
    channel: Channel,
    message: Message,
    address: str,
    outgoing: Outgoing,
    began: dt.datetime,
) -> str | None:
    """The provider's id for this message, if an earlier attempt that began at `began`
    and was never recorded (its worker died, the call timed out) reached the provider.

    Asked of the provider where it can say (Twilio lists what it sent); its messages
    already recorded as another of ours are not this one. None: send (again).
    """
    found = channel.find_sent(address, outgoing, began)
    if found is None:
        logger.warning(
            "message %s: an attempt at %s was never recorded and %s cannot say whether it "
            "arrived; sending again (README, 'Exactly once, and where it cannot be')",
            message.id, began.isoformat(timespec="seconds"), message.channel,
        )  # fmt: skip
        return None
    recorded = set(
        session.scalars(
            select(Message.provider_message_id).where(
                Message.channel == message.channel, Message.provider_message_id.in_(found)
            )
        )
    )
    unrecorded = [provider_id for provider_id in found if provider_id not in recorded]
    if not unrecorded:
        return None
    logger.info("message %s: %s had it from an earlier attempt", message.id, message.channel)
    return unrecorded[0]


def _record_sent_when_back(rt: runtime.Runtime, message_id: str, provider_id: str) -> None:
    """Record a send the provider took while the database was restarting.

    Left queued, the message would be sent again (the provider cannot tell us it has
    it): so try again every half second until the database is back, for as long as
    a job may run. Only a worker killed in that window could still send it twice.
    """
    give_up = time.monotonic() + RECORD_SENT_WITHIN_SECONDS
    while True:
        try:
            with rt.session() as session:
                message = session.get(Message, uuid.UUID(message_id), with_for_update=True)
                if message is None or message.delivery_status != DeliveryStatus.QUEUED.value:
                    return
                ticket = session.get_one(Ticket, message.ticket_id)
                worker = session.get_one(Worker, ticket.worker_id)
                _mark_sent(rt, session, message, worker, provider_id)
                return
        except (OperationalError, InterfaceError):
            if time.monotonic() > give_up:
                logger.error("message %s was sent but could not be recorded", message_id)
                raise
            time.sleep(0.5)


# Prompts we start (validation, reminders) run the same job from a lower-priority queue.
send_prompt = send_outbound
PROMPT_PURPOSES = frozenset({"prompt", validation.PURPOSE})


def job_for(purpose: str) -> str:
    """The send job for a queued message: replies go ahead of prompts we start."""
    return "send_prompt" if purpose in PROMPT_PURPOSES else "send_outbound"


def validation_rounds(now: str | None = None) -> int:
    """Send the validation reminders that are due and mark missed deadlines unvalidated.

    The schedule lives in the database, not in Redis, so a restart loses no reminder;
    the sweeper runs this every interval. `now` (ISO 8601) lets tests move the clock.
    """
    rt = runtime.current()
    at = dt.datetime.fromisoformat(now) if now else None
    with rt.session() as session:
        reminders = validation.run_rounds(
            session, rt.keys.content, rt.settings.validation_schedule, at
        )
        session.commit()
        queued = [(job_for(message.purpose), str(message.id)) for message in reminders]
    for job, message_id in queued:
        rt.dispatcher.enqueue(job, message_id)
    if queued:
        logger.info("validation rounds queued %d reminders", len(queued))
    return len(queued)


def sweep(older_than_seconds: int | None = None) -> int:
    """Queue again what was stored but not handled in time: envelopes and queued replies."""
    rt = runtime.current()
    wait = rt.settings.sweep_after_seconds if older_than_seconds is None else older_than_seconds
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=wait)
    with rt.session() as session:
        envelopes = list(
            session.scalars(
                select(InboundEnvelope.id)
                .where(
                    InboundEnvelope.processed_at.is_(None), InboundEnvelope.received_at <= cutoff
                )
                .order_by(InboundEnvelope.received_at)
                .limit(1000)
            )
        )
        replies = list(
            session.execute(
                select(Message.id, Message.purpose)
                .where(
                    Message.delivery_status == DeliveryStatus.QUEUED.value,
                    Message.created_at <= cutoff,
                    or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
                )
                .order_by(Message.created_at)
                .limit(1000)
            )
        )
    # What is still waiting in the queue stays where it is: under a backlog the sweeper
    # queues only what was lost (Redis restarted, a worker killed), never copies.
    stale = dt.timedelta(seconds=wait)
    lost_envelopes = rt.dispatcher.requeue("process_envelope", [str(i) for i in envelopes], stale)
    by_job: dict[str, list[str]] = {}
    for message_id, purpose in replies:
        by_job.setdefault(job_for(purpose), []).append(str(message_id))
    lost_replies = sum(rt.dispatcher.requeue(job, ids, stale) for job, ids in by_job.items())
    queued = lost_envelopes + lost_replies
    if queued:
        logger.info("sweeper queued %d envelopes and %d replies", lost_envelopes, lost_replies)
    queued += validation_rounds()
    purge(passes=1)  # a batch a pass keeps every pass short; `voicedesk purge` does all
    return queued


def purge(passes: int | None = None, now: dt.datetime | None = None) -> Purged:
    """Apply the retention policy: batches until nothing is due, or `passes` batches."""
    rt = runtime.current()
    tickets_done = addresses = 0
    while passes is None or passes > 0:
        with rt.session() as session:
            done = purge_expired(
                session, rt.keys.content, rt.envelope_keys, rt.settings.retention_days, now
            )
            session.commit()
        tickets_done, addresses = tickets_done + done.tickets, addresses + done.addresses
        if done.tickets == 0:
            break
        if passes is not None:
            passes -= 1
    return Purged(tickets_done, addresses)
