"""Signing in as a security product would: password and TOTP, throttled, server-side sessions."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.models import AuditEntry, StaffSession, User
from safeguards.audit import verify_log

from support.signin import (
    continue_link,
    csrf_token,
    enter_code,
    enter_password,
    next_code,
    recovery_codes_on_page,
    secret_on_page,
)

TOO_MANY = "Too many attempts. Wait a minute and try again."
SESSION_ENDED = "Your session ended. Sign in again."
CODE_REFUSED = "That code is not right, or it was used already."
WRONG_PASSWORD = "Email or password is wrong."


def enrol(console, email: str | None = None) -> list[str]:
    """Enrol by hand as a new user would; answer the recovery codes shown."""
    email = email or console.caseworker
    page = enter_password(console.client, email, console.logins[email])
    assert page.request.path == "/login/enrol"
    secret = secret_on_page(page.text)
    console.totp_secrets[email] = secret
    shown = enter_code(console.client, page, next_code(secret))
    codes = recovery_codes_on_page(shown.text)
    assert console.client.get(continue_link(shown.text), follow_redirects=True).status_code == 200
    return codes


def is_signed_in(client) -> bool:
    answer = client.get("/tickets")
    assert answer.status_code in (200, 302)
    return answer.status_code == 200


def move_sessions_back(console, minutes: float) -> None:
    """Let time pass for every staff session: as if nobody had clicked for so long."""
    with console.session() as session:
        for staff_session in session.scalars(select(StaffSession)):
            staff_session.last_seen_at -= dt.timedelta(minutes=minutes)
        session.commit()


# --- enrolment and codes ---------------------------------------------------------------


def test_first_sign_in_enrols_with_a_qr_code_and_shows_ten_recovery_codes_once(console) -> None:
    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    assert page.request.path == "/login/enrol"
    assert "<svg" in page.text  # the QR code, drawn inline
    assert "<script" not in page.text
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    secret = secret_on_page(page.text)
    assert len(secret) == 32

    shown = enter_code(console.client, page, next_code(secret))
    assert shown.status_code == 200
    assert "Your recovery codes" in shown.text
    codes = recovery_codes_on_page(shown.text)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    queue = console.client.get(continue_link(shown.text), follow_redirects=True)
    assert queue.request.path == "/tickets"
    assert console.caseworker in queue.text

    # Next time: a code, not the enrolment again, and the recovery codes are never shown again.
    console.totp_secrets[console.caseworker] = secret
    console.sign_out()
    again = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    assert again.request.path == "/login/code"
    assert secret.replace(" ", "") not in again.text.replace(" ", "")
    assert console.client.get("/login/enrol").headers["Location"] == "/login/code"
    landed = enter_code(console.client, again, next_code(secret))
    assert landed.request.path == "/tickets"
    for code in codes:
        assert code not in landed.text


def test_every_role_must_enrol_before_anything_opens(console) -> None:
    for email in console.logins:
        page = enter_password(console.client, email, console.logins[email])
        assert page.request.path == "/login/enrol", email


def test_a_wrong_code_at_enrolment_keeps_the_user_on_the_enrolment_page(console) -> None:
    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    answer = enter_code(console.client, page, "000000")
    assert answer.request.path == "/login/enrol"
    assert "That code is not right" in answer.text
    assert recovery_codes_on_page(answer.text) == []
    assert not is_signed_in(console.client)


def test_a_totp_code_is_refused_the_second_time(console) -> None:
    console.sign_in()
    console.sign_out()
    secret = console.totp_secrets[console.caseworker]
    code = next_code(secret)

    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    assert enter_code(console.client, page, code).request.path == "/tickets"
    console.sign_out()

    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    replayed = enter_code(console.client, page, code)
    assert replayed.request.path == "/login/code"
    assert CODE_REFUSED in replayed.text
    assert not is_signed_in(console.client)


def test_a_recovery_code_signs_in_once_and_never_again(console) -> None:
    codes = enrol(console)
    console.sign_out()

    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    # Typed from paper: lower case, spaces for dashes.
    landed = enter_code(console.client, page, codes[0].lower().replace("-", " "))
    assert landed.request.path == "/tickets"
    assert "Recovery codes left: 9" in landed.text
    console.sign_out()

    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    refused = enter_code(console.client, page, codes[0])
    assert refused.request.path == "/login/code"
    assert CODE_REFUSED in refused.text
    assert not is_signed_in(console.client)
    # Another of the codes still works.
    assert enter_code(console.client, refused, codes[1]).request.path == "/tickets"


def test_half_signed_in_user_can_open_nothing(console) -> None:
    console.sign_in()
    console.sign_out()
    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    assert page.request.path == "/login/code"
    for path in ("/tickets", "/simulator", "/account/password", "/outbox/failed"):
        answer = console.client.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"].startswith("/login"), path
    token = csrf_token(page.text)
    for path in ("/logout", "/hooks/simulator"):
        answer = console.client.post(path, data={"csrf_token": token, "text": "x"})
        assert answer.status_code == 302, path
        assert answer.headers["Location"].startswith("/login"), path


def test_the_code_step_expires_after_five_minutes(console) -> None:
    console.sign_in()
    console.sign_out()
    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    with console.client.session_transaction() as session:  # five minutes and a second later
        pending = session["pending"]
        pending["since"] -= 5 * 60 + 1
        session["pending"] = pending
    answer = enter_code(console.client, page, next_code(console.totp_secrets[console.caseworker]))
    assert answer.request.path == "/login"
    assert "Sign in again" in answer.text
    assert not is_signed_in(console.client)


def test_sign_in_takes_the_user_where_they_were_going(console) -> None:
    console.sign_in()
    console.sign_out()
    asked = console.client.get("/outbox/failed")
    assert asked.headers["Location"] == "/login?next=/outbox/failed"
    page = enter_password(
        console.client,
        "supervisor@demo.local",
        console.logins["supervisor@demo.local"],
        next_page="/outbox/failed",
    )
    secret = secret_on_page(page.text)
    shown = enter_code(console.client, page, next_code(secret))
    assert continue_link(shown.text) == "/outbox/failed"


# --- throttling -------------------------------------------------------------------------


def test_sixth_wrong_password_in_a_minute_is_refused_even_when_right(console) -> None:
    client = console.client
    for _ in range(5):
        page = enter_password(client, console.caseworker, "not the password at all")
        assert page.status_code == 200
        assert WRONG_PASSWORD in page.text

    refused = enter_password(client, console.caseworker, console.logins[console.caseworker])
    assert refused.status_code == 429
    assert TOO_MANY in refused.text
    assert WRONG_PASSWORD not in refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    assert not is_signed_in(client)

    # Someone else at the same desk is not locked out by it.
    other = enter_password(client, "supervisor@demo.local", console.logins["supervisor@demo.local"])
    assert other.request.path == "/login/enrol"


def test_an_unknown_email_is_throttled_like_a_real_one(console) -> None:
    for _ in range(5):
        page = enter_password(console.client, "nobody@demo.local", "guessing a password")
        assert page.status_code == 200
        assert WRONG_PASSWORD in page.text
    refused = enter_password(console.client, "Nobody@Demo.Local ", "guessing a password")
    assert refused.status_code == 429
    assert TOO_MANY in refused.text


def test_one_address_trying_many_accounts_is_throttled(console) -> None:
    console.client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    for n in range(20):
        page = enter_password(console.client, f"guess{n}@demo.local", "guessing a password")
        assert page.status_code == 200, n
    refused = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    assert refused.status_code == 429
    assert TOO_MANY in refused.text

    elsewhere = console.app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    page = enter_password(elsewhere, console.caseworker, console.logins[console.caseworker])
    assert page.request.path == "/login/enrol"


def test_sixth_wrong_code_in_a_minute_is_refused_even_when_right(console) -> None:
    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    secret = secret_on_page(page.text)
    for _ in range(5):
        page = enter_code(console.client, page, "000000")
        assert "That code is not right" in page.text
    refused = enter_code(console.client, page, next_code(secret))
    assert refused.status_code == 429
    assert TOO_MANY in refused.text
    assert not is_signed_in(console.client)


# --- CSRF ---------------------------------------------------------------------------------


def test_sign_in_without_csrf_token_is_refused_and_signs_nobody_in(console) -> None:
    answer = console.client.post(
        "/login",
        data={"email": console.caseworker, "password": console.logins[console.caseworker]},
    )
    assert answer.status_code == 400
    assert not is_signed_in(console.client)
    # Nor did it count as an attempt, or start the second step.
    assert console.client.get("/login/code").headers["Location"] == "/login"


def test_sign_out_without_csrf_token_is_refused_and_keeps_the_session(console) -> None:
    console.sign_in()
    answer = console.client.post("/logout")
    assert answer.status_code == 400
    assert is_signed_in(console.client)


# --- server-side sessions --------------------------------------------------------------


def test_session_cookie_changes_at_sign_in(console) -> None:
    console.client.get("/login")
    before = console.client.get_cookie("session")
    assert before is not None
    # Someone planted this cookie in the caseworker's browser before they signed in.
    planted = console.app.test_client()
    planted.set_cookie("session", before.value)

    console.sign_in()
    after = console.client.get_cookie("session")
    assert after is not None
    assert after.value != before.value
    assert is_signed_in(console.client)
    assert not is_signed_in(planted)


def test_session_ends_after_the_idle_time(console) -> None:
    console.sign_in()
    move_sessions_back(console, minutes=31)
    answer = console.client.get("/tickets", follow_redirects=True)
    assert answer.request.path == "/login"
    assert SESSION_ENDED in answer.text
    # Ended for good: it does not come back.
    move_sessions_back(console, minutes=-31)
    assert not is_signed_in(console.client)


def test_a_session_in_use_stays_open_past_the_idle_time(console) -> None:
    console.sign_in()
    move_sessions_back(console, minutes=29)
    assert is_signed_in(console.client)  # a click: the idle clock starts again
    move_sessions_back(console, minutes=29)
    assert is_signed_in(console.client)


def test_sign_out_ends_the_session_even_for_a_copied_cookie(console) -> None:
    console.sign_in()
    copied = console.app.test_client()
    copied.set_cookie("session", console.client.get_cookie("session").value)
    assert is_signed_in(copied)

    console.sign_out()
    assert not is_signed_in(console.client)
    answer = copied.get("/tickets", follow_redirects=True)
    assert answer.request.path == "/login"
    assert SESSION_ENDED in answer.text


def test_changing_the_password_signs_out_the_other_browser(console) -> None:
    phone, laptop = console.client, console.app.test_client()
    console.sign_in()
    console.client = laptop
    console.sign_in()
    console.client = phone
    assert is_signed_in(phone)
    assert is_signed_in(laptop)

    form = phone.get("/account/password")
    assert form.status_code == 200
    new_password = "a much longer passphrase now"
    changed = phone.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(form.text),
            "current": console.logins[console.caseworker],
            "new": new_password,
            "again": new_password,
        },
        follow_redirects=True,
    )
    assert changed.request.path == "/tickets"
    assert "Your password is changed" in changed.text
    assert is_signed_in(phone)  # this browser goes on, in a new session

    ended = laptop.get("/tickets", follow_redirects=True)
    assert ended.request.path == "/login"
    assert SESSION_ENDED in ended.text

    old = enter_password(laptop, console.caseworker, console.logins[console.caseworker])
    assert WRONG_PASSWORD in old.text
    new = enter_password(laptop, console.caseworker, new_password)
    assert new.request.path == "/login/code"


@pytest.mark.parametrize(
    ("current", "new", "again", "problem"),
    [
        ("not my password at all", "a much longer passphrase", "a much longer passphrase",
         "Your current password is wrong."),
        (None, "too short", "too short", "The new password needs at least 12 characters."),
        (None, "a much longer passphrase", "a much longer passphrasf",
         "The two new passwords are not the same."),
    ],
    ids=["wrong-current", "too-short", "mismatch"],
)  # fmt: skip
def test_a_password_change_with_a_problem_says_so_and_changes_nothing(
    console, current: str | None, new: str, again: str, problem: str
) -> None:
    console.sign_in()
    form = console.client.get("/account/password")
    answer = console.client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(form.text),
            "current": current or console.logins[console.caseworker],
            "new": new,
            "again": again,
        },
    )
    assert answer.status_code == 200
    assert problem in answer.text
    assert is_signed_in(console.client)
    console.sign_out()
    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    assert page.request.path == "/login/code"


def test_the_audit_log_records_each_step_and_never_a_typed_email(console) -> None:
    enter_password(console.client, console.caseworker, "not the password at all")
    enter_password(console.client, "stranger@elsewhere.example", "not the password at all")
    codes = enrol(console)
    console.sign_out()
    page = enter_password(console.client, console.caseworker, console.logins[console.caseworker])
    enter_code(console.client, page, codes[0])
    form = console.client.get("/account/password")
    console.client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(form.text),
            "current": console.logins[console.caseworker],
            "new": "a much longer passphrase",
            "again": "a much longer passphrase",
        },
    )

    with console.session() as session:
        user_id = session.scalar(select(User.id).where(User.email == console.caseworker))
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith("auth.")).order_by(AuditEntry.id)
        ).all()
        assert [(e.action, e.target) for e in entries] == [
            ("auth.login_failed", f"user:{user_id}"),
            ("auth.login_failed", None),
            ("auth.totp_enrolled", None),
            ("auth.login", None),
            ("auth.logout", None),
            ("auth.recovery_code_used", None),
            ("auth.login", None),
            ("auth.password_changed", None),
        ]
        for entry in entries:
            assert "@" not in f"{entry.actor} {entry.target} {entry.detail}"
        assert verify_log(session) is None
