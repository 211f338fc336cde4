"""Send no faster than each provider allows: a sliding window per channel and per chat.

With Redis the window is shared by every worker process on every machine; the
embedded default keeps it in memory.

A slot is taken here some milliseconds before the provider counts the message, and
not always the same number: a window exactly as long as the provider's is, now and
then, one message over it where the provider counts (about one 429 a second at
Telegram's 30 a second, in tests/benchmarks/bench_outbound.py). So a slot stays taken
SLACK_SECONDS longer than the limit's window, which costs 2.4% of the rate at 30 a second.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from typing import Protocol

from redis import Redis

from intake.settings import RateLimit

# Longer than the spread in time from taking a slot to the provider counting the message.
SLACK_SECONDS = 0.025

# Returns 0 when a slot was taken, else how many seconds until one frees up.
_SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class RateLimiter(Protocol):
    def try_acquire(self, key: str, limit: RateLimit) -> float:
        """Take a slot and return 0, or return the seconds to wait for one."""


def acquire(limiter: RateLimiter, key: str, limit: RateLimit, timeout: float) -> bool:
    """Wait for a slot for at most timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        wait = limiter.try_acquire(key, limit)
        if wait <= 0:
            return True
        if time.monotonic() + wait > deadline:
            return False
        time.sleep(wait + 0.001)


class RedisRateLimiter:
    def __init__(self, connection: Redis) -> None:
        self._script = connection.register_script(_SLIDING_WINDOW)

    def try_acquire(self, key: str, limit: RateLimit) -> float:
        result = self._script(
            keys=[f"voicedesk:rate:{key}"],
            args=[limit.seconds + SLACK_SECONDS, limit.count, uuid.uuid4().hex],
        )
        return float(result)


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )

    def try_acquire(self, key: str, limit: RateLimit) -> float:
        with self._lock:
            now = time.monotonic()
            seconds = limit.seconds + SLACK_SECONDS
            window = self._windows[key]
            while window and window[0] <= now - seconds:
                window.popleft()
            if len(window) < limit.count:
                window.append(now)
                return 0.0
            return window[0] + seconds - now
