"""Every sentence the bot sends exists in each worker language, in that language's script."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

import translations
from translations.prompts import MENU_LANGUAGES, acknowledgement, language_menu
from translations.scripts import WORKER_LANGUAGES, detect_language

TRANSLATIONS_DIR = Path(translations.__file__).parent
REF = "K7M4-Q9P2"
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def template_ids() -> list[str]:
    template = read_catalog(TRANSLATIONS_DIR / "messages.pot")
    return [str(message.id) for message in template if message.id]


@pytest.fixture(scope="module", params=WORKER_LANGUAGES)
def catalog(request: pytest.FixtureRequest) -> Catalog:
    language = request.param
    return read_catalog(
        TRANSLATIONS_DIR / "locale" / language / "LC_MESSAGES" / "messages.po", locale=language
    )


def share_in_script(text: str, language: str) -> float:
    """The share of the letters and marks in the text that belong to the language's script."""
    letters = [ch for ch in text if unicodedata.category(ch)[0] in "LM"]
    return sum(detect_language(ch) == language for ch in letters) / len(letters)


def test_template_lists_the_sentences_the_bot_sends() -> None:
    ids = template_ids()

    assert "Thank you. We got your message. Your case number is %(ref)s." in ids
    assert "Choose your language. Send the number." in ids


@pytest.mark.parametrize("msgid", template_ids())
def test_every_sentence_is_translated_in_the_languages_script(catalog: Catalog, msgid: str) -> None:
    language = str(catalog.locale)
    message = catalog.get(msgid)

    assert message is not None, f"{language}: {msgid!r} is missing"
    assert not message.fuzzy, f"{language}: {msgid!r} is fuzzy, so workers would see English"
    translation = message.string
    assert isinstance(translation, str)
    assert translation.strip()
    assert translation != msgid
    assert sorted(PLACEHOLDER.findall(translation)) == sorted(PLACEHOLDER.findall(msgid))
    words = PLACEHOLDER.sub("", translation)
    assert detect_language(words) == language
    assert share_in_script(words, language) > 0.5


@pytest.mark.parametrize("language", WORKER_LANGUAGES)
def test_acknowledgement_gives_the_case_number_in_the_workers_language(language: str) -> None:
    reply = acknowledgement(language, REF)

    assert REF in reply
    assert detect_language(reply) == language
    assert "Thank you" not in reply


def test_acknowledgement_without_a_language_is_english() -> None:
    reply = acknowledgement(None, REF)

    assert f"Your case number is {REF}." in reply
    assert detect_language(reply) is None


def test_language_menu_offers_five_languages_each_named_in_its_own_script() -> None:
    prompt, options = language_menu()

    assert len(options) == 5
    assert len(set(options)) == 5
    for option, language in zip(options, MENU_LANGUAGES, strict=True):
        if language == "en":
            assert option == "English"
        else:
            assert detect_language(option) == language, option
            assert share_in_script(option, language) == 1


def test_language_menu_prompt_asks_in_every_language() -> None:
    prompt, _options = language_menu()
    lines = prompt.splitlines()

    assert [detect_language(line) for line in lines] == [*WORKER_LANGUAGES, None]
    assert lines[-1] == "Choose your language. Send the number."
