"""The benchmark suite: every figure of the README's Performance section, in one run.

    python tests/benchmarks/run.py [--quick] [--only intake,e2e,console,outbound]

Needs PostgreSQL and Redis running (as for the tests), `wrk` and `pgbench` (apt-get
install wrk postgresql-client). It runs, one after the other on this machine:
  intake    bench_intake.py: durable webhook acks vs a bare webhook and raw pgbench
  e2e       bench_e2e.py: webhook to ticket visible, with worker processes running
  console   bench_console.py: queue and ticket pages at 1M tickets / 5M messages
  outbound  bench_outbound.py: a validation round to 100,000 workers, sent within
            the provider's limit by a stub that enforces it
and writes every figure, with the machine and the commit, to
tests/benchmarks/results/latest.json (and a dated copy). Not part of the test run.
--quick shortens every phase (for trying it out, not for the README).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parents[1] / "tests"), str(HERE)]

import bench_console  # noqa: E402
import bench_e2e  # noqa: E402
import bench_intake  # noqa: E402
import bench_outbound  # noqa: E402
import harness  # noqa: E402

PHASES: dict[str, tuple[Any, list[str], list[str]]] = {
    # name: (module, full arguments, --quick arguments)
    "intake": (
        bench_intake,
        ["--seconds", "60", "--connections", "16,64"],
        ["--seconds", "5", "--connections", "16"],
    ),
    "e2e": (
        bench_e2e,
        ["--seconds", "60", "--rates", "50,100,200"],
        ["--seconds", "5", "--rates", "50"],
    ),
    "console": (bench_console, ["--no-explain"], ["--no-explain", "--requests", "50"]),
    "outbound": (
        bench_outbound,
        ["--round-size", "100000", "--seconds", "60"],
        ["--round-size", "5000", "--seconds", "10"],
    ),
}


def _commit() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return found.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(PHASES))
    args = parser.parse_args()
    results: dict[str, Any] = {
        "taken": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": harness.machine(),
        "quick": args.quick,
    }
    for name in args.only.split(","):
        module, full, quick = PHASES[name]
        print(f"\n=== {name} ===", flush=True)
        started = time.monotonic()
        results[name] = module.run(quick if args.quick else full)
        results[name]["phase_seconds"] = round(time.monotonic() - started, 1)
    folder = HERE / "results"
    folder.mkdir(exist_ok=True)
    text = json.dumps(results, indent=2, ensure_ascii=False)
    (folder / "latest.json").write_text(text + "\n", encoding="utf-8")
    stamp = results["taken"][:19].replace(":", "")
    (folder / f"{stamp}.json").write_text(text + "\n", encoding="utf-8")
    print(f"\nfigures written to {folder / 'latest.json'}")


if __name__ == "__main__":
    main()
