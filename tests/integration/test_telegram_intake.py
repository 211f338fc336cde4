"""A worker's Telegram message becomes a pseudonymised, encrypted ticket."""

from __future__ import annotations

import pytest

from translations.scripts import detect_language
from workers import jobs

from integration.conftest import close_app
from support.builders import telegram_update
from support.telegram_stub import TelegramStub

# chat id, language, what the worker types, what the caseworker must read
WORKERS = [
    (7340010001, "my", "မင်္ဂလာပါ။ လစာ မရသေးပါဘူး", "မင်္ဂလာပါ။ လစာ မရသေးပါဘူး"),
    (7340010002, "my", "ေက်းဇူးျပဳၿပီး ကူညီပါ", "ကျေးဇူးပြုပြီး ကူညီပါ"),  # typed in Zawgyi
    (7340010003, "km", "សួស្តី ខ្ញុំមិនទាន់បានប្រាក់ខែទេ", "សួស្តី ខ្ញុំមិនទាន់បានប្រាក់ខែទេ"),
    (7340010004, "ne", "नमस्ते, मेरो पासपोर्ट कम्पनीले राखेको छ", "नमस्ते, मेरो पासपोर्ट कम्पनीले राखेको छ"),
    (7340010005, "th", "สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง", "สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง"),
]
SECOND = {"my": "ကျေးဇူးပါ", "km": "អរគុណ", "ne": "धन्यवाद", "th": "ขอบคุณค่ะ"}


def test_messages_in_four_languages_become_one_ticket_per_worker_in_their_language(
    desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre", ["my", "km", "ne", "th"])
    token = desk.token("cw@bwc.example", "Bangkok Workers Centre")
    for chat_id, language, typed, _ in WORKERS:
        assert desk.post_update(telegram_update(chat_id, typed)).status_code == 200
        assert desk.post_update(telegram_update(chat_id, SECOND[language])).status_code == 200
    desk.work()

    listing = desk.api("/api/v1/tickets", token).get_json()["tickets"]
    assert len(listing) == len(WORKERS)
    by_chat = {}
    for chat_id, language, _, readable in WORKERS:
        replies = telegram_stub.messages_to(chat_id)
        assert len(replies) == 2, replies
        first = replies[0]
        assert detect_language(first) == language, first
        ref = next(t["ref"] for t in listing if t["ref"] in first)
        by_chat[chat_id] = ref
        ticket = desk.api(f"/api/v1/tickets/{ref}", token).get_json()
        assert ticket["language"] == language
        assert ticket["channel"] == "telegram"
        assert ticket["message_count"] == 4
        inbound = [m["text"] for m in ticket["messages"] if m["direction"] == "in"]
        assert inbound == [readable, SECOND[language]]
        outbound = [m for m in ticket["messages"] if m["direction"] == "out"]
        assert [m["delivery_status"] for m in outbound] == ["sent", "sent"]
    assert len(set(by_chat.values())) == len(WORKERS)


def test_same_update_sent_three_times_is_stored_once(desk, telegram_stub: TelegramStub) -> None:
    desk.organisation("Bangkok Workers Centre")
    update = telegram_update(7340020001, "สวัสดีค่ะ")
    answers = [desk.post_update(update) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.get_json().get("duplicate", False) for a in answers] == [False, True, True]
    desk.work()
    assert desk.sql("SELECT count(*) FROM inbound_envelopes")[0][0] == 1
    assert desk.sql("SELECT count(*) FROM messages WHERE direction = 'in'")[0][0] == 1
    assert len(telegram_stub.messages_to(7340020001)) == 1


def test_job_run_twice_keeps_one_message(desk, telegram_stub: TelegramStub) -> None:
    desk.organisation("Bangkok Workers Centre")
    desk.post_update(telegram_update(7340020002, "ខ្ញុំត្រូវការជំនួយ"))
    envelope_id = str(desk.sql("SELECT id FROM inbound_envelopes")[0][0])
    assert jobs.process_envelope(envelope_id) == "stored"
    assert jobs.process_envelope(envelope_id) == "done before"
    desk.work()  # the queued copy of the same job runs too
    assert desk.sql("SELECT count(*) FROM messages WHERE direction = 'in'")[0][0] == 1
    assert len(telegram_stub.messages_to(7340020002)) == 1


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_forged_update_gets_403_and_stores_nothing(desk, secret: str | None) -> None:
    answer = desk.post_update(telegram_update(7340020003, "สวัสดี"), secret=secret)
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "forbidden"
    assert desk.sql("SELECT count(*) FROM inbound_envelopes")[0][0] == 0


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "x"}']
)
def test_malformed_update_gets_400_and_stores_nothing(desk, body: bytes) -> None:
    answer = desk.client.post(
        "/hooks/telegram",
        data=body,
        headers={
            "X-Telegram-Bot-Api-Secret-Token": "s3cret-webhook-token",
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "malformed"
    assert desk.sql("SELECT count(*) FROM inbound_envelopes")[0][0] == 0


def test_body_over_one_mebibyte_gets_413(desk) -> None:
    update = telegram_update(7340020004, "ก" * (1024 * 1024 // 3 + 10))
    answer = desk.post_update(update)
    assert answer.status_code == 413
    assert desk.sql("SELECT count(*) FROM inbound_envelopes")[0][0] == 0


def test_telegram_switched_off_answers_404(settings) -> None:
    from console.app import create_app

    app = create_app(settings.with_changes(telegram=None))
    answer = app.test_client().post("/hooks/telegram", data=b"{}")
    assert answer.status_code == 404
    close_app(app)


def test_message_without_script_gets_language_menu_then_answer_in_chosen_language(
    desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Kathmandu Migrant Desk", ["ne"])
    chat = 7340020005
    desk.post_update(telegram_update(chat, "hello 👋", language_code="en"))
    desk.work()
    menu = telegram_stub.sent[-1]
    assert menu.chat_id == chat
    buttons = [row[0]["text"] for row in menu.reply_markup["inline_keyboard"]]
    assert buttons == ["မြန်မာ", "ខ្មែរ", "नेपाली", "ไทย", "English"]
    # The worker answers "3" in Devanagari digits.
    desk.post_update(telegram_update(chat, "३"))
    desk.work()
    answer = telegram_stub.messages_to(chat)[-1]
    assert detect_language(answer) == "ne"
    ref = desk.sql("SELECT ref, language FROM tickets")
    assert len(ref) == 1
    assert ref[0][1] == "ne"
    assert ref[0][0] in answer


def test_button_press_on_language_menu_chooses_language(desk, telegram_stub: TelegramStub) -> None:
    desk.organisation("Phnom Penh Desk")
    chat = 7340020006
    desk.post_update(telegram_update(chat, "🙏"))
    desk.work()
    press = {
        "update_id": 900_000_001,
        "callback_query": {
            "id": "cbq-1",
            "from": {"id": chat, "is_bot": False, "first_name": "W"},
            "data": "2",
            "message": {"message_id": 5, "date": 0, "chat": {"id": chat, "type": "private"}},
        },
    }
    assert desk.post_update(press).status_code == 200
    desk.work()
    assert detect_language(telegram_stub.messages_to(chat)[-1]) == "km"
    # The button stops spinning: the press was answered.
    assert ("answerCallbackQuery", {"callback_query_id": "cbq-1"}) in telegram_stub.requests


def test_telegram_language_code_is_used_only_when_the_script_says_nothing(
    desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    desk.post_update(telegram_update(7340020007, "👍", language_code="th"))
    desk.post_update(telegram_update(7340020008, "မင်္ဂလာပါ", language_code="th"))
    desk.work()
    assert detect_language(telegram_stub.messages_to(7340020007)[0]) == "th"
    assert detect_language(telegram_stub.messages_to(7340020008)[0]) == "my"


def test_photos_voice_notes_stickers_and_edits_are_kept_and_answered_200(
    desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    token = desk.token("cw@bwc.example", "Bangkok Workers Centre")
    chat = 7340020009
    telegram_stub.files.update({"AgAD1": b"\xff\xd8 payslip photo", "AwAD2": b"OggS voice"})
    photo = {
        "photo": [
            {"file_id": "AgADsmall", "file_unique_id": "s", "width": 9, "height": 9},
            {"file_id": "AgAD1", "file_unique_id": "u1", "width": 90, "height": 90},
        ],
        "caption": "สลิปเงินเดือน",
    }
    voice = {
        "voice": {
            "file_id": "AwAD2",
            "file_unique_id": "u2",
            "duration": 4,
            "mime_type": "audio/ogg",
        }
    }
    sticker = {
        "sticker": {
            "file_id": "CAAD3",
            "file_unique_id": "u3",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
    }
    updates = [
        telegram_update(chat, None, extra=photo),
        telegram_update(chat, None, extra=voice),
        telegram_update(chat, None, extra=sticker),
        telegram_update(chat, "นายจ้างยึดพาสปอร์ต", edited=True),
        telegram_update(7340020010, "สวัสดีทุกคน", chat_type="group"),
        {"update_id": 900_000_002, "my_chat_member": {"chat": {"id": chat, "type": "private"}}},
    ]
    assert [desk.post_update(u).status_code for u in updates] == [200] * len(updates)
    desk.work()
    tickets = desk.api("/api/v1/tickets", token).get_json()["tickets"]
    assert len(tickets) == 1  # the group message opened nothing
    thread = desk.api(f"/api/v1/tickets/{tickets[0]['ref']}", token).get_json()["messages"]
    inbound = [(m["kind"], m["text"]) for m in thread if m["direction"] == "in"]
    assert inbound == [
        ("photo", "สลิปเงินเดือน"),
        ("voice", None),
        ("sticker", None),
        ("edit", "นายจ้างยึดพาสปอร์ต"),
    ]
    kept = [(a["kind"], a["size"]) for m in thread for a in m["attachments"]]
    assert kept == [("photo", len(b"\xff\xd8 payslip photo")), ("voice", len(b"OggS voice"))]
    # The files are sealed at rest: their bytes appear nowhere in the table.
    sealed = b"".join(bytes(row[0]) for row in desk.sql("SELECT data_sealed FROM attachments"))
    assert b"payslip photo" not in sealed
    outcomes = sorted(r[0] for r in desk.sql("SELECT outcome FROM inbound_envelopes"))
    assert outcomes == ["no message", "no message", "stored", "stored", "stored", "stored"]
    assert not telegram_stub.messages_to(7340020010)


def test_worker_who_blocks_the_bot_gets_nothing_more_until_they_unblock(
    desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    chat = 7340020012

    def membership(status: str, update_id: int) -> dict:
        return {
            "update_id": update_id,
            "my_chat_member": {
                "chat": {"id": chat, "type": "private"},
                "from": {"id": chat},
                "date": 0,
                "old_chat_member": {},
                "new_chat_member": {"status": status},
            },
        }

    desk.post_update(telegram_update(chat, "สวัสดี"))
    desk.work()
    desk.post_update(membership("kicked", 900_000_101))
    desk.work()
    assert desk.sql("SELECT unreachable_reason FROM vault_entries")[0][0] == "opted out"
    desk.post_update(membership("member", 900_000_102))
    desk.work()
    assert desk.sql("SELECT unreachable_at FROM vault_entries")[0][0] is None
    assert desk.sql("SELECT count(*) FROM messages WHERE kind = 'event'")[0][0] == 0


def test_blocked_bot_marks_the_reply_failed_without_losing_the_message(
    desk, telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    telegram_stub.blocked.add(7340020011)
    desk.post_update(telegram_update(7340020011, "สวัสดี"))
    desk.work()
    rows = desk.sql(
        "SELECT direction, delivery_status, failure_reason FROM messages ORDER BY created_at"
    )
    assert [tuple(r[:2]) for r in rows] == [("in", "received"), ("out", "failed")]
    assert "blocked the bot" in rows[1][2]
    assert desk.sql("SELECT unreachable_reason FROM vault_entries")[0][0] == (
        "the worker blocked the bot"
    )
