"""What partners steer by: Ethical Performance Scores, impact and reach, never a worker.

Two layers. The arithmetic is pure functions on plain values (`axis_means`,
`band_score`, `rating_of`, `suppress`…), pinned by unit tests on hand-computed
fixtures. The gatherers read the database into those values for a set of tickets
(a business, a brand's supply chain, the network).

Every figure a partner or the public reads is a `Figure`: a value and the number of
distinct workers it is built from. `publish` turns it into what may be shown: "<10"
when too few workers stand behind it, counts rounded to a multiple of 5, so that
neither a small cell nor the difference between two exports singles out a worker.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from intake import remediation
from intake.db import utcnow
from intake.errors import Invalid
from intake.models import (
    Business,
    BusinessKind,
    EthicalScore,
    Remediation,
    Repayment,
    RepaymentKind,
    SupplyLink,
    Ticket,
    TicketBusiness,
    TicketStatus,
    User,
    Validation,
    ValidationStatus,
    Worker,
)
from intake.settings import Settings
from safeguards import audit
from safeguards.access import require
from translations.i18n import N_

# --- the Ethical Performance Score indicators ----------------------------------------------

QUALITY, TIMELINESS, OPENNESS = "quality", "timeliness", "openness"
AXES: dict[str, tuple[str, ...]] = {
    QUALITY: (
        "worker_satisfaction_response",  # from the validation prompt's 1-5 question
        "worker_satisfaction_workplace",  # recruitment and workplace management
        "assessment_hr_social",
        "assessment_production_commercial",
        "assessment_senior_management",
    ),
    TIMELINESS: (  # scored from the remediation timeline with configurable bands
        "time_to_respond",
        "time_to_revert",
        "time_to_resolve",
    ),
    OPENNESS: (
        "cooperation_worker_voice",  # with worker voice, outreach and surveys
        "attitude_discussing_issues",  # and suggested remediation
        "attitude_capacity_systems",  # to capacity and systems development
        "promoting_worker_voice_upstream",
        "attitude_toward_workers",
        "attitude_toward_staff",  # toward the network's staff
    ),
}
INDICATORS = tuple(code for codes in AXES.values() for code in codes)
AXIS_OF = {code: axis for axis, codes in AXES.items() for code in codes}
# Computed, never typed: the worker's own answer and the dates of the timeline.
COMPUTED = frozenset({"worker_satisfaction_response", *AXES[TIMELINESS]})
RECORDED = tuple(code for code in INDICATORS if code not in COMPUTED)
RATINGS = ("poor", "fair", "good", "excellent")
RESOLUTION_DAYS = 60
ANY = "*"  # every kind of money, or every currency, in a count of workers

Scores = Mapping[str, int | None]
T = TypeVar("T")  # indicator -> 1..5, or None for n/a


def mean(values: Iterable[float]) -> float | None:
    found = list(values)
    return sum(found) / len(found) if found else None


def axis_means(scores: Iterable[Scores]) -> dict[str, float | None]:
    """Each axis: the mean of every scored indicator of that axis, n/a excluded.

    Over several tickets (a business, a brand's supply chain) the scores are pooled:
    each scored indicator of each ticket counts once.
    """
    pooled: dict[str, list[int]] = {axis: [] for axis in AXES}
    for ticket_scores in scores:
        for code, score in ticket_scores.items():
            if score is not None and code in AXIS_OF:
                pooled[AXIS_OF[code]].append(score)
    return {axis: mean(values) for axis, values in pooled.items()}


def overall(means: Mapping[str, float | None]) -> float | None:
    """A ticket's overall score: the mean of its axes that have a score."""
    return mean(value for value in means.values() if value is not None)


def rating_of(score: float | None) -> str | None:
    """Poor below 2, fair below 3, good below 4, excellent from 4 (of 1-5)."""
    if score is None:
        return None
    if score < 2:
        return "poor"
    if score < 3:
        return "fair"
    if score < 4:
        return "good"
    return "excellent"


def band_score(days: int, bands: tuple[int, int, int, int]) -> int:
    """5 within the first band's days, 4 within the second, 3, 2, and 1 beyond."""
    for score, limit in zip((5, 4, 3, 2), bands, strict=True):
        if days <= limit:
            return score
    return 1


def timeliness(
    opened: dt.date,
    timeline: Remediation | None,
    bands: Mapping[str, tuple[int, int, int, int]],
) -> dict[str, int | None]:
    """Score the business's response times from the timeline (n/a where a date is missing)."""
    first = timeline.first_response_on if timeline else None
    plan = timeline.plan_agreed_on if timeline else None
    resolved = timeline.resolved_on if timeline else None
    spans = {
        "time_to_respond": (opened, first),
        "time_to_revert": (first, plan),
        "time_to_resolve": (opened, resolved),
    }
    return {
        code: band_score(max((end - start).days, 0), bands[code]) if start and end else None
        for code, (start, end) in spans.items()
    }


def quarter_of(day: dt.date | dt.datetime) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


# --- small-cell suppression ----------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A number and how many distinct workers stand behind it."""

    value: float | int | None
    workers: int
    kind: str = "count"  # count (rounded when published), share (0-1), score (1-5), amount


def publish(figure: Figure, settings: Settings) -> str | float | int | None:
    """What may be shown of a figure: "<10" below the threshold, counts rounded."""
    if figure.workers < settings.small_cell:
        return f"<{settings.small_cell}"
    if figure.value is None:
        return None
    if figure.kind == "count":
        base = settings.round_counts_to
        return base * int(_half_up(Decimal(figure.value) / base, "1"))
    if figure.kind == "share":
        return float(_half_up(Decimal(str(figure.value)), "0.01"))
    if figure.kind == "score":
        return float(_half_up(Decimal(str(figure.value)), "0.1"))
    return figure.value


def _half_up(value: Decimal, places: str) -> Decimal:
    """Round halves up, as people read figures (Python's round() goes to the even digit)."""
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


# --- reading the database ----------------------------------------------------------------


def supply_chain(session: Session, business: Business) -> list[int]:
    """The businesses a partner sees: a brand and its suppliers, or a supplier itself."""
    ids = [business.id]
    if business.kind == BusinessKind.BRAND:
        ids += list(
            session.scalars(
                select(SupplyLink.supplier_id).where(SupplyLink.brand_id == business.id)
            )
        )
    return ids


def tickets_of(business_ids: Sequence[int]) -> ColumnElement[bool]:
    """Tickets linked to any of these businesses."""
    return Ticket.id.in_(
        select(TicketBusiness.ticket_id).where(TicketBusiness.business_id.in_(business_ids))
    )


@dataclass
class TicketFacts:
    """What the indicators need of one ticket, and nothing that names anyone."""

    id: int
    worker: str  # the worker's id, only to count distinct workers; never shown
    opened: dt.date
    status: str
    closed_as: str | None
    closed_at: dt.datetime | None
    # When the worker confirmed the fix (their latest "fixed"), if they did: the issue is
    # resolved then, whenever staff get round to closing the ticket.
    validated_at: dt.datetime | None = None
    # Computed from the timeline and the worker's answer.
    scores: dict[str, int | None] = field(default_factory=dict)
    # Recorded by caseworkers, one set per business of the chain scored on this ticket.
    recorded: list[dict[str, int | None]] = field(default_factory=list)

    def score_sets(self) -> list[dict[str, int | None]]:
        return [self.scores, *self.recorded]

    def has_score(self, axis: str) -> bool:
        return any(s.get(code) is not None for s in self.score_sets() for code in AXES[axis])

    @property
    def rating(self) -> str | None:
        return rating_of(overall(axis_means(self.score_sets())))


def ticket_facts(
    session: Session, where: ColumnElement[bool], settings: Settings, business_ids: Sequence[int]
) -> list[TicketFacts]:
    """Each selected ticket's facts and scores (of these businesses' responses)."""
    facts = {
        row.id: TicketFacts(
            id=row.id,
            worker=str(row.worker_id),
            opened=row.created_at.date(),
            status=row.status,
            closed_as=row.closed_as,
            closed_at=row.closed_at,
        )
        for row in session.execute(
            select(
                Ticket.id,
                Ticket.worker_id,
                Ticket.created_at,
                Ticket.status,
                Ticket.closed_as,
                Ticket.closed_at,
            ).where(where)
        )
    }
    if not facts:
        return []
    ids = list(facts)
    timelines = {
        t.ticket_id: t
        for t in session.scalars(select(Remediation).where(Remediation.ticket_id.in_(ids)))
    }
    for ticket_id, fact in facts.items():
        fact.scores.update(
            timeliness(fact.opened, timelines.get(ticket_id), settings.timeliness_bands)
        )
    # When the worker confirmed the fix, on tickets that stand validated or closed so.
    for ticket_id, answered_at in session.execute(
        select(Validation.ticket_id, Validation.answered_at)
        .where(
            Validation.ticket_id.in_(ids),
            Validation.status == ValidationStatus.VALIDATED.value,
            Validation.answered_at.is_not(None),
        )
        .order_by(Validation.answered_at)
    ):
        fact = facts[ticket_id]
        if fact.status == TicketStatus.VALIDATED or fact.closed_as == "validated":
            fact.validated_at = answered_at
    # The worker's satisfaction with the response: their latest answer to the 1-5 question.
    for ticket_id, satisfaction in session.execute(
        select(Validation.ticket_id, Validation.satisfaction)
        .where(Validation.ticket_id.in_(ids), Validation.satisfaction.is_not(None))
        .order_by(Validation.requested_at)
    ):
        facts[ticket_id].scores["worker_satisfaction_response"] = satisfaction
    # Recorded scores, one set per business: when several businesses of a chain were
    # scored on one ticket, each scored indicator counts (pooled).
    recorded: dict[tuple[int, int], dict[str, int | None]] = defaultdict(dict)
    for ticket_id, business_id, indicator, score in session.execute(
        select(
            EthicalScore.ticket_id,
            EthicalScore.business_id,
            EthicalScore.indicator,
            EthicalScore.score,
        ).where(EthicalScore.ticket_id.in_(ids), EthicalScore.business_id.in_(business_ids))
    ):
        recorded[(ticket_id, business_id)][indicator] = score
    for (ticket_id, _), scores in sorted(recorded.items()):
        facts[ticket_id].recorded.append(scores)
    return list(facts.values())


@dataclass(frozen=True)
class Impact:
    """The impact indicators of one business or supply chain, as figures."""

    workers: Figure
    tickets: Figure
    axes: dict[str, Figure]
    resolved_within_60_days: Figure  # share of due, worker-reported issues
    closed_unvalidated: Figure  # supervisor closes without the worker's word: apart
    ratings: dict[str, Figure]  # share of rated remediations per rating
    fees_eligible: Figure
    fees_reimbursed: Figure
    fees_reimbursed_share: Figure
    money: dict[str, dict[str, Figure]]  # currency -> owed / repaid (minor units)
    by_quarter: dict[str, dict[str, Figure]]  # quarter -> axis -> mean score


def _workers(facts: Iterable[TicketFacts]) -> int:
    return len({fact.worker for fact in facts})


def impact(
    facts: Sequence[TicketFacts],
    money: Mapping[tuple[str, str], remediation.MoneyTotals],
    money_workers: Mapping[tuple[str, str], int],
    now: dt.datetime,
) -> Impact:
    """The impact indicators over a set of tickets (see DOMAIN.md)."""
    workers = _workers(facts)
    means = axis_means(scores for fact in facts for scores in fact.score_sets())
    axis_workers = {axis: _workers(f for f in facts if f.has_score(axis)) for axis in AXES}
    # Resolved within 60 days: of the tickets whose 60 days are over or that were
    # validated or closed, those whose worker confirmed the fix within 60 days of the
    # report. Information-only tickets are not issues; supervisor closes without the
    # worker's confirmation are counted apart.
    due = [
        f
        for f in facts
        if f.closed_as != "information_only"
        and f.closed_as != "unvalidated"
        and (
            f.status in (TicketStatus.CLOSED, TicketStatus.VALIDATED)
            or (now.date() - f.opened).days >= RESOLUTION_DAYS
        )
    ]
    resolved = [
        f
        for f in due
        if f.validated_at is not None and (f.validated_at.date() - f.opened).days < RESOLUTION_DAYS
    ]
    unvalidated = [f for f in facts if f.closed_as == "unvalidated"]
    rated = [f for f in facts if f.rating is not None and f.closed_as != "unvalidated"]
    ratings = {
        rating: Figure(
            sum(1 for f in rated if f.rating == rating) / len(rated) if rated else None,
            _workers(rated),
            "share",
        )
        for rating in RATINGS
    }
    fees = [
        (key, totals) for key, totals in money.items() if key[0] == RepaymentKind.RECRUITMENT_FEES
    ]
    eligible = sum(t.workers_eligible for _, t in fees)
    reimbursed = sum(t.workers_repaid for _, t in fees)
    fee_workers = money_workers.get((RepaymentKind.RECRUITMENT_FEES.value, ANY), 0)
    owed: dict[str, int] = defaultdict(int)
    repaid: dict[str, int] = defaultdict(int)
    for (_kind, currency), totals in money.items():
        owed[currency] += totals.owed
        repaid[currency] += totals.repaid
    # Distinct workers per currency, whatever the kind: a worker is never counted twice.
    by_currency = {
        currency: {
            "owed": Figure(owed[currency], money_workers.get((ANY, currency), 0), "amount"),
            "repaid": Figure(repaid[currency], money_workers.get((ANY, currency), 0), "amount"),
        }
        for currency in sorted(owed)
    }
    quarters: dict[str, list[TicketFacts]] = defaultdict(list)
    for fact in facts:
        quarters[quarter_of(fact.opened)].append(fact)
    by_quarter = {
        quarter: {
            axis: Figure(value, _workers(f for f in group if f.has_score(axis)), "score")
            for axis, value in axis_means(s for f in group for s in f.score_sets()).items()
        }
        for quarter, group in sorted(quarters.items())
    }
    return Impact(
        workers=Figure(workers, workers),
        tickets=Figure(len(facts), workers),
        axes={axis: Figure(means[axis], axis_workers[axis], "score") for axis in AXES},
        resolved_within_60_days=Figure(
            len(resolved) / len(due) if due else None, _workers(due), "share"
        ),
        closed_unvalidated=Figure(len(unvalidated), _workers(unvalidated)),
        ratings=ratings,
        fees_eligible=Figure(eligible, fee_workers),
        fees_reimbursed=Figure(reimbursed, fee_workers),
        fees_reimbursed_share=Figure(
            reimbursed / eligible if eligible else None, fee_workers, "share"
        ),
        money=by_currency,
        by_quarter=by_quarter,
    )


def _money_workers(session: Session, where: ColumnElement[bool]) -> dict[tuple[str, str], int]:
    """How many distinct workers stand behind the money: per (kind, currency), per
    (ANY, currency) and per (kind, ANY), so no worker is counted twice in a total."""
    workers = func.count(func.distinct(Ticket.worker_id))
    found: dict[tuple[str, str], int] = {}
    for columns in ((Repayment.kind, Repayment.currency), (Repayment.currency,), (Repayment.kind,)):
        query = (
            select(*columns, workers)
            .join(Ticket, Ticket.id == Repayment.ticket_id)
            .where(where)
            .group_by(*columns)
        )
        for *values, count in session.execute(query):
            if len(columns) == 2:
                found[(values[0], values[1])] = count
            elif columns[0] is Repayment.currency:
                found[(ANY, values[0])] = count
            else:
                found[(values[0], ANY)] = count
    return found


def impact_of(
    session: Session,
    business_ids: Sequence[int],
    settings: Settings,
    now: dt.datetime | None = None,
) -> Impact:
    """The impact indicators of these businesses' tickets (a business, or a supply chain)."""
    where = tickets_of(business_ids)
    facts = ticket_facts(session, where, settings, business_ids)
    return impact(
        facts,
        remediation.money_totals(session, where),
        _money_workers(session, where),
        now or utcnow(),
    )


def each_figure(impact: Impact, change: Callable[[Figure], T]) -> dict[str, Any]:
    """Every figure of an impact changed, in the same shape (as keyword arguments), so
    a withheld impact or a published one cannot forget a figure."""
    return {
        "workers": change(impact.workers),
        "tickets": change(impact.tickets),
        "axes": {k: change(v) for k, v in impact.axes.items()},
        "resolved_within_60_days": change(impact.resolved_within_60_days),
        "closed_unvalidated": change(impact.closed_unvalidated),
        "ratings": {k: change(v) for k, v in impact.ratings.items()},
        "fees_eligible": change(impact.fees_eligible),
        "fees_reimbursed": change(impact.fees_reimbursed),
        "fees_reimbursed_share": change(impact.fees_reimbursed_share),
        "money": {c: {k: change(v) for k, v in sides.items()} for c, sides in impact.money.items()},
        "by_quarter": {
            q: {k: change(v) for k, v in axes.items()} for q, axes in impact.by_quarter.items()
        },
    }


def withheld(impact: Impact) -> Impact:
    """The same figures with no worker behind any: every one publishes as "<10"."""
    return Impact(**each_figure(impact, lambda figure: Figure(figure.value, 0, figure.kind)))


def breakdown(
    session: Session, brand: Business, settings: Settings, now: dt.datetime | None = None
) -> list[tuple[Business | None, Impact]]:
    """A brand's supply chain row by row, safe to publish beside the brand's roll-up.

    Rows are the brand's own tickets and each supplier's. A row built from fewer than
    `small_cell` workers is withheld (every figure "<10") and pooled with the other
    small rows into one row (None) shown when the pool is big enough. If the pool is
    too small while other rows are shown, the smallest shown rows are withheld and
    join it (secondary suppression): otherwise the roll-up minus the shown rows would
    give away what the small rows hide.
    """
    parts = [brand, *session.scalars(
        select(Business)
        .join(SupplyLink, SupplyLink.supplier_id == Business.id)
        .where(SupplyLink.brand_id == brand.id)
        .order_by(Business.name)
    )]  # fmt: skip
    impacts = {part.id: impact_of(session, [part.id], settings, now) for part in parts}
    big = sorted(
        (part for part in parts if impacts[part.id].workers.workers >= settings.small_cell),
        key=lambda part: impacts[part.id].workers.workers,
    )
    pooled = [part for part in parts if part not in big]
    other: Impact | None = None
    while pooled:
        other = impact_of(session, [part.id for part in pooled], settings, now)
        if other.workers.workers >= settings.small_cell or not big or other.workers.workers == 0:
            break
        pooled.append(big.pop(0))
    rows: list[tuple[Business | None, Impact]] = [
        (part, impacts[part.id] if part in big else withheld(impacts[part.id]))
        for part in parts
        if part in big or impacts[part.id].workers.workers > 0 or part is not brand
    ]
    with_workers = [part for part in pooled if impacts[part.id].workers.workers > 0]
    if other is not None and len(with_workers) > 1:
        rows.append((None, other))
    return rows


# --- reach -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """Workers who reached the channels, and workers whose issue was remediated."""

    with_access: dict[str, Figure]  # "all", "gender:female", "nationality:MM", …
    remediated: dict[str, Figure]


def reach(session: Session) -> Reach:
    """The network's reach, by gender and nationality where the worker consented to say."""
    remediated_workers = select(Ticket.worker_id).where(
        or_(Ticket.status == TicketStatus.VALIDATED, Ticket.closed_as == "validated")
    )

    def counts(only_remediated: bool) -> dict[str, Figure]:
        query = select(Worker.gender, Worker.nationality, func.count()).where(
            Worker.erased_at.is_(None)
        )
        if only_remediated:
            query = query.where(Worker.id.in_(remediated_workers))
        found: dict[str, int] = defaultdict(int)
        for gender, nationality, count in session.execute(
            query.group_by(Worker.gender, Worker.nationality)
        ):
            found["all"] += count
            found[f"gender:{gender or 'unknown'}"] += count
            found[f"nationality:{nationality or 'unknown'}"] += count
        return {key: Figure(count, count) for key, count in sorted(found.items())}

    return Reach(with_access=counts(False), remediated=counts(True))


# --- recording scores and profiles ---------------------------------------------------------


def record_scores(
    session: Session,
    user: User,
    ticket: Ticket,
    business_id: int,
    scores: Mapping[str, int | None],
) -> None:
    """Record a caseworker's scores of one business's response on this ticket (None: n/a)."""
    require(user, "tickets.remediate", ticket)
    linked = session.get(TicketBusiness, (ticket.id, business_id))
    if linked is None:
        raise Invalid(N_("Link the business to the ticket before scoring it."))
    for code, score in scores.items():
        if code not in RECORDED:
            raise Invalid(N_("Unknown indicator."))
        if score is not None and not 1 <= score <= 5:
            raise Invalid(N_("A score is 1 to 5, or n/a."))
    existing = {
        row.indicator: row
        for row in session.scalars(
            select(EthicalScore).where(
                EthicalScore.ticket_id == ticket.id, EthicalScore.business_id == business_id
            )
        )
    }
    for code, score in scores.items():
        row = existing.get(code)
        if row is None:
            session.add(
                EthicalScore(
                    ticket_id=ticket.id,
                    business_id=business_id,
                    indicator=code,
                    score=score,
                    recorded_by=user.id,
                )
            )
        elif row.score != score:
            row.score, row.recorded_by, row.recorded_at = score, user.id, utcnow()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="ticket.scores",
        target=f"ticket:{ticket.ref}",
        business=business_id,
        scored=sorted(code for code, score in scores.items() if score is not None),
    )


def scores_of(session: Session, ticket: Ticket) -> dict[int, dict[str, int | None]]:
    """The recorded scores on this ticket, by business."""
    found: dict[int, dict[str, int | None]] = defaultdict(dict)
    for row in session.scalars(select(EthicalScore).where(EthicalScore.ticket_id == ticket.id)):
        found[row.business_id][row.indicator] = row.score
    return dict(found)


GENDERS = ("female", "male", "other")


def record_profile(
    session: Session,
    user: User,
    ticket: Ticket,
    gender: str | None,
    nationality: str | None,
    consent: bool,
) -> None:
    """Record the worker's gender and nationality for the reach counts, with their consent."""
    require(user, "tickets.triage", ticket)
    worker = session.get_one(Worker, ticket.worker_id)
    if not consent:
        worker.gender = worker.nationality = worker.profile_consent_at = None
    else:
        if gender is not None and gender not in GENDERS:
            raise Invalid(N_("Unknown gender."))
        if nationality is not None and (len(nationality) != 2 or not nationality.isalpha()):
            raise Invalid(N_("A nationality is a two-letter country code, like MM."))
        worker.gender = gender
        worker.nationality = nationality.upper() if nationality else None
        worker.profile_consent_at = utcnow()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="worker.profile",
        target=f"ticket:{ticket.ref}",
        consent=consent,
    )
    ticket.updated_at = utcnow()
