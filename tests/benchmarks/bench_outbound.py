"""Time a validation round to 100,000 workers: enqueueing it, and sending it within the limit.

A benchmark, not a test: pytest collects only test_*.py, so run it by hand.

    python tests/benchmarks/bench_outbound.py [--round-size 100000] [--seconds 60]
        [--rate 200] [--workers 2] [--batch 500] [--profile] [--worker-code PATH]
        [--database-url postgresql://postgres@127.0.0.1/voicedesk_bench_outbound]
        [--redis-url redis://127.0.0.1:6379/12]

It creates a database of its own, migrates it with `intake.schema.upgrade`, and seeds
with server-side SQL one organisation, a caseworker and `--round-size` Telegram
workers, each with one ticket in remediation; their chat ids are sealed into the
contact vault with the product's key ring (the worker opens them to send). Redis
database 12 is flushed at the start: only that database.

Then the round: the caseworker asks every worker through `intake.validation.
request_validation`, committed in batches, and each send job is queued through the
product's `RQDispatcher`, as the console does. "Time to enqueue" ends when every row is
committed and every job is in Redis.

Then the sending (`--seconds 0` skips it), by real `voicedesk worker` processes, started
after `voicedesk init` as the Procfile's release step does, against a Telegram stub
(`outbound_stub.py`, a process of its own) that enforces the provider's limit as a
sliding window per bot and per chat and answers 429 with Telegram's body when it is
exceeded. The same limit is configured on both sides (`VOICEDESK_RATE_LIMITS` for the
product). A whole round at Telegram's 30 messages a second takes 55 minutes, so the
workers run for a fixed window (`--seconds`, counted from the first message the stub
accepts): once at Telegram's real limit, once at a higher configured `--rate` to show
where the product's own throughput ends. It reports messages sent per second against
the configured rate, 429s, messages failed, retried or put back by the rate limiter,
the CPU each party used, and the workers' peak resident memory (VmHWM).
`--profile` runs the round and the workers under cProfile and prints where their time
went (their memory is then not the product's); `--worker-code PATH` runs the workers
from a copy of the product, to measure a change before making it. Keys, logs and every
request the stub saw (stub-*.json) are left in /tmp/voicedesk-bench-outbound.

`run(argv)` returns the figures as a JSON-serialisable dict; `main` prints them. It
prints figures and asserts nothing.

It never drops a database it did not make: its databases carry a marker comment.
"""

# ruff: noqa: S608 - the seeding SQL is built from this file's own constants, never from input

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import io
import json
import logging
import os
import platform
import pstats
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from redis import Redis
from rq import Queue, Worker
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, make_url, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]  # the product, when run from elsewhere

from intake import schema, validation  # noqa: E402
from intake.db import make_engine, make_sessionmaker  # noqa: E402
from intake.models import Ticket, User  # noqa: E402
from intake.models import Worker as WorkerRow  # noqa: E402
from intake.settings import DEFAULT_RATE_LIMITS, Settings  # noqa: E402
from safeguards import keys as keyfiles  # noqa: E402
from safeguards.passwords import hash_password  # noqa: E402
from safeguards.sealing import binding, new_key_line  # noqa: E402
from safeguards.vault import address_for  # noqa: E402
from workers.jobs import job_for  # noqa: E402
from workers.queue import QUEUES, RQDispatcher  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1/voicedesk_bench_outbound"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
MARKER = "voicedesk-outbound-bench"
# Integration test runs claim a Redis database by this key (tests/integration/conftest.py):
# holding it keeps a test run out of ours, and a database a test run holds is refused.
REDIS_RUN_LOCK = "voicedesk-test-run"
FILES = Path("/tmp/voicedesk-bench-outbound")  # noqa: S108 - keys, logs and profiles of one run
BOT_TOKEN = "123456:BENCH-OUTBOUND"
WEBHOOK_SECRET = "bench-webhook-secret"
CHAT_ID_BASE = 6_100_000_000  # chat ids look like Telegram's user ids
CASEWORKER_ID = 1
# What the caseworker writes the employer did, in the worker's language.
SUMMARY = {
    "my": "အလုပ်ရှင်က ကျန်နေတဲ့ လစာကို ပြန်ပေးပြီးပါပြီ",
    "km": "និយោជកបានបង់ប្រាក់ខែដែលនៅជំពាក់រួចហើយ",
    "ne": "कम्पनीले भर्ती शुल्क फिर्ता गरेको छ",
    "th": "นายจ้างจ่ายค่าแรงที่ค้างครบแล้ว",
}
TARGET_SHARE = 0.95
TARGET_RSS_MB = 200.0
STUB = Path(__file__).with_name("outbound_stub.py")
CLI = [sys.executable, "-c", "from console.cli import main; main()"]
PROFILED_CLI = [
    sys.executable,
    "-c",
    "import cProfile, sys\n"
    "from console.cli import main\n"
    "profile = cProfile.Profile()\n"
    "profile.enable()\n"
    "try:\n"
    "    main(['worker'], standalone_mode=False)\n"
    "finally:\n"
    "    profile.disable()\n"
    "    profile.dump_stats(sys.argv[1])\n",
]


# --- the database: ours, marked, made afresh ---------------------------------------------------


@dataclass(frozen=True)
class BenchDatabase:
    url: str  # as the product reads DATABASE_URL
    name: str
    admin: str  # the same server's maintenance database, for CREATE/DROP DATABASE


def bench_database(url: str) -> BenchDatabase:
    parsed = make_url(url)
    if not parsed.database:
        raise ValueError("--database-url must name a database")
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


def fresh_database(db: BenchDatabase, round_size: int) -> None:
    """Drop our database of an earlier run and create it again; refuse anyone else's."""
    with psycopg.connect(db.admin, autocommit=True) as admin:
        marker = _marker(admin, db.name)
        if marker == {}:  # exists without our marker: someone else's, or an empty one
            own = make_url(db.admin).set(database=db.name).render_as_string(False)
            with psycopg.connect(own) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                ).fetchone()
            if row and row[0]:
                raise RuntimeError(
                    f"database {db.name!r} exists, holds tables and is not a benchmark "
                    "database: choose another --database-url"
                )
        if marker:  # ours: a round changes every ticket, so each run starts afresh
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db.name)))
            marker = None
        if marker is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
        _mark(admin, db.name, round_size=round_size, state="seeding")


def mark(db: BenchDatabase, **values: Any) -> None:
    with psycopg.connect(db.admin, autocommit=True) as admin:
        _mark(admin, db.name, **values)


# --- Redis database 12: ours for the run -------------------------------------------------------


def claim_redis(url: str) -> Redis:
    connection = Redis.from_url(url)
    holder = connection.get(REDIS_RUN_LOCK)
    if holder is not None and holder != MARKER.encode():
        raise RuntimeError(
            f"{url} is held by an integration test run ({REDIS_RUN_LOCK}): choose another "
            "--redis-url"
        )
    connection.flushdb()
    connection.set(REDIS_RUN_LOCK, MARKER, ex=6 * 3600)
    return connection


# --- seeding -----------------------------------------------------------------------------------

REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # as intake.tickets, so refs look real


def _ref_sql(n: str) -> str:
    """A unique XXXX-XXXX reference for ticket n: n times a prime, modulo 31^8, in base 31."""
    x = f"mod({n}::bigint * 1000003 + 54321, {31**8})"  # 1000003 is prime: one-to-one
    chars = [f"substr('{REF_ALPHABET}', (mod({x} / {31**k}, 31))::int + 1, 1)" for k in range(8)]
    return " || ".join([*chars[:4], "'-'", *chars[4:]])


def _worker_id(w: int) -> uuid.UUID:
    """The id the SQL below gives worker w: md5('bench-worker:' || w)::uuid."""
    return uuid.UUID(hashlib.md5(f"bench-worker:{w}".encode()).hexdigest())  # noqa: S324


def _language_sql(w: str) -> str:
    # Burmese 40%, Khmer 20%, Nepali 15%, Thai 25%: every catalog is used.
    r = f"mod(abs(hashint4({w}::int)), 100)"
    return (
        f"CASE WHEN {r} < 40 THEN 'my' WHEN {r} < 60 THEN 'km' WHEN {r} < 75 THEN 'ne'"
        " ELSE 'th' END"
    )


def seed(engine: Engine, settings: Settings, size: int) -> dict[str, float]:
    """An organisation, a caseworker, and `size` Telegram workers with a ticket in remediation."""
    seconds: dict[str, float] = {}
    with engine.begin() as conn, timed(seconds, "organisation, workers and tickets (SQL)"):
        x = conn.exec_driver_sql
        x("SET LOCAL synchronous_commit = off")
        x(
            "INSERT INTO organisations (id, name, languages, countries, created_at) VALUES "
            """(1, 'Bench Workers Centre', '["my","km","ne","th"]', '["TH","MY"]', now())"""
        )
        conn.execute(
            text(
                "INSERT INTO users (id, email, organisation_id, role, password_hash, active,"
                " created_at) VALUES (:id, 'caseworker@outbound.bench.local', 1, 'caseworker',"
                " :hash, true, now())"
            ),
            {"id": CASEWORKER_ID, "hash": hash_password("bench-password-not-secret")},
        )
        for table in ("organisations", "users"):
            x(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1)")
        x(
            "INSERT INTO workers (id, pseudonym, channel, language, created_at, last_inbound_at) "
            "SELECT md5('bench-worker:' || w)::uuid,"
            " 'W' || upper(substr(md5('bench-pseudonym:' || w), 1, 20)), 'telegram',"
            f" {_language_sql('w')}, now() - interval '90 days', now() - interval '20 days' "
            f"FROM generate_series(1, {size}) AS w"
        )
        x(
            "INSERT INTO tickets (id, ref, status, language, channel, organisation_id, worker_id,"
            " urgent, country, assignee_id, created_at, updated_at) "
            f"SELECT w, {_ref_sql('w')}, 'in_remediation', {_language_sql('w')}, 'telegram', 1,"
            f" md5('bench-worker:' || w)::uuid, false, 'TH', {CASEWORKER_ID},"
            " now() - interval '90 days', now() - interval '3 days' "
            f"FROM generate_series(1, {size}) AS w"
        )
        x("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))")
    vault = keyfiles.load_vault_ring(settings)
    conninfo = make_url(settings.database_url).set(drivername="postgresql").render_as_string(False)
    with (
        timed(seconds, "vault: chat ids sealed with the vault ring, COPY"),
        psycopg.connect(conninfo) as conn,
    ):
        conn.execute("SET synchronous_commit = off")
        with conn.cursor().copy(
            "COPY vault_entries (id, worker_id, channel, address_sealed, updated_at) FROM STDIN"
        ) as copy:
            now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
            for w in range(1, size + 1):
                entry_id = uuid.uuid4()
                # The binding is the vault's own (safeguards.vault): the worker opens it there.
                sealed = vault.seal_text(
                    str(CHAT_ID_BASE + w), binding("vault_entries", "address_sealed", entry_id)
                )
                copy.write_row((entry_id, _worker_id(w), "telegram", bytes(sealed), now))
    with timed(seconds, "ANALYZE"), engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    with Session(engine) as session:  # the worker will open them this way
        opened = address_for(session, vault, _worker_id(size), "telegram")
    if opened != str(CHAT_ID_BASE + size):
        raise RuntimeError("a sealed chat id does not open through safeguards.vault")
    return seconds


# --- the round: ask everyone, queue every send -------------------------------------------------

ROUND_TABLES = "audit_log, messages, validations, tickets, workers"


class Autoanalyze:
    """What autovacuum would do during the round, where the server has it switched off.

    PostgreSQL re-analyses a table once 50 rows plus a tenth of it have changed. Without
    that, the audit chain's head lookup (ORDER BY id DESC LIMIT 1) keeps the plan it got
    while audit_log was empty, a sequential scan, in every pooled connection that
    prepared it: each entry then reads the whole log, and a 100,000-worker round slows
    to a crawl (measured: 258/s for the first 10,000, 125/s by the 50,000th).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.connect() as conn:
            self.needed = conn.scalar(text("SHOW autovacuum")) == "off"
        self.at = 0
        self.runs = 0
        self.seconds = 0.0

    def after(self, changed: int) -> None:
        if not self.needed or changed < self.at * 1.1 + 50:
            return
        started = time.perf_counter()
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                f"ANALYZE {ROUND_TABLES}"
            )
        self.at, self.runs = changed, self.runs + 1
        self.seconds += time.perf_counter() - started

    def figures(self) -> dict[str, Any]:
        return {
            "server_autovacuum": "off" if self.needed else "on",
            "analyze_runs": self.runs,
            "analyze_seconds": round(self.seconds, 1),
        }


def validation_round(
    settings: Settings, engine: Engine, size: int, batch: int, profile: bool
) -> dict[str, Any]:
    """Ask every worker through request_validation, commit per batch, queue each send job."""
    sessions = make_sessionmaker(engine)
    ring = keyfiles.load_content_ring(settings)
    schedule = settings.validation_schedule
    assert settings.redis_url is not None
    dispatcher = RQDispatcher(settings.redis_url)
    profiler = cProfile.Profile() if profile else None
    autoanalyze = Autoanalyze(engine)
    db_seconds = redis_seconds = 0.0
    asked = unqueued = 0
    last_id = 0
    started = time.perf_counter()
    try:
        while True:
            t0 = time.perf_counter()
            if profiler:
                profiler.enable()
            with sessions() as session:
                user = session.get_one(User, CASEWORKER_ID)
                tickets = list(
                    session.scalars(
                        select(Ticket)
                        .where(Ticket.id > last_id, Ticket.status == "in_remediation")
                        .order_by(Ticket.id)
                        .limit(batch)
                    )
                )
                if not tickets:
                    break
                # One query for the batch's workers: request_validation then finds each in
                # the session instead of asking the database once per ticket.
                session.scalars(
                    select(WorkerRow).where(WorkerRow.id.in_([t.worker_id for t in tickets]))
                ).all()
                queued = []
                for ticket in tickets:
                    message = validation.request_validation(
                        session, ring, user, ticket, SUMMARY[ticket.language or "my"], schedule
                    )
                    queued.append((job_for(message.purpose), str(message.id)))
                session.commit()
                last_id = tickets[-1].id
            t1 = time.perf_counter()
            for job, message_id in queued:
                if not dispatcher.enqueue(job, message_id):
                    unqueued += 1
            t2 = time.perf_counter()
            if profiler:
                profiler.disable()
            db_seconds += t1 - t0
            redis_seconds += t2 - t1
            before, asked = asked, asked + len(tickets)
            autoanalyze.after(asked)  # not timed: autovacuum's work, in its own process
            if asked // 10_000 != before // 10_000 or asked == size:
                elapsed = time.perf_counter() - started - autoanalyze.seconds
                log(f"  asked {asked:,} of {size:,} in {elapsed:.0f} s ({asked / elapsed:.0f}/s)")
        seconds = time.perf_counter() - started - autoanalyze.seconds
        in_redis = {
            name: len(Queue(name, connection=dispatcher.connection, serializer=JSONSerializer))
            for name in sorted(set(QUEUES.values()))
        }
    finally:
        dispatcher.close()
    figures: dict[str, Any] = {
        "asked": asked,
        "seconds": round(seconds, 1),
        "per_second": round(asked / seconds, 1) if seconds else None,
        "database_seconds": round(db_seconds, 1),
        "redis_seconds": round(redis_seconds, 1),
        "batch": batch,
        "jobs_in_redis": in_redis,
        "not_queued": unqueued,
        **autoanalyze.figures(),
    }
    if profiler:
        figures["profile"] = top_of(profiler, 30)
    return figures


# --- processes: the stub and the workers -------------------------------------------------------


class Stub:
    """The rate-limited Telegram stub, a process of its own (outbound_stub.py)."""

    def __init__(self, log_path: Path) -> None:
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(STUB), "--token", BOT_TOKEN],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("port "):
            raise RuntimeError(f"the stub did not start: {log_path.read_text()}")
        self.base = f"http://127.0.0.1:{int(line.split()[1])}"

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - http on loopback
            self.base + path, data=data, method="POST" if data else "GET"
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def reset(self, limit: str, chat_limit: str) -> None:
        self._call("/_stub/reset", {"limit": limit, "chat_limit": chat_limit})

    def stats(self) -> dict[str, Any]:
        return dict(self._call("/_stub/stats"))

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()


def stop_process(
    process: subprocess.Popen[Any], grace: float = 40.0, signalled: bool = False
) -> int | None:
    """SIGTERM (rq's warm shutdown: the job in hand finishes), then SIGKILL after the grace.

    Only one SIGTERM: a second one makes rq stop cold, in the middle of a send.
    """
    if process.poll() is None:
        if not signalled:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


def write_keys(folder: Path) -> dict[str, str]:
    """Throwaway key rings and pepper, in files as an operator keeps them."""
    folder.mkdir(parents=True)
    (folder / "content.keys").write_text(new_key_line() + "\n")
    (folder / "vault.keys").write_text(new_key_line() + "\n")
    (folder / "pepper").write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
    for path in folder.iterdir():
        path.chmod(0o600)
    return {
        "VOICEDESK_CONTENT_KEYS_FILE": str(folder / "content.keys"),
        "VOICEDESK_VAULT_KEYS_FILE": str(folder / "vault.keys"),
        "VOICEDESK_PSEUDONYM_PEPPER_FILE": str(folder / "pepper"),
    }


PRODUCT_PREFIXES = ("VOICEDESK_", "TELEGRAM_", "TWILIO_", "VIBER_")
PRODUCT_NAMES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PUBLIC_BASE_URL")


def clean_environ() -> dict[str, str]:
    """This process's environment without any of the product's own settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(PRODUCT_PREFIXES) and k not in PRODUCT_NAMES
    }


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB ({} once it is gone)."""
    found = {}
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds a process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pids_named(name: str) -> list[int]:
    """Every process whose command name is this (PostgreSQL's backends, redis-server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return float(sum(values) - idle), float(sum(values))


@dataclass
class CpuSnapshot:
    at: float
    machine: tuple[float, float]
    per_pid: dict[int, float]


def cpu_snapshot(pids: list[int]) -> CpuSnapshot:
    return CpuSnapshot(
        time.monotonic(),
        machine_cpu(),
        {pid: seconds for pid in pids if (seconds := cpu_seconds(pid)) is not None},
    )


@dataclass
class WorkerProcesses:
    """`voicedesk worker` processes, their logs, and their memory as we sample it."""

    processes: list[subprocess.Popen[Any]]
    logs: list[Any]
    hwm: dict[int, int] = field(default_factory=dict)
    rss: dict[int, int] = field(default_factory=dict)  # the latest sample, KiB
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample_memory(self) -> None:
        while not self._stop.wait(0.5):
            for process in self.processes:
                status = proc_status(process.pid)
                if status:
                    self.rss[process.pid] = status["VmRSS"]
                    self.hwm[process.pid] = status["VmHWM"]

    def rss_mb(self) -> list[float]:
        now = {p.pid: proc_status(p.pid).get("VmRSS", 0) for p in self.processes}
        return [round((now[p.pid] or self.rss.get(p.pid, 0)) / 1024, 1) for p in self.processes]

    def stop(self) -> list[int | None]:
        for process in self.processes:  # the high-water mark, read before the process ends
            status = proc_status(process.pid)
            if status:
                self.hwm[process.pid] = status["VmHWM"]
        self._stop.set()
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = [stop_process(process, signalled=True) for process in self.processes]
        for handle in self.logs:
            handle.close()
        return codes


def start_workers(
    count: int, env: dict[str, str], folder: Path, label: str, profile: bool
) -> WorkerProcesses:
    processes, logs = [], []
    for k in range(count):
        handle = (folder / f"worker-{label}-{k}.log").open("w")
        command = (
            [*PROFILED_CLI, str(folder / f"worker-{label}-{k}.prof")]
            if profile
            else [*CLI, "worker"]
        )
        processes.append(
            subprocess.Popen(command, env=env, cwd=folder, stdout=handle, stderr=subprocess.STDOUT)
        )
        logs.append(handle)
    workers = WorkerProcesses(processes, logs)
    threading.Thread(target=workers.sample_memory, daemon=True).start()
    return workers


# --- one sending window ------------------------------------------------------------------------


def outbox(engine: Engine) -> dict[str, int]:
    """Where the round's messages stand, from the messages table."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE delivery_status = 'queued'),"
                " count(*) FILTER (WHERE delivery_status = 'sent'),"
                " count(*) FILTER (WHERE delivery_status = 'failed'),"
                " count(*) FILTER (WHERE failure_reason LIKE 'retrying:%'),"
                " count(*) FILTER (WHERE delivery_status = 'sent' AND attempts > 1),"
                " count(*) FILTER (WHERE delivery_status = 'queued' AND failure_reason IS NULL"
                "  AND next_attempt_at IS NOT NULL),"
                " coalesce(sum(attempts), 0)"
                " FROM messages WHERE purpose = :purpose"
            ),
            {"purpose": validation.PURPOSE},
        ).one()
    names = ("queued", "sent", "failed", "retrying", "sent_after_retry", "rate_limited", "attempts")
    return dict(zip(names, (int(v) for v in row), strict=True))


def rq_counts(connection: Redis) -> dict[str, int]:
    """Jobs waiting, scheduled for later and failed, across the product's queues."""
    counts = {"waiting": 0, "scheduled": 0, "failed": 0}
    for name in sorted(set(QUEUES.values())):
        queue = Queue(name, connection=connection, serializer=JSONSerializer)
        counts["waiting"] += len(queue)
        counts["scheduled"] += len(queue.scheduled_job_registry)
        counts["failed"] += len(queue.failed_job_registry)
    return counts


def jobs_run(connection: Redis) -> dict[str, float]:
    """What rq's live workers say they did: jobs that ended well or failed, time working."""
    done = {"successful": 0.0, "failed": 0.0, "working_seconds": 0.0}
    for worker in Worker.all(connection=connection, serializer=JSONSerializer):
        done["successful"] += worker.successful_job_count or 0
        done["failed"] += worker.failed_job_count or 0
        done["working_seconds"] += worker.total_working_time or 0
    return done


def tightest(times: list[float], count: int) -> float | None:
    """The shortest time in which count + 1 requests reached the stub (< window: too many)."""
    if len(times) <= count:
        return None
    ordered = sorted(times)
    return min(ordered[k + count] - ordered[k] for k in range(len(ordered) - count))


def per_second(times: list[float], start: float, seconds: int) -> list[int]:
    counts = [0] * seconds
    for at in times:
        slot = int(at - start)
        if 0 <= slot < seconds:
            counts[slot] += 1
    return counts


def send_window(
    rate: int,
    args: argparse.Namespace,
    base_env: dict[str, str],
    stub: Stub,
    engine: Engine,
    redis: Redis,
    label: str,
) -> dict[str, Any]:
    """Run the workers for a window at this configured rate; measure what the stub saw."""
    chat = DEFAULT_RATE_LIMITS["telegram:chat"]
    limit, chat_limit = f"{rate}/1", f"{chat.count}/{chat.seconds:g}"
    for key in redis.scan_iter("voicedesk:rate:*"):  # an earlier window's slots
        redis.delete(key)
    stub.reset(limit, chat_limit)
    env = {**base_env, "VOICEDESK_RATE_LIMITS": f"telegram={limit},telegram:chat={chat_limit}"}
    before = outbox(engine)
    rq_before = rq_counts(redis)
    log(f"{label}: {args.workers} workers at {limit} (per chat {chat_limit}) for {args.seconds} s")
    started = time.monotonic()
    workers = start_workers(args.workers, env, FILES, label, args.profile)
    try:
        first = None
        while first is None:
            stats = stub.stats()
            if stats["sent"]:
                first = min(stats["sent"])
            elif any(p.poll() is not None for p in workers.processes):
                raise RuntimeError(f"a worker exited before sending; see {FILES}")
            elif time.monotonic() - started > 120:
                raise RuntimeError(f"no message reached the stub in 120 s; see {FILES}")
            else:
                time.sleep(0.1)
        pids = [p.pid for p in workers.processes]
        others = {
            "stub": [stub.process.pid],
            "redis": pids_named("redis-server"),
            "postgresql": pids_named("postgres"),
        }
        watched = pids + [pid for group in others.values() for pid in group]
        cpu_start = cpu_snapshot(watched)
        load_start = os.getloadavg()[0]
        rss_start = workers.rss_mb()
        time.sleep(max(0.0, first + args.seconds - time.monotonic()))
        cpu_end = cpu_snapshot(watched)
        load_end = os.getloadavg()[0]
        rss_end = workers.rss_mb()
        ran = jobs_run(redis)
    finally:
        codes = workers.stop()
    rq_after = rq_counts(redis)
    stats = stub.stats()
    (FILES / f"stub-{label}.json").write_text(json.dumps(stats))  # every request's time
    after = outbox(engine)
    end = first + args.seconds
    sent = [t for t in stats["sent"] if first <= t < end]
    rejected = [t for t in stats["rejected"] if first <= t < end]
    rejected_chat = [t for t in stats["rejected_chat"] if first <= t < end]
    elapsed = cpu_end.at - cpu_start.at
    machine_busy = (cpu_end.machine[0] - cpu_start.machine[0]) / max(
        1.0, cpu_end.machine[1] - cpu_start.machine[1]
    )

    def cpu_share(group: list[int]) -> float:
        # Processes alive at both ends (a PostgreSQL backend may come or go meanwhile).
        both = [p for p in group if p in cpu_start.per_pid and p in cpu_end.per_pid]
        used = sum(cpu_end.per_pid[p] - cpu_start.per_pid[p] for p in both)
        return round(used / elapsed, 3)

    rate_per_s = len(sent) / args.seconds
    every_second = per_second(stats["sent"], first, args.seconds)
    figures: dict[str, Any] = {
        "configured": {"telegram": limit, "telegram:chat": chat_limit},
        "configured_per_second": rate,
        "worker_processes": args.workers,
        "startup_seconds": round(first - started, 1),
        "window_seconds": args.seconds,
        "sent": len(sent),
        "sent_per_second": round(rate_per_s, 2),
        "share_of_rate": round(rate_per_s / rate, 3),
        "sent_per_second_min_median_max": [
            min(every_second),
            sorted(every_second)[len(every_second) // 2],
            max(every_second),
        ],
        "http_429": len(rejected),
        "http_429_per_chat": len(rejected_chat),
        "http_429_after_window": len(stats["rejected"])
        + len(stats["rejected_chat"])
        - len(rejected)
        - len(rejected_chat),
        # Requests the stub saw in the tightest stretch: the product's pacing as the
        # provider sees it. Below one window: more than the limit reached it at once.
        "tightest_window_seconds": tightest(
            [t for t in stats["sent"] + stats["rejected"] if t >= first], rate
        ),
        "stub_calls": stats["calls"],
        "jobs_run": ran,
        "outbox_before": before,
        "outbox_after": after,
        "failed": after["failed"] - before["failed"],
        "retried_after_429_or_error": after["attempts"]
        - before["attempts"]
        - (after["sent"] - before["sent"])
        - (after["failed"] - before["failed"]),
        "put_back_by_rate_limiter": after["rate_limited"],
        "rq_before": rq_before,
        "rq_after": rq_after,
        # Jobs that joined the queues while the workers ran: retries and rate-limit waits
        # moved back by rq's scheduler, and sends the sweeper queues again because they
        # have waited longer than VOICEDESK_SWEEP_AFTER (a long round's do).
        "jobs_queued_meanwhile": rq_after["waiting"]
        - rq_before["waiting"]
        + int(ran["successful"] + ran["failed"]),
        "cpu_cores_used": {
            "workers": cpu_share(pids),
            **{name: cpu_share(group) for name, group in others.items()},
            "whole_machine": round(machine_busy * (os.cpu_count() or 1), 2),
        },
        "load_average": [round(load_start, 2), round(load_end, 2)],
        "worker_peak_rss_mb": [round(workers.hwm.get(pid, 0) / 1024, 1) for pid in pids],
        # Resident memory at the first message and at the window's end: what sending adds.
        "worker_rss_mb_at_first_message": rss_start,
        "worker_rss_mb_at_end": rss_end,
        "worker_rss_growth_mb_per_1000_sent": round(
            (sum(rss_end) - sum(rss_start)) / max(1, len(sent)) * 1000, 1
        ),
        "worker_exit_codes": codes,
    }
    if args.profile:
        profiles = [FILES / f"worker-{label}-{k}.prof" for k in range(args.workers)]
        present = [str(p) for p in profiles if p.exists()]
        if present:
            stats_all = pstats.Stats(*present)
            figures["profile"] = top_of(stats_all, 40)
    return figures


# --- reporting ---------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def timed(into: dict[str, float], what: str) -> Iterator[None]:
    started = time.perf_counter()
    log(f"  {what}…")
    yield
    into[what] = round(time.perf_counter() - started, 1)
    log(f"  {what}: {into[what]} s")


def top_of(profile: cProfile.Profile | pstats.Stats, lines: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out) if isinstance(profile, cProfile.Profile) else profile
    stats.stream = out  # type: ignore[attr-defined]
    stats.strip_dirs()
    out.write("--- by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(lines)
    out.write("--- by own time ---\n")
    stats.sort_stats("tottime").print_stats(lines // 2)
    return out.getvalue()


def machine(engine: Engine) -> str:
    cpu = "?"
    with suppress(OSError, StopIteration):
        info = Path("/proc/cpuinfo").read_text()
        cpu = next(ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln)
    with engine.connect() as conn:
        version = conn.scalar(text("SHOW server_version"))
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.platform()}, python "
        f"{platform.python_version()}, PostgreSQL {version}"
    )


def report(figures: dict[str, Any]) -> str:
    lines = ["# Worker Voice Desk outbound benchmark: a validation round"]
    lines.append(f"machine: {figures['machine']}")
    lines.append(f"load average at the start: {figures['load_average_at_start']}")
    size = figures["round_size"]
    lines.append(f"\nseed: {size:,} Telegram workers, one ticket each in remediation, in "
                 f"{figures['seed_seconds']} s ({figures['seed_steps']})")  # fmt: skip
    e = figures["enqueue"]
    lines.append(
        f"enqueue (request_validation per ticket, commit per {e['batch']}, RQDispatcher.enqueue):"
        f" {e['asked']:,} in {e['seconds']} s = {e['per_second']}/s"
        f" (database {e['database_seconds']} s, Redis {e['redis_seconds']} s);"
        f" jobs in Redis {e['jobs_in_redis']}, not queued {e['not_queued']}"
    )
    if e["server_autovacuum"] == "off":
        lines.append(
            "(autovacuum is off on this server: the bench ran ANALYZE as it would,"
            f" {e['analyze_runs']} times, {e['analyze_seconds']} s, not counted)"
        )
    for phase in figures["phases"]:
        c = phase["cpu_cores_used"]
        lines.append(
            f"\n## {phase['configured']['telegram']} configured (per chat"
            f" {phase['configured']['telegram:chat']}), {phase['worker_processes']} workers,"
            f" {phase['window_seconds']} s from the first message (workers took"
            f" {phase['startup_seconds']} s to start)"
        )
        lines.append(
            f"sent {phase['sent']:,} = {phase['sent_per_second']}/s ="
            f" {phase['share_of_rate']:.1%} of the configured rate"
            f" (per second min/median/max {phase['sent_per_second_min_median_max']});"
            f" target >= {TARGET_SHARE:.0%}: {yes(phase['share_of_rate'] >= TARGET_SHARE)}"
        )
        lines.append(
            f"429s: {phase['http_429']} over the bot limit, {phase['http_429_per_chat']} over a"
            f" chat's, {phase['http_429_after_window']} after the window; tightest"
            f" {phase['configured_per_second'] + 1} requests at the stub:"
            f" {fmt_seconds(phase['tightest_window_seconds'])}"
        )
        lines.append(
            f"messages failed {phase['failed']}, send attempts retried"
            f" {phase['retried_after_429_or_error']}, put back by the rate limiter"
            f" {phase['put_back_by_rate_limiter']}; rq jobs run {phase['jobs_run']},"
            f" queued meanwhile {phase['jobs_queued_meanwhile']}; rq before"
            f" {phase['rq_before']}, after {phase['rq_after']}"
        )
        lines.append(
            f"CPU cores used: workers {c['workers']}, stub {c['stub']}, Redis {c['redis']},"
            f" PostgreSQL {c['postgresql']} (all its processes, other users' too), whole"
            f" machine {c['whole_machine']} of {os.cpu_count()}; load {phase['load_average']}"
        )
        lines.append(
            f"worker peak RSS (VmHWM): {phase['worker_peak_rss_mb']} MB; target <="
            f" {TARGET_RSS_MB:.0f} MB; RSS {phase['worker_rss_mb_at_first_message']} MB at the"
            f" first message, {phase['worker_rss_mb_at_end']} MB at the end: +"
            f"{phase['worker_rss_growth_mb_per_1000_sent']} MB per 1,000 sent;"
            f" exit codes {phase['worker_exit_codes']}; stub calls {phase['stub_calls']}"
        )
    lines.append(f"\ntargets met: {figures['targets_met']}")
    lines.append(f"logs: {FILES}")
    return "\n".join(lines)


def yes(met: bool) -> str:
    return "yes" if met else "NO"


def fmt_seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


# --- run ---------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--round-size", type=int, default=100_000, help="workers asked")
    parser.add_argument(
        "--seconds", type=int, default=60, help="sending window per rate (0: only the round)"
    )
    parser.add_argument(
        "--rate", type=int, default=200, help="the higher configured rate (messages a second)"
    )
    parser.add_argument(
        "--real-rate",
        type=int,
        default=DEFAULT_RATE_LIMITS["telegram"].count,
        help="Telegram's own limit (the product's default)",
    )
    parser.add_argument("--workers", type=int, default=2, help="`voicedesk worker` processes")
    parser.add_argument("--batch", type=int, default=500, help="tickets asked per transaction")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the round and the workers (slower)"
    )
    parser.add_argument(
        "--worker-code",
        type=Path,
        help="run the workers from this copy of the product (to measure a change on a"
        " scratch copy); the round always runs this checkout's code",
    )
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Seed, run the round, send at each rate; return the figures."""
    args = parse(argv)
    db = bench_database(args.database_url)
    shutil.rmtree(FILES, ignore_errors=True)
    FILES.mkdir(parents=True)
    env = {
        "VOICEDESK_INSTANCE": str(FILES / "instance"),
        "DATABASE_URL": db.url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": "bench-secret-key-not-secret",
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        **write_keys(FILES / "keys"),
    }
    settings = Settings.from_env(env)
    logging.getLogger("safeguards.keys").setLevel(logging.ERROR)

    redis = claim_redis(args.redis_url)
    engine: Engine | None = None
    stub: Stub | None = None
    try:
        fresh_database(db, args.round_size)
        engine = make_engine(settings.database_url)
        figures: dict[str, Any] = {
            "round_size": args.round_size,
            "machine": machine(engine),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        }
        log(f"migrating and seeding {db.name} with {args.round_size:,} workers")
        started = time.perf_counter()
        schema.upgrade(engine)
        steps = seed(engine, settings, args.round_size)
        figures["seed_seconds"] = round(time.perf_counter() - started, 1)
        figures["seed_steps"] = steps
        mark(db, round_size=args.round_size, state="seeded")

        log("the validation round: request_validation per ticket, then the dispatcher")
        figures["enqueue"] = validation_round(
            settings, engine, args.round_size, args.batch, args.profile
        )
        if figures["enqueue"]["server_autovacuum"] == "off":  # as autovacuum would by now
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        mark(db, round_size=args.round_size, state="asked")

        stub = Stub(FILES / "stub.log")
        worker_env = {**clean_environ(), **env, "TELEGRAM_API_BASE": stub.base}
        if args.worker_code:
            worker_env["PYTHONPATH"] = str(args.worker_code.resolve())
            figures["worker_code"] = str(args.worker_code.resolve())
        # The release step of the Procfile, before any worker: it publishes the envelope
        # key, which workers started together on a fresh database would race to insert.
        with (FILES / "init.log").open("w") as init_log:
            subprocess.run(
                [*CLI, "init"], env=worker_env, cwd=FILES, stdout=init_log,
                stderr=subprocess.STDOUT, check=True, timeout=300,
            )  # fmt: skip
        phases = []
        for label, rate in (("real", args.real_rate), ("high", args.rate)):
            if args.seconds > 0 and rate > 0:
                phases.append(send_window(rate, args, worker_env, stub, engine, redis, label))
        figures["phases"] = phases
        peak = max((mb for phase in phases for mb in phase["worker_peak_rss_mb"]), default=0.0)
        figures["worker_peak_rss_mb"] = peak
        figures["targets_met"] = {
            f"rate {phase['configured_per_second']}/s >= {TARGET_SHARE:.0%}": phase["share_of_rate"]
            >= TARGET_SHARE
            for phase in phases
        } | {
            "no 429": all(p["http_429"] + p["http_429_per_chat"] == 0 for p in phases),
            f"worker <= {TARGET_RSS_MB:.0f} MB": peak <= TARGET_RSS_MB,
        }
        mark(db, round_size=args.round_size, state="sent")
        return figures
    finally:
        if stub is not None:
            stub.stop()
        if engine is not None:
            engine.dispose()
        redis.close()


def main(argv: list[str] | None = None) -> None:
    figures = run(argv)
    print(report(figures))
    for phase in figures["phases"]:
        if "profile" in phase:
            print(f"\n# cProfile of the workers at {phase['configured']['telegram']}")
            print(phase["profile"])
    if "profile" in figures["enqueue"]:
        print("\n# cProfile of the round (request_validation and the dispatcher)")
        print(figures["enqueue"]["profile"])
    print("\n# figures (JSON)")
    print(json.dumps(without_profiles(figures)))


def without_profiles(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_profiles(v) for k, v in value.items() if k != "profile"}
    if isinstance(value, list):
        return [without_profiles(v) for v in value]
    return value


if __name__ == "__main__":
    main()
