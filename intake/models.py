"""Typed SQLAlchemy models: every table of Worker Voice Desk.

Sealed columns use `SealedBytes`, which accepts only output of a seal call, so no
model can store plaintext by mistake. `__repr__` never shows a sealed value.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from intake.db import Base, intpk, timestamp, utcnow, uuidpk
from safeguards.sealing import Sealed


class SealedBytes(TypeDecorator[Sealed]):
    """A column that stores only ciphertexts made by safeguards.sealing."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, Sealed):
            raise TypeError("a sealed column takes only sealed bytes; seal the value first")
        return bytes(value)

    def process_result_value(self, value: Any, dialect: Any) -> Sealed | None:
        return None if value is None else Sealed(value)


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    CASEWORKER = "caseworker"
    HOTLINE = "hotline"
    PARTNER = "partner"


class TicketStatus(enum.StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    IN_REMEDIATION = "in_remediation"
    AWAITING_VALIDATION = "awaiting_validation"
    VALIDATED = "validated"
    CLOSED = "closed"


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


def _values(enum_cls: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum_cls)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    languages: Mapped[list[str]] = mapped_column(default=list)
    countries: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.name!r}>"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN ({_values(Role)})", name="role"),)

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(320), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[timestamp]
    password_changed_at: Mapped[dt.datetime | None]
    # Two-factor: the TOTP secret sealed under the content ring, and the last time step
    # used, so a code seen once (over a shoulder, in a proxy log) never works again.
    totp_secret_sealed: Mapped[Sealed | None] = mapped_column(SealedBytes())
    totp_enrolled_at: Mapped[dt.datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger())
    # A partner's own business (a brand or a supplier): the supply chain they may see.
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id"))

    organisation: Mapped[Organisation] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class ApiToken(Base):
    """An API token, stored as the SHA-256 of a high-entropy secret (shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[timestamp]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} user={self.user_id}>"


class Worker(Base):
    """A worker known only by pseudonym: a keyed HMAC of channel and address."""

    __tablename__ = "workers"

    id: Mapped[uuidpk]
    pseudonym: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(8))
    # What the bot last asked and waits for (e.g. "language"); None when nothing.
    awaiting: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[timestamp]
    last_inbound_at: Mapped[dt.datetime | None]
    # Set when the worker asked us to erase their data and we did.
    erased_at: Mapped[dt.datetime | None]
    # For the reach indicators only, and only with the worker's consent (asked by staff).
    gender: Mapped[str | None] = mapped_column(String(16))
    nationality: Mapped[str | None] = mapped_column(String(2))
    profile_consent_at: Mapped[dt.datetime | None]

    def __repr__(self) -> str:
        return f"<Worker {self.pseudonym}>"


class VaultEntry(Base):
    """The contact vault: a worker's channel address, sealed under the vault key ring."""

    __tablename__ = "vault_entries"
    __table_args__ = (UniqueConstraint("worker_id", "channel", name="uq_vault_entries_worker"),)

    id: Mapped[uuidpk]
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    address_sealed: Mapped[Sealed] = mapped_column(SealedBytes())
    updated_at: Mapped[timestamp]
    # Set when the provider says the worker cannot be reached here (blocked, opted out).
    unreachable_at: Mapped[dt.datetime | None]
    unreachable_reason: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<VaultEntry {self.id} {self.channel}>"


class EnvelopeKey(Base):
    """A published public key the web process seals inbound envelopes to."""

    __tablename__ = "envelope_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary())
    is_current: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[timestamp]


class KeyCheck(Base):
    """A key's check value (safeguards/keycheck.py): tells a wrong key at start, nothing more."""

    __tablename__ = "key_checks"

    ring: Mapped[str] = mapped_column(String(16), primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    check: Mapped[bytes] = mapped_column(LargeBinary())
    created_at: Mapped[timestamp]


class InboundEnvelope(Base):
    """One provider delivery, exactly as received, sealed; the webhook's only write."""

    __tablename__ = "inbound_envelopes"
    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id", name="uq_inbound_envelopes_provider"),
        Index(
            "ix_inbound_envelopes_unprocessed",
            "received_at",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[uuidpk]
    channel: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    payload_sealed: Mapped[Sealed] = mapped_column(SealedBytes())
    received_at: Mapped[timestamp]
    processed_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))

    def __repr__(self) -> str:
        return f"<InboundEnvelope {self.id} {self.channel}>"


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(TicketStatus)})", name="status"),
        Index("ix_tickets_org_queue", "organisation_id", "status", "created_at", "id"),
        Index("ix_tickets_worker_open", "worker_id", "status"),
        # The triage queue: open tickets of one organisation, urgent first, then oldest.
        Index(
            "ix_tickets_open_queue",
            "organisation_id",
            text("urgent DESC"),
            "created_at",
            "id",
            postgresql_where=text("status <> 'closed'"),
            sqlite_where=text("status <> 'closed'"),
            # The filter counts read these from the index alone (an index-only scan).
            postgresql_include=["status", "language", "channel", "assignee_id"],
        ),
        Index("ix_tickets_assignee", "assignee_id", "status"),
        # The retention policy's work: closed tickets whose content is still kept.
        Index(
            "ix_tickets_to_purge",
            "closed_at",
            postgresql_where=text("status = 'closed' AND content_purged_at IS NULL"),
            sqlite_where=text("status = 'closed' AND content_purged_at IS NULL"),
        ),
    )

    id: Mapped[intpk]
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(24), default=TicketStatus.NEW.value)
    language: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"))
    urgent: Mapped[bool] = mapped_column(default=False)
    # The worker asked to talk to a person: a flag in the queue until staff answer.
    person_requested_at: Mapped[dt.datetime | None]
    # When forced-labour or trafficking indicators were identified: the 72-hour clock.
    urgent_since: Mapped[dt.datetime | None]
    # Where the worker is, as far as we know (ISO 3166 alpha-2), for routing and reports.
    country: Mapped[str | None] = mapped_column(String(2))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[dt.datetime | None]
    # How it closed: validated, information_only, or unvalidated (by a supervisor, with
    # a sealed written reason); indicators count the last apart.
    closed_as: Mapped[str | None] = mapped_column(String(20))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    close_reason_sealed: Mapped[Sealed | None] = mapped_column(SealedBytes())
    # The latest validation's status (requested, validated, disputed, unvalidated), kept
    # here so the queue shows and filters it without a join.
    validation_status: Mapped[str | None] = mapped_column(String(16))
    # When the retention policy forgot its content (VOICEDESK_RETENTION_DAYS after closing).
    content_purged_at: Mapped[dt.datetime | None]

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.created_at", lazy="raise"
    )

    def __repr__(self) -> str:
        return f"<Ticket {self.ref} {self.status}>"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"direction IN ({_values(Direction)})", name="direction"),
        Index("ix_messages_ticket_time", "ticket_id", "created_at"),
        # Status callbacks and the look for an unrecorded send find a message by its
        # provider's id; the sweeper finds the replies still queued.
        Index(
            "ix_messages_provider_id",
            "provider_message_id",
            postgresql_where=text("provider_message_id IS NOT NULL"),
            sqlite_where=text("provider_message_id IS NOT NULL"),
        ),
        Index(
            "ix_messages_queued",
            "created_at",
            postgresql_where=text("delivery_status = 'queued'"),
            sqlite_where=text("delivery_status = 'queued'"),
        ),
    )

    id: Mapped[uuidpk]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))
    # text, photo, voice, sticker, edit, document, location, other
    kind: Mapped[str] = mapped_column(String(16), default="text")
    text_sealed: Mapped[Sealed | None] = mapped_column(SealedBytes())
    language: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(20))
    # An inbound message comes from exactly one envelope: the database keeps it once.
    envelope_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inbound_envelopes.id"), unique=True
    )
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    # Choices offered with an outbound message (shown as buttons where the channel can).
    options: Mapped[list[str]] = mapped_column(default=list)
    delivery_status: Mapped[str] = mapped_column(String(16))
    # reply (to what the worker just said) or prompt (we start it: validation, reminders);
    # replies go first, and a prompt outside WhatsApp's window needs a template.
    purpose: Mapped[str] = mapped_column(String(16), default="reply", server_default="reply")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    template_sid: Mapped[str | None] = mapped_column(String(64))
    # When a send that failed for now may be tried again (the sweeper waits for it).
    next_attempt_at: Mapped[dt.datetime | None]
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[timestamp]
    sent_at: Mapped[dt.datetime | None]

    ticket: Mapped[Ticket] = relationship(back_populates="messages")

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.direction} {self.kind}>"


class Attachment(Base):
    """A photo, voice note, document or call recording, sealed; never a provider URL."""

    __tablename__ = "attachments"

    id: Mapped[uuidpk]
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    data_sealed: Mapped[Sealed] = mapped_column(SealedBytes())
    created_at: Mapped[timestamp]

    # So the unit of work inserts a new message before its attachment.
    message: Mapped[Message] = relationship(lazy="raise")

    def __repr__(self) -> str:
        return f"<Attachment {self.id} {self.kind} {self.size}B>"


class Call(Base):
    """A hotline call: language, how it ended, how long; the caller known by pseudonym."""

    __tablename__ = "calls"

    id: Mapped[uuidpk]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    provider_call_id: Mapped[str] = mapped_column(String(64), unique=True)
    language: Mapped[str | None] = mapped_column(String(8))
    # in_progress, answered, voicemail, missed
    outcome: Mapped[str] = mapped_column(String(16), default="in_progress")
    duration_seconds: Mapped[int | None]
    started_at: Mapped[timestamp]
    ended_at: Mapped[dt.datetime | None]

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.outcome}>"


class Task(Base):
    """Something staff must do for a ticket, e.g. call back a missed caller."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_open", "ticket_id", "done_at"),)

    id: Mapped[intpk]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[timestamp]
    done_at: Mapped[dt.datetime | None]
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.kind}>"


class AuditEntry(Base):
    """An append-only, hash-chained audit log entry; PostgreSQL refuses updates and deletes."""

    __tablename__ = "audit_log"

    id: Mapped[intpk]
    at: Mapped[timestamp]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action}>"


class SimulatorLine(Base):
    """One line of a simulated chat, so the simulator page can show the bot's replies."""

    __tablename__ = "simulator_lines"
    __table_args__ = (Index("ix_simulator_lines_chat", "chat", "created_at"),)

    id: Mapped[uuidpk]
    chat: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(3))
    text_sealed: Mapped[Sealed] = mapped_column(SealedBytes())
    created_at: Mapped[timestamp]


class RecoveryCode(Base):
    """A one-time two-factor recovery code, kept as the SHA-256 of a random secret."""

    __tablename__ = "recovery_codes"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[timestamp]
    used_at: Mapped[dt.datetime | None]


class StaffSession(Base):
    """A signed-in console session; the cookie holds a secret whose SHA-256 is the id.

    Server-side, so signing out, an idle timeout or a password change ends it for
    good: a copied cookie stops working, which a signed cookie alone cannot promise.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[timestamp]
    last_seen_at: Mapped[timestamp]
    ended_at: Mapped[dt.datetime | None]

    def __repr__(self) -> str:
        return f"<StaffSession user={self.user_id}>"


class Category(Base):
    """One entry of the issue taxonomy (ILO indicators and the network's work areas)."""

    __tablename__ = "categories"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(48), unique=True)
    # ilo, recruitment, conditions, relations, living, information
    group: Mapped[str] = mapped_column(String(24))
    # English name; the seeded ones are translated through the console catalog.
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"<Category {self.code}>"


class TicketCategory(Base):
    __tablename__ = "ticket_categories"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id"), primary_key=True, index=True
    )


class BusinessKind(enum.StrEnum):
    BRAND = "brand"
    SUPPLIER = "supplier"
    AGENCY = "agency"


class Business(Base):
    """A brand, a supplier or employer, or a recruitment agency: never a worker."""

    __tablename__ = "businesses"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(BusinessKind)})", name="kind"),
        UniqueConstraint("name", "kind", name="uq_businesses_name_kind"),
    )

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    country: Mapped[str | None] = mapped_column(String(2))
    sector: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<Business {self.id} {self.kind} {self.name!r}>"


class SupplyLink(Base):
    """A brand buys from a supplier: how a brand's indicators find their tickets."""

    __tablename__ = "supply_links"

    brand_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True
    )
    supplier_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TicketBusiness(Base):
    __tablename__ = "ticket_businesses"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    business_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id"), primary_key=True, index=True
    )


class Note(Base):
    """An internal note on a ticket, sealed; never sent to the worker."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_ticket_time", "ticket_id", "created_at"),)

    id: Mapped[uuidpk]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text_sealed: Mapped[Sealed] = mapped_column(SealedBytes())
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<Note {self.id}>"


class RoutingRule(Base):
    """New tickets that match every criterion set here go to this organisation's queue.

    Rules are tried by position; a rule with no criterion is the fallback.
    """

    __tablename__ = "routing_rules"

    id: Mapped[intpk]
    position: Mapped[int] = mapped_column(default=0)
    language: Mapped[str | None] = mapped_column(String(8))
    country: Mapped[str | None] = mapped_column(String(2))
    channel: Mapped[str | None] = mapped_column(String(20))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<RoutingRule {self.id} -> {self.organisation_id}>"


class ReferralStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Referral(Base):
    """A ticket offered to another organisation, with the worker's consent on record."""

    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(ReferralStatus)})", name="status"),
        Index("ix_referrals_to_org", "to_organisation_id", "status"),
        Index("ix_referrals_ticket", "ticket_id", "status"),
    )

    id: Mapped[intpk]
    # In URLs instead of the sequential id, which would tell how many there are and
    # let anyone try the next one.
    public_id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4, unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    from_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    to_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.PENDING.value)
    # How the worker said yes: in the chat, on a call, in person.
    consent: Mapped[str] = mapped_column(String(16))
    # Why, for the receiving organisation; sealed like every other free text.
    reason_sealed: Mapped[Sealed | None] = mapped_column(SealedBytes())
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[timestamp]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]

    ticket: Mapped[Ticket] = relationship(lazy="joined")
    from_organisation: Mapped[Organisation] = relationship(
        foreign_keys=[from_organisation_id], lazy="joined"
    )
    to_organisation: Mapped[Organisation] = relationship(
        foreign_keys=[to_organisation_id], lazy="joined"
    )

    def __repr__(self) -> str:
        return f"<Referral {self.id} {self.status}>"


# --- remediation and worker validation -------------------------------------------------


class Remediation(Base):
    """The business response timeline of one ticket: four dates, each set when it happened."""

    __tablename__ = "remediations"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    first_response_on: Mapped[dt.date | None]
    plan_agreed_on: Mapped[dt.date | None]
    actions_done_on: Mapped[dt.date | None]
    resolved_on: Mapped[dt.date | None]
    updated_at: Mapped[timestamp]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RemediationAction(Base):
    """One thing the business agreed to do: what, who owns it (both sealed), by when."""

    __tablename__ = "remediation_actions"
    __table_args__ = (Index("ix_remediation_actions_ticket", "ticket_id", "due_on"),)

    id: Mapped[uuidpk]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    text_sealed: Mapped[Sealed] = mapped_column(SealedBytes())
    owner_sealed: Mapped[Sealed] = mapped_column(SealedBytes())
    due_on: Mapped[dt.date]
    done_on: Mapped[dt.date | None]
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<RemediationAction {self.id} due={self.due_on}>"


class RepaymentKind(enum.StrEnum):
    RECRUITMENT_FEES = "recruitment_fees"
    WAGES = "wages"
    OTHER = "other"


class ValidationStatus(enum.StrEnum):
    REQUESTED = "requested"
    VALIDATED = "validated"
    DISPUTED = "disputed"
    UNVALIDATED = "unvalidated"  # no answer by the deadline
    WITHDRAWN = "withdrawn"  # a newer request or a call took its place


class ValidationAnswer(enum.StrEnum):
    """The prompt's options, in the order INTERFACE.md fixes: the worker sends 1 to 4."""

    FIXED = "fixed"
    PARTLY_FIXED = "partly_fixed"
    NOT_FIXED = "not_fixed"
    PERSON = "person"


class Validation(Base):
    """One time we asked the worker whether the fix really happened, and what they said."""

    __tablename__ = "validations"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(ValidationStatus)})", name="status"),
        Index("ix_validations_ticket", "ticket_id", "requested_at"),
        # The scheduled rounds look only at requests still waiting for an answer.
        Index(
            "ix_validations_waiting",
            "next_due_at",
            postgresql_where=text("next_due_at IS NOT NULL"),
            sqlite_where=text("next_due_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuidpk]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=ValidationStatus.REQUESTED.value)
    # chat (the bot asked) or phone (staff called and recorded the answer)
    method: Mapped[str] = mapped_column(String(8), default="chat")
    # What the caseworker told the worker was fixed; sealed like every free text.
    summary_sealed: Mapped[Sealed | None] = mapped_column(SealedBytes())
    answer: Mapped[str | None] = mapped_column(String(16))
    satisfaction: Mapped[int | None]
    # What the bot waits for: answer, satisfaction, or nothing (None).
    awaiting: Mapped[str | None] = mapped_column(String(16))
    unclear_replies: Mapped[int] = mapped_column(default=0)
    reminders_sent: Mapped[int] = mapped_column(default=0)
    # When the scheduled rounds next look at it (a reminder or the deadline); None: never.
    next_due_at: Mapped[dt.datetime | None]
    deadline_at: Mapped[dt.datetime | None]
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[timestamp]
    answered_at: Mapped[dt.datetime | None]
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def __repr__(self) -> str:
        return f"<Validation {self.id} {self.status}>"


class Repayment(Base):
    """Money a business owes workers of one ticket, and what it says it has repaid.

    Amounts are integers in the currency's minor unit. Which validation asked the worker
    about it tells whether the worker confirmed or disputed the repayment.
    """

    __tablename__ = "repayments"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(RepaymentKind)})", name="kind"),
        CheckConstraint("owed_minor >= 0 AND repaid_minor >= 0", name="amounts"),
        CheckConstraint(
            "workers_repaid <= workers_eligible AND workers_eligible <= workers_affected",
            name="workers",
        ),
    )

    id: Mapped[intpk]
    # In URLs instead of the sequential id, which would tell how many there are and
    # let anyone try the next one.
    public_id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4, unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    owed_minor: Mapped[int] = mapped_column(BigInteger())
    repaid_minor: Mapped[int] = mapped_column(BigInteger(), default=0)
    workers_affected: Mapped[int] = mapped_column(default=1)
    workers_eligible: Mapped[int] = mapped_column(default=1)
    workers_repaid: Mapped[int] = mapped_column(default=0)
    validation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("validations.id", ondelete="SET NULL"), index=True
    )
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Repayment {self.id} {self.kind} {self.currency}>"


# --- what partners see ------------------------------------------------------------------


class EthicalScore(Base):
    """One Ethical Performance Score of a business on one ticket: 1-5, or n/a (NULL)."""

    __tablename__ = "ethical_scores"
    __table_args__ = (
        UniqueConstraint("ticket_id", "business_id", "indicator", name="uq_ethical_scores"),
        CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name="score"),
        Index("ix_ethical_scores_business", "business_id", "indicator"),
    )

    id: Mapped[intpk]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    indicator: Mapped[str] = mapped_column(String(40))
    score: Mapped[int | None]
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<EthicalScore {self.indicator}={self.score}>"


class IncidentReport(Base):
    """A de-identified report to the partner on a forced-labour or trafficking ticket.

    The first is due 72 hours after the indicator was flagged; follow-ups until the
    ticket closes. Its text is staff's free text, so it is sealed like a note.
    """

    __tablename__ = "incident_reports"
    __table_args__ = (
        CheckConstraint("kind IN ('initial', 'follow_up')", name="kind"),
        Index("ix_incident_reports_ticket", "ticket_id", "created_at"),
    )

    id: Mapped[uuidpk]
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    text_sealed: Mapped[Sealed] = mapped_column(SealedBytes())
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[timestamp]
    sent_at: Mapped[dt.datetime | None]
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def __repr__(self) -> str:
        return f"<IncidentReport {self.id} {self.kind}>"
