"""End to end: signed webhooks at a steady rate, worker processes turning them into tickets.

A benchmark, not a test: pytest collects only test_*.py. Run it with the services up:

    python tests/benchmarks/bench_e2e.py [--rates 150,300,450] [--seconds 60]
        [--web-workers 2] [--workers 2]

For each rate it sends signed Telegram updates from 2,000 chats at that rate, spread
evenly over --seconds (open loop: a slow answer does not slow the sender), to
`voicedesk serve` (gunicorn), with `voicedesk worker` processes running against the
same PostgreSQL and Redis and a Telegram stub taking the bot's replies. A message is
visible to caseworkers when its envelope's transaction commits (processed_at); the
latency is that minus the moment the webhook stored it (received_at), both the
database's clock. It prints, per rate: sent, acked, stored, replies sent, the rate
stored during the run, latency p50/p99/max, the backlog left when the sender stopped
and how long it took to clear, and the peak memory of web and worker processes.

Every message gets a reply from the bot. The replies go out at Telegram's real limit
(30 a second, the product's default), so at these rates they queue up and are sent
after the run; bench_outbound.py measures sending within that limit.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from redis import Redis

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parents[1] / "tests"), str(HERE)]

import harness  # noqa: E402

from support.telegram_stub import start_stub  # noqa: E402

DATABASE = "voicedesk_bench_e2e"
REDIS_URL = "redis://127.0.0.1:6379/10"
CHATS = 2_000
SENDERS = 24


def _update(n: int, chat: int) -> bytes:
    return json.dumps(
        {
            "update_id": n,
            "message": {
                "message_id": n,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "from": {"id": chat, "is_bot": False, "first_name": "W", "language_code": "my"},
                "text": f"ကျွန်တော့်လစာ မရသေးပါ။ passport ကို အလုပ်ရှင်က သိမ်းထားတယ် {n}",
            },
        },
        ensure_ascii=False,
    ).encode()


def _send(port: int, rate: float, seconds: float, first: int) -> dict[str, int]:
    """Send rate*seconds updates on schedule from SENDERS threads; count the answers."""
    total = int(rate * seconds)
    counter = itertools.count()
    counts: dict[str, int] = {"acked": 0, "refused": 0, "failed": 0, "late": 0}
    lock = threading.Lock()
    start = time.monotonic() + 0.2
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": harness.WEBHOOK_SECRET,
    }

    def sender() -> None:
        while (n := next(counter)) < total:
            due = start + n / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            late = wait < -0.5
            outcome = "failed"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request(
                    "POST", "/hooks/telegram", _update(first + n, 800_000_000 + n % CHATS), headers
                )
                response = conn.getresponse()
                response.read()
                conn.close()
                outcome = "acked" if response.status == 200 else "refused"
            except OSError:
                pass
            with lock:
                counts[outcome] += 1
                counts["late"] += late

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts["sent"] = total
    return counts


def _latencies(database_url: str, since: float) -> list[float]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM processed_at - received_at) FROM inbound_envelopes"
            " WHERE processed_at IS NOT NULL AND received_at >= to_timestamp(%s)",
            (since,),
        ).fetchall()
    return [float(row[0]) * 1000 for row in rows]


def _count(database_url: str, query: str, *params: Any) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="150,300,450")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="voicedesk-bench-e2e-"))
    database_url = harness.fresh_database(DATABASE)
    Redis.from_url(REDIS_URL).flushdb()
    stub = start_stub(harness.BOT_TOKEN)
    env = harness.product_env(
        folder,
        database_url,
        REDIS_URL,
        TELEGRAM_API_BASE=stub.base,
    )
    harness.voicedesk(env, "init")
    harness.voicedesk(env, "org", "create", "Bench Workers Network", "--languages", "my,km,ne,th")
    port = harness.free_port()
    web_cmd = harness.command("serve", "--port", str(port), "--workers", str(args.web_workers))
    worker_cmd = harness.command("worker")
    log = folder / "processes.log"
    results: list[dict[str, Any]] = []
    workers = [harness.start(f"worker-{n}", worker_cmd, env, log) for n in range(args.workers)]
    try:
        with harness.running("web", web_cmd, env, log, f"http://127.0.0.1:{port}/healthz") as web:
            _send(port, 50, 2, 1)  # warm up: first tickets, imports, connections
            time.sleep(3)
            first = 1_000
            for rate in [float(r) for r in args.rates.split(",")]:
                since = time.time()
                before = len(stub.sent)
                cpu_before = sum(harness.cpu_seconds(p) for w in workers for p in w.pids())
                started = time.monotonic()
                counts = _send(port, rate, args.seconds, first)
                sent_for = time.monotonic() - started
                stored_then = _count(
                    database_url,
                    "SELECT count(*) FROM inbound_envelopes WHERE processed_at IS NOT NULL"
                    " AND received_at >= to_timestamp(%s)",
                    since,
                )
                backlog = counts["acked"] - stored_then
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    left = _count(
                        database_url,
                        "SELECT count(*) FROM inbound_envelopes WHERE processed_at IS NULL",
                    )
                    if left == 0:
                        break
                    time.sleep(0.2)
                cleared = time.monotonic() - started - sent_for
                cpu = sum(harness.cpu_seconds(p) for w in workers for p in w.pids()) - cpu_before
                latencies = _latencies(database_url, since)
                stored = _count(
                    database_url,
                    "SELECT count(*) FROM messages m JOIN inbound_envelopes e"
                    " ON e.id = m.envelope_id WHERE e.received_at >= to_timestamp(%s)",
                    since,
                )
                row = {
                    "rate": rate,
                    **counts,
                    "stored": stored,
                    "lost": max(0, counts["acked"] - stored),
                    "stored_per_second_while_sending": round(stored_then / sent_for, 1),
                    "backlog_at_stop": backlog,
                    "cleared_after_s": round(cleared, 1),
                    "replies_sent": len(stub.sent) - before,
                    "p50_ms": round(harness.percentile(latencies, 0.5), 1),
                    "p99_ms": round(harness.percentile(latencies, 0.99), 1),
                    "max_ms": round(max(latencies, default=0.0), 1),
                    "worker_cpu_ms_per_message": round(cpu / max(stored, 1) * 1000, 2),
                }
                results.append(row)
                print(
                    f"{rate:>5.0f}/s sent {row['sent']} acked {row['acked']} stored {stored}"
                    f" lost {row['lost']} while sending {row['stored_per_second_while_sending']}/s"
                    f" p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms max {row['max_ms']} ms"
                    f" backlog {backlog} cleared in {row['cleared_after_s']} s"
                    f" replies {row['replies_sent']} worker cpu {row['worker_cpu_ms_per_message']}"
                    " ms/msg",
                    flush=True,
                )
                first += int(rate * args.seconds) + 1
            memory = {
                "web": web.peak_rss_mb(),
                "worker": {
                    "max_mb": max(w.peak_rss_mb()["max_mb"] for w in workers),
                    "processes": len(workers),
                },
            }
    finally:
        for worker in workers:
            worker.stop()
        stub.server.shutdown()
    return {
        "seconds": args.seconds,
        "web_workers": args.web_workers,
        "workers": args.workers,
        "rates": results,
        "peak_memory": memory,
    }


def main() -> None:
    print(json.dumps(run(), indent=2))


if __name__ == "__main__":
    main()
