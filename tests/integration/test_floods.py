"""A flood from one sender: every message kept in their one ticket, the bot quiet, staff told.

Someone sends far faster than anyone types (a script, a stuck phone, someone trying to
drown the desk). The bot answers the first `VOICEDESK_FLOOD_PER_MINUTE` in a minute and
then stops answering, so the replies' queue and the provider's limits stay free for
everyone else; every message is still stored, once; the ticket page says why the bot
went quiet. Another worker writing meanwhile is answered as ever.
"""

from __future__ import annotations

from console.cli import create_user
from intake.settings import Settings

from integration.conftest import PASSWORD, open_desk
from support import signin
from support.builders import telegram_update
from support.telegram_stub import TelegramStub

FLOODER, OTHER = 7340097001, 7340097002
LIMIT = 3


def test_a_flooding_sender_is_kept_in_one_ticket_unanswered_and_staff_see_why(
    settings: Settings, telegram_stub: TelegramStub
) -> None:
    flood = settings.with_changes(flood_per_minute=LIMIT)
    with open_desk(flood) as desk:
        desk.organisation("Bangkok Workers Centre", ["th"])
        for n in range(40):
            assert desk.post_update(telegram_update(FLOODER, f"ช่วยด้วย {n}")).status_code == 200
            if n == 20:
                desk.post_update(telegram_update(OTHER, "นายจ้างไม่จ่ายค่าจ้าง"))
        desk.work()

        assert desk.sql("SELECT count(*) FROM tickets")[0][0] == 2
        stored = desk.sql(
            "SELECT count(*), count(DISTINCT envelope_id) FROM messages WHERE direction = 'in'"
        )[0]
        assert tuple(stored) == (41, 41)  # every message, once
        assert len(telegram_stub.messages_to(FLOODER)) == LIMIT
        assert len(telegram_stub.messages_to(OTHER)) == 1
        assert desk.sql("SELECT kind FROM tasks") == [("flooded",)]

        with desk.rt.session() as session:
            create_user(session, "cw@bwc.org", "Bangkok Workers Centre", "caseworker", PASSWORD)
            session.commit()
        signin.sign_in(desk.client, "cw@bwc.org", PASSWORD, secrets={})
        ref = next(
            r for (r,) in desk.sql("SELECT ref FROM tickets")
            if r in telegram_stub.messages_to(FLOODER)[0]
        )  # fmt: skip
        page = desk.client.get(f"/tickets/{ref}").text
        assert "faster than anyone types" in page
        thai = desk.client.get(f"/tickets/{ref}", headers={"Accept-Language": "th"}).text
        assert "บอทหยุดตอบชั่วคราว" in thai
