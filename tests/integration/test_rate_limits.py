"""The send-rate window in Redis, shared by every worker process: the same rule as in memory."""

from __future__ import annotations

import time

from redis import Redis

from intake.settings import RateLimit
from workers.ratelimit import SLACK_SECONDS, RedisRateLimiter


def test_a_slot_in_redis_stays_taken_for_the_window_and_its_slack(
    redis_url: str, clean: None
) -> None:
    with Redis.from_url(redis_url) as connection:
        limiter = RedisRateLimiter(connection)
        limit = RateLimit(2, 1.0)
        started = time.time()
        assert limiter.try_acquire("telegram", limit) == 0.0
        assert limiter.try_acquire("telegram", limit) == 0.0
        wait = limiter.try_acquire("telegram", limit)
        spent = time.time() - started
        # The oldest slot was taken after `started` and the answer given before now.
        assert 1.0 + SLACK_SECONDS - spent - 0.001 <= wait <= 1.0 + SLACK_SECONDS
        assert limiter.try_acquire("telegram:chat:7340090001", limit) == 0.0
