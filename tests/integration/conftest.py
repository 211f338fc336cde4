"""Integration fixtures: a throwaway PostgreSQL database, a real Redis, a Telegram stub.

With CI=true an unreachable PostgreSQL or Redis fails the run; elsewhere those
tests are skipped with the reason, so a laptop without services can still run
the unit tests.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq.serializers import JSONSerializer
from sqlalchemy import text

from console.app import close_app, create_app
from console.cli import create_organisation, create_user, issue_token
from intake.db import make_engine
from intake.envelopes import publish_envelope_keys
from intake.schema import upgrade
from intake.settings import Settings
from workers import jobs, runtime
from workers.queue import RQDispatcher, Worker

from support import CI
from support.builders import as_body
from support.telegram_stub import TelegramStub
from support.twilio_stub import ACCOUNT_SID, AUTH_TOKEN, TwilioStub
from support.viber_stub import VIBER_TOKEN, ViberStub

PG_ADMIN_URL = os.environ.get(
    "VOICEDESK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_SERVER = os.environ.get("VOICEDESK_TEST_REDIS", "redis://127.0.0.1:6379")
RUN_ID = uuid.uuid4().hex
# Held in the claimed Redis database for the whole run, so two runs on one machine
# (a developer's and CI's) never flush each other's queues.
RUN_LOCK = "voicedesk-test-run"
WEBHOOK_SECRET = "s3cret-webhook-token"
PASSWORD = "correct horse battery staple"


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is unreachable: {exc}"
    if CI:
        pytest.fail(f"{message} (CI=true: integration tests must run)", pytrace=False)
    pytest.skip(message)


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this run, migrated with Alembic."""
    name = f"voicedesk_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        _unavailable("PostgreSQL", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(_sqlalchemy_url(url))
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database of its own for this run: the first of 15..1 no other run holds."""
    server = REDIS_TEST_SERVER.rstrip("/")
    try:
        with Redis.from_url(server, socket_connect_timeout=2) as connection:
            connection.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
        _unavailable("Redis", exc)
    for number in range(15, 0, -1):
        url = f"{server}/{number}"
        with Redis.from_url(url) as connection:
            if connection.set(RUN_LOCK, RUN_ID, nx=True, ex=3 * 3600):
                break
    else:
        pytest.fail("every Redis database 1-15 is held by another test run")
    yield url
    with Redis.from_url(url) as connection:
        connection.flushdb()


TABLES = (
    "messages, tickets, vault_entries, workers, inbound_envelopes, envelope_keys, api_tokens, "
    "users, organisations, simulator_lines, audit_log, businesses, key_checks"
)


@pytest.fixture
def clean(database_url: str, redis_url: str) -> None:
    """Start every test from empty tables and an empty Redis database."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        # The audit log refuses TRUNCATE by trigger; replica mode lets the test reset it.
        conn.execute("SET session_replication_role = replica")
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    with Redis.from_url(redis_url) as connection:
        connection.flushdb()
        connection.set(RUN_LOCK, RUN_ID, ex=3 * 3600)


def _key_line() -> str:
    return "k" + secrets.token_hex(4) + ":" + base64.urlsafe_b64encode(os.urandom(32)).decode()


PUBLIC_BASE = "https://voicedesk.example.org"
WHATSAPP_FROM = "whatsapp:+14155238886"
SMS_FROM = "+15005550006"
HOTLINE_STAFF = "+66800000001"


@pytest.fixture
def product_env(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    telegram_stub: TelegramStub,
    twilio_stub: TwilioStub,
    viber_stub: ViberStub,
    clean: None,
) -> dict[str, str]:
    """The environment an operator would give the product, pointing at the test services."""
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "content.keys").write_text(_key_line() + "\n")
    (keys / "vault.keys").write_text(_key_line() + "\n")
    (keys / "pepper").write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
    return {
        "VOICEDESK_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_BASE_URL": PUBLIC_BASE,
        "VOICEDESK_CONTENT_KEYS_FILE": str(keys / "content.keys"),
        "VOICEDESK_VAULT_KEYS_FILE": str(keys / "vault.keys"),
        "VOICEDESK_PSEUDONYM_PEPPER_FILE": str(keys / "pepper"),
        "TELEGRAM_BOT_TOKEN": telegram_stub.token,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TELEGRAM_API_BASE": telegram_stub.base,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE": twilio_stub.base,
        "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "TWILIO_SMS_FROM": SMS_FROM,
        "VOICEDESK_HOTLINE_NUMBERS": HOTLINE_STAFF,
        "VIBER_AUTH_TOKEN": VIBER_TOKEN,
        "VIBER_API_BASE": viber_stub.base,
        "VOICEDESK_SWEEP_AFTER": "0",
    }


@pytest.fixture
def settings(product_env: dict[str, str]) -> Settings:
    return Settings.from_env(product_env).with_changes(testing=True)


class BurstWorker(Worker):
    """The product's rq worker for one burst in a test, without the thread that listens
    for rq's commands from outside: a burst that ends as it begins could leave it waiting
    for its subscription while rq's teardown joins it (a dozen tests took a minute each
    with rq's own listener)."""

    def subscribe(self) -> None:
        return None

    def unsubscribe(self) -> None:
        return None


class JobCrashed(Exception):
    """A job raised instead of recording its outcome (rq would then retry it blindly)."""


def burst_worker(dispatcher: RQDispatcher, **kwargs: Any) -> BurstWorker:
    return BurstWorker(
        dispatcher.queues(), connection=dispatcher.connection, serializer=JSONSerializer, **kwargs
    )


def run_jobs_or_fail(desk: Desk, with_scheduler: bool = False) -> None:
    """Run every queued job, as `voicedesk worker --burst` would, and fail on a crashed job.

    With the scheduler, delayed jobs (retries) that are due are queued first.
    """
    crashes: list[str] = []

    def record(job: Any, exc_type: type, exc_value: BaseException, tb: Any) -> bool:
        crashes.append(f"{job.id}: {exc_type.__name__}: {exc_value}")
        return True

    dispatcher = desk.rt.dispatcher
    assert isinstance(dispatcher, RQDispatcher)
    try:
        while jobs.drain_intake(wait=0, raise_errors=True):
            pass
    except Exception as exc:  # noqa: BLE001 - reported like an rq job's crash
        crashes.append(f"process_envelope: {type(exc).__name__}: {exc}")
    burst_worker(dispatcher, exception_handlers=[record]).work(
        burst=True, with_scheduler=with_scheduler
    )
    if crashes:
        raise JobCrashed("; ".join(crashes))


@dataclass
class Desk:
    """The product as a test drives it: the web app, the worker, and the database."""

    settings: Settings
    app: Flask
    client: FlaskClient
    rt: runtime.Runtime

    def post_update(self, update: dict[str, Any], secret: str | None = WEBHOOK_SECRET) -> Any:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return self.client.post("/hooks/telegram", data=as_body(update), headers=headers)

    def work(self, wait_for_scheduled: float = 0.0) -> None:
        """Run every queued job, as `voicedesk worker --burst` would.

        With wait_for_scheduled, keep going (up to that many seconds) while delayed
        jobs (retries with backoff) are still waiting for their time.
        """
        dispatcher = self.rt.dispatcher
        assert isinstance(dispatcher, RQDispatcher)
        deadline = time.monotonic() + wait_for_scheduled
        while True:
            while jobs.drain_intake(wait=0, raise_errors=True):
                pass
            burst_worker(dispatcher).work(burst=True, with_scheduler=True)
            # A job the scheduler queued as the burst ended is waiting too.
            waiting = sum(
                len(queue.scheduled_job_registry) + queue.count for queue in dispatcher.queues()
            )
            if not waiting or time.monotonic() > deadline:
                return
            time.sleep(0.2)

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.rt.session() as session:
            return list(session.execute(text(statement), params))

    def organisation(self, name: str, languages: list[str] | None = None) -> int:
        with self.rt.session() as session:
            organisation = create_organisation(session, name, languages or [], ["TH"])
            session.commit()
            return organisation.id

    def token(self, email: str, org: str, role: str = "caseworker") -> str:
        with self.rt.session() as session:
            user = create_user(session, email, org, role, PASSWORD)
            value = issue_token(session, user)
            session.commit()
            return value

    def api(self, path: str, token: str) -> Any:
        return self.client.get(path, headers={"Authorization": f"Bearer {token}"})


@contextmanager
def open_desk(settings: Settings) -> Iterator[Desk]:
    """Start the product's parts in this process: a worker runtime and the web app."""
    rt = runtime.configure(settings)
    with rt.session() as session:
        publish_envelope_keys(session, rt.envelope_keys)
        session.commit()
    app = create_app(settings)
    try:
        yield Desk(settings, app, app.test_client(), rt)
    finally:
        close_app(app)
        rt.close()


@pytest.fixture
def desk(settings: Settings) -> Iterator[Desk]:
    with open_desk(settings) as opened:
        yield opened
