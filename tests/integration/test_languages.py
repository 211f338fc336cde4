"""Every word in the worker's language, through Telegram, with a switch midway."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from translations.scripts import detect_language
from translations.words import COMMANDS, YES

from support.builders import telegram_update
from support.conversations import SWITCH_TO, digit, walk
from support.telegram_stub import TelegramStub

LANGUAGES = ["my", "km", "ne", "th"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_telegram_conversation_stays_in_the_workers_language_and_switches_midway(
    desk, telegram_stub: TelegramStub, language: str
) -> None:
    desk.organisation("Bangkok Workers Centre", LANGUAGES)
    chat = 7340090000 + LANGUAGES.index(language)

    def say(text: str) -> list[str]:
        before = len(telegram_stub.messages_to(chat))
        desk.post_update(telegram_update(chat, text))
        desk.work()
        return telegram_stub.messages_to(chat)[before:]

    walk(language, say)
    ticket = desk.sql("SELECT language, person_requested_at FROM tickets")
    assert len(ticket) == 1
    assert ticket[0][0] == SWITCH_TO[language]
    assert ticket[0][1] is not None  # the queue shows the worker asked for a person
    # Nothing was erased: every message the worker sent is still readable.
    assert desk.sql("SELECT count(*) FROM messages WHERE direction = 'in' "
                    "AND text_sealed IS NULL")[0][0] == 0  # fmt: skip


@pytest.mark.parametrize("system", ["en", "my", "km", "th", "ne"])
def test_menu_answers_in_every_digit_system_are_understood(
    desk, telegram_stub: TelegramStub, system: str
) -> None:
    desk.organisation("Bangkok Workers Centre")
    chat = 7340091000 + ["en", "my", "km", "th", "ne"].index(system)
    desk.post_update(telegram_update(chat, "👋"))
    desk.work()
    desk.post_update(telegram_update(chat, digit(4, system)))  # 4: Thai
    desk.work()
    assert desk.sql("SELECT language FROM tickets")[0][0] == "th"


@pytest.mark.parametrize("language", LANGUAGES)
def test_worker_who_confirms_erasure_is_forgotten_after_the_goodbye(
    desk, telegram_stub: TelegramStub, language: str
) -> None:
    desk.organisation("Bangkok Workers Centre")
    chat = 7340092000 + LANGUAGES.index(language)
    telegram_stub.files["AgADx"] = b"payslip photo bytes"
    photo = {"photo": [{"file_id": "AgADx", "file_unique_id": "x", "width": 9, "height": 9}]}
    first = telegram_update(chat, "สวัสดี" if language == "th" else COMMANDS["help"][language][0])
    desk.post_update(first)
    desk.work()
    # Staff had noted, with the worker's consent, their gender and nationality.
    with desk.rt.session() as session:
        session.execute(
            text(
                "UPDATE workers SET gender = 'female', nationality = 'MM', "
                "profile_consent_at = now()"
            )
        )
        session.commit()
    for update in (
        telegram_update(chat, None, extra=photo),
        telegram_update(chat, COMMANDS["erase"][language][-1]),
        telegram_update(chat, YES[language][0]),
    ):
        desk.post_update(update)
        desk.work()
    goodbye = telegram_stub.messages_to(chat)[-1]
    assert detect_language(goodbye) == language  # the worker hears it is done

    assert desk.sql("SELECT count(*) FROM vault_entries")[0][0] == 0
    assert desk.sql("SELECT count(*) FROM attachments")[0][0] == 0
    assert desk.sql("SELECT count(*) FROM messages WHERE text_sealed IS NOT NULL")[0][0] == 0
    assert desk.sql("SELECT count(*) FROM workers WHERE erased_at IS NOT NULL")[0][0] == 1
    assert desk.sql("SELECT gender, nationality, profile_consent_at FROM workers")[0] == (
        None,
        None,
        None,
    )
    assert desk.sql("SELECT count(*) FROM audit_log WHERE action = 'worker.erase'")[0][0] == 1
    assert set(r[0] for r in desk.sql("SELECT outcome FROM inbound_envelopes")) == {"erased"}
