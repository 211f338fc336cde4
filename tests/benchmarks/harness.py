"""What the benchmarks share: their own databases, the product's processes, wrk, memory.

Benchmarks never drop a database they did not make: theirs carry a marker comment.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MARKER = "voicedesk-bench"
SERVER = "postgresql://postgres@127.0.0.1:5432"
WEBHOOK_SECRET = "bench-webhook-secret"  # noqa: S105 - a benchmark's own secret
BOT_TOKEN = "123456:BENCH-TOKEN"  # noqa: S105
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token"  # noqa: S105
PUBLIC_BASE = "https://voicedesk.bench.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_database(name: str) -> str:
    """An empty database of this name (one we made, or none yet), migrated; its URL."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        found = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
        if found is not None:
            if found[0] != MARKER:
                raise SystemExit(
                    f"database {name} exists and is not a benchmark's; not touching it"
                )
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(MARKER)
            )
        )
    return f"{SERVER}/{name}"


def _key_line() -> str:
    return "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def product_env(folder: Path, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment an operator gives the product, with keys of the benchmark's own."""
    keys = folder / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "content.keys").write_text(_key_line() + "\n")
    (keys / "vault.keys").write_text(_key_line() + "\n")
    (keys / "pepper").write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VOICEDESK_", "TELEGRAM_", "TWILIO_", "VIBER_", "CI"))
    }
    env.update(
        {
            "VOICEDESK_INSTANCE": str(folder / "instance"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-secret-key",
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "VOICEDESK_CONTENT_KEYS_FILE": str(keys / "content.keys"),
            "VOICEDESK_VAULT_KEYS_FILE": str(keys / "vault.keys"),
            "VOICEDESK_PSEUDONYM_PEPPER_FILE": str(keys / "pepper"),
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_SMS_FROM": "+15005550006",
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
            "VOICEDESK_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


def command(*args: str) -> list[str]:
    """A `voicedesk` command line, the installed entry point first on the PATH."""
    return [shutil.which("voicedesk") or "voicedesk", *args]


def voicedesk(env: dict[str, str], *args: str) -> None:
    subprocess.run(command(*args), env=env, cwd=ROOT, check=True)  # noqa: S603


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError as exc:
            if getattr(exc, "code", None):  # any HTTP answer means it is up
                return
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url}")


def children(pid: int) -> list[int]:
    """Every descendant of a process (gunicorn's workers, say)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found + [grandchild for child in found for grandchild in children(child)]


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM), in MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Service:
    """A started server process and the processes it forked."""

    name: str
    process: subprocess.Popen[bytes]

    def pids(self) -> list[int]:
        return [self.process.pid, *children(self.process.pid)]

    def peak_rss_mb(self) -> dict[str, float]:
        """Peak resident memory: the largest of its processes, and the count."""
        sizes = [peak_rss_mb(pid) for pid in self.pids()]
        return {"max_mb": round(max(sizes, default=0.0), 1), "processes": len(sizes)}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(name: str, command: Sequence[str], env: dict[str, str], log: Path) -> Service:
    handle = log.open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own commands
        list(command), env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT
    )
    return Service(name, process)


@contextmanager
def running(
    name: str, command: Sequence[str], env: dict[str, str], log: Path, url: str | None = None
) -> Iterator[Service]:
    service = start(name, command, env, log)
    try:
        if url is not None:
            wait_for_http(url)
        yield service
    finally:
        service.stop()


def wrk(
    script: Path,
    url: str,
    connections: int,
    seconds: int,
    env: dict[str, str],
    threads: int = 2,
) -> dict[str, Any]:
    """Run wrk with one of our Lua scripts; the script's done() prints one JSON line."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    threads = min(threads, connections)
    result = subprocess.run(  # noqa: S603
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        env={
            **os.environ,
            **env,
            "BENCH_THREADS": str(threads),
            "BENCH_COUNTS": str(HERE / "wrk" / "counts.lua"),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{"):
            figures: dict[str, Any] = json.loads(line)
            errors = re.search(r"Socket errors: (.*)", result.stdout)
            figures["socket_errors"] = errors.group(1) if errors else ""
            return figures
    raise RuntimeError(f"wrk printed no figures:\n{result.stdout}\n{result.stderr}")


def machine() -> dict[str, Any]:
    """What the figures were taken on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    with suppress(OSError, ValueError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    with psycopg.connect(f"{SERVER}/postgres") as conn:
        postgres = conn.execute("SHOW server_version").fetchone()
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_mb": memory,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "postgresql": postgres[0] if postgres else "",
        "redis": next((p.split("=")[1] for p in redis_version if p.startswith("v=")), ""),
    }


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
