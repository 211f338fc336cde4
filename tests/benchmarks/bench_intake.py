"""Durable webhook acks per second, against a bare webhook and raw PostgreSQL, side by side.

A benchmark, not a test: pytest collects only test_*.py. Run it with the services up:

    python tests/benchmarks/bench_intake.py [--seconds 60] [--connections 4,16,64]
        [--web-workers 4]

At each concurrency, one after the other on the same machine, it drives for --seconds:
  1. the product's Telegram webhook (`voicedesk serve`, gunicorn) with signed updates;
  2. the bare reference webhook (tests/benchmarks/bare_webhook.py, same gunicorn
     settings) with the same updates;
  3. and 4. the same for Twilio's signed form posts (SMS);
  5. pgbench inserting the envelope row alone into a copy of the table.
Load comes from wrk (C, two threads); every answer is counted by status. After each
run the rows in the table are counted against the 200s wrk saw (zero lost means
every ack is a row) and the queued ids in Redis against the rows. No worker runs:
this is the webhook's own ceiling. bench_e2e.py measures the whole path.

It prints a table and returns the figures (see run.py, which writes them to a file).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import psycopg
from redis import Redis

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

import harness  # noqa: E402

from workers.queue import INTAKE_QUEUE  # noqa: E402

DATABASE = "voicedesk_bench_intake"
REDIS_URL = "redis://127.0.0.1:6379/11"
TABLES = ("inbound_envelopes", "bare_envelopes", "pgbench_envelopes")


def _twilio_bodies(path: Path, count: int) -> None:
    """Signed SMS form posts, each with a MessageSid of its own, from 5,000 numbers."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(harness.AUTH_TOKEN)
    url = harness.PUBLIC_BASE + "/hooks/twilio/messaging"
    run = secrets.token_hex(4)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            params = {
                "MessageSid": f"SM{run}{n:024x}",
                "AccountSid": harness.ACCOUNT_SID,
                "From": f"+95977{n % 5000:06d}",
                "To": "+15005550006",
                "Body": f"ကျွန်တော့်လစာ မရသေးပါ။ passport ကို အလုပ်ရှင်က သိမ်းထားတယ် {n}",
                "NumMedia": "0",
            }
            signature = validator.compute_signature(url, params)
            out.write(f"{signature}\t{urllib.parse.urlencode(params)}\n")


def _prepare(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in TABLES[1:]:
            conn.execute(f"CREATE TABLE {table} (LIKE inbound_envelopes INCLUDING ALL)")


def _reset(database_url: str, redis: Redis) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        conn.execute("CHECKPOINT")
    redis.flushdb()


def _rows(database_url: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(row[0]) if row else 0


def _queued(redis: Redis) -> int:
    """Envelope ids waiting in Redis: the intake queue (a sorted set) and rq's lists."""
    total = 0
    for key in redis.scan_iter():
        kind = redis.type(key)
        if kind == b"list":
            total += int(redis.llen(key))
        elif kind == b"zset" and key == INTAKE_QUEUE.encode():
            total += int(redis.zcard(key))
    return total


def _pgbench(database_url: str, connections: int, seconds: int, folder: Path) -> dict[str, Any]:
    """Raw inserts of the envelope row, one transaction each, as the webhook commits them."""
    sealed = "\\x" + os.urandom(420).hex()
    script = folder / "envelope.sql"
    columns = "id, channel, provider_message_id, payload_sealed, received_at"
    values = f"gen_random_uuid(), 'telegram', gen_random_uuid()::text, '{sealed}'::bytea, now()"
    insert = f"INSERT INTO pgbench_envelopes ({columns}) VALUES ({values})"  # noqa: S608
    script.write_text(f"{insert} ON CONFLICT DO NOTHING;\n")
    logs = folder / f"pgbench-{connections}"
    logs.mkdir(exist_ok=True)
    result = subprocess.run(  # noqa: S603
        [
            "pgbench",
            "-n",
            f"-c{connections}",
            f"-j{min(connections, 2)}",
            f"-T{seconds}",
            "-f",
            str(script),
            "-l",
            f"--log-prefix={logs}/log",
            database_url,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=folder,
    )
    latencies = [
        int(line.split()[2]) / 1000
        for log in logs.iterdir()
        for line in log.read_text().splitlines()
    ]
    tps = next(
        float(line.split("=")[1].split()[0])
        for line in result.stdout.splitlines()
        if line.startswith("tps")
    )
    return {
        "rate": round(tps, 1),
        "p50_ms": round(harness.percentile(latencies, 0.5), 2),
        "p99_ms": round(harness.percentile(latencies, 0.99), 2),
    }


def _drive(
    name: str,
    script: str,
    port: int,
    connections: int,
    seconds: int,
    env: dict[str, str],
    database_url: str,
    table: str,
    redis: Redis,
) -> dict[str, Any]:
    _reset(database_url, redis)
    figures = harness.wrk(
        HERE / "wrk" / script, f"http://127.0.0.1:{port}", connections, seconds, env
    )
    rows = _rows(database_url, table)
    figures.update(
        name=name,
        rate=round(figures["acked"] / figures["seconds"], 1),
        rows=rows,
        lost=max(0, figures["acked"] - rows),
        queued=_queued(redis),
    )
    return figures


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", default="4,16,64")
    parser.add_argument("--web-workers", type=int, default=4)
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.connections.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="voicedesk-bench-intake-"))
    database_url = harness.fresh_database(DATABASE)
    redis = Redis.from_url(REDIS_URL)
    env = harness.product_env(folder, database_url, REDIS_URL)
    harness.voicedesk(env, "init")
    _prepare(database_url)
    bodies = folder / "twilio.txt"
    _twilio_bodies(bodies, max(20_000, 4_000 * args.seconds))
    ours_port, bare_port = harness.free_port(), harness.free_port()
    bare_env = {
        **env,
        "BARE_DATABASE_URL": database_url,
        "BARE_REDIS_URL": REDIS_URL,
    }
    gunicorn = [sys.executable, "-m", "gunicorn", "--workers", str(args.web_workers)]
    log = folder / "servers.log"
    results: list[dict[str, Any]] = []
    ours_cmd = harness.command(
        "serve", "--port", str(ours_port), "--workers", str(args.web_workers)
    )
    bare_cmd = [*gunicorn, "--bind", f"127.0.0.1:{bare_port}", "--chdir", str(HERE)]
    bare_cmd.append("bare_webhook:app")
    with (
        harness.running("web", ours_cmd, env, log, f"http://127.0.0.1:{ours_port}/healthz") as web,
        harness.running("bare", bare_cmd, bare_env, log) as bare,
    ):
        time.sleep(2)
        tg = {"BENCH_SECRET": harness.WEBHOOK_SECRET, "BENCH_PATH": "/hooks/telegram"}
        tw = {"BENCH_BODIES": str(bodies), "BENCH_PATH": "/hooks/twilio/messaging"}
        run_number = int(time.time()) % 100_000
        # Warm both servers (imports, connection pools) before anything is measured.
        for port in (ours_port, bare_port):
            harness.wrk(
                HERE / "wrk" / "telegram.lua",
                f"http://127.0.0.1:{port}",
                4,
                2,
                {**tg, "BENCH_RUN": str(run_number)},
            )
            run_number += 1
        for level in levels:
            row: dict[str, Any] = {"connections": level}
            for key, script, port, extra, table in (
                ("telegram", "telegram.lua", ours_port, tg, "inbound_envelopes"),
                ("telegram_bare", "telegram.lua", bare_port, tg, "bare_envelopes"),
                ("sms", "signed.lua", ours_port, tw, "inbound_envelopes"),
                ("sms_bare", "signed.lua", bare_port, tw, "bare_envelopes"),
            ):
                run_number += 1
                row[key] = _drive(
                    key,
                    script,
                    port,
                    level,
                    args.seconds,
                    {**extra, "BENCH_RUN": str(run_number)},
                    database_url,
                    table,
                    redis,
                )
                _print_run(level, row[key])
            _reset(database_url, redis)
            row["pgbench"] = _pgbench(database_url, level, args.seconds, folder)
            _print_run(level, {"name": "pgbench", **row["pgbench"]})
            for channel in ("telegram", "sms"):
                row[f"{channel}_vs_bare"] = round(
                    row[channel]["rate"] / max(row[f"{channel}_bare"]["rate"], 1e-9), 3
                )
                row[f"{channel}_vs_pgbench"] = round(
                    row[channel]["rate"] / max(row["pgbench"]["rate"], 1e-9), 3
                )
            results.append(row)
        memory = {"web": web.peak_rss_mb(), "bare": bare.peak_rss_mb()}
    return {
        "seconds": args.seconds,
        "web_workers": args.web_workers,
        "levels": results,
        "peak_memory": memory,
    }


def _print_run(level: int, figures: dict[str, Any]) -> None:
    extra = ""
    if "acked" in figures:
        extra = (
            f" acked {figures['acked']} rows {figures['rows']} lost {figures['lost']}"
            f" dup {figures['duplicates']} refused {figures['refused']}"
            f" queued {figures['queued']} {figures['socket_errors']}"
        )
    print(
        f"c={level:<3} {figures['name']:<14} {figures['rate']:>8.1f}/s"
        f"  p50 {figures['p50_ms']:6.2f} ms  p99 {figures['p99_ms']:6.2f} ms{extra}",
        flush=True,
    )


def main() -> None:
    figures = run()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
