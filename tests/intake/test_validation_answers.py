"""Reading a worker's validation answer, whatever they type: digits of any script, a
button's label in any language, a common word; and the reminder schedule's arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from intake.models import ValidationAnswer as A
from intake.settings import ValidationSchedule
from intake.validation import answer_of, satisfaction_of
from translations import prompts
from translations.i18n import UI_LANGUAGES

DIGITS = {  # 1..4 in the scripts workers type
    "latin": "1234",
    "burmese": "၁၂၃၄",
    "khmer": "១២៣៤",
    "thai": "๑๒๓๔",
    "devanagari": "१२३४",
}
ORDER = [A.FIXED, A.PARTLY_FIXED, A.NOT_FIXED, A.PERSON]


@pytest.mark.parametrize("script", DIGITS)
def test_a_number_in_any_script_picks_the_option_in_interface_order(script: str) -> None:
    assert [answer_of(d) for d in DIGITS[script]] == ORDER
    assert answer_of(DIGITS[script][0] + ".") == A.FIXED  # "1." as typed on a phone


@pytest.mark.parametrize("language", UI_LANGUAGES)
def test_every_buttons_label_in_every_language_picks_its_answer(language: str) -> None:
    labels = prompts.validation_options(language)
    assert [answer_of(label) for label in labels] == ORDER
    assert [answer_of(f"  {label.upper()} ") for label in labels] == ORDER


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("แก้แล้ว", A.FIXED),
        ("fixed", A.FIXED),
        ("ပြီးပြီ", A.FIXED),
        ("บางส่วน", A.PARTLY_FIXED),
        ("not fixed", A.NOT_FIXED),
        ("कहिले?", None),  # "when?": a question, not an answer
        ("human", A.PERSON),  # the "talk to a person" command counts as answer 4
    ],
)
def test_common_words_are_understood(typed: str, meant: A | None) -> None:
    assert answer_of(typed) == meant


@pytest.mark.parametrize(
    "typed", ["", None, "0", "5", "12", "my boss still has my passport", "yes", "ok"]
)
def test_anything_else_is_not_an_answer_and_is_kept_as_words(typed: str | None) -> None:
    assert answer_of(typed) is None


def test_satisfaction_reads_one_to_five_in_any_script_and_the_labels() -> None:
    assert [satisfaction_of(d) for d in "12345"] == [1, 2, 3, 4, 5]
    assert [satisfaction_of(d) for d in "၁၂၃၄၅"] == [1, 2, 3, 4, 5]
    assert [satisfaction_of(label) for label in prompts.satisfaction_options("km")] == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert satisfaction_of("6") is None
    assert satisfaction_of("ok thanks a lot") is None


def test_reminders_fall_due_in_order_then_the_deadline() -> None:
    schedule = ValidationSchedule(
        reminders=(dt.timedelta(days=5), dt.timedelta(days=2), dt.timedelta(days=20)),
        deadline=dt.timedelta(days=14),
    )
    asked = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
    deadline = asked + schedule.deadline
    # A reminder after the deadline is never sent; the others in time order.
    assert schedule.reminder_times(asked) == [
        asked + dt.timedelta(days=2),
        asked + dt.timedelta(days=5),
    ]
    assert schedule.next_due(asked, 0, deadline) == asked + dt.timedelta(days=2)
    assert schedule.next_due(asked, 1, deadline) == asked + dt.timedelta(days=5)
    assert schedule.next_due(asked, 2, deadline) == deadline
