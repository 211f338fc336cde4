"""Parsing Telegram updates into InboundMessage, and checking the webhook secret."""

from __future__ import annotations

import pytest

from bots.base import Forbidden, Malformed
from bots.telegram import TelegramChannel

from support.builders import as_body, telegram_update

CHANNEL = TelegramChannel("123:ABC", "the-secret", "http://127.0.0.1:1")


def test_private_text_message_becomes_one_inbound_message() -> None:
    update = telegram_update(7340060001, "สวัสดี", language_code="th")
    message = CHANNEL.parse(as_body(update))
    assert message is not None
    assert (message.channel, message.address, message.kind, message.text) == (
        "telegram",
        "7340060001",
        "text",
        "สวัสดี",
    )
    assert message.language_hint == "th"
    assert CHANNEL.envelope_key(as_body(update)) == str(update["update_id"])


def test_photo_caption_is_kept_as_the_text() -> None:
    photo = {
        "photo": [{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}],
        "caption": "slip",
    }
    message = CHANNEL.parse(as_body(telegram_update(1, None, extra=photo)))
    assert message is not None
    assert (message.kind, message.text) == ("photo", "slip")


def test_edit_is_marked_and_points_at_the_original() -> None:
    update = telegram_update(1, "fixed text", edited=True)
    message = CHANNEL.parse(as_body(update))
    assert message is not None
    assert message.kind == "edit"
    assert message.edit_of == str(update["edited_message"]["message_id"])


def test_group_messages_and_member_updates_carry_no_message() -> None:
    assert CHANNEL.parse(as_body(telegram_update(1, "hi all", chat_type="group"))) is None
    assert CHANNEL.parse(as_body({"update_id": 5, "my_chat_member": {}})) is None


def test_button_press_arrives_as_its_number() -> None:
    press = {
        "update_id": 9,
        "callback_query": {
            "id": "q1",
            "data": "2",
            "from": {"id": 1, "language_code": "km"},
            "message": {"message_id": 3, "chat": {"id": 1, "type": "private"}},
        },
    }
    message = CHANNEL.parse(as_body(press))
    assert message is not None
    assert (message.text, message.provider_message_id, message.address) == ("2", "cb:q1", "1")


@pytest.mark.parametrize(
    "body", [b"", b"nope", b"[]", b'{"update_id": true}', b'{"update_id": "1"}']
)
def test_update_without_an_integer_update_id_is_malformed(body: bytes) -> None:
    with pytest.raises(Malformed):
        CHANNEL.envelope_key(body)


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}])
def test_wrong_or_missing_secret_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(Forbidden):
        CHANNEL.verify(headers, b"{}", "")


def test_right_secret_passes() -> None:
    CHANNEL.verify({"X-Telegram-Bot-Api-Secret-Token": "the-secret"}, b"{}", "")


def test_repr_shows_no_token() -> None:
    assert "123:ABC" not in repr(CHANNEL)
