"""Script and language from the text itself; Zawgyi-encoded Burmese converted to Unicode."""

from __future__ import annotations

import functools
import unicodedata
import warnings

WORKER_LANGUAGES = ("my", "km", "ne", "th")

# Unicode blocks of each worker language's script.
_BLOCKS: dict[str, tuple[tuple[int, int], ...]] = {
    "my": ((0x1000, 0x109F), (0xA9E0, 0xA9FF), (0xAA60, 0xAA7F)),
    "km": ((0x1780, 0x17FF), (0x19E0, 0x19FF)),
    "ne": ((0x0900, 0x097F), (0xA8E0, 0xA8FF)),
    "th": ((0x0E00, 0x0E7F),),
}
ZAWGYI_THRESHOLD = 0.95


def _script_of(char: str) -> str | None:
    code = ord(char)
    for language, blocks in _BLOCKS.items():
        if any(low <= code <= high for low, high in blocks):
            return language
    return None


def detect_language(text: str | None) -> str | None:
    """Return the worker language whose script dominates the text, or None if none does.

    Letters count; digits count only when there are no letters, so "1 ok" says nothing
    and "၁" alone still says Burmese. Emoji, Latin letters and punctuation say nothing.
    """
    if not text:
        return None
    letters: dict[str, int] = {}
    digits: dict[str, int] = {}
    for char in text:
        language = _script_of(char)
        if language is None:
            continue
        bucket = digits if unicodedata.category(char) == "Nd" else letters
        bucket[language] = bucket.get(language, 0) + 1
    counts = letters or digits
    if not counts:
        return None
    return max(counts, key=lambda lang: counts[lang])


@functools.cache
def _zawgyi_detector() -> object:
    from myanmartools import ZawgyiDetector

    with warnings.catch_warnings():
        # myanmartools 1.2 loads its model with importlib.resources.open_binary, which
        # Python 3.11 deprecates; the model itself is fine.
        warnings.simplefilter("ignore", DeprecationWarning)
        return ZawgyiDetector()


@functools.cache
def _zawgyi_converter() -> object:
    import icu

    return icu.Transliterator.createInstance("Zawgyi-my")


def is_zawgyi(text: str) -> bool:
    """Tell whether Burmese text was typed in the Zawgyi font encoding (Google's detector)."""
    if not any(_script_of(ch) == "my" for ch in text):
        return False
    probability = _zawgyi_detector().get_zawgyi_probability(text)  # type: ignore[attr-defined]
    return bool(probability > ZAWGYI_THRESHOLD)


def normalise_text(text: str) -> str:
    """Return the text as stored and shown: Zawgyi converted to Unicode, then NFC."""
    if is_zawgyi(text):
        text = _zawgyi_converter().transliterate(text)  # type: ignore[attr-defined]
    return unicodedata.normalize("NFC", text)


def parse_number(text: str | None) -> int | None:
    """Read a numbered answer typed in any script's digits (1, ၁, ១, ๑, १)."""
    if not text:
        return None
    stripped = text.strip().rstrip(".)")
    if not stripped or len(stripped) > 3:
        return None
    try:
        return int("".join(str(unicodedata.digit(ch)) for ch in stripped))
    except (TypeError, ValueError):
        return None
