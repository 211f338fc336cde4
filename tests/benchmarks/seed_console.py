"""Seed the console benchmark's database: a million tickets and five million messages, in SQL.

Used by bench_console.py (`python tests/benchmarks/bench_console.py --seed-only` seeds
and stops). The database is the benchmark's own: created here, marked with a comment,
migrated with `intake.schema.upgrade`, filled with server-side INSERT … SELECT over
generate_series, and reused while its marker says it holds the same seed.

The bulk messages carry random bytes behind a real sealed header (the desk's key id) at
the length a sealed message has: no one opens them. The one ticket the benchmark opens
holds a real thread, sealed through the product's own functions.
"""

# ruff: noqa: S608 - the seeding SQL is built from this file's own constants, never from input

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from math import gcd
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, make_url, select, text
from sqlalchemy.orm import Session

from intake import notes, schema, triage
from intake.db import make_engine, make_sessionmaker
from intake.models import Business, Direction, Message, Note, Ticket, User
from intake.settings import Settings
from intake.tickets import add_message, message_text
from safeguards import keys as keyfiles
from safeguards.passwords import hash_password
from safeguards.sealing import NONCE_BYTES, KeyRing, SealingError, key_id_of

# Bump when the seed changes, so an older seeded database is rebuilt rather than reused.
SEED_VERSION = 2  # 2: five million messages
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

# Every ticket starts with the worker's message; the rest are dealt out over the tickets,
# taken in a shuffled order, along the curve 1 - (1 - x)^MESSAGE_SKEW: the quietest tickets
# get two or three more, the busiest about a thousand (at a million tickets and five
# million messages: median 4 a ticket, 90th percentile 7, 99th 16, the most ~1,000).
MESSAGE_SKEW = 0.6
INBOUND_SHARE = 0.6  # workers write more than staff answer
PLAINTEXT_BYTES = (40, 400)  # a message's UTF-8 length: the shortest, and how much longer
GCM_TAG_BYTES = 16
NOISE_BYTES = 4096  # random bytes the bulk messages' ciphertexts are cut from


class BenchError(RuntimeError):
    """The benchmark cannot go on: a wrong argument, a foreign database, a page that failed."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(what: str) -> Iterator[None]:
    started = time.perf_counter()
    log(f"  {what}…")
    yield
    log(f"  {what}: {time.perf_counter() - started:.1f} s")


@dataclass(frozen=True)
class SeedSize:
    tickets: int
    messages: int

    def check(self) -> None:
        least = self.tickets - 1 + THREAD_MESSAGES
        if self.tickets < 1 or self.messages < least:
            raise BenchError(
                f"{self.tickets:,} tickets need at least {least:,} messages: one for each, "
                f"and {THREAD_MESSAGES} on the ticket whose thread is opened"
            )


# --- the database: ours, marked, created or reused ---------------------------------------


@dataclass(frozen=True)
class BenchDatabase:
    url: str  # as the product reads DATABASE_URL
    name: str
    admin: str  # the same server's maintenance database, for CREATE/DROP DATABASE


def bench_database(url: str) -> BenchDatabase:
    parsed = make_url(url)
    if not parsed.database:
        raise BenchError("--database-url must name a database")
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


def prepare_database(db: BenchDatabase, size: SeedSize, reseed: bool) -> dict[str, Any] | None:
    """Create the database, or keep it; return its marker when it is seeded at this size."""
    wanted = {
        "tickets": size.tickets,
        "messages": size.messages,
        "version": SEED_VERSION,
        "state": "ready",
    }
    with psycopg.connect(db.admin, autocommit=True) as admin:
        marker = _marker(admin, db.name)
        if marker is not None and not reseed and all(marker.get(k) == v for k, v in wanted.items()):
            return marker
        if marker == {}:  # exists without our marker: someone else's, or an empty one
            own_url = make_url(db.admin).set(database=db.name).render_as_string(False)
            if _has_tables(own_url):
                raise BenchError(
                    f"database {db.name!r} exists, holds tables and is not a benchmark "
                    "database: choose another --database-url"
                )
        if marker:  # ours, at another size, half-seeded, or --reseed
            log(f"dropping the benchmark database {db.name} (seeded {marker})")
            admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(db.name)))
            marker = None
        if marker is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
        _mark(admin, db.name, **{**wanted, "state": "seeding"})
    return None


def mark_ready(db: BenchDatabase, size: SeedSize, **values: Any) -> None:
    with psycopg.connect(db.admin, autocommit=True) as admin:
        _mark(
            admin,
            db.name,
            tickets=size.tickets,
            messages=size.messages,
            version=SEED_VERSION,
            state="ready",
            **values,
        )


# --- the schema's indexes and constraints, as migrated -------------------------------------

SCHEMA_OBJECTS = """
SELECT 'index', i.indrelid::regclass::text, i.indexrelid::regclass::text,
       pg_get_indexdef(i.indexrelid), i.indisvalid
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relnamespace = current_schema()::regnamespace
UNION ALL
SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated
FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
ORDER BY 1, 2, 3
"""


def schema_objects(engine: Engine) -> list[tuple[Any, ...]]:
    """Every index and constraint of the schema: name, definition, and whether valid."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(SCHEMA_OBJECTS)]


def check_schema_objects(engine: Engine, migrated: list[tuple[Any, ...]]) -> None:
    """Fail unless the seeded schema has the very indexes and constraints it was migrated with."""
    seeded = schema_objects(engine)
    missing = sorted(set(migrated) - set(seeded))
    extra = sorted(set(seeded) - set(migrated))
    if missing or extra:
        raise BenchError(f"the seed changed the schema: missing {missing}, extra {extra}")
    indexes = sum(1 for row in seeded if row[0] == "index")
    constraints = len(seeded) - indexes
    log(f"  as migrated: the same {indexes} indexes and {constraints} constraints")


@contextmanager
def without_indexes(conn: Connection, table: str) -> Iterator[None]:
    """Drop a table's indexes and the keys on or to it, then make the same ones again.

    Loading into a table without indexes and building each index once is about twice
    as fast as keeping them up row by row (a random-uuid primary key most of all), and
    adding a foreign key back checks every row in one query. The definitions are read
    from the catalog, so what comes back is what the migrations made. It runs in the
    caller's transaction: an error rolls the drops back with the rest.
    """
    keys = conn.exec_driver_sql(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype"
        " FROM pg_constraint WHERE (conrelid = %(t)s::regclass AND contype IN ('p', 'u', 'f'))"
        " OR (confrelid = %(t)s::regclass AND contype = 'f')"
        # dropped in this order and made again in the reverse: foreign keys before keys
        " ORDER BY contype <> 'f', conrelid <> %(t)s::regclass",
        {"t": table},
    ).all()
    indexes = conn.exec_driver_sql(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i"
        " WHERE indrelid = %(t)s::regclass AND NOT EXISTS (SELECT FROM pg_constraint c"
        "  WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)",
        {"t": table},
    ).all()
    for owner, name, _, _ in keys:
        conn.exec_driver_sql(f'ALTER TABLE {owner} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    yield
    with step(f"{table}: {len(indexes) + len(keys)} indexes and keys made again"):
        for owner, name, definition, _ in reversed(keys):
            if not definition.startswith("FOREIGN KEY"):
                conn.exec_driver_sql(f'ALTER TABLE {owner} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            conn.exec_driver_sql(definition)
        for owner, name, definition, _ in reversed(keys):
            if definition.startswith("FOREIGN KEY"):
                conn.exec_driver_sql(f'ALTER TABLE {owner} ADD CONSTRAINT "{name}" {definition}')


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


def sealed_header(settings: Settings) -> bytes:
    """The header a message sealed now starts with: the format's magic and the key's id."""
    ring = keyfiles.load_content_ring(settings)
    sample = bytes(ring.seal_text("", b"bench"))
    header = sample[: -(NONCE_BYTES + GCM_TAG_BYTES)]
    assert key_id_of(header + bytes(NONCE_BYTES + GCM_TAG_BYTES)) == ring.primary_id
    return header


def seed(engine: Engine, size: SeedSize, header: bytes) -> dict[str, Any]:
    """Organisations, staff, workers, tickets, categories, businesses and messages, in SQL.

    Returns what the marker keeps: the workers' count and the ticket left for the thread.
    """
    tickets = size.tickets
    workers = max(1, int(tickets * WORKERS_PER_TICKET))
    other_base = 100  # staff of organisation o > 1: ids 100 + (o - 2) * 5 + 1..5
    password_hash = hash_password(PASSWORD)  # one argon2 hash for every bench login
    with engine.begin() as conn:
        x = conn.exec_driver_sql
        x("SET LOCAL synchronous_commit = off")
        x("SET LOCAL maintenance_work_mem = '512MB'")
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
        thread_id, ref = choose_thread_ticket(conn)
        seed_messages(conn, size, header, thread_id)
    # VACUUM too: a live table's settled pages are all-visible (index-only scans can skip
    # the heap) and carry hint bits; a fresh bulk load has neither until vacuumed.
    with step("VACUUM (ANALYZE)"), engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM (ANALYZE)")
    return {"workers": workers, "ticket_ref": ref}


def _messages_per_ticket(size: SeedSize, thread_id: int) -> str:
    """SQL for how many bulk messages ticket `t` gets; they add up to exactly the size asked.

    The thread's ticket gets none (its thread is sealed apart). The others, in a shuffled
    order s = 0..n-1, get 1 + C(s + 1) - C(s) with C(k) = floor(extra * G(k / n)) and G
    the curve of MESSAGE_SKEW: the sum telescopes to n + extra.
    """
    n = size.tickets - 1
    extra = size.messages - THREAD_MESSAGES - n
    prime = next(p for p in (1_000_003, 1_000_033, 1_000_037) if gcd(p, size.tickets) == 1)
    # ids 1..tickets, shuffled one-to-one onto 0..tickets-1, the thread's slot closed up
    shuffled = f"mod((t.id - 1) * {prime}::bigint, {size.tickets})"
    thread_slot = f"mod(({thread_id} - 1) * {prime}::bigint, {size.tickets})"
    s = f"({shuffled} - CASE WHEN {shuffled} > {thread_slot} THEN 1 ELSE 0 END)"

    def share(k: str) -> str:
        if n == 0:
            return "0"
        return f"floor({extra}::float8 * (1 - power(1 - ({k})::float8 / {n}, {MESSAGE_SKEW})))"

    return f"(1 + ({share(f'{s} + 1')})::bigint - ({share(s)})::bigint)"


def seed_messages(conn: Connection, size: SeedSize, header: bytes, thread_id: int) -> None:
    """The messages of every ticket but the thread's, in the order they were written."""
    inbound, outbound = Direction.IN.value, Direction.OUT.value
    shortest, longer = PLAINTEXT_BYTES
    overhead = NONCE_BYTES + GCM_TAG_BYTES
    bulk = size.messages - THREAD_MESSAGES
    conn.exec_driver_sql("SET LOCAL work_mem = '512MB'")  # the sort by time stays in memory
    with without_indexes(conn, "messages"), step(f"{bulk:,} messages"):
        # A ticket's messages run from its creation to its closing (or now); the first is
        # the worker's. Outbound ones were sent, most delivered and read, a few failed;
        # staff wrote them after the bot's first answers. Rows go in by time, as a live
        # table's do, so a ticket's messages lie scattered over the table.
        conn.execute(
            text(
                "INSERT INTO messages (id, ticket_id, direction, kind, text_sealed, language,"
                " channel, provider_message_id, options, delivery_status, purpose, attempts,"
                " failure_reason, author_user_id, created_at, sent_at) "
                "SELECT gen_random_uuid(), ticket_id, direction, 'text',"
                " :header || substr(:noise, 1 + floor(r_offset * (:noise_bytes - len))::int, len),"
                " language, channel, ticket_id || '.' || k, '[]',"
                f" CASE WHEN direction = '{inbound}' THEN 'received'"
                "  WHEN r_status < 0.005 THEN 'failed' WHEN r_status < 0.1 THEN 'sent'"
                "  WHEN r_status < 0.3 THEN 'delivered' ELSE 'read' END,"
                f" CASE WHEN direction = '{outbound}' AND r_status > 0.95 THEN 'prompt'"
                "  ELSE 'reply' END,"
                f" CASE WHEN direction = '{inbound}' THEN 0 WHEN r_status < 0.005 THEN 5"
                "  ELSE 1 END,"
                f" CASE WHEN direction = '{outbound}' AND r_status < 0.005"
                "  THEN 'bench: the provider refused it' END,"
                f" CASE WHEN direction = '{outbound}' AND k > 2 THEN assignee_id END,"
                f" at, CASE WHEN direction = '{outbound}' AND r_status >= 0.005"
                "  THEN at + interval '2 seconds' END "
                "FROM (SELECT *,"
                f"  CASE WHEN k = 1 OR r_direction < {INBOUND_SHARE} THEN '{inbound}'"
                f"   ELSE '{outbound}' END AS direction,"
                "  created_at + span * CASE WHEN k = 1 THEN 0"
                "   ELSE (k - 1 + r_jitter * 0.9) / n END AS at,"
                f"  {overhead + shortest} + floor(r_length * r_length * {longer})::int AS len"
                " FROM (SELECT t.id AS ticket_id, t.language, t.channel, t.assignee_id,"
                "   t.created_at, least(coalesce(t.closed_at, now()), now()) - t.created_at"
                "   AS span, n, k, random() AS r_direction, random() AS r_length,"
                "   random() AS r_offset, random() AS r_status, random() AS r_jitter"
                f"  FROM (SELECT t.*, {_messages_per_ticket(size, thread_id)} AS n"
                f"   FROM tickets AS t WHERE t.id <> {thread_id}) AS t,"
                "   generate_series(1, n) AS k OFFSET 0) AS drawn OFFSET 0) AS m "
                "ORDER BY at"
            ),
            {"header": header, "noise": os.urandom(NOISE_BYTES), "noise_bytes": NOISE_BYTES},
        )


def choose_thread_ticket(conn: Connection) -> tuple[int, str]:
    """An open, triaged Burmese Telegram ticket of the benchmarked organisation."""
    row = conn.execute(
        text(
            "SELECT id, ref FROM tickets WHERE organisation_id = 1 AND status = 'triaged'"
            " AND language = 'my' AND channel = 'telegram' AND NOT urgent"
            " ORDER BY id DESC LIMIT 1"
        )
    ).first()
    if row is None:
        raise BenchError("no triaged Burmese Telegram ticket to put a thread on: seed more")
    return int(row[0]), str(row[1])


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
    try:
        with make_sessionmaker(engine)() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
            caseworker = session.scalar(select(User).where(User.email == CASEWORKER))
            assert ticket is not None
            assert caseworker is not None
            if thread_is_sealed_here(session, ring, ticket):
                log(f"thread on {ref}: already sealed under this instance's keys")
                return
            with step(f"thread on {ref}: {THREAD_MESSAGES} messages, {THREAD_NOTES} notes"):
                _seal_thread(session, ring, ticket, caseworker)
                session.commit()
    finally:
        engine.dispose()


def _seal_thread(session: Session, ring: KeyRing, ticket: Ticket, caseworker: User) -> None:
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


# --- all of it: seeded now, or found seeded ------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    ref: str  # the ticket whose thread the benchmark opens
    seconds: float  # how long the seed took, in this run or when it was made
    fresh: bool  # seeded in this run


def ensure_seeded(settings: Settings, db: BenchDatabase, size: SeedSize, reseed: bool) -> Seeded:
    """Migrate the database and seed it, or reuse it when its marker says it is seeded so."""
    size.check()
    marker = prepare_database(db, size, reseed)
    engine = make_engine(settings.database_url)
    try:
        with step("migrate (intake.schema.upgrade)"):
            schema.upgrade(engine)
        if marker is not None:
            ref = str(marker["ticket_ref"])
            log(
                f"reusing {db.name}: {size.tickets:,} tickets, {size.messages:,} messages,"
                f" seeded in {marker.get('seed_seconds')} s"
            )
            seed_thread(settings, ref)
            return Seeded(ref, float(marker.get("seed_seconds") or 0.0), fresh=False)
        log(f"seeding {db.name} with {size.tickets:,} tickets and {size.messages:,} messages")
        started = time.perf_counter()
        migrated = schema_objects(engine)
        shape = seed(engine, size, sealed_header(settings))
        seed_thread(settings, shape["ticket_ref"])
        check_schema_objects(engine, migrated)
        seconds = time.perf_counter() - started
        mark_ready(db, size, seed_seconds=round(seconds, 1), **shape)
        log(f"seeded in {seconds:.0f} s")
        return Seeded(shape["ticket_ref"], seconds, fresh=True)
    finally:
        engine.dispose()
