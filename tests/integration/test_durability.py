"""Nothing a worker sent is lost when Redis or the database goes away."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from rq import Queue
from rq.job import JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import text

from console.app import create_app
from intake.settings import Settings
from workers import jobs

from integration.conftest import Desk, close_app, open_desk
from support.builders import as_body, telegram_update
from support.services import PrivateRedis, free_port
from support.telegram_stub import TelegramStub


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed to stop and restart Redis in this test")
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


def test_redis_stopped_webhook_still_answers_200_and_the_message_is_processed_once_it_is_back(
    product_env: dict[str, str], private_redis: PrivateRedis, telegram_stub: TelegramStub
) -> None:
    settings = Settings.from_env({**product_env, "REDIS_URL": private_redis.url})
    with open_desk(settings) as desk:
        desk.organisation("Bangkok Workers Centre")
        private_redis.stop()

        answer = desk.post_update(telegram_update(7340030001, "นายจ้างไม่จ่ายเงินเดือน"))
        assert answer.status_code == 200
        health = desk.client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json()["unreachable"] == ["redis"]
        stored = desk.sql("SELECT processed_at FROM inbound_envelopes")
        assert len(stored) == 1
        assert stored[0][0] is None

        private_redis.start()
        assert jobs.sweep() == 1
        desk.work()
        assert (
            desk.sql("SELECT count(*) FROM inbound_envelopes WHERE processed_at IS NULL")[0][0] == 0
        )
        assert desk.sql("SELECT count(*) FROM messages WHERE direction = 'in'")[0][0] == 1
        assert len(telegram_stub.messages_to(7340030001)) == 1
        # The sweeper finds nothing more; a second pass queues nothing twice.
        assert jobs.sweep() == 0


def test_reply_queued_while_redis_was_down_is_sent_by_the_sweeper(
    product_env: dict[str, str], private_redis: PrivateRedis, telegram_stub: TelegramStub
) -> None:
    settings = Settings.from_env({**product_env, "REDIS_URL": private_redis.url})
    with open_desk(settings) as desk:
        desk.organisation("Bangkok Workers Centre")
        desk.post_update(telegram_update(7340030002, "សួស្តី"))
        private_redis.stop()
        envelope_id = str(desk.sql("SELECT id FROM inbound_envelopes")[0][0])
        # The job runs (say, on a worker that got it before Redis went), but cannot queue
        # the reply: the reply waits in the database.
        assert jobs.process_envelope(envelope_id) == "stored"
        assert (
            desk.sql("SELECT delivery_status FROM messages WHERE direction = 'out'")[0][0]
            == "queued"
        )
        private_redis.start()
        assert jobs.sweep() == 1
        desk.work()
        assert len(telegram_stub.messages_to(7340030002)) == 1


def test_database_down_webhook_answers_503_so_the_provider_retries(
    product_env: dict[str, str],
) -> None:
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/voicedesk"
    settings = Settings.from_env({**product_env, "DATABASE_URL": down})
    app = create_app(settings)
    try:
        answer = app.test_client().post(
            "/hooks/telegram",
            data=as_body(telegram_update(7340030003, "สวัสดี")),
            headers={
                "X-Telegram-Bot-Api-Secret-Token": product_env["TELEGRAM_WEBHOOK_SECRET"],
                "Content-Type": "application/json",
            },
        )
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert answer.get_json()["error"] == "storage unavailable"
        health = app.test_client().get("/healthz")
        assert health.status_code == 503
        assert "database" in health.get_json()["unreachable"]
    finally:
        close_app(app)


def test_envelopes_taken_by_a_stopping_worker_go_back_to_the_head_of_the_intake_list(
    desk: Desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    for n in range(3):
        assert desk.post_update(telegram_update(7340030010 + n, f"ค่าจ้าง {n}")).status_code == 200
    queued = desk.rt.dispatcher.waiting_envelopes()
    assert len(queued) == 3

    stop = threading.Event()
    stop.set()  # the worker is told to stop as it takes the batch
    assert jobs.drain_intake(stop=stop) == 3

    assert desk.rt.dispatcher.waiting_envelopes() == queued  # same order
    assert desk.sql("SELECT count(*) FROM inbound_envelopes WHERE processed_at IS NULL")[0][0] == 3
    desk.work()
    assert desk.sql("SELECT count(*) FROM messages WHERE direction = 'in'")[0][0] == 3
    assert desk.rt.dispatcher.waiting_envelopes() == []


def test_an_envelope_id_popped_by_a_worker_that_died_is_queued_again_by_the_sweeper(
    desk: Desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    desk.post_update(telegram_update(7340030020, "ค่าจ้าง"))
    # A worker takes the id and is killed before it commits anything.
    assert desk.rt.dispatcher.take_envelopes(100, 0) != []

    assert jobs.sweep() == 1  # VOICEDESK_SWEEP_AFTER=0 in these tests
    desk.work()
    assert desk.sql("SELECT count(*) FROM messages WHERE direction = 'in'")[0][0] == 1
    assert len(telegram_stub.messages_to(7340030020)) == 1


def test_the_sweeper_queues_again_only_what_is_no_longer_waiting(
    desk: Desk, telegram_stub: TelegramStub
) -> None:
    """Behind a backlog the sweeper must not pile up copies of what still waits in line
    (copies the workers would then spend their time on), yet it must find what a
    killed worker held."""
    desk.organisation("Bangkok Workers Centre")
    chats = [7340030030 + n for n in range(3)]
    for chat in chats:
        desk.post_update(telegram_update(chat, "ค่าจ้างค้าง"))
    waiting = desk.rt.dispatcher.waiting_envelopes()
    assert jobs.sweep() == 0  # all three still wait: nothing added
    assert jobs.sweep() == 0
    assert desk.rt.dispatcher.waiting_envelopes() == waiting
    # A worker takes the first and is killed: only that one is queued again, once its
    # hold is older than the sweep's wait (until then the worker may be alive).
    assert desk.rt.dispatcher.take_envelopes(1, 0) == waiting[:1]
    _an_hour_ago(desk, "UPDATE inbound_envelopes SET received_at = {}")
    assert jobs.sweep(older_than_seconds=600) == 0
    assert jobs.sweep() == 1
    assert sorted(desk.rt.dispatcher.waiting_envelopes()) == sorted(waiting)

    while jobs.drain_intake(wait=0):
        pass
    # Three replies wait in rq's queue: the sweeper leaves them there.
    outbound = desk.rt.dispatcher.queues()[0]
    assert outbound.count == 3
    _an_hour_ago(desk, "UPDATE messages SET created_at = {} WHERE direction = 'out'")
    assert jobs.sweep(older_than_seconds=600) == 0
    assert outbound.count == 3

    # A worker takes the first reply's job and is killed mid-send. While its start is
    # recent the run may still be alive; once older than the sweep's wait, it is not.
    job = Queue.dequeue_any(
        [outbound], None, connection=desk.rt.dispatcher.connection, serializer=JSONSerializer
    )
    assert job is not None
    taken, _queue = job
    taken.set_status(JobStatus.STARTED)
    taken.started_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    taken.save()
    assert jobs.sweep(older_than_seconds=600) == 0
    taken.started_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    taken.save()
    assert jobs.sweep(older_than_seconds=600) == 1
    assert outbound.count == 3

    desk.work()
    assert sorted(message.chat_id for message in telegram_stub.sent) == chats  # each once


def test_a_reply_whose_worker_died_between_taking_and_starting_it_is_sent_once(
    desk: Desk, telegram_stub: TelegramStub
) -> None:
    """rq pops a job's id off its list and only then marks it started: killed in between,
    a worker leaves the job "queued" in no list. Found by the worker fault on WhatsApp
    (719 replies of 720, the last one never sent)."""
    desk.organisation("Bangkok Workers Centre")
    desk.post_update(telegram_update(7340030040, "ค่าจ้างค้าง"))
    while jobs.drain_intake(wait=0):
        pass
    outbound = desk.rt.dispatcher.queues()[0]
    [job_id] = outbound.get_job_ids()
    assert Queue.dequeue_any([outbound], None, connection=desk.rt.dispatcher.connection,
                             serializer=JSONSerializer) is not None  # fmt: skip
    # what rq's worker does, then SIGKILL: the job says queued, and waits nowhere
    assert outbound.fetch_job(job_id).get_status() == JobStatus.QUEUED
    assert outbound.count == 0

    assert jobs.sweep() == 1
    desk.work()
    assert telegram_stub.messages_to(7340030040) != []
    assert len(telegram_stub.sent) == 1
    assert jobs.sweep() == 0  # sent: nothing left to queue


def _an_hour_ago(desk: Desk, statement: str) -> None:
    with desk.rt.session() as session:
        session.execute(text(statement.format("now() - interval '1 hour'")))
        session.commit()


def test_a_reply_sent_as_the_database_restarts_is_recorded_and_never_sent_twice(
    desk: Desk, telegram_stub: TelegramStub, database_url: str
) -> None:
    """Telegram has the reply, then every connection to PostgreSQL drops (a restart)
    before the send is recorded. Left queued, it would go to the worker again."""
    desk.organisation("Bangkok Workers Centre")

    def database_restarts() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

    telegram_stub.while_sending.append(database_restarts)
    desk.post_update(telegram_update(7340030040, "ค่าจ้างค้าง"))
    desk.work(wait_for_scheduled=15)  # a retry rq scheduled would run within this
    jobs.sweep()
    desk.work()

    assert telegram_stub.while_sending == []  # the connections did drop mid-send
    assert len(telegram_stub.messages_to(7340030040)) == 1
    sent = desk.sql(
        "SELECT delivery_status, provider_message_id FROM messages WHERE direction = 'out'"
    )
    assert [(status, bool(provider_id)) for status, provider_id in sent] == [("sent", True)]
