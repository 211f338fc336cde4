"""Hand job ids to whoever runs jobs: rq on Redis, or a thread in this process."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Protocol, cast

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.serializers import JSONSerializer

logger = logging.getLogger(__name__)

# Queue per job, in the order a worker takes them: replies to workers first, then
# prompts we start (validation rounds, reminders) in bulk.
QUEUES = {"send_outbound": "outbound", "send_prompt": "prompts"}
QUEUE_ORDER = ("outbound", "prompts")
# What workers sent travels apart, as bare envelope ids on one Redis list: one RPUSH
# on the webhook's hot path instead of an rq job (a hash, a registry, two round
# trips), drained in batches by every worker process. A popped id whose worker dies
# is not lost: the envelope is still unprocessed in the database, and the sweeper
# queues it again.
INTAKE_JOB = "process_envelope"
INTAKE_LIST = "voicedesk:intake"
# Provider outages last minutes; give a send a good hour before it counts as failed.
RETRY_INTERVALS = [10, 30, 120, 600, 1800]


class Dispatcher(Protocol):
    def enqueue(self, job: str, item_id: str) -> bool:
        """Queue a job for one id; False if the queue is unreachable (the sweeper retries)."""

    def enqueue_in(self, seconds: float, job: str, item_id: str) -> bool:
        """Queue a job to run after a delay (a retry with backoff)."""

    def ping(self) -> bool:
        """Tell whether the queue is reachable."""

    def close(self) -> None:
        """Let go of connections."""


def redis_connection(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


class RQDispatcher:
    """Jobs travel through Redis as a function name and one id, JSON-serialised."""

    def __init__(self, redis_url: str) -> None:
        self.connection = redis_connection(redis_url)
        self._queues = {
            name: Queue(name, connection=self.connection, serializer=JSONSerializer)
            for name in QUEUE_ORDER
        }

    def enqueue(self, job: str, item_id: str) -> bool:
        try:
            if job == INTAKE_JOB:
                self.connection.rpush(INTAKE_LIST, item_id)
                return True
            self._queues[QUEUES[job]].enqueue_call(
                f"workers.jobs.{job}",
                args=[item_id],
                job_id=f"{job}-{item_id}",
                retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
        except RedisError:
            logger.warning("queue unreachable; %s %s left for the sweeper", job, item_id)
            return False
        return True

    def enqueue_in(self, seconds: float, job: str, item_id: str) -> bool:
        try:
            # A job id of its own: the run that scheduled it still holds the plain one.
            self._queues[QUEUES[job]].enqueue_in(
                dt.timedelta(seconds=seconds),
                f"workers.jobs.{job}",
                item_id,
                job_id=f"{job}-{item_id}-{uuid.uuid4().hex[:8]}",
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
        except RedisError:
            logger.warning("queue unreachable; %s %s left for the sweeper", job, item_id)
            return False
        return True

    def ping(self) -> bool:
        try:
            return bool(self.connection.ping())
        except RedisError:
            return False

    def take_envelopes(self, most: int, wait: float) -> list[str]:
        """Up to `most` envelope ids, waiting at most `wait` seconds for the first."""
        taken = self.connection.lpop(INTAKE_LIST, most)
        if not taken and wait > 0:
            first = self.connection.blpop([INTAKE_LIST], timeout=wait)
            if first is None:
                return []
            taken = [first[1], *(self.connection.lpop(INTAKE_LIST, most - 1) or [])]
        return [item.decode() for item in cast(list[bytes], taken or [])]

    def put_back(self, envelope_ids: list[str]) -> None:
        """Return ids taken but not handled (a worker stopping), first in line."""
        if envelope_ids:
            self.connection.lpush(INTAKE_LIST, *reversed(envelope_ids))

    def close(self) -> None:
        self.connection.close()

    def queues(self) -> list[Queue]:
        return list(self._queues.values())


class InlineDispatcher:
    """The embedded default: one background thread runs jobs in this process, in order."""

    def __init__(self, run: Callable[[str, str], None]) -> None:
        self._run = run
        self._jobs: queue.Queue[tuple[str, str]] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="voicedesk-jobs", daemon=True)
        self._thread.start()

    def enqueue(self, job: str, item_id: str) -> bool:
        self._jobs.put((job, item_id))
        return True

    def enqueue_in(self, seconds: float, job: str, item_id: str) -> bool:
        timer = threading.Timer(seconds, self.enqueue, args=(job, item_id))
        timer.daemon = True
        timer.start()
        return True

    def ping(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        return None

    def drain(self) -> None:
        """Wait until every queued job has run."""
        self._jobs.join()

    def _loop(self) -> None:
        while True:
            job, item_id = self._jobs.get()
            try:
                self._run(job, item_id)
            except Exception:
                logger.exception("job %s %s failed; the sweeper will retry it", job, item_id)
            finally:
                self._jobs.task_done()
