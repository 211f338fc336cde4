"""The CI check on the bot's catalogs: it passes on main and fails on what it guards."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from translations import check

ACK = "Thank you. We got your message. Your case number is %(ref)s."


@pytest.fixture
def copy_of_tree(tmp_path: Path) -> Path:
    for folder in check.SOURCES:
        shutil.copytree(check.ROOT / folder, tmp_path / folder)
    return tmp_path


def _edit(root: Path, language: str, message_id: str, new: str) -> None:
    path = root / "translations" / "locale" / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    catalog[message_id].string = new
    with path.open("wb") as handle:
        write_po(handle, catalog)


def test_check_passes_on_main() -> None:
    assert check.problems() == []
    assert check.main() == 0


def test_removed_translation_fails_the_check(copy_of_tree: Path) -> None:
    _edit(copy_of_tree, "km", ACK, "")
    assert check.problems(copy_of_tree) == [f"km: missing translation of {ACK!r}"]


def test_changed_placeholder_fails_the_check(copy_of_tree: Path) -> None:
    _edit(copy_of_tree, "ne", ACK, "धन्यवाद। तपाईंको केस नम्बर %(number)s हो।")
    assert f"ne: placeholders differ in {ACK!r}" in check.problems(copy_of_tree)


def test_english_left_in_a_catalog_fails_the_check(copy_of_tree: Path) -> None:
    _edit(copy_of_tree, "th", ACK, ACK)
    assert f"th: {ACK!r} is not written in th's script" in check.problems(copy_of_tree)


def test_new_bot_sentence_nobody_translated_fails_the_check(copy_of_tree: Path) -> None:
    prompts = copy_of_tree / "translations" / "prompts.py"
    prompts.write_text(
        prompts.read_text()
        + '\n\ndef brand_new(language):\n    return _t(language, "A brand new sentence.")\n'
    )
    found = check.problems(copy_of_tree)
    assert len(found) == 4
    assert all("A brand new sentence." in line for line in found)
