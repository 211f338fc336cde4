"""A caseworker reads the console in English, Burmese, Khmer, Nepali or Thai."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from flask import g
from sqlalchemy import select

from intake.models import Ticket
from translations.formatting import format_datetime
from translations.scripts import WORKER_LANGUAGES, detect_language

HTML_LANG = re.compile(r'<html lang="([^"]*)">')


class _Headings(HTMLParser):
    """Collect the visible text of every <h1> and <button> on a page."""

    WANTED = frozenset({"h1", "button"})

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.WANTED:
            self._open.append(tag)
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.WANTED and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.texts[-1] += data


def headings_and_buttons(page: str) -> list[str]:
    parser = _Headings()
    parser.feed(page)
    parser.close()
    return [" ".join(text.split()) for text in parser.texts]


def html_lang(page: str) -> str:
    found = HTML_LANG.search(page)
    assert found is not None, "no <html lang>"
    return found.group(1)


def assert_reads_in(page: str, language: str) -> None:
    assert html_lang(page) == language
    texts = headings_and_buttons(page)
    assert texts, "no heading or button on the page"
    script = None if language == "en" else language  # Latin letters name no worker language
    for text in texts:
        assert detect_language(text) == script, f"{text!r} is not in {language}'s script"


def choose_language(console, language: str, on_page: str = "/login", next_page: str | None = None):
    """Pick a language in the header's menu, as the browser submits it."""
    token = console.csrf_token(console.client.get(on_page).text)
    return console.client.post(
        "/ui-language",
        data={
            "csrf_token": token,
            "language": language,
            "next": on_page if next_page is None else next_page,
        },
    )


@pytest.mark.parametrize("language", WORKER_LANGUAGES)
def test_chosen_language_shows_on_the_login_page_and_stays_after_sign_in(
    console, language: str
) -> None:
    answer = choose_language(console, language)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login"

    assert_reads_in(console.client.get("/login").text, language)

    queue = console.sign_in()
    assert queue.request.path == "/tickets"
    assert_reads_in(queue.text, language)


@pytest.mark.parametrize("language", WORKER_LANGUAGES)
def test_signed_in_caseworker_switches_the_queue_to_their_language(console, language: str) -> None:
    console.sign_in()
    assert_reads_in(console.client.get("/tickets").text, "en")

    answer = choose_language(console, language, on_page="/tickets?status=new")
    assert answer.headers["Location"] == "/tickets?status=new"

    assert_reads_in(console.client.get(answer.headers["Location"]).text, language)


def test_sign_out_keeps_the_chosen_language(console) -> None:
    choose_language(console, "km")
    console.sign_in()
    console.sign_out()

    assert_reads_in(console.client.get("/login").text, "km")


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("my-MM,my;q=0.9", "my"),
        ("km", "km"),
        ("ne-NP,ne;q=0.9,en;q=0.5", "ne"),
        ("th-TH,th;q=0.9,en-US;q=0.8,en;q=0.7", "th"),
        ("fr-FR,fr;q=0.9,th;q=0.3", "th"),
        ("en-GB,en;q=0.9,th;q=0.5", "en"),
        ("de-DE,de;q=0.9", "en"),
    ],
)
def test_browser_language_picks_the_page_language_for_a_visitor(
    console, accept_language: str, expected: str
) -> None:
    page = console.client.get("/login", headers={"Accept-Language": accept_language})

    assert_reads_in(page.text, expected)
    assert "Accept-Language" in page.headers["Vary"]


def test_chosen_language_wins_over_the_browsers(console) -> None:
    choose_language(console, "ne")

    page = console.client.get("/login", headers={"Accept-Language": "th"})

    assert_reads_in(page.text, "ne")


@pytest.mark.parametrize("bad", ["fr", "", "th-TH", "../th", "<script>", "EN"])
def test_unknown_language_is_ignored(console, bad: str) -> None:
    choose_language(console, "th")

    answer = choose_language(console, bad)

    assert answer.status_code == 302
    with console.client.session_transaction() as session:
        assert session["ui_language"] == "th"
    assert_reads_in(console.client.get("/login").text, "th")


def test_language_menu_without_csrf_token_is_refused(console) -> None:
    answer = console.client.post("/ui-language", data={"language": "th", "next": "/login"})

    assert answer.status_code == 400
    with console.client.session_transaction() as session:
        assert "ui_language" not in session


@pytest.mark.parametrize(
    "next_page",
    [
        "//evil.example/login",
        "https://evil.example/login",
        "/\\evil.example/login",
        "/\t/evil.example/login",
        "/\n/evil.example/login",
        "javascript:alert(1)",
        "",
    ],
    ids=["scheme-relative", "absolute", "backslash", "tab", "newline", "javascript", "empty"],
)
def test_language_menu_never_sends_anyone_to_another_site(console, next_page: str) -> None:
    answer = choose_language(console, "my", next_page=next_page)

    assert answer.status_code == 302
    # Read the Location as a browser does: tabs and newlines dropped, "\\" taken as "/".
    location = answer.headers["Location"].translate({9: None, 10: None, 13: None})
    location = location.replace("\\", "/")
    assert location.startswith("/")
    assert not location.startswith("//"), location
    assert urlsplit(location).netloc == ""


def test_every_page_offers_each_language_named_in_its_own_script(console) -> None:
    page = console.client.get("/login").text

    for code, name in [("my", "မြန်မာ"), ("km", "ខ្មែរ"), ("ne", "नेपाली"), ("th", "ไทย")]:
        assert f'<option value="{code}" lang="{code}">{name}</option>' in page


@pytest.mark.parametrize("language", ["en", *WORKER_LANGUAGES])
def test_queue_and_ticket_show_times_in_bangkok_in_the_readers_locale(
    console, language: str
) -> None:
    console.sign_in()
    console.say("สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง")
    with console.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        ref, opened = ticket.ref, ticket.created_at
    choose_language(console, language, on_page="/tickets")

    queue = console.client.get("/tickets").text
    shown = format_datetime(opened, language)
    assert f'<time datetime="{opened.isoformat()}">{shown}</time>' in queue
    assert "GMT+07:00" in shown or "+07:00" in shown
    ticket_page = console.client.get(f"/tickets/{ref}").text
    for page in (queue, ticket_page):
        assert "UTC" not in page


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Mar 5, 2026 · 1,234,567 · THB350.50 · MMK150,000"),
        ("th", "5 มี.ค. 2026 · 1,234,567 · ฿350.50 · MMK150,000"),
        ("ne", "2026 मार्च 5 · 12,34,567 · ฿ 350.50 · MMK 1,50,000"),
    ],
)
def test_templates_format_dates_numbers_and_money_in_the_ui_language(
    console, language: str, expected: str
) -> None:
    template = console.app.jinja_env.from_string(
        "{{ day|localdate }} · {{ 1234567|localnumber }} · {{ 35050|money('THB') }}"
        " · {{ 150000|money('MMK') }}"
    )
    with console.app.test_request_context():
        g.ui_language = language
        shown = template.render(day=dt.date(2026, 3, 5))

    assert shown.replace("\xa0", " ") == expected.replace("\xa0", " ")
