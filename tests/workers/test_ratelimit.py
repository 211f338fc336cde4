"""The send-rate window: never more than the limit in any window, a little longer than
the provider's so that a message late on its way still counts in ours."""

from __future__ import annotations

import time

import pytest

from intake.settings import RateLimit
from workers.ratelimit import SLACK_SECONDS, MemoryRateLimiter, acquire


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "monotonic", fake)  # the limiter's clock
    return fake


def test_the_limit_is_taken_then_the_next_waits_for_the_oldest_slot(clock: Clock) -> None:
    limiter, limit = MemoryRateLimiter(), RateLimit(3, 1.0)
    assert [limiter.try_acquire("telegram", limit) for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 0.4
    assert limiter.try_acquire("telegram", limit) == pytest.approx(0.6 + SLACK_SECONDS)
    assert limiter.try_acquire("telegram:chat:1", limit) == 0.0  # another key, another window


def test_a_slot_frees_only_after_the_window_and_its_slack(clock: Clock) -> None:
    limiter, limit = MemoryRateLimiter(), RateLimit(1, 1.0)
    assert limiter.try_acquire("sms", limit) == 0.0
    clock.now += 1.0  # the provider's own window has passed: ours has not
    assert limiter.try_acquire("sms", limit) == pytest.approx(SLACK_SECONDS)
    clock.now += SLACK_SECONDS
    assert limiter.try_acquire("sms", limit) == 0.0


def test_the_slack_is_small_beside_a_second() -> None:
    # It costs this share of the rate of a one-second window (Telegram's 30 a second).
    assert 0 < SLACK_SECONDS / (1 + SLACK_SECONDS) < 0.03


def test_acquire_gives_up_when_the_wait_would_pass_its_timeout(clock: Clock) -> None:
    limiter, limit = MemoryRateLimiter(), RateLimit(1, 60.0)
    assert acquire(limiter, "whatsapp", limit, timeout=1.0)
    assert not acquire(limiter, "whatsapp", limit, timeout=1.0)
