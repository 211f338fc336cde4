"""The bot tells a worker's language from the script they type in, and reads their digits."""

from __future__ import annotations

import unicodedata

import pytest

from translations.scripts import detect_language, is_zawgyi, normalise_text, parse_number

ZAWGYI_TO_UNICODE = [
    ("ျမန္မာ", "မြန်မာ"),  # "Myanmar"
    ("ေက်းဇူးတင္ပါတယ္", "ကျေးဇူးတင်ပါတယ်"),  # "thank you"
]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ကျွန်တော့်ကို ကူညီပါ", "my"),
        ("សូមជួយខ្ញុំផង", "km"),
        ("मलाई मद्दत चाहिन्छ", "ne"),
        ("ช่วยด้วยครับ", "th"),
    ],
    ids=["burmese", "khmer", "nepali", "thai"],
)
def test_worker_language_is_told_from_its_script(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("😢🙏 ကျွန်တော့် passport ကို boss ယူထားတယ် 3 months!!", "my"),
        ("Hello, ខ្ញុំមិនបានទទួលប្រាក់ខែ 2 ខែហើយ 😡", "km"),
        ("OK... मेरो salary 45000 रुपैयाँ आएन?? 🙏", "ne"),
        ("นายจ้าง ไม่จ่าย OT 😭 #help 0812", "th"),
    ],
    ids=["burmese", "khmer", "nepali", "thai"],
)
def test_language_is_told_through_emoji_digits_latin_and_punctuation(
    text: str, language: str
) -> None:
    assert detect_language(text) == language


def test_the_script_with_most_letters_wins_in_a_mixed_message() -> None:
    assert detect_language("ขอบคุณ ကျေးဇူးတင်ပါတယ်") == "my"
    assert detect_language("ကျေး ขอบคุณมากครับ") == "th"


@pytest.mark.parametrize(
    ("text", "language"),
    [("၁", "my"), ("១", "km"), ("१", "ne"), ("๑", "th")],
)
def test_a_digit_alone_still_tells_the_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_letters_outweigh_any_number_of_another_scripts_digits() -> None:
    # A Burmese worker answering in Thai letters with a phone number in Burmese digits.
    assert detect_language("เบอร์ ၀၈၁၂၃၄၅၆၇၈") == "th"


@pytest.mark.parametrize(
    "text",
    ["😢🙏👍", "help me please", "1 ok", "!!! ???", "   ", "", None],
    ids=["emoji", "latin", "latin-and-digit", "punctuation", "spaces", "empty", "none"],
)
def test_no_language_is_guessed_without_a_worker_script(text: str | None) -> None:
    assert detect_language(text) is None


@pytest.mark.parametrize(("zawgyi", "unicode"), ZAWGYI_TO_UNICODE)
def test_burmese_typed_in_zawgyi_is_recognised_and_stored_as_unicode(
    zawgyi: str, unicode: str
) -> None:
    assert zawgyi != unicode
    assert is_zawgyi(zawgyi)
    assert normalise_text(zawgyi) == unicode


@pytest.mark.parametrize("unicode", [pair[1] for pair in ZAWGYI_TO_UNICODE])
def test_burmese_typed_in_unicode_is_left_as_it_is(unicode: str) -> None:
    assert not is_zawgyi(unicode)
    assert normalise_text(unicode) == unicode


@pytest.mark.parametrize("text", ["help me", "ช่วยด้วย", "मद्दत", "", "😢"])
def test_text_without_burmese_is_never_taken_for_zawgyi(text: str) -> None:
    assert not is_zawgyi(text)


def test_decomposed_text_is_stored_composed() -> None:
    decomposed = "Cafe\u0301 ca\u0300 phe\u0302"

    stored = normalise_text(decomposed)

    assert stored == "Café cà phê"
    assert unicodedata.is_normalized("NFC", stored)
    assert stored != decomposed


@pytest.mark.parametrize(
    ("answer", "number"),
    [
        ("1", 1),
        ("၁", 1),
        ("១", 1),
        ("๑", 1),
        ("१", 1),
        ("2.", 2),
        ("2)", 2),
        (" 3 ", 3),
        ("၁၂", 12),
        ("๕", 5),
    ],
)
def test_numbered_answer_is_read_in_any_script(answer: str, number: int) -> None:
    assert parse_number(answer) == number


@pytest.mark.parametrize("answer", ["abc", "", "   ", "12345", "1a", "-1", None])
def test_answer_that_is_not_a_short_number_is_not_read_as_one(answer: str | None) -> None:
    assert parse_number(answer) is None
