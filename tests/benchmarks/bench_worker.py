"""The worker alone: CPU and statements per envelope, in one process, nothing else running.

A benchmark, not a test: pytest collects only test_*.py. With the services up:

    python tests/benchmarks/bench_worker.py [--envelopes 2500] [--chats 500]

It stores signed Telegram updates through the real webhook (Flask's test client, so no
HTTP server shares the CPU), then times `drain_intake` turning them into tickets
against PostgreSQL: CPU milliseconds of this process per envelope (what bounds the end
to end rate, bench_e2e.py), wall milliseconds, and SQL statements per envelope. The
first message of each chat (a new worker and ticket) is drained before the clock
starts, so the figure is the common case: one more message in an open ticket. Far
steadier than bench_e2e.py on a shared machine, so before/after comparisons of the
worker's code use this.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from redis import Redis

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parents[1] / "tests"), str(HERE)]

import harness  # noqa: E402
from bench_e2e import _update  # noqa: E402

DATABASE = "voicedesk_bench_worker"
REDIS_URL = "redis://127.0.0.1:6379/9"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=2500)
    parser.add_argument("--chats", type=int, default=500)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="voicedesk-bench-worker-"))
    env = harness.product_env(folder, harness.fresh_database(DATABASE), REDIS_URL)
    Redis.from_url(REDIS_URL).flushdb()
    harness.voicedesk(env, "init")
    harness.voicedesk(env, "org", "create", "Bench Workers Network", "--languages", "my")
    os.environ.update(env)

    from sqlalchemy import event

    from console.app import create_app
    from intake.settings import Settings
    from workers import jobs, runtime

    settings = Settings.from_env()
    client = create_app(settings).test_client()
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": harness.WEBHOOK_SECRET,
    }
    for n in range(args.envelopes):
        answer = client.post(
            "/hooks/telegram", data=_update(n, 800_000_000 + n % args.chats), headers=headers
        )
        assert answer.status_code == 200, answer.status_code
    rt = runtime.configure(settings)
    jobs.drain_intake(most=args.chats, wait=0)  # every chat's first message: new tickets
    statements = 0

    @event.listens_for(rt.engine, "before_cursor_execute")
    def _count(*_: object) -> None:
        nonlocal statements
        statements += 1

    done = 0
    wall, cpu = time.perf_counter(), time.process_time()
    while taken := jobs.drain_intake(most=100, wait=0):
        done += taken
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{done} envelopes into open tickets: {cpu / done * 1000:.2f} ms CPU,"
        f" {wall / done * 1000:.2f} ms wall, {statements / done:.1f} statements each"
    )
    rt.close()


if __name__ == "__main__":
    main()
