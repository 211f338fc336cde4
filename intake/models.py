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
    created_at: Mapped[timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

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
