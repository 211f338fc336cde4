"""Time the caseworker console at a million tickets: the triage queue and a ticket page.

A benchmark, not a test: pytest collects only test_*.py, so run it by hand.

    python tests/benchmarks/bench_console.py [--tickets 1000000] [--requests 300]
        [--database-url postgresql://postgres@127.0.0.1/voicedesk_bench]

It creates a database of its own (and reuses it when it is already seeded at the same
size), migrates it with `intake.schema.upgrade`, seeds it with server-side SQL, seals
a real thread of messages and notes through the product's own functions, signs a
caseworker in through the two-factor sign-in, and times requests through the Flask
app (the test client: no network, no gunicorn). It prints p50/p95/p99 per view, the
SQL each request ran, and EXPLAIN (ANALYZE, BUFFERS) of the ticket queries; a view
whose p95 is over the target is profiled with cProfile. It prints figures and asserts
nothing.

It never drops a database it did not make: its databases carry a marker comment.
"""

# ruff: noqa: S608 - the seeding SQL is built from this file's own constants, never from input

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import html
import io
import json
import logging
import os
import platform
import pstats
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, delete, event, make_url, select, text, update
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the product, and tests/support

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from console.app import create_app  # noqa: E402
from intake import notes, schema, triage  # noqa: E402
from intake.db import make_engine, make_sessionmaker  # noqa: E402
from intake.models import (  # noqa: E402
    Business,
    Direction,
    Message,
    Note,
    RecoveryCode,
    Ticket,
    User,
)
from intake.settings import Settings  # noqa: E402
from intake.tickets import add_message, message_text  # noqa: E402
from safeguards import keys as keyfiles  # noqa: E402
from safeguards.passwords import hash_password  # noqa: E402
from safeguards.sealing import KeyRing, SealingError  # noqa: E402

from support.signin import sign_in as sign_in_with_code  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1/voicedesk_bench"
TARGET_MS = 100.0
# Bump when the seed changes, so an older seeded database is rebuilt rather than reused.
SEED_VERSION = 1
MARKER = "voicedesk-console-bench"

ORGANISATIONS = 20
BENCH_ORG_SHARE = 0.10  # the benchmarked organisation holds a tenth of all tickets
BENCH_ORG_STAFF = 25  # user ids 1..25 (1 is the caseworker we sign in as, 2 a supervisor)
OTHER_ORG_STAFF = 5
WORKERS_PER_TICKET = 0.7
CASEWORKER = "bench-caseworker@bench.local"
PASSWORD = "bench-password-not-secret"
THREAD_MESSAGES = 20
THREAD_NOTES = 3
DEEP_PAGE = 100  # "the first page and the hundredth cost the same" (intake/queue.py)


# --- the database: ours, marked, created or reused ---------------------------------------


@dataclass(frozen=True)
class BenchDatabase:
    url: str  # as the product reads DATABASE_URL
    name: str
    admin: str  # the same server's maintenance database, for CREATE/DROP DATABASE


def bench_database(url: str) -> BenchDatabase:
    parsed = make_url(url)
    if not parsed.database:
        raise SystemExit("--database-url must name a database")
    admin = parsed.set(drivername="postgresql", database="postgres")
    return BenchDatabase(url, parsed.database, admin.render_as_string(hide_password=False))


def _marker(admin: psycopg.Connection[Any], name: str) -> dict[str, Any] | None:
    row = admin.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    if row is None:
        return None
    try:
        found = json.loads(row[0] or "")
    except ValueError:
        found = None
    return found if isinstance(found, dict) and found.get("bench") == MARKER else {}


def _mark(admin: psycopg.Connection[Any], name: str, **values: Any) -> None:
    comment = json.dumps({"bench": MARKER, **values}, sort_keys=True)
    admin.execute(
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(comment))
    )


def _has_tables(conninfo: str) -> bool:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    return bool(row and row[0])


def prepare_database(db: BenchDatabase, tickets: int, reseed: bool) -> dict[str, Any] | None:
    """Create the database, or keep it; return its marker when it is seeded at this size."""
    wanted = {"tickets": tickets, "version": SEED_VERSION, "state": "ready"}
    with psycopg.connect(db.admin, autocommit=True) as admin:
        marker = _marker(admin, db.name)
        if marker is not None and not reseed and all(marker.get(k) == v for k, v in wanted.items()):
            return marker
        if marker == {}:  # exists without our marker: someone else's, or an empty one
            own_url = make_url(db.admin).set(database=db.name).render_as_string(False)
            if _has_tables(own_url):
                raise SystemExit(
                    f"database {db.name!r} exists, holds tables and is not a benchmark "
                    "database: choose another --database-url"
                )
        if marker:  # ours, at another size, half-seeded, or --reseed
            log(f"dropping the benchmark database {db.name} (seeded {marker})")
            admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(db.name)))
            marker = None
        if marker is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
        _mark(admin, db.name, tickets=tickets, version=SEED_VERSION, state="seeding")
    return None


def mark_ready(db: BenchDatabase, **values: Any) -> None:
    with psycopg.connect(db.admin, autocommit=True) as admin:
        _mark(admin, db.name, version=SEED_VERSION, state="ready", **values)


# --- seeding with server-side SQL ------------------------------------------------------------

REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # as intake.tickets, so refs look real


def _ref_sql(n: str) -> str:
    """A unique XXXX-XXXX reference for ticket n: n times a prime, modulo 31^8, in base 31."""
    x = f"mod({n}::bigint * 1000003 + 12345, {31**8})"  # 1000003 is prime: one-to-one
    chars = [f"substr('{REF_ALPHABET}', (mod({x} / {31**k}, 31))::int + 1, 1)" for k in range(8)]
    return " || ".join([*chars[:4], "'-'", *chars[4:]])


def _bucket(value: str, choices: list[tuple[float, str]]) -> str:
    """CASE over cumulative shares: [(0.35, 'telegram'), (0.60, 'whatsapp'), ...]."""
    whens = " ".join(f"WHEN {value} < {share} THEN {label}" for share, label in choices[:-1])
    return f"CASE {whens} ELSE {choices[-1][1]} END"


def _worker_hash(w: str, salt: int) -> str:
    # A stable per-worker number in [0, 1): a worker keeps one channel and one language.
    return f"(abs(hashint4({w}::int + {salt})::bigint)::float8 / 2147483648.0)"


def _channel(w: str) -> str:
    shares = [(0.35, "'telegram'"), (0.60, "'whatsapp'"), (0.75, "'viber'"), (0.90, "'sms'"),
              (1.0, "'voice'")]  # fmt: skip
    return _bucket(_worker_hash(w, 0), shares)


def _language(w: str) -> str:
    shares = [(0.05, "NULL"), (0.45, "'my'"), (0.65, "'km'"), (0.80, "'ne'"), (1.0, "'th'")]
    return _bucket(_worker_hash(w, 7_777_777), shares)


def _country(language: str) -> str:
    return (
        f"CASE {language} WHEN 'ne' THEN 'MY' WHEN 'my' THEN 'TH' WHEN 'km' THEN 'TH' ELSE 'TH' END"
    )


def seed(engine: Engine, tickets: int) -> dict[str, Any]:
    """Organisations, staff, workers, tickets, categories and businesses, all in SQL."""
    workers = max(1, int(tickets * WORKERS_PER_TICKET))
    other_base = 100  # staff of organisation o > 1: ids 100 + (o - 2) * 5 + 1..5
    password_hash = hash_password(PASSWORD)  # one argon2 hash for every bench login
    with engine.begin() as conn:
        x = conn.exec_driver_sql
        x("SET LOCAL synchronous_commit = off")
        x("SET LOCAL maintenance_work_mem = '256MB'")
        x("SELECT setseed(0.2024)")
        with step("organisations and staff"):
            x(
                "INSERT INTO organisations (id, name, languages, countries, created_at) "
                "SELECT o, 'Bench Organisation ' || lpad(o::text, 2, '0'), "
                """'["my","km","ne","th"]'::json, '["TH","MY","MM"]'::json, """
                "now() - interval '4 years' "
                f"FROM generate_series(1, {ORGANISATIONS}) AS o"
            )
            conn.execute(
                text(
                    "INSERT INTO users (id, email, organisation_id, role, password_hash, active,"
                    " created_at) "
                    "SELECT u, CASE WHEN u = 1 THEN :caseworker"
                    " ELSE 'staff-' || u || '@org01.bench.local' END, 1,"
                    " CASE u WHEN 2 THEN 'supervisor' WHEN :admin THEN 'admin'"
                    "  ELSE 'caseworker' END,"
                    " :hash, true, now() - interval '3 years' "
                    "FROM generate_series(1, :admin) AS u"
                ),
                {"caseworker": CASEWORKER, "admin": BENCH_ORG_STAFF + 1, "hash": password_hash},
            )
            conn.execute(
                text(
                    "INSERT INTO users (id, email, organisation_id, role, password_hash, active,"
                    " created_at) "
                    f"SELECT {other_base} + (o - 2) * {OTHER_ORG_STAFF} + k,"
                    " 'staff-' || k || '@org' || lpad(o::text, 2, '0') || '.bench.local', o,"
                    " CASE k WHEN 1 THEN 'supervisor' ELSE 'caseworker' END, :hash, true,"
                    " now() - interval '3 years' "
                    f"FROM generate_series(2, {ORGANISATIONS}) AS o,"
                    f" generate_series(1, {OTHER_ORG_STAFF}) AS k"
                ),
                {"hash": password_hash},
            )
            for table in ("organisations", "users"):
                x(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT max(id) FROM {table}))"
                )
        with step(f"{workers:,} workers"):
            x(
                "INSERT INTO workers (id, pseudonym, channel, language, created_at,"
                " last_inbound_at) "
                "SELECT md5('bench-worker:' || w)::uuid,"
                " 'W' || upper(substr(md5('bench-pseudonym:' || w), 1, 20)),"
                f" {_channel('w')}, {_language('w')},"
                " now() - interval '1100 days', now() - interval '1 day' "
                f"FROM generate_series(1, {workers}) AS w"
            )
        open_statuses = [(0.35, "'new'"), (0.60, "'triaged'"), (0.80, "'in_remediation'"),
                         (0.92, "'awaiting_validation'"), (1.0, "'validated'")]  # fmt: skip
        bench_staff = f"1 + floor(r_assign / 0.8 * {BENCH_ORG_STAFF})::int"
        other_staff = (
            f"{other_base} + (org - 2) * {OTHER_ORG_STAFF} + 1"
            f" + floor(r_assign / 0.8 * {OTHER_ORG_STAFF})::int"
        )
        with step(f"{tickets:,} tickets"):
            # Ids grow with created_at, as a real table's do; the newest 90 days are half
            # open, older tickets mostly closed: about a tenth open in all. OFFSET 0 keeps
            # each random() evaluated once per row.
            x(
                "INSERT INTO tickets (id, ref, status, language, channel, organisation_id,"
                " worker_id, urgent, person_requested_at, urgent_since, country, assignee_id,"
                " created_at, updated_at, closed_at) "
                f"SELECT i, {_ref_sql('i')}, status, {_language('w')}, {_channel('w')}, org,"
                " md5('bench-worker:' || w)::uuid, urgent,"
                " CASE WHEN status <> 'closed' AND r_person < 0.02"
                "  THEN created_at + interval '1 hour' END,"
                " CASE WHEN urgent THEN created_at + interval '2 hours' END,"
                f" {_country(_language('w'))},"
                " CASE WHEN status = 'new' OR r_assign >= 0.8 THEN NULL"
                f"  WHEN org = 1 THEN {bench_staff} ELSE {other_staff} END,"
                " created_at, least(now(), created_at + interval '3 days'),"
                " CASE WHEN status = 'closed' THEN least(now(), created_at + interval '25 days')"
                "  END "
                "FROM (SELECT *, CASE WHEN r_open < CASE WHEN created_at > now() - interval"
                "  '90 days' THEN 0.5 ELSE 0.064 END"
                f"  THEN {_bucket('r_status', open_statuses)} ELSE 'closed' END AS status"
                " FROM (SELECT i, 1 + mod(i::bigint * 48271, "
                f"{workers}) AS w,"
                f"  now() - interval '1095 days' * (1 - (i - random()) / {tickets}) AS created_at,"
                f"  CASE WHEN random() < {BENCH_ORG_SHARE} THEN 1"
                f"   ELSE 2 + floor(random() * {ORGANISATIONS - 1})::int END AS org,"
                "  random() < 0.03 AS urgent, random() AS r_open, random() AS r_status,"
                "  random() AS r_assign, random() AS r_person"
                f"  FROM generate_series(1, {tickets}) AS i OFFSET 0) AS drawn OFFSET 0) AS t"
            )
            x(
                "SELECT setval(pg_get_serial_sequence('tickets', 'id'),"
                " (SELECT max(id) FROM tickets))"
            )
        categories = conn.execute(text('SELECT id, "group" FROM categories ORDER BY position'))
        ilo: list[int] = []
        other: list[int] = []
        for category_id, group in categories:
            (ilo if group == "ilo" else other).append(category_id)
        with step("ticket categories"):
            # Every ticket past `new` has one; urgent ones an ILO indicator; three in ten two.
            x(
                "INSERT INTO ticket_categories (ticket_id, category_id) "
                f"SELECT id, CASE WHEN urgent THEN (ARRAY{ilo})[1 + mod(id, {len(ilo)})::int]"
                f" ELSE (ARRAY{other})[1 + mod(id, {len(other)})::int] END "
                "FROM tickets WHERE status <> 'new'"
            )
            x(
                "INSERT INTO ticket_categories (ticket_id, category_id) "
                f"SELECT id, (ARRAY{other})[1 + mod(id / 7, {len(other)})::int] "
                "FROM tickets WHERE status <> 'new' AND mod(id, 10) < 3 ON CONFLICT DO NOTHING"
            )
        with step("businesses"):
            x(
                "INSERT INTO businesses (name, kind, country, sector, created_at) "
                "SELECT 'Bench business ' || lpad(b::text, 3, '0'),"
                " (ARRAY['brand', 'supplier', 'agency'])[1 + mod(b, 3)], 'TH', 'garments',"
                " now() - interval '2 years' FROM generate_series(1, 300) AS b"
            )
    # VACUUM too: a live table's settled pages are all-visible (index-only scans can skip
    # the heap) and carry hint bits; a fresh bulk load has neither until vacuumed.
    with step("VACUUM (ANALYZE)"), engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM (ANALYZE)")
    return {"workers": workers}


def choose_thread_ticket(engine: Engine) -> str:
    """An open, triaged Burmese Telegram ticket of the benchmarked organisation."""
    with engine.connect() as conn:
        ref = conn.scalar(
            text(
                "SELECT ref FROM tickets WHERE organisation_id = 1 AND status = 'triaged'"
                " AND language = 'my' AND channel = 'telegram' AND NOT urgent"
                " ORDER BY id DESC LIMIT 1"
            )
        )
    if ref is None:
        raise SystemExit("no triaged Burmese Telegram ticket to put a thread on: seed more")
    return str(ref)


# --- the thread: sealed through the product's own functions ------------------------------

WORKER_LINES = (
    "မင်္ဂလာပါ။ ကျွန်တော် စက်ရုံမှာ အလုပ်လုပ်နေတဲ့ မြန်မာ အလုပ်သမား ဖြစ်ပါတယ်။",
    "ကျွန်တော့် လစာ သုံးလ မရသေးပါဘူး။ ဘာလုပ်ရမလဲ မသိပါဘူး။",
    "အေးဂျင့်က ပတ်စပို့ကို သိမ်းထားပါတယ်။ ပြန်မပေးဘူး။",
    "တစ်နေ့ ၁၂ နာရီ အလုပ်လုပ်ရပြီး အချိန်ပို လုပ်ခ မပေးပါဘူး။",
    "အဆောင်မှာ လူ ၂၀ လောက် အတူတူ နေရပါတယ်။ ရေ မလုံလောက်ပါဘူး။",
    "ကျွန်တော့်အမည်ကို ပြောရင် ပြဿနာ ဖြစ်မှာ ကြောက်ပါတယ်။",
    "ဟုတ်ကဲ့၊ ဓာတ်ပုံတွေ ပို့ပေးနိုင်ပါတယ်။",
    "ကျေးဇူးတင်ပါတယ်။ နောက်နေ့ ထပ်ပြောပါမယ်။",
    "မန်နေဂျာက ကျွန်တော်တို့ကို မြို့ထဲ မသွားရဘူးလို့ ပြောပါတယ်။",
    "အေးဂျင့်ကို ဘတ် ၄၀,၀၀၀ ပေးခဲ့ရပါတယ်။",
)
STAFF_LINES = (
    "မင်္ဂလာပါ။ ဆက်သွယ်ပေးတဲ့အတွက် ကျေးဇူးတင်ပါတယ်။ ကျွန်ုပ်တို့ ကူညီပါမယ်။",
    "လစာ မရတာ ဘယ်လောက် ကြာပြီလဲ။ စက်ရုံနာမည် ပြောပြနိုင်မလား။",
    "သင့်အမည်ကို ကုမ္ပဏီကို မပြောပါဘူး။ စိတ်ချပါ။",
    "ဓာတ်ပုံတွေ ပို့ပေးရင် ကျွန်ုပ်တို့ စစ်ဆေးပါမယ်။",
    "ကုမ္ပဏီနဲ့ ဆက်သွယ်နေပါတယ်။ သတင်း ရတာနဲ့ ပြန်ပြောပါမယ်။",
)
NOTE_LINES = (
    "Called the recruitment agency: they deny holding passports; worker says otherwise.",
    "Brand's supplier code of conduct forbids document retention; raise with the brand.",
    "Worker prefers Telegram only, evenings after 20:00 Bangkok time. Do not call.",
)


def thread_is_sealed_here(session: Session, ring: KeyRing, ticket: Ticket) -> bool:
    """Whether the ticket holds the whole thread and this instance's keys open it."""
    messages = list(session.scalars(select(Message).where(Message.ticket_id == ticket.id)))
    found_notes = list(session.scalars(select(Note).where(Note.ticket_id == ticket.id)))
    if len(messages) != THREAD_MESSAGES or len(found_notes) != THREAD_NOTES:
        return False
    try:
        for message in messages:
            message_text(ring, message)
        for note in found_notes:
            ring.open_text(note.text_sealed, notes.note_binding(note.id))
    except SealingError:
        return False
    return True


def seed_thread(settings: Settings, ref: str) -> None:
    """Seal ~20 messages and a few notes on the ticket, as intake and caseworkers would."""
    ring = keyfiles.load_content_ring(settings)
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
        caseworker = session.scalar(select(User).where(User.email == CASEWORKER))
        assert ticket is not None
        assert caseworker is not None
        if thread_is_sealed_here(session, ring, ticket):
            log(f"thread on {ref}: already sealed under this instance's keys")
            return
        with step(f"thread on {ref}: {THREAD_MESSAGES} messages, {THREAD_NOTES} notes"):
            # A new instance folder means new keys: seal the thread again under them.
            session.execute(text("DELETE FROM messages WHERE ticket_id = :t"), {"t": ticket.id})
            session.execute(text("DELETE FROM notes WHERE ticket_id = :t"), {"t": ticket.id})
            supervisor = session.scalar(
                select(User).where(User.organisation_id == 1, User.role == "supervisor")
            )
            assert supervisor is not None
            triage.assign(session, supervisor, ticket, caseworker.id)
            for business_id in session.scalars(select(Business.id).order_by(Business.id).limit(2)):
                triage.link_business(session, caseworker, ticket, business_id)
            when = ticket.created_at
            for k in range(THREAD_MESSAGES):
                inbound = k % 3 != 1  # workers write more than staff answer
                lines = WORKER_LINES if inbound else STAFF_LINES
                message = add_message(
                    session,
                    ring,
                    ticket,
                    direction=Direction.IN if inbound else Direction.OUT,
                    text=f"{lines[k % len(lines)]} ({k + 1})",
                    language="my",
                    provider_message_id=f"bench-{ticket.id}-{k}",
                    author_user_id=None if inbound else caseworker.id,
                )
                message.created_at = when + dt.timedelta(hours=3 * k)
            for k, line in enumerate(NOTE_LINES):
                note = notes.add_note(session, ring, caseworker, ticket, line)
                note.created_at = when + dt.timedelta(hours=10 * k + 5)
            session.commit()
    engine.dispose()


# --- signing in -------------------------------------------------------------------------------


def sign_in(app: Flask, engine: Engine, email: str = CASEWORKER) -> FlaskClient:
    """A test client signed in as a person would: password, then enrolling a TOTP app."""
    # Enrol afresh every run: the TOTP secret of an earlier run is not kept anywhere.
    with engine.begin() as conn:
        user_id = conn.scalar(select(User.id).where(User.email == email))
        conn.execute(
            update(User)
            .where(User.id == user_id)
            .values(totp_secret_sealed=None, totp_enrolled_at=None, totp_last_step=None)
        )
        conn.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    client = app.test_client()
    page = sign_in_with_code(client, email, PASSWORD, {}, next_page="/tickets")
    if page.status_code != 200 or page.request.path != "/tickets":
        raise SystemExit(f"sign-in ended on {page.request.path} ({page.status_code})")
    return client


# --- measuring -------------------------------------------------------------------------------


@dataclass
class SqlTrace:
    """Statements a request ran, and the time spent in them (client side, round trips too)."""

    statements: int = 0
    seconds: float = 0.0
    captured: list[tuple[str, Any]] | None = None
    _started: list[float] = field(default_factory=list)

    def install(self, engine: Engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            self._started.append(time.perf_counter())
            if self.captured is not None:
                self.captured.append((statement, params))

        @event.listens_for(engine, "after_cursor_execute")
        def _after(*_: Any) -> None:
            self.statements += 1
            self.seconds += time.perf_counter() - self._started.pop()

    def reset(self) -> None:
        self.statements, self.seconds = 0, 0.0


@dataclass(frozen=True)
class View:
    name: str
    url: str
    kind: str  # "queue" or "ticket"


@dataclass
class Timings:
    view: View
    ms: list[float]
    cpu_ms: list[float]
    sql_ms: list[float]
    statements: list[int]
    rows: int
    load: float

    def p(self, q: float) -> float:
        return percentile(self.ms, q)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, linearly interpolated between the closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


QUEUE_ROW = re.compile(r'<tr(?: class="urgent")?>\s*<td><a href="/tickets/')
NEXT_LINK = re.compile(r'<a rel="next" href="([^"]+)"')


def rows_shown(view: View, page: str) -> int:
    if view.kind == "queue":
        return len(QUEUE_ROW.findall(page))
    return page.count('<li class="msg ')


def get(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}")
    return response.text


def next_page(client: FlaskClient, url: str) -> str | None:
    found = NEXT_LINK.search(get(client, url))
    return html.unescape(found.group(1)) if found else None


def views(client: FlaskClient, ref: str) -> list[View]:
    """The views to time; the later queue pages are reached by following "Next page" links."""
    second = next_page(client, "/tickets")
    if second is None:
        raise SystemExit("the queue has a single page: seed more tickets")
    deep, number = second, 2
    while number < DEEP_PAGE and (following := next_page(client, deep)) is not None:
        deep, number = following, number + 1
    return [
        View("queue, default filters", "/tickets", "queue"),
        View("queue, status=new", "/tickets?status=new", "queue"),
        View("queue, urgent=1", "/tickets?urgent=1", "queue"),
        View("queue, language=my", "/tickets?language=my", "queue"),
        View("queue, assignee=me", "/tickets?assignee=me", "queue"),
        View("queue, age=30d", "/tickets?age=30d", "queue"),
        View("queue, page 2 (after)", second, "queue"),
        View(f"queue, page {number} (after)", deep, "queue"),
        View(f"ticket page {ref}", f"/tickets/{ref}", "ticket"),
    ]


def measure(
    client: FlaskClient, trace: SqlTrace, view: View, warmup: int, requests: int
) -> Timings:
    for _ in range(warmup):
        get(client, view.url)
    ms, cpu_ms, sql_ms, statements = [], [], [], []
    page = ""
    for _ in range(requests):
        trace.reset()
        started, cpu_started = time.perf_counter(), time.thread_time()
        page = get(client, view.url)
        ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.thread_time() - cpu_started) * 1000)
        sql_ms.append(trace.seconds * 1000)
        statements.append(trace.statements)
    load = os.getloadavg()[0]
    return Timings(view, ms, cpu_ms, sql_ms, statements, rows_shown(view, page), load)


def profile(client: FlaskClient, view: View, requests: int = 30) -> str:
    """cProfile over a few requests of one view: the top of cumulative and own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        get(client, view.url)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write(f"--- {requests} requests, by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(25)
    out.write(f"--- {requests} requests, by own time ---\n")
    stats.sort_stats("tottime").print_stats(15)
    return out.getvalue()


# --- EXPLAIN of what a request ran ------------------------------------------------------------


def statements_of(client: FlaskClient, trace: SqlTrace, view: View) -> list[tuple[str, Any]]:
    trace.captured = []
    try:
        get(client, view.url)
        return trace.captured
    finally:
        trace.captured = None


def explain(engine: Engine, statement: str, params: Any) -> list[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, SETTINGS) " + statement, params
        ).fetchall()
        conn.rollback()
    return [row[0] for row in rows]


def execution_ms(plan: list[str]) -> float:
    for line in plan:
        if line.startswith("Execution Time:"):
            return float(line.split()[2])
    return float("nan")


def short(statement: str, width: int = 96) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def print_explains(engine: Engine, client: FlaskClient, trace: SqlTrace, view: View) -> None:
    """Every SELECT the view ran with its execution time; plans of the ticket queries."""
    print(f"\n## {view.name}: GET {view.url}")
    for statement, params in statements_of(client, trace, view):
        if not statement.lstrip().upper().startswith("SELECT"):
            print(f"  (not explained) {short(statement)}")
            continue
        plan = explain(engine, statement, params)
        print(f"  {execution_ms(plan):8.3f} ms  {short(statement)}")
        if re.search(r"\bFROM tickets\b", statement):
            for line in plan:
                print(f"      {line}")


# --- indexes to try -------------------------------------------------------------------------

TRY_INDEX = "bench_try_"


def try_indexes(engine: Engine, definitions: list[str]) -> None:
    """Drop the indexes an earlier run made by hand, then make these; ANALYZE either way."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        leftovers = conn.scalars(
            text("SELECT indexname FROM pg_indexes WHERE indexname LIKE :p"),
            {"p": TRY_INDEX + "%"},
        ).all()
        for name in leftovers:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        for k, definition in enumerate(definitions):
            with step(f"CREATE INDEX {TRY_INDEX}{k} {definition}"):
                conn.exec_driver_sql(f"CREATE INDEX {TRY_INDEX}{k} {definition}")
        if leftovers or definitions:
            conn.exec_driver_sql("ANALYZE")


# --- reporting --------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(what: str) -> Iterator[None]:
    started = time.perf_counter()
    log(f"  {what}…")
    yield
    log(f"  {what}: {time.perf_counter() - started:.1f} s")


def machine(engine: Engine) -> list[str]:
    cpu = "?"
    memory = "?"
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next(ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln)
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    with engine.connect() as conn:
        version = conn.scalar(text("SHOW server_version"))
        settings = {
            name: conn.scalar(text(f"SHOW {name}"))
            for name in (
                "shared_buffers",
                "work_mem",
                "effective_cache_size",
                "random_page_cost",
                "jit",
                "synchronous_commit",
            )  # fmt: skip
        }
    return [
        f"machine: {os.cpu_count()} cores ({cpu}), {memory} RAM, {platform.platform()}",
        f"python {platform.python_version()}; PostgreSQL {version}; "
        + ", ".join(f"{k}={v}" for k, v in settings.items()),
    ]


def data_shape(engine: Engine) -> str:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE organisation_id = 1),"
                " count(*) FILTER (WHERE organisation_id = 1 AND status <> 'closed'),"
                " count(*) FILTER (WHERE organisation_id = 1 AND status <> 'closed' AND urgent),"
                " pg_size_pretty(pg_total_relation_size('tickets'))"
                " FROM tickets"
            )
        ).one()
    return (
        f"data: {row[0]:,} tickets ({row[4]} with indexes); the benchmarked organisation "
        f"holds {row[1]:,}, of which {row[2]:,} open ({row[3]:,} urgent)"
    )


def print_table(results: list[Timings]) -> None:
    head = (
        f"{'view':<30} {'n':>4} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>6}"
        f" {'cpu50':>6} {'sql50':>6} {'stmts':>5} {'rows':>4} {'load':>5}  p95<{TARGET_MS:.0f}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.view.name:<30} {len(r.ms):>4} {r.p(50):>6.1f} {r.p(95):>6.1f} {r.p(99):>6.1f}"
            f" {max(r.ms):>6.1f} {percentile(r.cpu_ms, 50):>6.1f} {percentile(r.sql_ms, 50):>6.1f}"
            f" {sorted(r.statements)[len(r.statements) // 2]:>5} {r.rows:>4} {r.load:>5.1f}"
            f"  {'yes' if r.p(95) < TARGET_MS else 'NO'}"
        )
    print(
        "milliseconds of wall time per request; cpu50 = median CPU time of this process (the"
        " app's Python, not PostgreSQL's); sql50 = median time inside cursor.execute (round"
        " trips and server time); stmts = statements per request; rows = queue rows or"
        " messages shown; load = 1-minute load average when the view's timing ended"
    )


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per view")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per view first")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--reseed", action="store_true", help="rebuild the benchmark database")
    parser.add_argument(
        "--profile", action="store_true", help="profile every view, not only the slow ones"
    )
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument(
        "--try-index",
        action="append",
        default=[],
        metavar="DEFINITION",
        help="an index to measure with, made by hand for this run and dropped after it, e.g. "
        "\"ON tickets (organisation_id) INCLUDE (status) WHERE status <> 'closed'\"",
    )
    args = parser.parse_args(argv)

    db = bench_database(args.database_url)
    instance = Path(tempfile.gettempdir()) / f"voicedesk-bench-{db.name}"
    # An explicit environment: no .env of the checkout, no real keys, slip into a bench desk.
    env = {"VOICEDESK_INSTANCE": str(instance), "DATABASE_URL": db.url}
    settings = Settings.from_env(env)
    keyfiles.ensure_dev_keys(settings)
    # Development keys in the instance folder are the point of a throwaway bench desk.
    logging.getLogger("safeguards.keys").setLevel(logging.ERROR)
    logging.getLogger("console.app").setLevel(logging.ERROR)

    marker = prepare_database(db, args.tickets, args.reseed)
    engine = make_engine(settings.database_url)
    with step("migrate (intake.schema.upgrade)"):
        schema.upgrade(engine)
    if marker is None:
        log(f"seeding {db.name} with {args.tickets:,} tickets")
        started = time.perf_counter()
        shape = seed(engine, args.tickets)
        ref = choose_thread_ticket(engine)
        seed_thread(settings, ref)
        seconds = time.perf_counter() - started
        mark_ready(db, tickets=args.tickets, ticket_ref=ref, seed_seconds=round(seconds), **shape)
        log(f"seeded in {seconds:.0f} s")
    else:
        ref = marker["ticket_ref"]
        log(
            f"reusing {db.name}: {args.tickets:,} tickets, seeded in {marker.get('seed_seconds')} s"
        )
        seed_thread(settings, ref)

    try_indexes(engine, args.try_index)
    try:
        run(settings, engine, args, ref)
    finally:
        try_indexes(engine, [])


def run(settings: Settings, engine: Engine, args: argparse.Namespace, ref: str) -> None:
    """Sign in, time every view, and print the figures, the plans and any profiles."""
    app = create_app(settings)
    app_engine: Engine = app.extensions["voicedesk"]["engine"]
    trace = SqlTrace()
    trace.install(app_engine)
    client = sign_in(app, engine)

    print("# Worker Voice Desk console benchmark")
    for line in machine(engine):
        print(line)
    print(data_shape(engine))
    print(f"signed in as {CASEWORKER} (caseworker, organisation 1): password, then TOTP")
    for k, definition in enumerate(args.try_index):
        print(f"with an index made by hand for this run: CREATE INDEX {TRY_INDEX}{k} {definition}")
    print("load average at the start: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"{args.warmup} warm-up then {args.requests} timed requests per view, one after another,"
          " through the Flask test client in this process\n")  # fmt: skip

    chosen = views(client, ref)
    results = []
    for view in chosen:
        log(f"timing {view.name}")
        results.append(measure(client, trace, view, args.warmup, args.requests))
    print_table(results)

    if not args.no_explain:
        print("\n# Each view's SELECTs under EXPLAIN (ANALYZE, BUFFERS); plans of those on tickets")
        explain_engine = make_engine(settings.database_url)
        for view in chosen:
            print_explains(explain_engine, client, trace, view)
        explain_engine.dispose()

    for result in results:
        if args.profile or result.p(95) >= TARGET_MS:
            print(f"\n# cProfile: {result.view.name} (p95 {result.p(95):.1f} ms)")
            print(profile(client, result.view))


if __name__ == "__main__":
    main()
