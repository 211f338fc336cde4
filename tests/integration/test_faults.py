"""Faults under load: Redis stopped, a worker killed, PostgreSQL restarted, the keys
rotated. Nothing lost, nothing twice.

`voicedesk serve` and `voicedesk worker` run as processes against a Redis and a
PostgreSQL cluster of this test's own (so stopping them disturbs nothing else), while a
sender posts signed Telegram updates (or, for `worker-whatsapp`, WhatsApp messages as
Twilio signs them) open loop and, like the provider, delivers each again until it is
answered 200. Mid-load one fault strikes. Then every accepted update must be in exactly
one ticket exactly once, and every worker must have had exactly one reply (but on
Telegram for the one a killed worker had in flight, see the last assertion); after a key
rotation, every value in the database must open with the newest keys alone.

In the test run, every fault: 60 updates a second for 12 s with a 4 s fault. The whole
size the issue asks (200 a second for 30 s, a 10 s fault):
VOICEDESK_FAULTS_FULL=1 python -m pytest tests/integration/test_faults.py -s
(the figures are printed; VOICEDESK_FAULTS=worker picks faults).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlencode

import psycopg
import pytest

from integration.conftest import PUBLIC_BASE
from integration.test_twilio_messaging import inbound
from support.builders import as_body, telegram_update
from support.services import PrivateRedis, free_port
from support.telegram_stub import TelegramStub
from support.twilio_stub import TwilioStub, sign

FULL = os.environ.get("VOICEDESK_FAULTS_FULL") == "1"
# A fault's name, then after a dash the channel the load comes through (Telegram if none).
DEFAULT_FAULTS = "redis,worker,worker-whatsapp,postgres,keys"
FAULTS = (os.environ.get("VOICEDESK_FAULTS") or DEFAULT_FAULTS).split(",")
RATE, SECONDS, OUTAGE = (200, 30, 10) if FULL else (60, 12, 4)
CLI = [sys.executable, "-c", "from console.cli import main; main()"]
PG_BIN = Path("/usr/lib/postgresql") / (os.listdir("/usr/lib/postgresql") or ["15"])[0] / "bin"
FIRST_CHAT = 7_350_000_000


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, run as the postgres user, on a free port."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*runner, *command], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        shutil.chown(self.folder, "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.folder), "-A", "trust",
                          "-U", "postgres")  # fmt: skip
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.folder), "-o", options,
                          "-w", "-l", str(self.folder / "log"), "start")  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.folder), "-m", "fast",
                          "-w", "stop")  # fmt: skip


def whatsapp_number(n: int) -> str:
    return f"whatsapp:+6681{n:07d}"


@dataclass
class Sender:
    """Posts RATE updates a second, each from a new worker, redelivering until answered 200.

    Telegram updates, or WhatsApp messages as Twilio posts them (signed over the public
    URL), as `channel` says.
    """

    port: int
    secret: str
    channel: str = "telegram"
    accepted: set[int] = field(default_factory=set)
    redeliveries: int = 0
    refused: int = 0

    def run(self) -> None:
        total = RATE * SECONDS
        counter = itertools.count()
        start = time.monotonic()
        lock = threading.Lock()

        def one() -> None:
            while (n := next(counter)) < total:
                wait = start + n / RATE - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                request = self._request(n)
                give_up = time.monotonic() + 120
                while time.monotonic() < give_up:
                    status = self._post(*request)
                    if status == 200:
                        with lock:
                            self.accepted.add(n)
                        break
                    with lock:
                        self.redeliveries += 1
                        self.refused += status not in (0, 503)
                    time.sleep(0.5)

        threads = [threading.Thread(target=one) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _request(self, n: int) -> tuple[str, bytes, dict[str, str]]:
        text = f"ค่าจ้างค้าง {n}"
        if self.channel == "whatsapp":
            form = {**inbound(whatsapp_number(n), text), "MessageSid": f"SM{n:032d}"}
            path = "/hooks/twilio/messaging"
            signature = sign(PUBLIC_BASE + path, form)
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": signature}  # fmt: skip
            return path, urlencode(form).encode(), headers
        body = as_body(telegram_update(FIRST_CHAT + n, text, update_id=n))
        headers = {"Content-Type": "application/json",
                   "X-Telegram-Bot-Api-Secret-Token": self.secret}  # fmt: skip
        return "/hooks/telegram", body, headers

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            connection.request("POST", path, body, headers)
            status = connection.getresponse().status
            connection.close()
            return status
        except OSError:
            return 0  # refused or reset: the provider tries again


@dataclass
class Product:
    env: dict[str, str]
    logs: Path
    redis: PrivateRedis
    postgres: PrivatePostgres
    database_url: str
    port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: int = 0
    log_files: list[IO[str]] = field(default_factory=list)

    def start(self, name: str) -> None:
        args = {
            "serve": ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2"],
            "worker": ["worker"],
        }[name]
        log = (self.logs / f"{name}.log").open("a")
        self.log_files.append(log)
        self.processes[name] = subprocess.Popen([*CLI, *args], env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT)  # fmt: skip

    def supervise(self) -> None:
        """What a process manager does: start again a process that exited."""
        for name, process in list(self.processes.items()):
            if process.poll() is not None:
                self.restarts += 1
                self.start(name)

    def count(self, query: str) -> int:
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0])

    def rows(self, query: str) -> list[str]:
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            return [repr(row) for row in conn.execute(query).fetchall()]

    def stalled_replies(self) -> list[str]:
        """For replies still queued: their row and their rq job's state, to see a stall."""
        from redis import Redis

        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT id, attempts, next_attempt_at, failure_reason FROM messages"
                " WHERE delivery_status = 'queued' LIMIT 5"
            ).fetchall()
        with Redis.from_url(self.redis.url, socket_connect_timeout=2) as client:
            return [
                repr((*row, client.hmget(f"rq:job:send_outbound-{row[0]}", "status", "started_at")))
                for row in rows
            ]

    def redis_figures(self) -> dict[str, int]:
        """Lengths of the intake list and rq's queues and registries, to see a stall."""
        from redis import Redis

        with Redis.from_url(self.redis.url, socket_connect_timeout=2) as client:
            figures = {}
            for key in client.scan_iter("*"):
                if key.startswith(b"voicedesk:rate:"):
                    continue
                kind = client.type(key).decode()
                name = key.decode()
                if kind == "list":
                    figures[name] = client.llen(key)
                elif kind == "zset":
                    figures[name] = client.zcard(key)
            return figures

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.log_files:
            log.close()


@pytest.fixture
def product(
    tmp_path: Path, product_env: dict[str, str], telegram_stub: TelegramStub
) -> Iterator[Product]:
    if shutil.which("redis-server") is None or not (PG_BIN / "initdb").exists():
        pytest.fail("redis-server and PostgreSQL's initdb are needed for the fault tests")
    redis = PrivateRedis(tmp_path)
    redis.start()
    # Not under tmp_path: pytest keeps that private to root, and the server runs as postgres.
    postgres = PrivatePostgres(Path(tempfile.mkdtemp(prefix="voicedesk-faults-pg-")))
    postgres.create()
    env = {
        **os.environ,
        **product_env,
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis.url,
        "VOICEDESK_SWEEP_AFTER": "3",
        "VOICEDESK_SWEEP_INTERVAL": "1",
        "VOICEDESK_RATE_LIMITS": "telegram=5000/1,telegram:chat=100/1,whatsapp=5000/1,"
        "whatsapp:chat=100/1",
        "VOICEDESK_LOG_LEVEL": "WARNING",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    for args in (["init"], ["org", "create", "Bangkok Workers Centre", "--languages", "th"]):
        subprocess.run([*CLI, *args], env=env, check=True, capture_output=True, timeout=120)
    running = Product(env, logs, redis, postgres, postgres.url, free_port())
    running.start("serve")
    running.start("worker")
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, (logs / "serve.log").read_text()
        time.sleep(0.2)
    yield running
    running.stop()
    redis.stop()
    postgres.stop()
    shutil.rmtree(postgres.folder, ignore_errors=True)


def _rotate_keys(product: Product) -> dict[str, object]:
    """`voicedesk keys rotate` as an operator runs it, while the load goes on."""
    began = time.monotonic()
    done = subprocess.run([*CLI, "keys", "rotate"], env=product.env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    resealed = dict(line.split("\t") for line in done.stdout.splitlines() if "\t" in line)
    return {
        "rotation took": round(time.monotonic() - began, 1),
        "re-sealed": {name: count for name, count in resealed.items() if count != "0 re-encrypted"},
        "rotation said": done.stderr.strip().splitlines()[-1],
    }


def _under_newest_keys_only(product: Product) -> dict[str, int]:
    """Open every sealed value in the database with rings that hold only the newest keys:
    what an operator who then drops the older keys would have. Count what opens."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from intake.db import make_engine
    from safeguards.rotation import sealed_columns
    from safeguards.sealing import EnvelopeKeys, KeyRing, binding

    newest = {
        ring: Path(product.env[f"VOICEDESK_{ring.upper()}_KEYS_FILE"]).read_text().split()[-1]
        for ring in ("content", "vault")
    }
    content, vault = KeyRing("content", newest["content"]), KeyRing("vault", newest["vault"])
    opened: dict[str, int] = {}
    engine = make_engine(product.database_url)
    with Session(engine) as session:
        for target in sealed_columns(content, vault, EnvelopeKeys(vault)):
            query = select(target.model.id, target.column).where(target.column.is_not(None))
            rows = session.execute(query).all()
            for row_id, blob in rows:
                target.open(blob, binding(target.model.__tablename__, target.column.key, row_id))
            if rows:
                opened[target.name] = len(rows)
    engine.dispose()
    return opened


def _strike(product: Product, fault: str) -> dict[str, object]:
    if fault == "keys":
        return _rotate_keys(product)
    if fault == "redis":
        product.redis.stop()
        time.sleep(OUTAGE)
        product.redis.start()
    elif fault == "worker":
        product.processes["worker"].send_signal(signal.SIGKILL)
        product.processes["worker"].wait()
        time.sleep(OUTAGE)
        product.start("worker")
    else:
        product.postgres.stop()
        time.sleep(OUTAGE)
        product.postgres.start()
    return {}


@pytest.mark.integration
@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_under_load_loses_nothing_and_doubles_nothing(
    product: Product, telegram_stub: TelegramStub, twilio_stub: TwilioStub, fault: str
) -> None:
    fault, _, channel = fault.partition("-")
    sender = Sender(product.port, product.env["TELEGRAM_WEBHOOK_SECRET"], channel or "telegram")
    sending = threading.Thread(target=sender.run)
    sending.start()
    time.sleep(SECONDS / 3)
    struck = _strike(product, fault)
    while sending.is_alive():
        product.supervise()
        sending.join(timeout=1)

    sent = RATE * SECONDS
    # The backlog drains at this machine's pace.
    deadline = time.monotonic() + (600 if FULL else 120)
    while time.monotonic() < deadline:
        product.supervise()
        try:
            stored = product.count("SELECT count(*) FROM messages WHERE direction = 'in'")
            replied = product.count("SELECT count(*) FROM messages WHERE delivery_status = 'sent'")
        except psycopg.OperationalError:
            stored = replied = -1
        if stored == len(sender.accepted) and replied >= stored:
            break
        time.sleep(1)
    if sender.channel == "whatsapp":
        workers = {whatsapp_number(n): n for n in range(sent)}
        replies = [workers[message.to] for message in twilio_stub.sent]
    else:
        replies = [message.chat_id - FIRST_CHAT for message in telegram_stub.sent]
    figures = {
        "fault": fault,
        "channel": sender.channel,
        "sent": sent,
        "accepted": len(sender.accepted),
        "redelivered": sender.redeliveries,
        "stored": stored,
        "replies sent": len(replies),
        "replies sent twice": len(replies) - len(set(replies)),
        "restarts": product.restarts,
        "unprocessed": product.count(
            "SELECT count(*) FROM inbound_envelopes WHERE processed_at IS NULL"
        ),
        "queued replies": product.count(
            "SELECT count(*) FROM messages WHERE delivery_status = 'queued'"
        ),
        "redis": product.redis_figures(),
        # What held replies up, when something did: sessions idle in a transaction
        # (a dead worker's locks) or waiting on a lock, and the replies still queued.
        "held or waiting": product.rows(
            "SELECT pid, state, wait_event_type, left(query, 60), now() - xact_start"
            " FROM pg_stat_activity WHERE datname = 'postgres'"
            " AND (state = 'idle in transaction' OR wait_event_type = 'Lock')"
        ),
        "stalled replies": product.stalled_replies(),
        **struck,
    }
    print(json.dumps(figures))
    assert sender.refused == 0, figures  # only 503s or a closed port while it was down
    assert product.restarts == 0, figures  # the product rode the fault out by itself
    assert len(sender.accepted) == sent, figures
    assert stored == sent, figures
    assert product.count(
        "SELECT count(*) FROM (SELECT envelope_id FROM messages WHERE direction = 'in'"
        " GROUP BY envelope_id HAVING count(*) > 1) twice"
    ) == 0  # fmt: skip
    assert product.count("SELECT count(*) FROM tickets") == sent
    assert set(replies) == set(range(sent)), figures  # none lost
    # Each once, but on Telegram for the one reply a killed worker had in flight:
    # Telegram took it, the worker died before recording it, and Telegram can neither
    # take an idempotency key nor say whether it has a message. Sent again, not lost.
    # Twilio can say: on WhatsApp not even that one goes twice. README, "Exactly once,
    # and where it cannot be"; test_sends_in_doubt.py makes that instant happen.
    in_flight = 1 if fault == "worker" and sender.channel == "telegram" else 0
    assert len(replies) - sent <= in_flight, figures
    if fault == "keys":
        # Rotated while messages arrived: every ciphertext, those that came in meanwhile
        # too, opens with the new keys alone, so the older ones can go.
        opened = _under_newest_keys_only(product)
        print(json.dumps({"opened with the newest keys alone": opened}))
        assert opened["messages.text_sealed"] == 2 * sent
        assert opened["inbound_envelopes.payload_sealed"] == sent
        assert opened["vault_entries.address_sealed"] == sent
