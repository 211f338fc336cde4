"""Time the caseworker console at a million tickets: the triage queue and a ticket page.

A benchmark, not a test: pytest collects only test_*.py, so run it by hand.

    python tests/benchmarks/bench_console.py [--tickets 1000000] [--messages 5000000]
        [--requests 300] [--database-url postgresql://postgres@127.0.0.1/voicedesk_bench]
    python tests/benchmarks/bench_console.py --seed-only    # seed (or find seeded), stop

It creates a database of its own (and reuses it when it is already seeded at the same
size), migrates it with `intake.schema.upgrade`, seeds it with server-side SQL
(seed_console.py: tickets, messages, a real thread sealed through the product's own
functions), signs a caseworker in through the two-factor sign-in, and times requests
through the Flask app (the test client: no network, no gunicorn). It prints p50/p95/p99
per view, the SQL each request ran, and EXPLAIN (ANALYZE, BUFFERS) of the ticket and
message queries; a view whose p95 is over the target is profiled with cProfile. It
prints figures and asserts nothing.

`run(argv)` does the same from another module and returns the figures as a dict fit
for JSON; it raises BenchError, never SystemExit.

It never drops a database it did not make: its databases carry a marker comment.
"""

# ruff: noqa: S608 - the SQL here is built from this file's own constants, never from input

from __future__ import annotations

import argparse
import cProfile
import html
import io
import logging
import os
import platform
import pstats
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import Engine, delete, event, select, text, update

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The product first (tests/ mirrors its package names), then tests/support, then
# seed_console beside this file, however this file is loaded; once, if imported again.
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "tests"), str(HERE)) if p not in sys.path]

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from seed_console import (  # noqa: E402
    CASEWORKER,
    PASSWORD,
    BenchError,
    SeedSize,
    bench_database,
    ensure_seeded,
    log,
    step,
)

from console.app import create_app  # noqa: E402
from intake.db import make_engine  # noqa: E402
from intake.models import RecoveryCode, User  # noqa: E402
from intake.settings import Settings  # noqa: E402
from safeguards import keys as keyfiles  # noqa: E402

from support.signin import sign_in as sign_in_with_code  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1/voicedesk_bench"
TARGET_MS = 100.0
DEEP_PAGE = 100  # "the first page and the hundredth cost the same" (intake/queue.py)


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
        raise BenchError(f"sign-in ended on {page.request.path} ({page.status_code})")
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
    key: str  # stable across runs, for run()'s figures: "queue", "queue_page_deep", "ticket"
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

    @property
    def median_statements(self) -> int:
        return sorted(self.statements)[len(self.statements) // 2]


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
        raise BenchError(f"GET {url} answered {response.status_code}")
    return response.text


def next_page(client: FlaskClient, url: str) -> str | None:
    found = NEXT_LINK.search(get(client, url))
    return html.unescape(found.group(1)) if found else None


def views(client: FlaskClient, ref: str) -> list[View]:
    """The views to time; the later queue pages are reached by following "Next page" links."""
    second = next_page(client, "/tickets")
    if second is None:
        raise BenchError("the queue has a single page: seed more tickets")
    deep, number = second, 2
    while number < DEEP_PAGE and (following := next_page(client, deep)) is not None:
        deep, number = following, number + 1
    return [
        View("queue", "queue, default filters", "/tickets", "queue"),
        View("queue_status_new", "queue, status=new", "/tickets?status=new", "queue"),
        View("queue_urgent", "queue, urgent=1", "/tickets?urgent=1", "queue"),
        View("queue_language_my", "queue, language=my", "/tickets?language=my", "queue"),
        View("queue_assignee_me", "queue, assignee=me", "/tickets?assignee=me", "queue"),
        View("queue_age_30d", "queue, age=30d", "/tickets?age=30d", "queue"),
        View("queue_page_2", "queue, page 2 (after)", second, "queue"),
        View("queue_page_deep", f"queue, page {number} (after)", deep, "queue"),
        View("ticket", f"ticket page {ref}", f"/tickets/{ref}", "ticket"),
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
    """Every SELECT the view ran with its execution time; plans of those on tickets, messages."""
    print(f"\n## {view.name}: GET {view.url}")
    for statement, params in statements_of(client, trace, view):
        if not statement.lstrip().upper().startswith("SELECT"):
            print(f"  (not explained) {short(statement)}")
            continue
        plan = explain(engine, statement, params)
        print(f"  {execution_ms(plan):8.3f} ms  {short(statement)}")
        if re.search(r"\bFROM (tickets|messages)\b", statement):
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


def counted(engine: Engine) -> tuple[int, int]:
    """Tickets and messages in the database, counted."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM messages)")
        ).one()
    return int(row[0]), int(row[1])


def data_shape(engine: Engine) -> str:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE organisation_id = 1),"
                " count(*) FILTER (WHERE organisation_id = 1 AND status <> 'closed'),"
                " count(*) FILTER (WHERE organisation_id = 1 AND status <> 'closed' AND urgent),"
                " pg_size_pretty(pg_total_relation_size('tickets')),"
                " (SELECT count(*) FROM messages),"
                " pg_size_pretty(pg_total_relation_size('messages'))"
                " FROM tickets"
            )
        ).one()
    return (
        f"data: {row[0]:,} tickets ({row[4]} with indexes), {row[5]:,} messages ({row[6]});"
        f" the benchmarked organisation holds {row[1]:,} tickets, of which {row[2]:,} open"
        f" ({row[3]:,} urgent)"
    )


def print_table(results: list[Timings]) -> None:
    head = (
        f"{'view':<30} {'n':>4} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>6}"
        f" {'cpu50':>6} {'sql50':>6} {'stmts':>5} {'rows':>4} {'load':>5}  p95<={TARGET_MS:.0f}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.view.name:<30} {len(r.ms):>4} {r.p(50):>6.1f} {r.p(95):>6.1f} {r.p(99):>6.1f}"
            f" {max(r.ms):>6.1f} {percentile(r.cpu_ms, 50):>6.1f} {percentile(r.sql_ms, 50):>6.1f}"
            f" {r.median_statements:>5} {r.rows:>4} {r.load:>5.1f}"
            f"  {'yes' if r.p(95) <= TARGET_MS else 'NO'}"
        )
    print(
        "milliseconds of wall time per request; cpu50 = median CPU time of this process (the"
        " app's Python, not PostgreSQL's); sql50 = median time inside cursor.execute (round"
        " trips and server time); stmts = statements per request; rows = queue rows or"
        " messages shown; load = 1-minute load average when the view's timing ended"
    )


# --- the command, and run() for other modules -------------------------------------------------


class _RaisingParser(argparse.ArgumentParser):
    """Arguments for run(): a mistake raises BenchError instead of leaving the process."""

    def error(self, message: str) -> NoReturn:
        raise BenchError(f"bad arguments: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise BenchError(message or f"the argument parser stopped ({status})")


def _parser(cls: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = cls(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per view")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per view first")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--reseed", action="store_true", help="rebuild the benchmark database")
    parser.add_argument(
        "--seed-only", action="store_true", help="seed the database (or find it seeded) and stop"
    )
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
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser(argparse.ArgumentParser).parse_args(argv)
    try:
        bench(args)
    except BenchError as error:
        raise SystemExit(f"bench_console: {error}") from None


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Do what the command does, printing the same report; return the figures for JSON.

    `argv` holds the command's options (None: the defaults, never this process's own
    arguments). Returns tickets, messages and seed_seconds (how long the seed took, in
    this run or when the reused database was seeded), whether this run seeded, the
    target, and per view its name, URL, requests, p50_ms, p95_ms, p99_ms and the median
    statements per request. Raises BenchError when it cannot go on.
    """
    return bench(_parser(_RaisingParser).parse_args([] if argv is None else argv))


def bench(args: argparse.Namespace) -> dict[str, Any]:
    db = bench_database(args.database_url)
    instance = Path(tempfile.gettempdir()) / f"voicedesk-bench-{db.name}"
    # An explicit environment: no .env of the checkout, no real keys, slip into a bench desk.
    env = {"VOICEDESK_INSTANCE": str(instance), "DATABASE_URL": db.url}
    settings = Settings.from_env(env)
    keyfiles.ensure_dev_keys(settings)
    # Development keys in the instance folder are the point of a throwaway bench desk.
    logging.getLogger("safeguards.keys").setLevel(logging.ERROR)
    logging.getLogger("console.app").setLevel(logging.ERROR)

    seeded = ensure_seeded(settings, db, SeedSize(args.tickets, args.messages), args.reseed)
    engine = make_engine(settings.database_url)
    try:
        tickets, messages = counted(engine)
        figures: dict[str, Any] = {
            "tickets": tickets,
            "messages": messages,
            "seed_seconds": round(seeded.seconds, 1),
            "seeded_in_this_run": seeded.fresh,
            "target_ms": TARGET_MS,
            "views": {},
        }
        if args.seed_only:
            print(
                f"{db.name}: {tickets:,} tickets, {messages:,} messages, seeded in"
                f" {seeded.seconds:.0f} s{'' if seeded.fresh else ' (an earlier run)'}"
            )
            return figures
        try_indexes(engine, args.try_index)
        try:
            results = time_console(settings, engine, args, seeded.ref, seeded.seconds)
        finally:
            try_indexes(engine, [])
    finally:
        engine.dispose()
    figures["views"] = {
        r.view.key: {
            "name": r.view.name,
            "url": r.view.url,
            "requests": len(r.ms),
            "p50_ms": round(r.p(50), 2),
            "p95_ms": round(r.p(95), 2),
            "p99_ms": round(r.p(99), 2),
            "statements": r.median_statements,
        }
        for r in results
    }
    return figures


def time_console(
    settings: Settings, engine: Engine, args: argparse.Namespace, ref: str, seed_seconds: float
) -> list[Timings]:
    """Sign in, time every view, and print the figures, the plans and any profiles."""
    app = create_app(settings)
    app_engine: Engine = app.extensions["voicedesk"]["engine"]
    try:
        trace = SqlTrace()
        trace.install(app_engine)
        client = sign_in(app, engine)

        print("# Worker Voice Desk console benchmark")
        for line in machine(engine):
            print(line)
        print(data_shape(engine) + f"; seeded in {seed_seconds:.0f} s")
        print(f"signed in as {CASEWORKER} (caseworker, organisation 1): password, then TOTP")
        for k, definition in enumerate(args.try_index):
            print(
                f"with an index made by hand for this run: CREATE INDEX {TRY_INDEX}{k} {definition}"
            )
        print("load average at the start: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
        print(f"{args.warmup} warm-up then {args.requests} timed requests per view, one after"
              " another, through the Flask test client in this process\n")  # fmt: skip

        chosen = views(client, ref)
        results = []
        for view in chosen:
            log(f"timing {view.name}")
            results.append(measure(client, trace, view, args.warmup, args.requests))
        print_table(results)

        if not args.no_explain:
            print("\n# Each view's SELECTs under EXPLAIN (ANALYZE, BUFFERS); plans of those on"
                  " tickets and messages")  # fmt: skip
            explain_engine = make_engine(settings.database_url)
            try:
                for view in chosen:
                    print_explains(explain_engine, client, trace, view)
            finally:
                explain_engine.dispose()

        for result in results:
            if args.profile or result.p(95) > TARGET_MS:
                print(f"\n# cProfile: {result.view.name} (p95 {result.p(95):.1f} ms)")
                print(profile(client, result.view))
        return results
    finally:
        app_engine.dispose()


if __name__ == "__main__":
    main()
