"""72-hour incident reports in the console, on the embedded default.

A caseworker flags a forced-labour indicator on a simulator ticket; the ticket page
drafts a de-identified report for the partner, keeps it and records when it was sent.
The clock is the database's: moving `urgent_since` or `sent_at` back is time passing.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

from sqlalchemy import select

from intake import businesses
from intake.models import AuditEntry, Category, IncidentReport, Ticket, User, Worker
from translations.formatting import format_datetime

from support.console_flows import post, ticket_row

SAYS = "นายจ้างยึดพาสปอร์ตและไม่ให้ออกจากหอพัก"
DRAFT = re.compile(r'<textarea name="text" rows="12"[^>]*>(.*?)</textarea>', re.S)
OVERDUE = "Incident report overdue"
BADGE = "incident report overdue"


def _category(console, code: str) -> int:
    with console.session() as session:
        return session.scalars(select(Category.id).where(Category.code == code)).one()


def _flagged(console, code: str = "retention_of_documents", says: str = SAYS) -> str:
    """A simulator ticket a caseworker flags with an ILO indicator through the triage form."""
    console.sign_in()
    console.say(says)
    (ref, _, _), *_ = console.tickets()
    post(console, f"/tickets/{ref}/triage", ref, category=str(_category(console, code)))
    assert ticket_row(console, ref).urgent
    return ref


def _page(console, ref: str) -> str:
    answer = console.client.get(f"/tickets/{ref}")
    assert answer.status_code == 200
    return html.unescape(answer.text)


def _draft(page: str) -> str:
    found = DRAFT.search(page)
    assert found is not None, "no report draft on the page"
    return found.group(1)


def _reports(console) -> list[IncidentReport]:
    with console.session() as session:
        found = list(session.scalars(select(IncidentReport).order_by(IncidentReport.created_at)))
        session.expunge_all()
        return found


def _earlier(console, ref: str, hours: float) -> None:
    """Time passes: the flag was raised this many hours earlier than it was."""
    with console.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.ref == ref)).one()
        assert ticket.urgent_since is not None
        ticket.urgent_since -= dt.timedelta(hours=hours)
        session.commit()


def _sent_earlier(console, days: float) -> None:
    with console.session() as session:
        for report in session.scalars(select(IncidentReport)):
            if report.sent_at is not None:
                report.sent_at -= dt.timedelta(days=days)
        session.commit()


def _queue_row(console, ref: str) -> str:
    queue = html.unescape(console.client.get("/tickets").text)
    found = re.search(rf'<tr class="urgent">\s*<td><a href="/tickets/{ref}">.*?</tr>', queue, re.S)
    assert found is not None, f"{ref} is not an urgent row of the queue"
    return found.group(0)


def test_flagged_ticket_drafts_a_report_without_the_worker_keeps_and_sends_it(console) -> None:
    ref = _flagged(console)
    page = _page(console, ref)
    assert "Incident report to the partner" in page
    assert "The first report is due by" in page
    assert OVERDUE not in page
    draft = _draft(page)
    assert "Retention of identity documents" in draft
    assert ref not in draft
    with console.session() as session:
        pseudonym = session.scalars(select(Worker.pseudonym)).one()
    assert pseudonym not in draft
    assert SAYS not in draft
    assert "Incident report:" in draft  # the first one

    page = post(console, f"/tickets/{ref}/incident-reports", ref, text=draft)
    assert "Report kept." in page
    (kept,) = _reports(console)
    assert (kept.kind, kept.sent_at) == ("initial", None)
    assert "Initial report" in page
    assert "Retention of identity documents" in page.split("Incident report to the partner")[1]
    # Kept but not sent: the clock still waits for the first report.
    assert "Incident report:" in _draft(page)

    page = post(console, f"/tickets/{ref}/incident-reports/{kept.id}/sent", ref)
    assert "Recorded as sent to the partner." in page
    assert "Follow-up report:" in _draft(page)  # once sent, the next one is a follow-up
    (sent,) = _reports(console)
    assert sent.sent_at is not None
    follow_up = sent.sent_at + dt.timedelta(days=14)
    assert f"The next follow-up report is due by {format_datetime(follow_up, 'en')}." in page
    with console.session() as session:
        audited = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("incident_report.%"))
            .order_by(AuditEntry.id)
        ).all()
    assert audited == ["incident_report.kept", "incident_report.sent"]

    # A report is sent once.
    page = post(console, f"/tickets/{ref}/incident-reports/{kept.id}/sent", ref)
    assert "This report was already sent." in page
    assert _reports(console)[0].sent_at == sent.sent_at


def test_late_report_is_flagged_on_the_page_and_in_the_queue_until_sent(console) -> None:
    ref = _flagged(console)
    _earlier(console, ref, 71)
    assert OVERDUE not in _page(console, ref)
    assert BADGE not in _queue_row(console, ref)

    _earlier(console, ref, 2)  # 73 hours since the flag
    page = _page(console, ref)
    assert OVERDUE in page
    assert BADGE in _queue_row(console, ref)

    post(console, f"/tickets/{ref}/incident-reports", ref, text=_draft(page))
    assert OVERDUE in _page(console, ref)  # kept is not sent
    (kept,) = _reports(console)
    assert "72 h: overdue" in _page(console, ref)
    page = post(console, f"/tickets/{ref}/incident-reports/{kept.id}/sent", ref)
    assert OVERDUE not in page
    assert "72 h: overdue" not in page  # the 72 hours were for this report: met
    assert BADGE not in _queue_row(console, ref)
    assert "72 h: overdue" not in _queue_row(console, ref)

    # Fourteen days on, the follow-up is late in its turn.
    _sent_earlier(console, 15)
    assert "Follow-up report overdue" in _page(console, ref)
    assert BADGE in _queue_row(console, ref)


def test_report_sent_in_time_keeps_the_flag_away_after_72_hours(console) -> None:
    ref = _flagged(console)
    _earlier(console, ref, 10)
    page = _page(console, ref)
    post(console, f"/tickets/{ref}/incident-reports", ref, text=_draft(page))
    (kept,) = _reports(console)
    post(console, f"/tickets/{ref}/incident-reports/{kept.id}/sent", ref)
    _earlier(console, ref, 90)  # a hundred hours since the flag
    assert OVERDUE not in _page(console, ref)
    assert BADGE not in _queue_row(console, ref)


def test_draft_comes_in_the_readers_language(console) -> None:
    ref = _flagged(console, code="debt_bondage")
    token = console.csrf_token(console.client.get("/tickets").text)
    console.client.post(
        "/ui-language", data={"csrf_token": token, "language": "th", "next": "/tickets"}
    )
    draft = _draft(_page(console, ref))
    assert "แรงงานขัดหนี้" in draft  # Debt bondage
    assert "Debt bondage" not in draft


def test_empty_report_is_refused_and_a_report_of_another_ticket_is_not_found(console) -> None:
    ref = _flagged(console)
    page = post(console, f"/tickets/{ref}/incident-reports", ref, text="   ")
    assert "A report is 1 to 10,000 characters." in page
    assert _reports(console) == []

    post(console, f"/tickets/{ref}/incident-reports", ref, text="Report on the first ticket.")
    (first,) = _reports(console)
    console.new_worker()
    console.say("ขอถามเรื่องวีซ่า")
    other = next(r for r, _, _ in console.tickets() if r != ref)
    token = console.csrf_token(console.client.get(f"/tickets/{other}").text)
    for report_id in (first.id, uuid.uuid4()):
        answer = console.client.post(
            f"/tickets/{other}/incident-reports/{report_id}/sent", data={"csrf_token": token}
        )
        assert answer.status_code == 404
    assert _reports(console)[0].sent_at is None

    # A ticket that is not urgent has no report section and keeps no report.
    assert "Incident report to the partner" not in _page(console, other)
    page = post(console, f"/tickets/{other}/incident-reports", other, text="Nothing to report.")
    assert "Incident reports are for tickets with forced-labour indicators." in page
    assert len(_reports(console)) == 1


def test_draft_names_the_business_and_its_kind_in_the_readers_words(console) -> None:
    ref = _flagged(console, code="debt_bondage")
    with console.session() as session:
        supervisor = session.scalars(select(User).where(User.role == "supervisor")).first()
        employer = businesses.add_business(
            session, supervisor, "Ocean Star Co.", "supplier", "TH", ""
        )
        session.commit()
        employer_id = employer.id
    post(console, f"/tickets/{ref}/businesses", ref, business=str(employer_id))
    assert "Ocean Star Co. (Supplier or employer)" in _draft(_page(console, ref))
    token = console.csrf_token(console.client.get("/tickets").text)
    console.client.post(
        "/ui-language", data={"csrf_token": token, "language": "th", "next": "/tickets"}
    )
    draft = _draft(_page(console, ref))
    assert "Ocean Star Co. (" in draft
    assert "(supplier)" not in draft
    assert "(Supplier or employer)" not in draft
