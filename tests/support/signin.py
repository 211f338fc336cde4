"""Sign in to the console as a person with an authenticator app does: password, then a code.

The first sign-in of a user enrols: the secret is read off the enrolment page (as a
person would type it into their app) and kept in the caller's `secrets` dict by email.
Codes are taken as the app shows them, minding that the console accepts each time
step once: a second sign-in in the same 30 seconds uses the next step's code (the
console allows one step ahead), and a third waits for the clock.
"""

from __future__ import annotations

import html
import re
import time

import pyotp
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

STEP_SECONDS = 30
_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'type="hidden" name="csrf_token" value="([^"]+)"'
)
_SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7 ]+)</code>')
_RECOVERY_CODE = re.compile(r"<li><code>([A-Z0-9-]+)</code></li>")
_CONTINUE = re.compile(r'<a id="continue" href="([^"]+)">')
# The last time step each secret was used for (secrets are random, so one dict serves all).
_used_steps: dict[str, int] = {}


def csrf_token(page: str) -> str:
    """Return the CSRF token a form on this page carries."""
    found = _CSRF.search(page)
    assert found is not None, "no csrf_token on the page"
    return found.group(1) or found.group(2)


def secret_on_page(page: str) -> str:
    """The TOTP secret an enrolment page shows for typing by hand, without its spaces."""
    found = _SECRET.search(page)
    assert found is not None, "no TOTP secret on the enrolment page"
    return found.group(1).replace(" ", "")


def recovery_codes_on_page(page: str) -> list[str]:
    return _RECOVERY_CODE.findall(page)


def continue_link(page: str) -> str:
    found = _CONTINUE.search(page)
    assert found is not None, "no way on from the recovery codes page"
    return html.unescape(found.group(1))


def next_code(secret: str) -> str:
    """The code the authenticator app shows, for a time step the console has not seen used."""
    now_step = int(time.time() // STEP_SECONDS)
    step = max(now_step, _used_steps.get(secret, -1) + 1)
    while step > int(time.time() // STEP_SECONDS) + 1:  # not valid yet: wait for the clock
        time.sleep(0.2)
    _used_steps[secret] = step
    return pyotp.TOTP(secret).generate_otp(step)


def enter_password(
    client: FlaskClient, email: str, password: str, next_page: str | None = None
) -> TestResponse:
    """Fill in the email and password form; answer the page the browser lands on."""
    token = csrf_token(client.get("/login").text)
    return client.post(
        "/login",
        query_string={"next": next_page} if next_page else None,
        data={"csrf_token": token, "email": email, "password": password},
        follow_redirects=True,
    )


def enter_code(client: FlaskClient, page: TestResponse, code: str) -> TestResponse:
    """Submit a code on the code or enrolment page shown; answer what comes back."""
    return client.post(
        page.request.path,
        data={"csrf_token": csrf_token(page.text), "code": code},
        follow_redirects=True,
    )


def sign_in(
    client: FlaskClient,
    email: str,
    password: str,
    secrets: dict[str, str],
    next_page: str | None = None,
) -> TestResponse:
    """Sign in all the way, enrolling on first sign-in; answer the page landed on.

    A wrong password answers the sign-in page with its error, as the browser shows it.
    """
    page = enter_password(client, email, password, next_page)
    if page.request.path == "/login/enrol":
        secret = secret_on_page(page.text)
        secrets[email] = secret
        shown = enter_code(client, page, next_code(secret))
        assert shown.status_code == 200, shown.text
        assert len(recovery_codes_on_page(shown.text)) == 10, "no recovery codes shown"
        return client.get(continue_link(shown.text), follow_redirects=True)
    if page.request.path == "/login/code":
        assert email in secrets, f"{email} enrolled elsewhere: its secret is unknown here"
        return enter_code(client, page, next_code(secrets[email]))
    return page
