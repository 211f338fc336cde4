"""Ethical Performance Scores and the worker's profile, recorded on the ticket page."""

from __future__ import annotations

import html

from sqlalchemy import select

from intake import businesses, indicators
from intake.models import AuditEntry, EthicalScore, User, Worker

from support.console_flows import in_remediation, post

SUPERVISOR = "supervisor@demo.local"


def _employer(console) -> int:
    with console.session() as session:
        supervisor = session.scalars(select(User).where(User.email == SUPERVISOR)).one()
        business = businesses.add_business(
            session, supervisor, "Golden Sea Foods", "supplier", "TH", "seafood"
        )
        session.commit()
        return business.id


def test_caseworker_scores_a_linked_business_with_na_and_the_desk_scores_the_rest(
    console,
) -> None:
    ref = in_remediation(console)
    employer = _employer(console)
    page = html.unescape(console.client.get(f"/tickets/{ref}").text)
    assert "Ethical Performance Scores" not in page  # nothing linked: nothing to score
    post(console, f"/tickets/{ref}/businesses", ref, business=str(employer))
    form = {code: "na" for code in indicators.RECORDED}
    form |= {"business": str(employer), "assessment_hr_social": "4", "attitude_toward_workers": "2"}
    page = post(console, f"/tickets/{ref}/scores", ref, **form)
    assert "Scores saved." in page
    with console.session() as session:
        saved = {
            row.indicator: row.score
            for row in session.scalars(
                select(EthicalScore).where(EthicalScore.business_id == employer)
            )
        }
        audited = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "ticket.scores")
        ).all()
    assert saved["assessment_hr_social"] == 4
    assert saved["attitude_toward_workers"] == 2
    assert saved["assessment_senior_management"] is None  # n/a is kept as n/a
    assert len(saved) == len(indicators.RECORDED)
    assert audited == ["ticket.scores"]
    # Computed indicators are shown, never typed.
    assert "Time to respond" in page
    assert 'name="time_to_respond"' not in page


def test_scores_out_of_range_or_for_an_unlinked_business_are_refused(console) -> None:
    ref = in_remediation(console)
    employer = _employer(console)
    page = post(
        console, f"/tickets/{ref}/scores", ref, business=str(employer), assessment_hr_social="3"
    )
    assert "Link the business to the ticket before scoring it." in page
    post(console, f"/tickets/{ref}/businesses", ref, business=str(employer))
    page = post(
        console, f"/tickets/{ref}/scores", ref, business=str(employer), assessment_hr_social="9"
    )
    assert "A score is 1 to 5, or n/a." in page
    assert console.count(EthicalScore) == 0


def test_gender_and_nationality_are_kept_only_with_consent(console) -> None:
    ref = in_remediation(console)
    page = post(
        console,
        f"/tickets/{ref}/worker-profile",
        ref,
        gender="female",
        nationality="mm",
        consent="1",
    )
    with console.session() as session:
        worker = session.scalars(select(Worker)).one()
        assert (worker.gender, worker.nationality) == ("female", "MM")
        assert worker.profile_consent_at is not None
    assert 'value="MM"' in page
    post(
        console, f"/tickets/{ref}/worker-profile", ref, gender="female", nationality="MM"
    )  # no consent
    with console.session() as session:
        worker = session.scalars(select(Worker)).one()
        assert (worker.gender, worker.nationality, worker.profile_consent_at) == (None, None, None)


def test_supervisors_read_the_network_report_with_small_cells_hidden(console) -> None:
    ref = in_remediation(console)
    post(
        console,
        f"/tickets/{ref}/worker-profile",
        ref,
        gender="female",
        nationality="MM",
        consent="1",
    )
    employer = _employer(console)
    post(console, f"/tickets/{ref}/businesses", ref, business=str(employer))
    assert console.client.get("/reports").status_code == 403  # caseworkers work tickets
    console.sign_out()
    console.sign_in(SUPERVISOR)
    page = html.unescape(console.client.get("/reports").text)
    assert "Golden Sea Foods" in page
    assert "<td>All workers</td><td><10</td>" in page  # one worker: never shown as 1
    assert ref not in page
