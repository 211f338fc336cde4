"""Every word in the worker's language, through the simulator, with a switch midway."""

from __future__ import annotations

import pytest

from translations.scripts import normalise_text

from support.conversations import SWITCH_TO, walk


@pytest.mark.parametrize("language", ["my", "km", "ne", "th"])
def test_simulator_conversation_stays_in_the_workers_language_and_switches_midway(
    console, language: str
) -> None:
    console.sign_in()

    def say(text: str) -> list[str]:
        before = len([line for line in console.chat(console.client.get("/simulator").text)])
        lines = console.chat(console.say(text).text)
        return [reply for direction, reply in lines[before:] if direction == "out"]

    walk(language, say)
    ((_ref, _status, shown_language),) = console.tickets()
    assert shown_language == SWITCH_TO[language]


# Phrases typed on the Zawgyi keyboard layouts many Burmese phones still carry.
ZAWGYI = [
    ("ေက်းဇူးျပဳၿပီး ကူညီပါ", "ကျေးဇူးပြုပြီး ကူညီပါ"),
    ("အလုပ္ရွင္က လစာမေပးဘူး", "အလုပ်ရှင်က လစာမပေးဘူး"),
    ("ပတ္စပို႔ကို သိမ္းထားတယ္", "ပတ်စပို့ကို သိမ်းထားတယ်"),
    ("ေန႔တိုင္း ၁၂ နာရီ အလုပ္လုပ္ရတယ္", "နေ့တိုင်း ၁၂ နာရီ အလုပ်လုပ်ရတယ်"),
]


@pytest.mark.parametrize(("typed", "unicode"), ZAWGYI)
def test_zawgyi_typed_on_a_real_keyboard_is_stored_and_shown_as_unicode(
    console, typed: str, unicode: str
) -> None:
    assert normalise_text(typed) == unicode
    console.sign_in()
    console.say(typed)
    ((ref, _status, language),) = console.tickets()
    assert language == "my"
    page = console.client.get(f"/tickets/{ref}").text
    assert unicode in page
    assert typed not in page
