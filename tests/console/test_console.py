"""The caseworker console on the embedded default: SQLite, no Redis, jobs in-process."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from intake.models import AuditEntry, InboundEnvelope, Message, SimulatorLine, Ticket, User
from safeguards.audit import verify_log
from translations.scripts import detect_language

# language, what the worker types
FIRST_WORDS = [
    ("my", "မင်္ဂလာပါ။ လစာ မရသေးပါဘူး"),
    ("km", "សួស្តី ខ្ញុំមិនទាន់បានប្រាក់ខែទេ"),
    ("ne", "नमस्ते, मेरो पासपोर्ट कम्पनीले राखेको छ"),
    ("th", "สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง"),
]
ZAWGYI = "ေက်းဇူးျပဳၿပီး ကူညီပါ"
ZAWGYI_AS_UNICODE = "ကျေးဇူးပြုပြီး ကူညီပါ"


def _only_ticket(console) -> tuple[str, str, str]:
    rows = console.tickets()
    assert len(rows) == 1, rows
    return rows[0]


# --- signing in ----------------------------------------------------------------


def test_demo_caseworker_signs_in_and_lands_on_the_ticket_queue(console) -> None:
    page = console.sign_in()
    assert page.status_code == 200
    assert page.request.path == "/tickets"
    assert "<h1>Tickets</h1>" in page.text
    assert console.caseworker in page.text


def test_wrong_password_shows_an_error_and_signs_nobody_in(console) -> None:
    page = console.sign_in(console.caseworker, password="not the password at all")
    assert page.status_code == 200
    assert page.request.path == "/login"
    assert "Email or password is wrong." in page.text
    with console.client.session_transaction() as session:
        assert "user_id" not in session
    assert console.client.get("/tickets").status_code == 302


@pytest.mark.parametrize(
    "next_page",
    [
        "//evil.example/login",
        "https://evil.example/login",
        "/\\evil.example/login",
        "/\t/evil.example/login",
        "/\n/evil.example/login",
    ],
    ids=["scheme-relative", "absolute", "backslash", "tab", "newline"],
)
def test_sign_in_never_sends_the_caseworker_to_another_site(console, next_page: str) -> None:
    token = console.csrf_token(console.client.get("/login").text)
    answer = console.client.post(
        "/login",
        query_string={"next": next_page},
        data={
            "csrf_token": token,
            "email": console.caseworker,
            "password": console.logins[console.caseworker],
        },
    )
    assert answer.status_code == 302
    # Read the Location as a browser does: tabs and newlines dropped, "\\" taken as "/".
    location = answer.headers["Location"].translate({9: None, 10: None, 13: None})
    location = location.replace("\\", "/")
    assert location.startswith("/")
    assert not location.startswith("//"), location
    assert urlsplit(location).netloc == ""


def test_ticket_queue_without_sign_in_redirects_to_login(console) -> None:
    answer = console.client.get("/tickets")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login")


# --- the simulator ---------------------------------------------------------------


@pytest.mark.parametrize(("language", "typed"), FIRST_WORDS, ids=[w[0] for w in FIRST_WORDS])
def test_simulator_worker_gets_reply_in_their_script_with_the_new_ticket_reference(
    console, language: str, typed: str
) -> None:
    console.sign_in()
    page = console.say(typed)
    assert page.status_code == 200
    assert page.request.path == "/simulator"
    lines = console.chat(page.text)
    assert lines[0] == ("in", typed)
    replies = [text for direction, text in lines if direction == "out"]
    assert len(replies) == 1, lines
    assert detect_language(replies[0]) == language, replies[0]

    ref, status, shown_language = _only_ticket(console)
    assert ref in replies[0]
    assert shown_language == language
    assert status == "New"


def test_zawgyi_message_reads_as_unicode_burmese_on_the_ticket_page(console) -> None:
    console.sign_in()
    console.say(ZAWGYI)
    ref, _, language = _only_ticket(console)
    assert language == "my"
    page = console.client.get(f"/tickets/{ref}")
    assert page.status_code == 200
    assert ZAWGYI_AS_UNICODE in page.text
    assert ZAWGYI not in page.text


def test_simulator_post_without_csrf_token_is_refused_and_stores_nothing(
    console,
) -> None:
    console.sign_in()
    answer = console.client.post("/hooks/simulator", data={"text": "สวัสดีค่ะ ช่วยด้วย"})
    assert answer.status_code == 400
    for model in (SimulatorLine, InboundEnvelope, Message, Ticket):
        assert console.count(model) == 0, model.__name__


def test_simulator_post_with_forged_csrf_token_is_refused(console) -> None:
    console.sign_in()
    answer = console.client.post(
        "/hooks/simulator", data={"csrf_token": "forged", "text": "สวัสดีค่ะ"}
    )
    assert answer.status_code == 400
    assert console.count(InboundEnvelope) == 0


# --- the ticket page ---------------------------------------------------------------


def test_opening_a_ticket_writes_an_unbroken_audit_entry(console) -> None:
    console.sign_in()
    console.say("สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง")
    ref, _, _ = _only_ticket(console)
    assert console.client.get(f"/tickets/{ref}").status_code == 200

    with console.session() as session:
        user_id = session.scalar(select(User.id).where(User.email == console.caseworker))
        reads = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.read")))
        assert [(e.actor, e.target) for e in reads] == [(f"user:{user_id}", f"ticket:{ref}")]
        assert reads[0].detail == {"via": "console"}
        assert verify_log(session) is None


def test_ticket_page_shows_the_workers_words_and_the_bots_answer(console) -> None:
    console.sign_in()
    console.say("नमस्ते, मेरो पासपोर्ट कम्पनीले राखेको छ")
    ref, _, _ = _only_ticket(console)
    page = console.client.get(f"/tickets/{ref}")
    assert "नमस्ते, मेरो पासपोर्ट कम्पनीले राखेको छ" in page.text
    assert ref in page.text
    assert page.text.count('<li class="msg out">') == 1
    assert "· sent" in page.text


# --- who may see what --------------------------------------------------------------


def test_partner_user_lands_on_their_page_and_is_forbidden_the_queue_and_the_simulator(
    console,
) -> None:
    console.add_user("brand@partner.example", "partner")
    landed = console.sign_in("brand@partner.example")
    assert landed.status_code == 200
    assert landed.request.path == "/partner"  # their dashboard: no business named, nothing in it
    assert "never a worker, a message or a case" in landed.text
    assert 'href="/tickets"' not in landed.text
    assert console.client.get("/tickets").status_code == 403
    assert console.client.get("/simulator").status_code == 403


def test_user_of_another_organisation_gets_404_on_the_ticket_page(console) -> None:
    console.sign_in()
    console.say("สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง")
    ref, _, _ = _only_ticket(console)
    console.sign_out()

    console.add_user("cw@other.example", "caseworker", org="Other Workers Centre")
    console.sign_in("cw@other.example")
    assert console.client.get(f"/tickets/{ref}").status_code == 404
    assert console.client.get("/tickets/ZZZZ-ZZZZ").status_code == 404
    assert console.tickets() == []


def test_view_without_an_access_declaration_is_forbidden_even_when_signed_in(
    console,
) -> None:
    console.app.add_url_rule("/forgotten", "forgotten", lambda: "every worker's secret")
    assert console.client.get("/forgotten").status_code == 403
    console.sign_in()
    answer = console.client.get("/forgotten")
    assert answer.status_code == 403
    assert "secret" not in answer.text


# --- headers and health --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/healthz", "/tickets", "/simulator"])
def test_every_response_carries_strict_security_headers(console, path: str) -> None:
    console.sign_in()
    answer = console.client.get(path)
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_error_pages_carry_the_security_headers_too(console) -> None:
    console.sign_in()
    refused = [
        console.client.get("/tickets/ZZZZ-ZZZZ"),
        console.client.post("/hooks/simulator", data={"text": "x"}),
    ]
    assert [answer.status_code for answer in refused] == [404, 400]
    for answer in refused:
        assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-Frame-Options"] == "DENY"
    assert refused[0].headers["Cache-Control"] == "no-store"


def test_console_stylesheet_loads(console) -> None:
    page = console.client.get("/login")
    assert '<link rel="stylesheet" href="/static/console.css">' in page.text
    answer = console.client.get("/static/console.css")
    assert answer.status_code == 200
    assert answer.mimetype == "text/css"
    answer.close()


def test_ticket_pages_are_never_cached(console) -> None:
    console.sign_in()
    console.say("สวัสดีค่ะ")
    ref, _, _ = _only_ticket(console)
    for path in ("/tickets", f"/tickets/{ref}"):
        answer = console.client.get(path)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store", path


def test_health_is_ok_on_sqlite(console) -> None:
    answer = console.client.get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok"}


# --- at rest -------------------------------------------------------------------------


def test_sqlite_file_never_holds_the_workers_words_in_plain_text(console) -> None:
    words = ["นายจ้างยึดพาสปอร์ตของฉันไว้", "ខ្ញុំមិនទាន់បានប្រាក់ខែទេ", ZAWGYI_AS_UNICODE]
    console.sign_in()
    for text in words:
        console.new_worker()
        page = console.say(text)
        assert any(direction == "out" for direction, _ in console.chat(page.text))
    assert len(console.tickets()) == len(words)

    database = console.settings.instance / "voicedesk.sqlite3"
    stored = b"".join(
        path.read_bytes()
        for path in (database, database.with_name(database.name + "-wal"))
        if path.exists()
    )
    # Plain columns (a user's email) are found, so the search does read the stored rows.
    assert console.caseworker.encode() in stored
    for text in words:
        assert text.encode("utf-8") not in stored, text
