"""One conversation per worker language, driven the same way through every channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from translations.prompts import MENU_LANGUAGES
from translations.scripts import detect_language
from translations.words import COMMANDS, NO

# Zero in each digit system: ASCII, Burmese, Khmer, Thai, Devanagari.
DIGIT_ZERO = {"en": "0", "my": "\u1040", "km": "\u17e0", "th": "\u0e50", "ne": "\u0966"}
GREETING = {
    "my": "မင်္ဂလာပါ။ အလုပ်ရှင်က လစာ မပေးဘူး",
    "km": "សួស្តី ខ្ញុំមិនទាន់បានប្រាក់ខែទេ",
    "ne": "नमस्ते, मेरो तलब आएको छैन",
    "th": "สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง",
}
# Who switches to whom midway.
SWITCH_TO = {"my": "th", "km": "my", "ne": "km", "th": "ne"}


def digit(number: int, system: str) -> str:
    return "".join(chr(ord(DIGIT_ZERO[system]) + int(d)) for d in str(number))


@dataclass
class Step:
    says: str
    answer_in: str | None  # the script the bot's answer must be in; None: the menu


def script_for(language: str) -> list[Step]:
    """Greet, ask for help and a person, switch language, write on, decline erasure."""
    other = SWITCH_TO[language]
    return [
        Step(GREETING[language], language),
        Step(COMMANDS["help"][language][0], language),
        Step(COMMANDS["person"][language][0], language),
        Step(COMMANDS["language"][language][0], None),
        # Choose the other language with a digit of the worker's own script.
        Step(digit(MENU_LANGUAGES.index(other) + 1, language), other),
        Step(GREETING[other], other),
        Step(COMMANDS["erase"][other][0], other),
        Step(NO[other][0], other),
    ]


def walk(language: str, say: Callable[[str], list[str]]) -> list[tuple[str, str]]:
    """Play the script; `say` sends one message and returns the bot's new replies."""
    seen: list[tuple[str, str]] = []
    for step in script_for(language):
        replies = say(step.says)
        assert replies, f"no answer to {step.says!r}"
        for reply in replies:
            seen.append((step.says, reply))
            if step.answer_in is not None:
                assert detect_language(reply) == step.answer_in, (step.says, reply)
    return seen
