"""Babel catalogs for every string a worker or caseworker reads.

Catalogs live as .po files under translations/locale and are compiled in memory
when first used, so an installed package, a checkout and a translator's edit all
work without a separate compile step.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from translations.scripts import WORKER_LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"
UI_LANGUAGES = ("en", *WORKER_LANGUAGES)
# Two catalogs: what workers read ("messages": the bot, the IVR) and what staff read
# ("console"). Translators of each need different care, so they are kept apart.
DOMAIN = "messages"
CONSOLE_DOMAIN = "console"


@functools.cache
def translations_for(language: str | None, domain: str = DOMAIN) -> NullTranslations:
    """Return the catalog for a language (English source strings if there is none)."""
    if language not in UI_LANGUAGES or language == "en":
        return NullTranslations()
    path = LOCALE_DIR / str(language) / "LC_MESSAGES" / f"{domain}.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=domain)


def N_(message: str) -> str:  # noqa: N802 - gettext's own name for this marker
    """Mark a string for the console catalog where it is defined; it is translated where shown."""
    return message


def gettext(language: str | None, message: str) -> str:
    return translations_for(language).gettext(message)


def language_name(language: str) -> str:
    """The language's own name for itself, from CLDR (e.g. 'မြန်မာ' for my)."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:] if language == "en" else name
