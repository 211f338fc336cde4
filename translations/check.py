"""Fail when a bot string is missing in a worker language, or its placeholders differ.

Run as `python -m translations.check`; the test suite runs it too. It extracts the
strings from the code itself, so a new bot sentence nobody translated is caught
even if nobody re-ran pybabel.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from translations.i18n import DOMAIN
from translations.scripts import WORKER_LANGUAGES, detect_language

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("translations", "bots")
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def source_strings(root: Path = ROOT) -> set[str]:
    """Every string the code passes to the bot's gettext (`_t(language, "...")`)."""
    found: set[str] = set()
    for folder in SOURCES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            root / folder,
            method_map=[("**.py", "python")],
            keywords={"_t": (2,)},
        ):
            if isinstance(message, str):
                found.add(message)
    return found


def problems(root: Path = ROOT, languages: Iterable[str] = WORKER_LANGUAGES) -> list[str]:
    """Return one line per missing or broken translation; empty when all is well."""
    wanted = source_strings(root)
    found: list[str] = []
    for language in languages:
        path = root / "translations" / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not path.exists():
            found.append(f"{language}: no catalog at {path}")
            continue
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        for message_id in sorted(wanted):
            message = catalog.get(message_id)
            if message is None or not message.string:
                found.append(f"{language}: missing translation of {message_id!r}")
                continue
            if message.fuzzy:
                found.append(f"{language}: fuzzy (unchecked) translation of {message_id!r}")
            translated = str(message.string)
            if sorted(_PLACEHOLDER.findall(translated)) != sorted(_PLACEHOLDER.findall(message_id)):
                found.append(f"{language}: placeholders differ in {message_id!r}")
            plain = _PLACEHOLDER.sub("", translated)
            if detect_language(plain) != language:
                found.append(f"{language}: {message_id!r} is not written in {language}'s script")
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(f"{len(found)} translation problem(s)", file=sys.stderr)
        return 1
    print(f"all bot strings translated in {', '.join(WORKER_LANGUAGES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
