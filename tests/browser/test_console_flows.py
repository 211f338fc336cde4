"""A caseworker's day in headless Chromium, against the product as an operator runs it.

Each test starts `voicedesk serve` and `voicedesk worker` on the run's PostgreSQL and
Redis (Telegram pointed at the local stub), then clicks through the console and checks
what the person at the screen sees.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from support import signin
from support.browser import (
    REF,
    TICKET_REF,
    ServedDesk,
    reload_until_visible,
    sign_in,
    wait_for,
)
from support.telegram_stub import TelegramStub

# The whole flow needs PostgreSQL and Redis, as the integration tests do.
pytestmark = pytest.mark.integration

ORG = "Bangkok Workers Centre"
OTHER_ORG = "Mae Sot Migrant Help"
CODE_REFUSED = "That code is not right, or it was used already."
READ_ONLY = "Referred to {org}: you can read this ticket but no longer change it."


def ticket_page(page: Page, ref: str) -> None:
    expect(page).to_have_url(re.compile(rf"/tickets/{ref}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Ticket {ref}")


def fact(page: Page, name: str) -> str:
    """The value beside a name in the ticket's facts (Status, Organisation, …)."""
    return (
        page.locator("dl.facts dt", has_text=re.compile(rf"^{name}$")).locator("+ dd").inner_text()
    )


def ref_told_to(stub: TelegramStub, chat_id: int) -> str:
    """The ticket reference the bot's acknowledgement gave the worker."""

    def told() -> str | None:
        for text in stub.messages_to(chat_id):
            found = TICKET_REF.search(text)
            if found:
                return found.group(0)
        return None

    return str(wait_for(told, f"an acknowledgement with a reference to chat {chat_id}"))


def open_from_queue(page: Page, ref: str) -> None:
    """Wait for the ticket to show in the queue (the worker process files it), then open it."""
    page.goto("/tickets")
    link = page.locator("table.queue").get_by_role("link", name=ref, exact=True)
    reload_until_visible(page, link)
    link.click()
    ticket_page(page, ref)


def test_first_sign_in_enrols_an_authenticator_then_every_sign_in_takes_a_fresh_code(
    live_desk: ServedDesk, browser_page
) -> None:
    live_desk.organisation(ORG, ["th"])
    login = live_desk.user("somchai@bwc.example", ORG)
    page = browser_page()

    page.goto("/tickets")
    expect(page).to_have_url(re.compile(r"/login\?next=/tickets$"))
    page.get_by_label("Email").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page).to_have_url(re.compile(r"/login/enrol$"))
    expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    first_code = signin.next_code(secret)  # what the app shows once the key is typed in
    page.get_by_label("2. Enter the six-digit code the app now shows").fill(first_code)
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    assert all(re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", code) for code in codes), codes
    assert len(set(codes)) == 10
    page.get_by_role("link", name="I have kept them safe: continue").click()

    expect(page).to_have_url(re.compile(r"/tickets$"))
    expect(page.get_by_role("heading", name="Tickets", exact=True)).to_be_visible()
    expect(page.locator("header .who")).to_have_text(f"{login.email} · {ORG}")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("header .who")).to_have_count(0)

    page.get_by_label("Email").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login/code$"))
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    code_box = page.get_by_label("The six-digit code from your authenticator app", exact=False)
    code_box.fill(first_code)  # seen once already: never good again
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(CODE_REFUSED)
    expect(page).to_have_url(re.compile(r"/login/code$"))

    code_box.fill(signin.next_code(secret))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tickets$"))
    expect(page.locator("header .who")).to_have_text(f"{login.email} · {ORG}")


def test_caseworker_triages_a_telegram_ticket_from_the_queue_and_the_reply_reaches_the_worker(
    live_desk: ServedDesk, browser_page, telegram_stub: TelegramStub
) -> None:
    live_desk.organisation(ORG, ["th"])
    caseworker = live_desk.user("nok@bwc.example", ORG)
    chat_id = 7341000001
    typed = "สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรงสองเดือนแล้ว"
    reply = "ได้รับเรื่องแล้วค่ะ พรุ่งนี้เจ้าหน้าที่จะโทรหานะคะ"
    live_desk.worker_writes(chat_id, typed)
    ref = ref_told_to(telegram_stub, chat_id)
    page = browser_page()
    sign_in(page, caseworker, {})

    open_from_queue(page, ref)
    expect(page.locator("ol.thread li.msg.in .text")).to_have_text([typed])
    assert fact(page, "Status") == "New"
    assert fact(page, "Channel") == "Telegram"

    page.get_by_label("Wages", exact=True).check()
    page.get_by_role("button", name="Save triage").click()
    ticket_page(page, ref)
    expect(page.get_by_label("Wages", exact=True)).to_be_checked()
    page.get_by_role("button", name="Mark as: Triaged").click()
    ticket_page(page, ref)
    assert fact(page, "Status") == "Triaged"

    page.get_by_label("Your reply (sent in the worker's chat)").fill(reply)
    page.get_by_role("button", name="Send reply", exact=True).click()
    ticket_page(page, ref)
    expect(page.get_by_role("alert")).to_have_text("Reply queued for the worker's chat.")
    ours = page.locator("ol.thread li.msg.out", has_text=reply)
    expect(ours).to_have_count(1)

    wait_for(lambda: reply in telegram_stub.messages_to(chat_id), "the reply at the stub")
    sent = [params for method, params in telegram_stub.requests if method == "sendMessage"]
    assert any(int(p["chat_id"]) == chat_id and p["text"] == reply for p in sent)
    reload_until_visible(page, ours.locator(".meta", has_text="· sent"))

    page.goto("/tickets")
    row = page.locator("table.queue tr", has=page.get_by_role("link", name=ref, exact=True))
    expect(row).to_contain_text("Triaged")
    expect(row.locator(".tag")).to_have_text(["Wages"])


def test_logged_hotline_call_opens_a_ticket_with_its_summary_and_never_shows_the_number(
    live_desk: ServedDesk, browser_page
) -> None:
    live_desk.organisation(ORG, ["th"])
    hotline = live_desk.user("duty@bwc.example", ORG, role="hotline")
    summary = "Caller says the agency kept her passport and charged 20,000 baht."
    page = browser_page()
    sign_in(page, hotline, {})

    page.get_by_role("link", name="Log a call").click()
    expect(page.get_by_role("heading", name="Log a call")).to_be_visible()
    form = page.locator("form.call-log")
    form.get_by_label("Caller's number (kept secret: never shown again)").fill("+66 81 234 5678")
    form.get_by_label("Language").select_option("th")
    form.get_by_label("Length in minutes").fill("12")
    form.get_by_label("Summary").fill(summary)
    form.get_by_label("Recruitment fees", exact=True).check()
    form.get_by_role("button", name="Save the call").click()

    # The call is filed by the worker process; the waiting page refreshes itself until then.
    expect(page).to_have_url(re.compile(rf"/tickets/{REF}$"), timeout=20_000)
    expect(page.get_by_role("alert")).to_have_text("Call logged.")
    ref = page.url.rsplit("/", 1)[1]
    ticket_page(page, ref)
    assert fact(page, "Channel") == "Hotline"
    logged = page.locator("ol.thread li.msg", has_text=summary)
    expect(logged).to_have_count(1)
    expect(logged.locator(".meta")).to_contain_text("call summary")
    expect(page.locator("form.categories").get_by_label("Recruitment fees")).to_be_checked()
    expect(page.get_by_role("heading", name="Reply to the worker")).to_have_count(0)

    html = page.content()
    assert "+66 81 234 5678" not in html
    # Nor written any other way: +66812345678, 081-234-5678, 66 81 234 5678…
    assert not re.search(r"8\D{0,3}1\D{0,3}2\D{0,3}3\D{0,3}4\D{0,3}5\D{0,3}6\D{0,3}7\D{0,3}8", html)


def test_referred_ticket_accepted_by_the_other_organisation_is_read_only_for_the_sender(
    live_desk: ServedDesk, browser_page, telegram_stub: TelegramStub
) -> None:
    live_desk.organisation(ORG, ["th"])
    live_desk.organisation(OTHER_ORG, ["my"])
    sender = live_desk.user("nok@bwc.example", ORG)
    receiver = live_desk.user("thida@msmh.example", OTHER_ORG)
    reason = "She now works in Mae Sot; your team can meet her at the factory."
    chat_id = 7341000002
    live_desk.worker_writes(chat_id, "สวัสดีค่ะ ย้ายไปทำงานที่แม่สอดแล้ว ถูกยึดพาสปอร์ต")
    ref = ref_told_to(telegram_stub, chat_id)

    a = browser_page()
    sign_in(a, sender, {})
    open_from_queue(a, ref)
    referral = a.locator("form", has=a.get_by_role("button", name="Refer", exact=True))
    referral.get_by_label(re.compile("^Organisation")).select_option(label=OTHER_ORG)
    referral.get_by_label("on a call").check()
    referral.get_by_label("Why (for the other organisation)").fill(reason)
    referral.get_by_role("button", name="Refer", exact=True).click()
    ticket_page(a, ref)
    expect(a.get_by_role("alert")).to_have_text(
        "Referral sent. The other organisation sees the ticket once it accepts."
    )
    expect(a.get_by_role("status")).to_have_text(
        f"Referred to {OTHER_ORG}; waiting for its answer."
    )

    b = browser_page()
    sign_in(b, receiver, {})
    expect(b.locator("table.queue")).to_have_count(0)  # not theirs until they accept
    b.get_by_role("link", name="Referrals").click()
    offer = b.locator("article.referral", has=b.get_by_role("heading", name=ref))
    expect(offer).to_contain_text(f"From {ORG}")
    expect(offer).to_contain_text("Worker's consent: on a call")
    expect(offer.locator(".text")).to_have_text(reason)
    offer.get_by_role("button", name="Accept").click()

    ticket_page(b, ref)
    expect(b.get_by_role("alert")).to_have_text("Referral accepted: the ticket is in your queue.")
    assert fact(b, "Organisation") == OTHER_ORG
    expect(b.get_by_label("Your reply (sent in the worker's chat)")).to_be_visible()
    expect(b.get_by_text("you can read this ticket but no longer change it")).to_have_count(0)

    a.reload()
    ticket_page(a, ref)
    expect(a.get_by_role("status").first).to_have_text(READ_ONLY.format(org=OTHER_ORG))
    assert fact(a, "Organisation") == OTHER_ORG
    expect(a.get_by_role("heading", name="Reply to the worker")).to_have_count(0)
    expect(a.get_by_label("Your reply (sent in the worker's chat)")).to_have_count(0)
    expect(a.get_by_role("button", name="Send reply")).to_have_count(0)
    expect(a.locator("ol.thread li.msg.in")).to_have_count(1)  # still readable
