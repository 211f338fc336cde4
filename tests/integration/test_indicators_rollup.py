"""A brand's indicators rolled up over its suppliers, on real PostgreSQL (issue 7).

One brand buys from two suppliers; another brand buys from a third. Tickets are seeded
through the product's own casework functions (link, timeline, repayments, the worker's
answer on the phone, scores, close); only the dates a test cannot wait for (when a
ticket opened and closed) are set with plain SQL. Every expected number is worked out
by hand below, with its arithmetic.

The seeded tickets, opened in 2024 and read at NOW = 2024-06-30:

  T1 supplier 1  opened 01-10, validated, closed 03-09 (day 59); satisfaction 4
                 timeline: first response 01-12 (2 days -> 5), plan 01-22 (10 days -> 4),
                 resolved 03-05 (55 days -> 4)
                 scored for S1: workplace 5, hr 4, production n/a, senior 3,
                 cooperation 4, toward workers 2, discussing n/a
                 recruitment fees THB 30,000.00 owed and repaid, 4 eligible, 4 repaid
                 (the worker confirmed)
  T2 supplier 1  opened 02-01, validated, closed 04-02 (day 61); satisfaction 2
  (and S3)       scored for S1: hr 3, discussing 3; for S3: toward workers 1
  T3 supplier 2  opened 03-20, still in remediation (102 days: due); the worker said
                 "not fixed", satisfaction 1; recruitment fees THB 10,000.00 claimed
                 repaid to 2 of 2 eligible, which the worker disputed
  T4 supplier 1  opened 06-10, triaged (20 days: not due yet)
  T5 supplier 2  opened 03-01, a question: closed information-only 03-05
  T6 supplier 2  opened 02-15, no answer by the deadline: a supervisor closed it
                 unvalidated 03-20 (day 34)
  T7 supplier 2  opened 04-20, validated, closed 05-20 (day 30); satisfaction 5
                 timeline: first response 04-28 (8 days -> 3), plan 05-10 (12 days -> 4),
                 resolved 05-18 (28 days -> 5)
                 scored for S2: workplace 4, senior 2, upstream 5, toward staff 3,
                 capacity 1
                 wages THB 1,500.00 owed and repaid; wages MYR 5,000.00 owed,
                 2,000.00 repaid (the worker confirmed)
  T8 supplier 3  (the other brand's) opened 02-10, validated, closed 02-20;
                 satisfaction 1; scored for S3: hr 1, cooperation 1;
                 wages USD 100.00 owed and repaid; fees THB 9,999.00 owed, 5 eligible
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from intake import businesses, indicators, remediation, triage, validation
from intake.conversation import worker_for
from intake.db import utcnow
from intake.indicators import Figure, Impact
from intake.models import Business, Category, Ticket, User
from intake.tickets import create_ticket

from integration.conftest import Desk

pytestmark = pytest.mark.integration

ORG = "Samut Sakhon Workers Network"
CASEWORKER = "cw@sswn.example"
SUPERVISOR = "sup@sswn.example"
NOW = dt.datetime(2024, 6, 30, 12, 0, tzinfo=dt.UTC)
NOON = dt.time(12, 0)

OPENED = {
    "T1": dt.date(2024, 1, 10),
    "T2": dt.date(2024, 2, 1),
    "T3": dt.date(2024, 3, 20),
    "T4": dt.date(2024, 6, 10),
    "T5": dt.date(2024, 3, 1),
    "T6": dt.date(2024, 2, 15),
    "T7": dt.date(2024, 4, 20),
    "T8": dt.date(2024, 2, 10),
}
CLOSED = {
    "T1": dt.date(2024, 3, 9),  # Jan 10 -> Mar 9: 21 + 29 (2024) + 9 = 59 days
    "T2": dt.date(2024, 4, 2),  # Feb 1 -> Apr 2: 28 + 31 + 2 = 61 days
    "T5": dt.date(2024, 3, 5),
    "T6": dt.date(2024, 3, 20),  # 34 days: would count as resolved if it were counted
    "T7": dt.date(2024, 5, 20),  # Apr 20 -> May 20: 10 + 20 = 30 days
    "T8": dt.date(2024, 2, 20),
}


@dataclass
class Chain:
    brand: int
    s1: int
    s2: int
    other_brand: int
    s3: int
    tickets: dict[str, int]


def _at_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, NOON, tzinfo=dt.UTC)


def _user(session: Session, email: str) -> User:
    return session.scalars(select(User).where(User.email == email)).one()


@contextmanager
def _session(desk: Desk) -> Iterator[Session]:
    with desk.rt.session() as session:
        yield session
        session.commit()


SET_DATE = {
    "created_at": text("UPDATE tickets SET created_at = :at WHERE id = :id"),
    "closed_at": text("UPDATE tickets SET closed_at = :at WHERE id = :id"),
    "validated_at": text(
        "UPDATE validations SET answered_at = :at WHERE ticket_id = :id AND status = 'validated'"
    ),
}


def _set(desk: Desk, column: str, ticket_id: int, at: dt.datetime) -> None:
    """A fact the test cannot wait for (when a ticket opened or closed), in plain SQL."""
    with _session(desk) as session:
        session.execute(SET_DATE[column], {"at": at, "id": ticket_id})


def _seed(desk: Desk) -> Chain:
    organisation_id = desk.organisation(ORG, ["th", "my"])
    desk.token(CASEWORKER, ORG)
    desk.token(SUPERVISOR, ORG, role="supervisor")
    ring = desk.rt.keys.content

    # The directory: brand B buys from S1 and S2; brand X buys from S3.
    with _session(desk) as session:
        supervisor = _user(session, SUPERVISOR)
        add = businesses.add_business
        brand = add(session, supervisor, "Northwind Apparel", "brand", "US", "garments")
        s1 = add(session, supervisor, "Golden Sea Foods", "supplier", "TH", "seafood")
        s2 = add(session, supervisor, "Siam Knitting", "supplier", "TH", "garments")
        other = add(session, supervisor, "Eastwind Retail", "brand", "GB", "retail")
        s3 = add(session, supervisor, "Mekong Canning", "supplier", "TH", "seafood")
        session.flush()
        businesses.link_supplier(session, supervisor, brand.id, s1.id)
        businesses.link_supplier(session, supervisor, brand.id, s2.id)
        businesses.link_supplier(session, supervisor, other.id, s3.id)
        ids = {}
        for key in OPENED:
            worker = worker_for(session, f"rollup-{key}", "telegram")
            ticket = create_ticket(session, worker, "telegram", "th", organisation_id, "TH")
            session.flush()
            ids[key] = ticket.id
        chain = Chain(brand.id, s1.id, s2.id, other.id, s3.id, ids)

    # When each ticket opened: months ago, which the test cannot wait for.
    for key, day in OPENED.items():
        _set(desk, "created_at", ids[key], _at_noon(day))

    with _session(desk) as session:
        cw, supervisor = _user(session, CASEWORKER), _user(session, SUPERVISOR)
        t = {key: session.get_one(Ticket, ticket_id) for key, ticket_id in ids.items()}

        def link(key: str, *business_ids: int) -> None:
            for business_id in business_ids:
                triage.link_business(session, cw, t[key], business_id)

        def to_remediation(key: str) -> None:
            for status in ("triaged", "in_remediation"):
                triage.change_status(session, cw, t[key], status)

        def fees(key: str, currency: str, owed: int, repaid: int, eligible: int, paid: int) -> None:
            remediation.add_repayment(
                session, cw, t[key], kind="recruitment_fees", currency=currency,
                owed_minor=owed, repaid_minor=repaid, workers_affected=eligible,
                workers_eligible=eligible, workers_repaid=paid,
            )  # fmt: skip

        def wages(key: str, currency: str, owed: int, repaid: int) -> None:
            remediation.add_repayment(
                session, cw, t[key], kind="wages", currency=currency,
                owed_minor=owed, repaid_minor=repaid, workers_repaid=1 if repaid else 0,
            )  # fmt: skip

        def scores(key: str, business_id: int, **given: int | None) -> None:
            indicators.record_scores(session, cw, t[key], business_id, given)

        def validated(key: str, satisfaction: int) -> None:
            validation.record_by_phone(session, cw, t[key], "fixed", satisfaction)
            assert triage.close_ticket(session, ring, cw, t[key]) == "validated"

        # T1
        link("T1", s1.id)
        to_remediation("T1")
        remediation.set_timeline(
            session, cw, t["T1"],
            {"first_response_on": dt.date(2024, 1, 12), "plan_agreed_on": dt.date(2024, 1, 22),
             "resolved_on": dt.date(2024, 3, 5)},
        )  # fmt: skip
        fees("T1", "THB", 3_000_000, 3_000_000, eligible=4, paid=4)
        scores(
            "T1", s1.id,
            worker_satisfaction_workplace=5, assessment_hr_social=4,
            assessment_production_commercial=None, assessment_senior_management=3,
            cooperation_worker_voice=4, attitude_toward_workers=2, attitude_discussing_issues=None,
        )  # fmt: skip
        validated("T1", satisfaction=4)

        # T2, linked to S1 and to the other brand's S3
        link("T2", s1.id, s3.id)
        to_remediation("T2")
        scores("T2", s1.id, assessment_hr_social=3, attitude_discussing_issues=3)
        scores("T2", s3.id, attitude_toward_workers=1)
        validated("T2", satisfaction=2)

        # T3: the worker disputes the fees the business says it repaid
        link("T3", s2.id)
        to_remediation("T3")
        fees("T3", "THB", 1_000_000, 1_000_000, eligible=2, paid=2)
        validation.record_by_phone(session, cw, t["T3"], "not_fixed", 1)
        assert t["T3"].status == "in_remediation"

        # T4: young and open
        link("T4", s1.id)
        triage.change_status(session, cw, t["T4"], "triaged")

        # T5: only a question
        information = session.scalars(
            select(Category.id).where(Category.code == "information_request")
        ).one()
        link("T5", s2.id)
        triage.set_categories(session, cw, t["T5"], [information])
        triage.change_status(session, cw, t["T5"], "triaged")
        assert triage.close_ticket(session, ring, cw, t["T5"]) == "information_only"

        # T6: asked over chat, never answered; a supervisor closes it past the deadline
        link("T6", s2.id)
        to_remediation("T6")
        validation.request_validation(
            session, ring, cw, t["T6"], "The employer paid the overtime owed.",
            desk.settings.validation_schedule,
        )  # fmt: skip
        validation.run_rounds(
            session, ring, desk.settings.validation_schedule, now=utcnow() + dt.timedelta(days=30)
        )
        assert t["T6"].validation_status == "unvalidated"
        closed_as = triage.close_ticket(
            session, ring, supervisor, t["T6"], reason="Three calls, no answer."
        )
        assert closed_as == "unvalidated"

        # T7
        link("T7", s2.id)
        to_remediation("T7")
        remediation.set_timeline(
            session, cw, t["T7"],
            {"first_response_on": dt.date(2024, 4, 28), "plan_agreed_on": dt.date(2024, 5, 10),
             "resolved_on": dt.date(2024, 5, 18)},
        )  # fmt: skip
        wages("T7", "THB", 150_000, 150_000)
        wages("T7", "MYR", 500_000, 200_000)
        scores(
            "T7", s2.id,
            worker_satisfaction_workplace=4, assessment_senior_management=2,
            promoting_worker_voice_upstream=5, attitude_toward_staff=3,
            attitude_capacity_systems=1,
        )  # fmt: skip
        validated("T7", satisfaction=5)

        # T8: the other brand's supplier
        link("T8", s3.id)
        to_remediation("T8")
        wages("T8", "USD", 10_000, 10_000)
        fees("T8", "THB", 999_900, 0, eligible=5, paid=0)
        scores("T8", s3.id, assessment_hr_social=1, cooperation_worker_voice=1)
        validated("T8", satisfaction=1)

    # When the closed tickets closed; the worker confirmed the fix that same day.
    for key, day in CLOSED.items():
        _set(desk, "closed_at", ids[key], _at_noon(day))
        _set(desk, "validated_at", ids[key], _at_noon(day))
    return chain


@pytest.fixture
def chain(desk: Desk) -> Chain:
    return _seed(desk)


def _impact(desk: Desk, *business_ids: int) -> Impact:
    with desk.rt.session() as session:
        return indicators.impact_of(session, list(business_ids), desk.settings, now=NOW)


def _brand(desk: Desk, chain: Chain) -> Impact:
    with desk.rt.session() as session:
        ids = indicators.supply_chain(session, session.get_one(Business, chain.brand))
        return indicators.impact_of(session, ids, desk.settings, now=NOW)


def _values(figures: dict[str, Figure]) -> dict[str, float | int | None]:
    return {key: figure.value for key, figure in figures.items()}


# --- the supply chain ----------------------------------------------------------------


def test_a_brand_sees_itself_and_its_suppliers_a_supplier_only_itself(
    desk: Desk, chain: Chain
) -> None:
    with desk.rt.session() as session:
        brand = indicators.supply_chain(session, session.get_one(Business, chain.brand))
        supplier = indicators.supply_chain(session, session.get_one(Business, chain.s1))
    assert sorted(brand) == sorted([chain.brand, chain.s1, chain.s2])  # never S3
    assert supplier == [chain.s1]


# --- the three average scores ---------------------------------------------------------


def test_each_supplier_axis_means_pool_computed_and_recorded_scores(
    desk: Desk, chain: Chain
) -> None:
    s1 = _impact(desk, chain.s1)
    # S1 (T1, T2, T4 -- T4 has no score):
    #   quality:    T1 satisfaction 4, workplace 5, hr 4, senior 3 (production n/a)
    #               T2 satisfaction 2, hr 3                        -> 21 / 6 = 3.5
    #               (S3's scores on T2 are not S1's)
    #   timeliness: T1 5, 4, 4                                     -> 13 / 3
    #   openness:   T1 cooperation 4, toward workers 2; T2 discussing 3 -> 9 / 3 = 3.0
    assert _values(s1.axes) == pytest.approx(
        {"quality": 3.5, "timeliness": 13 / 3, "openness": 3.0}
    )
    # workers with a score on the axis: quality T1, T2; timeliness T1; openness T1, T2
    assert {axis: f.workers for axis, f in s1.axes.items()} == {
        "quality": 2, "timeliness": 1, "openness": 2,
    }  # fmt: skip

    s2 = _impact(desk, chain.s2)
    # S2 (T3, T5, T6, T7 -- T5 and T6 have no score):
    #   quality:    T3 satisfaction 1; T7 satisfaction 5, workplace 4, senior 2 -> 12 / 4 = 3.0
    #   timeliness: T7 3, 4, 5                                     -> 12 / 3 = 4.0
    #   openness:   T7 upstream 5, toward staff 3, capacity 1      -> 9 / 3 = 3.0
    assert _values(s2.axes) == pytest.approx({"quality": 3.0, "timeliness": 4.0, "openness": 3.0})
    assert {axis: f.workers for axis, f in s2.axes.items()} == {
        "quality": 2, "timeliness": 1, "openness": 1,
    }  # fmt: skip


def test_the_brand_pools_both_suppliers_tickets_and_no_other_brands_supplier(
    desk: Desk, chain: Chain
) -> None:
    brand = _brand(desk, chain)
    # Pooled, each scored indicator of each ticket once:
    #   quality:    S1 4 + 5 + 4 + 3 + 2 + 3 = 21 (6), S2 1 + 5 + 4 + 2 = 12 (4)
    #               -> 33 / 10 = 3.3  (not the mean of the supplier means, 3.25)
    #   timeliness: 5 + 4 + 4 + 3 + 4 + 5 = 25 / 6
    #   openness:   4 + 2 + 3 + 5 + 3 + 1 = 18 / 6 = 3.0
    # S3's scores (T2 toward workers 1; T8 satisfaction 1, hr 1, cooperation 1) stay out:
    # with them quality would be 35 / 12 and openness 20 / 8.
    assert _values(brand.axes) == pytest.approx(
        {"quality": 3.3, "timeliness": 25 / 6, "openness": 3.0}
    )
    # quality: T1, T2, T3, T7; timeliness: T1, T7; openness: T1, T2, T7
    assert {axis: f.workers for axis, f in brand.axes.items()} == {
        "quality": 4, "timeliness": 2, "openness": 3,
    }  # fmt: skip
    # T1-T7: 7 tickets of 7 workers; T8 is not the brand's
    assert brand.tickets == Figure(7, 7)
    assert brand.workers == Figure(7, 7)


# --- resolved within 60 days --------------------------------------------------------------


def test_resolved_within_60_days_and_unvalidated_closes_apart(desk: Desk, chain: Chain) -> None:
    brand = _brand(desk, chain)
    # due: T1 (closed day 59), T2 (closed day 61), T3 (open 102 days), T7 (closed day 30)
    # not due: T4 (open 20 days), T5 (a question), T6 (unvalidated: counted apart)
    # resolved under 60 days: T1, T7 -> 2 / 4 = 0.5, from 4 workers
    assert brand.resolved_within_60_days == Figure(0.5, 4, "share")
    assert brand.closed_unvalidated == Figure(1, 1)  # T6

    # S1: due T1, T2 (T4 too young) -> 1 / 2; S2: due T3, T7 -> 1 / 2
    assert _impact(desk, chain.s1).resolved_within_60_days == Figure(0.5, 2, "share")
    s2 = _impact(desk, chain.s2)
    assert s2.resolved_within_60_days == Figure(0.5, 2, "share")
    assert s2.closed_unvalidated == Figure(1, 1)
    assert _impact(desk, chain.s1).closed_unvalidated == Figure(0, 0)


# --- ratings --------------------------------------------------------------------------------


def test_ratings_distribution_of_the_brands_remediations(desk: Desk, chain: Chain) -> None:
    brand = _brand(desk, chain)
    # T1: quality (4 + 5 + 4 + 3) / 4 = 4.0, timeliness 13/3, openness (4 + 2) / 2 = 3.0
    #     overall (4 + 13/3 + 3) / 3 = 34/9 = 3.78 -> good
    # T2: quality (2 + 3) / 2 = 2.5, openness 3 -> overall 2.75 -> fair
    # T3: quality 1 -> poor
    # T7: quality (5 + 4 + 2) / 3 = 11/3, timeliness 4, openness 3 -> 32/9 = 3.56 -> good
    # T4, T5, T6 have no score: unrated. 4 rated, from 4 workers.
    assert brand.ratings == {
        "poor": Figure(0.25, 4, "share"),
        "fair": Figure(0.25, 4, "share"),
        "good": Figure(0.5, 4, "share"),
        "excellent": Figure(0.0, 4, "share"),
    }


# --- money ----------------------------------------------------------------------------------


def test_fees_reimbursed_leave_out_the_disputed_repayment_and_money_stays_per_currency(
    desk: Desk, chain: Chain
) -> None:
    brand = _brand(desk, chain)
    # Recruitment fees: eligible T1 4 + T3 2 = 6; reimbursed T1 4 (T3's 2 disputed) = 4
    # share 4 / 6; the workers behind it: T1's and T3's = 2
    assert brand.fees_eligible == Figure(6, 2)
    assert brand.fees_reimbursed == Figure(4, 2)
    assert brand.fees_reimbursed_share.value == pytest.approx(4 / 6)
    assert brand.fees_reimbursed_share.workers == 2
    # THB owed:   T1 3,000,000 + T3 1,000,000 + T7 150,000 = 4,150,000 (minor units)
    # THB repaid: T1 3,000,000 + T3 0 (disputed) + T7 150,000 = 3,150,000; workers T1, T3, T7
    # MYR owed 500,000, repaid 200,000 (T7); no USD: T8 is the other brand's
    assert brand.money == {
        "MYR": {"owed": Figure(500_000, 1, "amount"), "repaid": Figure(200_000, 1, "amount")},
        "THB": {
            "owed": Figure(4_150_000, 3, "amount"),
            "repaid": Figure(3_150_000, 3, "amount"),
        },
    }


# --- trend by quarter -------------------------------------------------------------------------


def test_the_brands_scores_trend_by_quarter(desk: Desk, chain: Chain) -> None:
    brand = _brand(desk, chain)
    assert list(brand.by_quarter) == ["2024-Q1", "2024-Q2"]
    q1, q2 = brand.by_quarter["2024-Q1"], brand.by_quarter["2024-Q2"]
    # 2024-Q1: T1, T2, T3, T5, T6 (T5, T6 unscored)
    #   quality: 4 + 5 + 4 + 3 (T1) + 2 + 3 (T2) + 1 (T3) = 22 / 7, workers T1, T2, T3
    #   timeliness: 13 / 3 (T1); openness: 4 + 2 + 3 = 9 / 3 = 3.0 (T1, T2)
    assert _values(q1) == pytest.approx({"quality": 22 / 7, "timeliness": 13 / 3, "openness": 3.0})
    assert {axis: f.workers for axis, f in q1.items()} == {
        "quality": 3, "timeliness": 1, "openness": 2,
    }  # fmt: skip
    # 2024-Q2: T4 (unscored), T7: quality 11 / 3, timeliness 4.0, openness 3.0
    assert _values(q2) == pytest.approx({"quality": 11 / 3, "timeliness": 4.0, "openness": 3.0})
    assert {axis: f.workers for axis, f in q2.items()} == {
        "quality": 1, "timeliness": 1, "openness": 1,
    }  # fmt: skip
