"""Sends begun and not yet recorded: what a worker killed mid-send leaves behind.

A reply is recorded as sent in the transaction that holds its row while the provider
is called; a worker killed after the provider took the message and before that
commit leaves the reply queued, with no trace in the database that it was tried
(the transaction rolled back). So before calling the provider a worker notes, in
Redis, that it began: `voicedesk:sending:<message id>` = when. The next run of that
reply finds the note and knows the provider may already have it: it asks the
provider where the provider can be asked (Twilio), and sends again only where it
cannot (Telegram, Viber: README, "Exactly once, and where it cannot be").

Redis holds the message's id and a time, nothing of the worker. Without Redis (the
embedded default runs jobs in the web process, which dies whole) nothing is noted;
if Redis is down the note is skipped and a send is at least once, as before.
"""

from __future__ import annotations

import datetime as dt
import logging

from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PREFIX = "voicedesk:sending:"
# A send is retried for about an hour and a half at most (MAX_SEND_ATTEMPTS with
# backoff); a note outlives it, then goes by itself.
KEEP_SECONDS = 7 * 24 * 3600


class SendsInFlight:
    def __init__(self, connection: Redis | None) -> None:
        self._connection = connection

    def began(self, message_id: str) -> dt.datetime | None:
        """When an earlier attempt at this message began and was never recorded, if one was."""
        if self._connection is None:
            return None
        try:
            raw = self._connection.get(PREFIX + message_id)
        except RedisError:
            logger.warning("Redis unreachable; cannot tell whether %s was tried", message_id)
            return None
        if raw is None:
            return None
        try:
            return dt.datetime.fromtimestamp(float(raw), dt.UTC)
        except (ValueError, OverflowError):
            return None

    def begin(self, message_id: str, at: dt.datetime) -> None:
        """Note that a send begins now. An earlier note stays: it is the older doubt."""
        if self._connection is None:
            return
        try:
            self._connection.set(PREFIX + message_id, at.timestamp(), ex=KEEP_SECONDS, nx=True)
        except RedisError:
            logger.warning("Redis unreachable; sending %s without a note", message_id)

    def end(self, message_id: str) -> None:
        """The outcome is recorded (sent or failed for good): drop the note."""
        if self._connection is None:
            return
        try:
            self._connection.delete(PREFIX + message_id)
        except RedisError:
            # Left behind, the note only makes a later run ask the provider first.
            logger.warning("Redis unreachable; the note on %s stays", message_id)
