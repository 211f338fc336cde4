"""Hand job ids to whoever runs jobs: rq on Redis, or a thread in this process."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Protocol, cast

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, SimpleWorker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

logger = logging.getLogger(__name__)

# Queue per job, in the order a worker takes them: replies to workers first, then
# prompts we start (validation rounds, reminders) in bulk.
QUEUES = {"send_outbound": "outbound", "send_prompt": "prompts"}
QUEUE_ORDER = ("outbound", "prompts")
# What workers sent travels apart, as bare envelope ids in a Redis sorted set (by
# time queued): one ZADD on the webhook's hot path instead of an rq job (a hash, a
# registry, two round trips), drained in batches by every worker process. A worker
# moves the ids it takes into a second set, held (by time taken), and drops them when
# the batch is done. So the sweeper can tell what is lost, an envelope still
# unprocessed that is neither waiting nor held by a live worker (Redis restarted, a
# worker killed), from what is only behind a backlog, and queue again the first
# without piling up copies of the second.
INTAKE_JOB = "process_envelope"
INTAKE_QUEUE = "voicedesk:intake:waiting"
INTAKE_HELD = "voicedesk:intake:held"
# A held id whose worker never let go of it is dropped after a day (the envelope was
# processed, or the sweeper has long queued it again).
HELD_FOR_AT_MOST = 24 * 3600
# Take up to ARGV[1] ids, first in line first, and hold them and ARGV[2..] (an id
# already popped) at Redis's time; return the ids taken (with their scores).
_TAKE = """
local taken = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
local now = redis.call('TIME')[1]
for i = 1, #taken, 2 do redis.call('ZADD', KEYS[2], now, taken[i]) end
for i = 2, #ARGV do redis.call('ZADD', KEYS[2], now, ARGV[i]) end
return taken
"""
# Queue again the ids (ARGV[3..]) neither waiting nor held within the last ARGV[1]
# seconds, behind what waits; return how many.
_REQUEUE = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
local queued = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  if not redis.call('ZSCORE', KEYS[1], id) then
    local held = redis.call('ZSCORE', KEYS[2], id)
    if not held or tonumber(held) <= now - tonumber(ARGV[1]) then
      redis.call('ZADD', KEYS[1], now, id)
      redis.call('ZREM', KEYS[2], id)
      queued = queued + 1
    end
  end
end
return queued
"""
# rq job states in which a job will still run by itself: the sweeper leaves those be.
WAITING = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED})
# Provider outages last minutes; give a send a good hour before it counts as failed.
RETRY_INTERVALS = [10, 30, 120, 600, 1800]


class Dispatcher(Protocol):
    def enqueue(self, job: str, item_id: str) -> bool:
        """Queue a job for one id; False if the queue is unreachable (the sweeper retries)."""

    def enqueue_in(self, seconds: float, job: str, item_id: str) -> bool:
        """Queue a job to run after a delay (a retry with backoff)."""

    def requeue(self, job: str, item_ids: list[str], stale: dt.timedelta) -> int:
        """Queue again ids that may be waiting already; return how many were not.

        An id still waiting is left in place; one a run took more than `stale` ago
        (its worker may have died) is queued again: every job is idempotent.
        """

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
        self._take = self.connection.register_script(_TAKE)
        self._requeue = self.connection.register_script(_REQUEUE)

    def enqueue(self, job: str, item_id: str) -> bool:
        try:
            if job == INTAKE_JOB:
                self.connection.zadd(INTAKE_QUEUE, {item_id: time.time()}, nx=True)
            else:
                self._enqueue_job(job, item_id)
        except RedisError:
            logger.warning("queue unreachable; %s %s left for the sweeper", job, item_id)
            return False
        return True

    def _enqueue_job(self, job: str, item_id: str) -> None:
        self._queues[QUEUES[job]].enqueue_call(
            f"workers.jobs.{job}",
            args=[item_id],
            job_id=f"{job}-{item_id}",
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
        )

    def requeue(self, job: str, item_ids: list[str], stale: dt.timedelta) -> int:
        if not item_ids:
            return 0
        try:
            if job == INTAKE_JOB:
                # Behind what is waiting, so a sweep never jumps the line.
                limits = [stale.total_seconds(), HELD_FOR_AT_MOST]
                keys = [INTAKE_QUEUE, INTAKE_HELD]
                return int(self._requeue(keys=keys, args=[*limits, *item_ids]))
            found = Job.fetch_many(
                [f"{job}-{item_id}" for item_id in item_ids],
                connection=self.connection,
                serializer=JSONSerializer,
            )
            started_before = dt.datetime.now(dt.UTC) - stale
            in_line: set[str] | None = None
            queued = 0
            for item_id, existing in zip(item_ids, found, strict=True):
                if existing is not None:
                    status = existing.get_status(refresh=False)
                    if status == JobStatus.QUEUED:
                        # rq pops a job's id off its list, then marks it started: a worker
                        # killed in between leaves it "queued" and in no list, for ever.
                        if in_line is None:
                            in_line = set(self._queues[QUEUES[job]].get_job_ids())
                        if existing.id in in_line:
                            continue
                    elif status in WAITING:
                        continue
                    began = existing.started_at
                    if status == JobStatus.STARTED and began is not None:
                        began = began if began.tzinfo else began.replace(tzinfo=dt.UTC)
                        if began > started_before:
                            continue  # running now, on a worker that is alive
                self._enqueue_job(job, item_id)
                queued += 1
        except RedisError:
            logger.warning("queue unreachable; %d %s jobs left for the sweeper", len(item_ids), job)
            return 0
        return queued

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
        """Up to `most` envelope ids, held, waiting at most `wait` seconds for the first."""
        taken = cast(list[bytes], self._take(keys=[INTAKE_QUEUE, INTAKE_HELD], args=[most]))[::2]
        if not taken and wait > 0:
            # Held only once popped: a worker killed in between leaves the id in neither
            # set, which the sweeper takes for lost and queues again. Nothing is lost.
            first = cast(
                tuple[bytes, bytes, float] | None,
                self.connection.bzpopmin([INTAKE_QUEUE], timeout=wait),
            )
            if first is None:
                return []
            more = self._take(keys=[INTAKE_QUEUE, INTAKE_HELD], args=[most - 1, first[1]])
            taken = [first[1], *cast(list[bytes], more)[::2]]
        return [member.decode() for member in taken]

    def let_go(self, envelope_ids: list[str]) -> None:
        """Drop ids this worker held: their envelopes are handled (or left to the sweeper)."""
        if envelope_ids:
            self.connection.zrem(INTAKE_HELD, *envelope_ids)

    def put_back(self, envelope_ids: list[str]) -> None:
        """Return ids taken but not handled (a worker stopping), first in line, in order."""
        if envelope_ids:
            with self.connection.pipeline() as pipe:
                pipe.zadd(INTAKE_QUEUE, {item: n for n, item in enumerate(envelope_ids)})
                pipe.zrem(INTAKE_HELD, *envelope_ids)
                pipe.execute()

    def waiting_envelopes(self) -> list[str]:
        """The envelope ids waiting, first in line first."""
        waiting = cast(list[bytes], self.connection.zrange(INTAKE_QUEUE, 0, -1))
        return [member.decode() for member in waiting]

    def close(self) -> None:
        self.connection.close()

    def queues(self) -> list[Queue]:
        return list(self._queues.values())


class Worker(SimpleWorker):
    """rq's SimpleWorker (no fork per job), listening for rq's commands a second at a time.

    rq's own listener waits up to 60 s on Redis, and stopping joins it: now and then
    (its subscription not yet confirmed) a worker told to stop took a minute, long
    enough for a process manager to SIGKILL it while its intake thread still ran.
    """

    def subscribe(self) -> None:
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )


class InlineDispatcher:
    """The embedded default: one background thread runs jobs in this process, in order."""

    def __init__(self, run: Callable[[str, str], None]) -> None:
        self._run = run
        self._jobs: queue.Queue[tuple[str, str]] = queue.Queue()
        self._waiting: set[tuple[str, str]] = set()  # queued, not yet started
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="voicedesk-jobs", daemon=True)
        self._thread.start()

    def enqueue(self, job: str, item_id: str) -> bool:
        with self._lock:
            self._waiting.add((job, item_id))
        self._jobs.put((job, item_id))
        return True

    def requeue(self, job: str, item_ids: list[str], stale: dt.timedelta) -> int:
        with self._lock:
            missing = [item for item in item_ids if (job, item) not in self._waiting]
        for item_id in missing:
            self.enqueue(job, item_id)
        return len(missing)

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
            with self._lock:
                self._waiting.discard((job, item_id))
            try:
                self._run(job, item_id)
            except Exception:
                logger.exception("job %s %s failed; the sweeper will retry it", job, item_id)
            finally:
                self._jobs.task_done()
