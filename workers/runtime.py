"""Everything a worker process holds: settings, database, keys, channels, the queue."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from bots.base import Channel
from bots.registry import build_channels
from intake.conversation import IntakeKeys
from intake.db import make_engine, make_sessionmaker
from intake.models import Direction
from intake.settings import Settings
from intake.simulator import record_line
from safeguards import keys as keyfiles
from safeguards.keycheck import check_keys_at_start
from safeguards.sealing import EnvelopeKeys
from workers.inflight import SendsInFlight
from workers.queue import Dispatcher, InlineDispatcher, RQDispatcher
from workers.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter

logger = logging.getLogger(__name__)


class Runtime:
    """A worker process's long-lived parts. Built once, by `configure`."""

    def __init__(self, settings: Settings, dispatcher: Dispatcher | None = None) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self._sessions = make_sessionmaker(self.engine)
        self.keys = IntakeKeys(
            content=keyfiles.load_content_ring(settings),
            vault=keyfiles.load_vault_ring(settings),
            pepper=keyfiles.load_pepper(settings),
        )
        try:
            check_keys_at_start(
                self._sessions, [self.keys.content, self.keys.vault], self.keys.pepper
            )
        except BaseException:
            self.engine.dispose()
            raise
        self.envelope_keys = EnvelopeKeys(self.keys.vault)
        self.channels: dict[str, Channel] = build_channels(settings, self.record_simulator_reply)
        if dispatcher is None:
            dispatcher = (
                RQDispatcher(settings.redis_url)
                if settings.redis_url
                else InlineDispatcher(run_job)
            )
        self.dispatcher = dispatcher
        redis = dispatcher.connection if isinstance(dispatcher, RQDispatcher) else None
        self.limiter: RateLimiter = (
            RedisRateLimiter(redis) if redis is not None else MemoryRateLimiter()
        )
        self.in_flight = SendsInFlight(redis)

    def close(self) -> None:
        """Let go of database connections, the channels' clients and the queue connection."""
        for channel in self.channels.values():
            close_channel = getattr(channel, "close", None)
            if close_channel is not None:
                close_channel()
        self.engine.dispose()
        close = getattr(self.dispatcher, "close", None)
        if close is not None:
            close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def record_simulator_reply(self, chat: str, text: str) -> None:
        """Deliver a simulator reply: it is kept for the simulator page to show."""
        with self.session() as session:
            record_line(session, self.keys.content, chat, Direction.OUT, text)
            session.commit()


_runtime: Runtime | None = None


def configure(settings: Settings, dispatcher: Dispatcher | None = None) -> Runtime:
    """Build this process's runtime; jobs run against it."""
    global _runtime
    if _runtime is not None:
        _runtime.close()
    _runtime = Runtime(settings, dispatcher)
    return _runtime


def current() -> Runtime:
    if _runtime is None:
        # An rq worker started without `voicedesk worker`: read the environment now.
        return configure(Settings.from_env())
    return _runtime


def run_job(job: str, item_id: str) -> None:
    from workers import jobs

    getattr(jobs, job)(item_id)
