"""Steps a caseworker takes in the console test client, shared by the console tests."""

from __future__ import annotations

import html

from sqlalchemy import select

from intake.models import Ticket


def post(console, path: str, ref: str, **form: str) -> str:
    page = console.client.get(f"/tickets/{ref}")
    token = console.csrf_token(page.text)
    answer = console.client.post(path, data={"csrf_token": token, **form}, follow_redirects=True)
    assert answer.status_code == 200, answer.status_code
    return html.unescape(answer.text)


def ticket_row(console, ref: str) -> Ticket:
    with console.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.ref == ref)).one()
        session.expunge(ticket)
        return ticket


def in_remediation(console, text: str = "นายจ้างไม่จ่ายค่าจ้างสองเดือน") -> str:
    console.sign_in()
    console.say(text)
    (ref, _, _), *_ = console.tickets()
    post(console, f"/tickets/{ref}/status", ref, status="triaged")
    post(console, f"/tickets/{ref}/status", ref, status="in_remediation")
    assert ticket_row(console, ref).status == "in_remediation"
    return ref
