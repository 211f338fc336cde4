"""Every word of the console exists in Burmese, Khmer, Nepali and Thai, in that script."""

from __future__ import annotations

import copy
import re
import unicodedata
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

import console
import intake
import translations
from translations.i18n import CONSOLE_DOMAIN, translations_for
from translations.scripts import WORKER_LANGUAGES, detect_language

TRANSLATIONS_DIR = Path(translations.__file__).parent
CONSOLE_DIR = Path(console.__file__).parent
INTAKE_DIR = Path(intake.__file__).parent
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
# Names a caseworker sees as they are, in Latin letters, whatever the language.
PROPER_NAMES = re.compile(r"Telegram")


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def console_template() -> Catalog:
    return read_catalog(TRANSLATIONS_DIR / "console.pot")


def console_catalog(language: str) -> Catalog:
    path = TRANSLATIONS_DIR / "locale" / language / "LC_MESSAGES" / "console.po"
    return read_catalog(path, locale=language)


def template_ids() -> list[str]:
    return [str(message.id) for message in console_template() if message.id]


def problems(template: Catalog, catalog: Catalog) -> list[str]:
    """What a caseworker reading this language would see in English or broken."""
    language = str(catalog.locale)
    found = []
    for source in template:
        if not source.id:
            continue
        msgid = str(source.id)
        message = catalog.get(msgid)
        if message is None or not message.string:
            found.append(f"{language}: {msgid!r} is not translated")
            continue
        translation = str(message.string)
        if message.fuzzy:
            found.append(f"{language}: {msgid!r} is fuzzy, so it would show in English")
        if translation == msgid:
            found.append(f"{language}: {msgid!r} is an English copy")
        if sorted(PLACEHOLDER.findall(translation)) != sorted(PLACEHOLDER.findall(msgid)):
            found.append(f"{language}: {msgid!r} has other placeholders than the source")
        words = PROPER_NAMES.sub("", PLACEHOLDER.sub("", translation))
        if detect_language(words) != language or share_in_script(words, language) < 0.9:
            found.append(f"{language}: {msgid!r} is not written in {language}'s script")
    return found


def share_in_script(text: str, language: str) -> float:
    letters = [ch for ch in text if unicodedata.category(ch)[0] in "LM"]
    return sum(detect_language(ch) == language for ch in letters) / max(len(letters), 1)


def extracted_ids() -> set[str]:
    """The console's gettext calls, extracted as README's pybabel command does.

    The console's `_` and the `N_` markers of names defined in intake/ (the taxonomy)
    that the console translates where it shows them.
    """
    with (TRANSLATIONS_DIR / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    return {
        message
        for folder in (CONSOLE_DIR, INTAKE_DIR)
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
            folder, method_map, options_map, keywords={"_": None, "N_": None}
        )
        if isinstance(message, str)
    }


def test_console_template_holds_every_string_the_console_shows() -> None:
    ids = set(template_ids())
    in_source = extracted_ids()

    assert in_source - ids == set(), "run README's pybabel extract for the console domain"
    assert ids - in_source == set(), "console.pot holds strings the console no longer shows"
    assert {"Sign in", "Tickets", "Display language"} <= ids


@pytest.mark.parametrize("language", WORKER_LANGUAGES)
def test_every_console_string_is_translated_in_the_languages_script(language: str) -> None:
    assert problems(console_template(), console_catalog(language)) == []


@pytest.mark.parametrize("language", WORKER_LANGUAGES)
def test_console_catalog_holds_no_stale_strings(language: str) -> None:
    ids = set(template_ids())
    stale = [str(m.id) for m in console_catalog(language) if m.id and str(m.id) not in ids]

    assert stale == []


def test_catalog_check_catches_a_removed_translation() -> None:
    template = console_template()
    catalog = copy.deepcopy(console_catalog("th"))
    del catalog["Sign in"]
    catalog["Tickets"].string = "Tickets"
    catalog["Email"].string = "อีเมล %s"

    assert problems(template, catalog) == [
        "th: 'Email' has other placeholders than the source",
        "th: 'Sign in' is not translated",
        "th: 'Tickets' is an English copy",
        "th: 'Tickets' is not written in th's script",
    ]


@pytest.mark.parametrize("language", WORKER_LANGUAGES)
def test_console_domain_is_read_apart_from_the_workers_messages(language: str) -> None:
    staff = translations_for(language, CONSOLE_DOMAIN)

    assert detect_language(staff.gettext("Sign in")) == language
    # A bot sentence is not a console string: the console domain leaves it in English.
    bot_sentence = "A caseworker will answer you here."
    assert staff.gettext(bot_sentence) == bot_sentence
