"""Sign-in throttling holds across web processes: the attempts are counted in Redis."""

from __future__ import annotations

from redis import Redis

from console.app import create_app
from console.cli import create_user
from intake.settings import Settings

from integration.conftest import PASSWORD, close_app, open_desk
from support.signin import enter_password

ORG = "Bangkok Workers Centre"
EMAIL = "cw@bwc.example"


def test_the_per_account_throttle_is_shared_by_two_web_processes(
    product_env: dict[str, str], redis_url: str
) -> None:
    settings = Settings.from_env(product_env).with_changes(testing=True)
    with open_desk(settings) as desk:
        desk.organisation(ORG)
        with desk.rt.session() as session:
            create_user(session, EMAIL, ORG, "caseworker", PASSWORD)
            session.commit()
        other_app = create_app(settings)  # a second web process on the same settings
        try:
            first, second = desk.client, other_app.test_client()
            # Each process alone sees fewer than five failures; together they make five.
            for client in (first, second, first, second, first):
                page = enter_password(client, EMAIL, "not the password at all")
                assert page.status_code == 200
                assert "Email or password is wrong." in page.text

            refused = enter_password(second, EMAIL, PASSWORD)
            assert refused.status_code == 429
            assert "Too many attempts. Wait a minute and try again." in refused.text
            assert enter_password(first, EMAIL, PASSWORD).status_code == 429
        finally:
            close_app(other_app)

    # What Redis holds says neither who tried nor from where.
    with Redis.from_url(redis_url) as connection:
        keys = [key.decode() for key in connection.scan_iter("voicedesk:rate:login:*")]
    assert keys
    for key in keys:
        assert "@" not in key
        assert "bwc" not in key
        assert "127.0.0.1" not in key
