"""The redacting log filter: no worker address or registered text ever reaches a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from safeguards.redaction import REDACTED, RedactingFilter, sensitive

PHONE = "+66812345678"
CHAT_ID = 7340012345


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("tests.safeguards.redaction")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    logger.propagate = True
    sensitive.clear()


@pytest.fixture
def written(logger: logging.Logger) -> Iterator[io.StringIO]:
    """What the logger writes, through a handler carrying the redacting filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    "address",
    [PHONE, "+66 81-234-5678", "081-234-5678", "081 234 5678", "+959420012345"],
)
def test_phone_number_in_a_log_message_is_not_written(
    logger: logging.Logger, written: io.StringIO, address: str
) -> None:
    logger.warning(f"delivery to {address} failed")  # the careless call the filter guards

    line = written.getvalue()
    assert address not in line
    assert "81" not in line.replace("tests.safeguards.redaction", "")
    assert f"delivery to {REDACTED} failed" in line


@pytest.mark.parametrize(
    "shape",
    ["sent to {}.", "sent to {}, retrying", "sent to ({})", "sent to whatsapp:{}"],
    ids=["end-of-sentence", "before-comma", "in-brackets", "after-prefix"],
)
def test_phone_number_next_to_punctuation_is_not_written(
    logger: logging.Logger, written: io.StringIO, shape: str
) -> None:
    logger.info(shape.format(PHONE))

    assert "812345678" not in written.getvalue()


def test_phone_number_and_chat_id_passed_as_arguments_are_not_written(
    logger: logging.Logger, written: io.StringIO
) -> None:
    logger.info("whatsapp %s and telegram chat %d opened ticket %s", PHONE, CHAT_ID, "K7M4-Q9P2")

    line = written.getvalue()
    assert PHONE not in line
    assert str(CHAT_ID) not in line
    assert f"whatsapp {REDACTED} and telegram chat {REDACTED} opened ticket K7M4-Q9P2" in line


def test_telegram_chat_id_in_a_log_message_is_not_written(
    logger: logging.Logger, written: io.StringIO
) -> None:
    logger.info("update for chat_id=%s", CHAT_ID)
    logger.info("chat 7340012345 sent a photo")

    assert "7340012345" not in written.getvalue()
    assert written.getvalue().count(REDACTED) == 2


def test_ids_pseudonyms_and_short_numbers_stay_readable(
    logger: logging.Logger, written: io.StringIO
) -> None:
    logger.info("ticket %s for %s got message %d of 12", "K7M4-Q9P2", "WQ4LZ7ABCDEFGHIJKLMN", 3)

    assert "ticket K7M4-Q9P2 for WQ4LZ7ABCDEFGHIJKLMN got message 3 of 12" in written.getvalue()
    assert REDACTED not in written.getvalue()


def test_registered_values_are_not_written_in_message_or_arguments(
    logger: logging.Logger, written: io.StringIO
) -> None:
    sensitive.add(["Aung Kyaw", "my boss took my passport", "ab"])

    logger.info("worker Aung Kyaw wrote: %s", "my boss took my passport")

    line = written.getvalue()
    assert "Aung" not in line
    assert "passport" not in line
    assert f"worker {REDACTED} wrote: {REDACTED}" in line


def test_address_and_registered_text_in_a_logged_traceback_are_not_written(
    logger: logging.Logger, written: io.StringIO
) -> None:
    sensitive.add(["Aung Kyaw"])

    def deliver(address: str, name: str) -> None:
        raise LookupError(f"no route to {address} for {name} (chat {CHAT_ID})")

    try:
        deliver(PHONE, "Aung Kyaw")
    except LookupError:
        logger.exception("delivery failed for ticket %s", "K7M4-Q9P2")

    output = written.getvalue()
    assert "delivery failed for ticket K7M4-Q9P2" in output
    assert "Traceback (most recent call last)" in output
    assert f"LookupError: no route to {REDACTED} for {REDACTED} (chat {REDACTED})" in output
    assert "812345678" not in output
    assert "Aung" not in output
    assert str(CHAT_ID) not in output


def test_cleared_words_are_written_again_but_numbers_stay_redacted(
    logger: logging.Logger, written: io.StringIO
) -> None:
    sensitive.add(["Somchai", "7340012345"])
    logger.info("first: Somchai at 7340012345")
    sensitive.clear()
    logger.info("second: Somchai at 7340012345")

    first, second = written.getvalue().splitlines()
    assert "Somchai" not in first
    assert second.endswith(f"second: Somchai at {REDACTED}")
