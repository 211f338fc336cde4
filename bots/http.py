"""HTTP helpers every adapter shares: what a provider's answer means for a retry."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

import httpx

from bots.base import Media, Permanent, Retryable

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Read Retry-After as seconds (a number or an HTTP date), if the provider sent one."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


def raise_for_send(status: int, headers: Mapping[str, str], reason: str) -> None:
    """Turn an HTTP error answer into Retryable or Permanent."""
    if status < 400:
        return
    if status in RETRYABLE_STATUS:
        raise Retryable(f"HTTP {status}: {reason}", retry_after_seconds(headers))
    raise Permanent(f"HTTP {status}: {reason}")


def download(
    url: str,
    *,
    kind: str,
    max_bytes: int,
    auth: tuple[str, str] | None = None,
    content_type: str | None = None,
    timeout: float = 30.0,
) -> Media:
    """Stream a file into memory, refusing it once it passes max_bytes."""
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url, auth=auth) as response,
        ):
            if response.is_redirect:
                # Providers redirect media to a CDN; the credentials stay behind.
                location = response.headers["Location"]
                return download(
                    location,
                    kind=kind,
                    max_bytes=max_bytes,
                    content_type=content_type,
                    timeout=timeout,
                )
            raise_for_send(response.status_code, response.headers, "media download failed")
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > max_bytes:
                raise Permanent(f"media of {declared} bytes is over the {max_bytes} byte limit")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise Permanent(f"media is over the {max_bytes} byte limit")
                chunks.append(chunk)
            kind_header = response.headers.get("Content-Type", "application/octet-stream")
    except httpx.TransportError as exc:
        raise Retryable(f"network: {type(exc).__name__}") from exc
    return Media(b"".join(chunks), content_type or kind_header.split(";")[0], kind)
