"""A logging filter that keeps worker addresses and message text out of every log."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

# Phone numbers (E.164 and local forms) and long digit runs such as Telegram chat ids.
# A number glued to a word by "_" (chat_7340012345) is still a number; one inside a
# hex id (f200-4312-a754) is not.
_NUMBERISH = re.compile(r"(?<![A-Za-z0-9.])\+?\d[\d \-]{6,}\d(?!\w|\.\d)")
REDACTED = "[redacted]"


class _Secrets:
    """Values seen in the current job or request that must never be logged."""

    def __init__(self) -> None:
        self._local = threading.local()

    def add(self, values: Iterable[str]) -> None:
        current: set[str] = getattr(self._local, "values", set())
        current.update(v for v in values if v and len(v) >= 3)
        self._local.values = current

    def clear(self) -> None:
        self._local.values = set()

    def values(self) -> set[str]:
        return set(getattr(self._local, "values", set()))


sensitive = _Secrets()


def redact(message: str) -> str:
    for value in sorted(sensitive.values(), key=len, reverse=True):
        message = message.replace(value, REDACTED)
    return _NUMBERISH.sub(REDACTED, message)


class RedactingFilter(logging.Filter):
    """Rewrite every record: the message, its arguments and any traceback are redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            formatter = logging.Formatter()
            message = f"{message}\n{formatter.formatException(record.exc_info)}"
            record.exc_info = None
            record.exc_text = None
        if record.stack_info:
            message = f"{message}\n{record.stack_info}"
            record.stack_info = None
        record.msg = redact(message)
        record.args = ()
        return True


def install(level: str = "INFO") -> None:
    """Configure root logging so every handler passes through the redacting filter."""
    root = logging.getLogger()
    if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(stream)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    root.setLevel(level)
    # Libraries that log request URLs or bodies at INFO (the Telegram token sits in its URLs).
    # twilio.http_client logs every request's parameters (a worker's number) at INFO.
    for noisy in ("httpx", "httpcore", "telegram", "urllib3", "twilio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
