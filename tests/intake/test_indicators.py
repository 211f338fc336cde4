"""The score arithmetic and indicator definitions, pinned on hand-computed fixtures (issue 7).

Every expected value is written out by hand, with its arithmetic in a comment; none is
recomputed with the code under test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from intake import indicators
from intake.indicators import (
    AXES,
    Figure,
    TicketFacts,
    axis_means,
    band_score,
    impact,
    overall,
    publish,
    quarter_of,
    rating_of,
    timeliness,
)
from intake.models import Remediation
from intake.settings import DEFAULT_TIMELINESS_BANDS, Settings

NOW = dt.datetime(2024, 6, 30, 12, 0, tzinfo=dt.UTC)


# --- the indicators ------------------------------------------------------------------


def test_the_three_axes_hold_the_indicators_the_issue_lists() -> None:
    assert AXES == {
        "quality": (
            "worker_satisfaction_response",
            "worker_satisfaction_workplace",
            "assessment_hr_social",
            "assessment_production_commercial",
            "assessment_senior_management",
        ),
        "timeliness": ("time_to_respond", "time_to_revert", "time_to_resolve"),
        "openness": (
            "cooperation_worker_voice",
            "attitude_discussing_issues",
            "attitude_capacity_systems",
            "promoting_worker_voice_upstream",
            "attitude_toward_workers",
            "attitude_toward_staff",
        ),
    }
    # The worker's own answer and the timeline are computed; caseworkers type the rest.
    assert set(indicators.COMPUTED) == {
        "worker_satisfaction_response",
        "time_to_respond",
        "time_to_revert",
        "time_to_resolve",
    }
    assert len(indicators.RECORDED) == 14 - 4


# --- axis means ----------------------------------------------------------------------


def test_na_is_left_out_of_the_mean_not_counted_as_zero() -> None:
    means = axis_means(
        [
            {
                "assessment_hr_social": 4,
                "assessment_senior_management": None,  # n/a
                "assessment_production_commercial": 2,
                "time_to_respond": None,
                "attitude_toward_workers": None,
            }
        ]
    )
    # quality: (4 + 2) / 2 = 3.0 -- not (4 + 0 + 2) / 3 = 2.0
    assert means == {"quality": 3.0, "timeliness": None, "openness": None}


def test_each_axis_is_the_mean_of_its_own_indicators() -> None:
    ticket = {
        # quality: 5 + 4 + 3 + 2 + 1 = 15, / 5 = 3.0
        "worker_satisfaction_response": 5,
        "worker_satisfaction_workplace": 4,
        "assessment_hr_social": 3,
        "assessment_production_commercial": 2,
        "assessment_senior_management": 1,
        # timeliness: 5 + 4 + 4 = 13, / 3 = 4.333...
        "time_to_respond": 5,
        "time_to_revert": 4,
        "time_to_resolve": 4,
        # openness: 1 + 2 + 2 + 3 + 5 + 5 = 18, / 6 = 3.0
        "cooperation_worker_voice": 1,
        "attitude_discussing_issues": 2,
        "attitude_capacity_systems": 2,
        "promoting_worker_voice_upstream": 3,
        "attitude_toward_workers": 5,
        "attitude_toward_staff": 5,
    }
    means = axis_means([ticket])
    assert means["quality"] == 3.0
    assert means["timeliness"] == pytest.approx(13 / 3)
    assert means["openness"] == 3.0


def test_an_unknown_code_is_no_indicator_and_counts_nowhere() -> None:
    assert axis_means([{"assessment_hr_social": 2, "free_text_rating": 5}]) == {
        "quality": 2.0,
        "timeliness": None,
        "openness": None,
    }


def test_several_tickets_pool_their_scored_indicators() -> None:
    scores = [
        {"assessment_hr_social": 5},
        {"assessment_hr_social": 2, "assessment_senior_management": 2, "time_to_respond": 3},
        {"assessment_hr_social": None, "attitude_toward_staff": 4},
    ]
    means = axis_means(scores)
    # quality: every scored indicator once: (5 + 2 + 2) / 3 = 3.0
    # (not the mean of the ticket means, (5 + 2) / 2 = 3.5)
    assert means == {"quality": 3.0, "timeliness": 3.0, "openness": 4.0}
    assert axis_means([]) == {"quality": None, "timeliness": None, "openness": None}


# --- overall and rating ------------------------------------------------------------------


def test_overall_is_the_mean_of_the_axes_that_have_a_score() -> None:
    # (4.0 + 2.0) / 2 = 3.0: the axis with no score is left out
    assert overall({"quality": 4.0, "timeliness": None, "openness": 2.0}) == 3.0
    # (4.0 + 13/3 + 3.0) / 3 = (34/3) / 3 = 34/9
    assert overall({"quality": 4.0, "timeliness": 13 / 3, "openness": 3.0}) == pytest.approx(34 / 9)
    assert overall({"quality": None, "timeliness": None, "openness": None}) is None


@pytest.mark.parametrize(
    ("score", "rating"),
    [
        (None, None),
        (1, "poor"),
        (1.99, "poor"),
        (2, "fair"),
        (2.99, "fair"),
        (3, "good"),
        (3.99, "good"),
        (4, "excellent"),
        (5, "excellent"),
    ],
)
def test_ratings_poor_below_2_fair_below_3_good_below_4_excellent_from_4(
    score: float | None, rating: str | None
) -> None:
    assert rating_of(score) == rating


# --- timeliness --------------------------------------------------------------------------


def test_default_bands_are_those_the_readme_documents() -> None:
    assert DEFAULT_TIMELINESS_BANDS == {
        "time_to_respond": (3, 7, 14, 30),
        "time_to_revert": (7, 14, 30, 60),
        "time_to_resolve": (30, 60, 90, 180),
    }


@pytest.mark.parametrize(
    ("step", "days", "score"),
    [
        # time to respond, bands 3 / 7 / 14 / 30 days
        ("time_to_respond", 0, 5),
        ("time_to_respond", 3, 5),
        ("time_to_respond", 4, 4),
        ("time_to_respond", 7, 4),
        ("time_to_respond", 8, 3),
        ("time_to_respond", 14, 3),
        ("time_to_respond", 15, 2),
        ("time_to_respond", 30, 2),
        ("time_to_respond", 31, 1),
        # time to revert on the action plan, bands 7 / 14 / 30 / 60 days
        ("time_to_revert", 0, 5),
        ("time_to_revert", 7, 5),
        ("time_to_revert", 8, 4),
        ("time_to_revert", 14, 4),
        ("time_to_revert", 15, 3),
        ("time_to_revert", 30, 3),
        ("time_to_revert", 31, 2),
        ("time_to_revert", 60, 2),
        ("time_to_revert", 61, 1),
        # time to resolve, bands 30 / 60 / 90 / 180 days
        ("time_to_resolve", 0, 5),
        ("time_to_resolve", 30, 5),
        ("time_to_resolve", 31, 4),
        ("time_to_resolve", 60, 4),
        ("time_to_resolve", 61, 3),
        ("time_to_resolve", 90, 3),
        ("time_to_resolve", 91, 2),
        ("time_to_resolve", 180, 2),
        ("time_to_resolve", 181, 1),
        ("time_to_resolve", 1000, 1),
    ],
)
def test_band_score_at_each_boundary_of_each_default_band(step: str, days: int, score: int) -> None:
    assert band_score(days, DEFAULT_TIMELINESS_BANDS[step]) == score


def test_band_score_follows_configured_bands() -> None:
    assert band_score(1, (1, 2, 3, 4)) == 5
    assert band_score(2, (1, 2, 3, 4)) == 4
    assert band_score(4, (1, 2, 3, 4)) == 2
    assert band_score(5, (1, 2, 3, 4)) == 1


def _timeline(
    first: dt.date | None = None,
    plan: dt.date | None = None,
    resolved: dt.date | None = None,
) -> Remediation:
    return Remediation(
        ticket_id=1, first_response_on=first, plan_agreed_on=plan, resolved_on=resolved
    )


def test_timeliness_is_scored_from_the_timeline_dates() -> None:
    opened = dt.date(2024, 1, 10)
    timeline = _timeline(
        first=dt.date(2024, 1, 12),  # 2 days after opening: <= 3 -> 5
        plan=dt.date(2024, 1, 22),  # 10 days after the first response: <= 14 -> 4
        resolved=dt.date(2024, 3, 5),  # 21 (Jan) + 29 (Feb 2024) + 5 = 55 days: <= 60 -> 4
    )
    assert timeliness(opened, timeline, DEFAULT_TIMELINESS_BANDS) == {
        "time_to_respond": 5,
        "time_to_revert": 4,
        "time_to_resolve": 4,
    }


def test_a_missing_date_is_na_for_the_spans_it_ends_or_starts() -> None:
    opened = dt.date(2024, 1, 10)
    assert timeliness(opened, None, DEFAULT_TIMELINESS_BANDS) == {
        "time_to_respond": None,
        "time_to_revert": None,
        "time_to_resolve": None,
    }
    # No first response recorded: respond and revert n/a; resolve 40 days -> <= 60 -> 4
    no_first = _timeline(plan=dt.date(2024, 1, 20), resolved=dt.date(2024, 2, 19))
    assert timeliness(opened, no_first, DEFAULT_TIMELINESS_BANDS) == {
        "time_to_respond": None,
        "time_to_revert": None,
        "time_to_resolve": 4,
    }
    # Only a first response, 20 days on: 20 <= 30 -> 2; the rest n/a
    only_first = _timeline(first=dt.date(2024, 1, 30))
    assert timeliness(opened, only_first, DEFAULT_TIMELINESS_BANDS) == {
        "time_to_respond": 2,
        "time_to_revert": None,
        "time_to_resolve": None,
    }


def test_a_negative_span_counts_as_zero_days() -> None:
    opened = dt.date(2024, 1, 10)
    backwards = _timeline(
        first=dt.date(2024, 1, 8),  # 2 days before opening: 0 days -> 5
        plan=dt.date(2024, 1, 1),  # before the first response: 0 days -> 5
        resolved=dt.date(2024, 1, 9),  # 0 days -> 5
    )
    assert timeliness(opened, backwards, DEFAULT_TIMELINESS_BANDS) == {
        "time_to_respond": 5,
        "time_to_revert": 5,
        "time_to_resolve": 5,
    }


def test_timeliness_uses_the_configured_bands() -> None:
    bands = {**DEFAULT_TIMELINESS_BANDS, "time_to_respond": (1, 2, 3, 4)}
    late = _timeline(first=dt.date(2024, 1, 13))  # 3 days: <= 3 -> 3 (default would be 5)
    assert timeliness(dt.date(2024, 1, 10), late, bands)["time_to_respond"] == 3


# --- quarters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (dt.date(2024, 1, 1), "2024-Q1"),
        (dt.date(2024, 3, 31), "2024-Q1"),
        (dt.date(2024, 4, 1), "2024-Q2"),
        (dt.date(2024, 6, 30), "2024-Q2"),
        (dt.date(2024, 7, 1), "2024-Q3"),
        (dt.date(2024, 9, 30), "2024-Q3"),
        (dt.date(2024, 10, 1), "2024-Q4"),
        (dt.date(2023, 12, 31), "2023-Q4"),
        (dt.datetime(2025, 5, 17, 23, 59, tzinfo=dt.UTC), "2025-Q2"),
    ],
)
def test_quarter_of(day: dt.date, quarter: str) -> None:
    assert quarter_of(day) == quarter


# --- publishing with small-cell suppression -----------------------------------------------


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def test_defaults_suppress_below_10_and_round_to_5(settings: Settings) -> None:
    assert (settings.small_cell, settings.round_counts_to) == (10, 5)


def test_a_figure_from_fewer_than_10_workers_is_shown_as_under_10(settings: Settings) -> None:
    assert publish(Figure(9, 9), settings) == "<10"
    assert publish(Figure(1, 1), settings) == "<10"
    assert publish(Figure(0, 0), settings) == "<10"
    # Whatever the kind: a share or score from 9 workers is suppressed too.
    assert publish(Figure(0.5, 9, "share"), settings) == "<10"
    assert publish(Figure(4.2, 9, "score"), settings) == "<10"
    assert publish(Figure(120_000, 9, "amount"), settings) == "<10"
    # A big count from few workers is still suppressed: the workers decide, not the value.
    assert publish(Figure(40, 9), settings) == "<10"


def test_exactly_10_workers_is_shown(settings: Settings) -> None:
    assert publish(Figure(10, 10), settings) == 10


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (10, 10),
        (11, 10),  # 11 / 5 = 2.2 -> 2 -> 10
        (12, 10),  # 12 / 5 = 2.4 -> 2 -> 10
        (13, 15),  # 13 / 5 = 2.6 -> 3 -> 15
        (14, 15),
        (15, 15),
        (17, 15),  # 3.4 -> 3 -> 15
        (18, 20),  # 3.6 -> 4 -> 20
        (52, 50),
        (53, 55),
    ],
)
def test_counts_are_rounded_to_a_multiple_of_5(settings: Settings, count: int, shown: int) -> None:
    assert publish(Figure(count, count), settings) == shown


def test_a_count_smaller_than_its_workers_is_rounded_too(settings: Settings) -> None:
    # 3 tickets closed unvalidated among 40 workers: 3 / 5 = 0.6 -> 1 -> 5
    assert publish(Figure(3, 40), settings) == 5
    # 2 / 5 = 0.4 -> 0
    assert publish(Figure(2, 40), settings) == 0


def test_shares_to_2_places_scores_to_1_amounts_as_they_are(settings: Settings) -> None:
    assert publish(Figure(2 / 3, 12, "share"), settings) == 0.67
    assert publish(Figure(0.5, 12, "share"), settings) == 0.5
    assert publish(Figure(34 / 9, 12, "score"), settings) == 3.8  # 3.777... -> 3.8
    assert publish(Figure(13 / 3, 12, "score"), settings) == 4.3  # 4.333... -> 4.3
    # Money in minor units is not rounded: the workers behind it are what is checked.
    assert publish(Figure(4_150_000, 12, "amount"), settings) == 4_150_000


def test_a_figure_with_no_value_but_enough_workers_is_none(settings: Settings) -> None:
    assert publish(Figure(None, 12, "share"), settings) is None


def test_a_custom_threshold_of_5(make_settings: Callable[..., Settings]) -> None:
    five = make_settings(VOICEDESK_SMALL_CELL="5")
    assert publish(Figure(4, 4), five) == "<5"
    assert publish(Figure(5, 5), five) == 5
    assert publish(Figure(7, 7), five) == 5  # 7 / 5 = 1.4 -> 1 -> 5
    assert publish(Figure(9, 9), five) == 10  # 9 / 5 = 1.8 -> 2 -> 10
    assert publish(Figure(0.25, 5, "share"), five) == 0.25


def test_a_custom_rounding_base(make_settings: Callable[..., Settings]) -> None:
    ten = make_settings(VOICEDESK_ROUND_COUNTS_TO="10")
    assert publish(Figure(14, 14), ten) == 10  # 1.4 -> 1 -> 10
    assert publish(Figure(16, 16), ten) == 20  # 1.6 -> 2 -> 20


# --- the impact definitions on hand-built ticket facts ----------------------------------------


def _fact(
    number: int,
    opened: dt.date,
    *,
    status: str = "closed",
    closed_as: str | None = None,
    closed_on: dt.date | None = None,
    scores: dict[str, int | None] | None = None,
    recorded: list[dict[str, int | None]] | None = None,
    worker: str | None = None,
    validated_on: dt.date | None = None,
) -> TicketFacts:
    closed_at = dt.datetime.combine(closed_on, dt.time(12), tzinfo=dt.UTC) if closed_on else None
    # Unless told otherwise, the worker confirmed the fix on the day a validated ticket closed.
    if validated_on is None and closed_as == "validated":
        validated_on = closed_on
    validated_at = (
        dt.datetime.combine(validated_on, dt.time(12), tzinfo=dt.UTC) if validated_on else None
    )
    return TicketFacts(
        id=number,
        worker=worker or f"w{number}",
        opened=opened,
        status=status,
        closed_as=closed_as,
        closed_at=closed_at,
        validated_at=validated_at,
        scores=dict(scores or {}),
        recorded=list(recorded or []),
    )


def _day(opened: dt.date, days: int) -> dt.date:
    return opened + dt.timedelta(days=days)


OPENED = dt.date(2024, 1, 10)


def test_resolved_within_60_days_counts_validated_closes_under_60_days() -> None:
    facts = [
        _fact(1, OPENED, closed_as="validated", closed_on=_day(OPENED, 59)),  # due, resolved
        _fact(2, OPENED, closed_as="validated", closed_on=_day(OPENED, 60)),  # due, not under 60
        _fact(3, OPENED, closed_as="validated", closed_on=_day(OPENED, 61)),  # due, late
        _fact(4, OPENED, closed_as="validated", closed_on=OPENED),  # due, resolved (0 days)
        # Open for exactly 60 days: due, and can no longer be resolved under 60.
        _fact(5, _day(NOW.date(), -60), status="in_remediation"),
        # Open for 59 days: not due yet.
        _fact(6, _day(NOW.date(), -59), status="in_remediation"),
        # A question, not an issue: never due.
        _fact(7, OPENED, closed_as="information_only", closed_on=_day(OPENED, 1)),
        # Closed by a supervisor without the worker's word: counted apart, not due.
        _fact(8, OPENED, closed_as="unvalidated", closed_on=_day(OPENED, 20)),
        _fact(9, OPENED, closed_as="unvalidated", closed_on=_day(OPENED, 90)),
    ]
    result = impact(facts, {}, {}, NOW)
    # due: 1, 2, 3, 4, 5 = 5 tickets; resolved: 1 and 4 = 2; 2 / 5 = 0.4
    assert result.resolved_within_60_days == Figure(0.4, 5, "share")
    assert result.closed_unvalidated == Figure(2, 2)
    assert result.tickets == Figure(9, 9)
    assert result.workers == Figure(9, 9)


def test_resolution_is_when_the_worker_confirmed_not_when_staff_closed() -> None:
    facts = [
        # Confirmed on day 50, closed by staff on day 70: resolved within 60 days.
        _fact(
            1,
            OPENED,
            closed_as="validated",
            closed_on=_day(OPENED, 70),
            validated_on=_day(OPENED, 50),
        ),
        # Confirmed on day 40 and not closed yet: due (validated) and resolved.
        _fact(2, OPENED, status="validated", validated_on=_day(OPENED, 40)),
    ]
    assert impact(facts, {}, {}, NOW).resolved_within_60_days == Figure(1.0, 2, "share")


def test_nothing_due_means_no_share_not_zero() -> None:
    young = _fact(1, _day(NOW.date(), -10), status="triaged")
    assert impact([young], {}, {}, NOW).resolved_within_60_days == Figure(None, 0, "share")


def test_a_worker_with_two_tickets_is_one_worker() -> None:
    facts = [
        _fact(1, OPENED, closed_as="validated", closed_on=_day(OPENED, 10), worker="same"),
        _fact(2, OPENED, closed_as="validated", closed_on=_day(OPENED, 80), worker="same"),
    ]
    result = impact(facts, {}, {}, NOW)
    assert result.workers == Figure(1, 1)
    assert result.tickets == Figure(2, 1)
    assert result.resolved_within_60_days == Figure(0.5, 1, "share")  # 1 of 2 tickets


def test_the_axes_include_the_caseworkers_recorded_scores() -> None:
    """The three average scores pool every scored indicator of every ticket: the computed
    ones (timeline, the worker's answer) and the ones caseworkers record."""
    facts = [
        _fact(
            1,
            OPENED,
            closed_as="validated",
            closed_on=_day(OPENED, 30),
            scores={"worker_satisfaction_response": 4, "time_to_respond": 5},
            recorded=[{"assessment_hr_social": 2, "attitude_toward_workers": 3}],
        ),
        _fact(
            2,
            OPENED,
            closed_as="validated",
            closed_on=_day(OPENED, 30),
            scores={"worker_satisfaction_response": None},
            recorded=[{"assessment_hr_social": 3, "attitude_toward_staff": None}],
        ),
    ]
    axes = impact(facts, {}, {}, NOW).axes
    # quality: 4 (ticket 1's worker) + 2 + 3 (recorded) = 9, / 3 = 3.0; two workers
    # timeliness: 5 / 1 = 5.0; one worker
    # openness: 3 / 1 = 3.0 (n/a left out); one worker
    assert axes == {
        "quality": Figure(3.0, 2, "score"),
        "timeliness": Figure(5.0, 1, "score"),
        "openness": Figure(3.0, 1, "score"),
    }


def test_ratings_share_the_rated_remediations_and_leave_out_unvalidated_closes() -> None:
    facts = [
        # overall (1 + 1) / 2 = 1.0 -> poor
        _fact(1, OPENED, scores={"worker_satisfaction_response": 1, "time_to_respond": 1}),
        # overall: quality 2, openness 2 -> 2.0 -> fair
        _fact(
            2,
            OPENED,
            scores={"worker_satisfaction_response": 2},
            recorded=[{"attitude_toward_workers": 2}],
        ),  # fmt: skip
        # overall: quality (3 + 4) / 2 = 3.5 -> good
        _fact(
            3,
            OPENED,
            scores={"worker_satisfaction_response": 3},
            recorded=[{"assessment_hr_social": 4}],
        ),  # fmt: skip
        # overall: 5 -> excellent
        _fact(4, OPENED, recorded=[{"attitude_toward_staff": 5}]),
        # overall: quality 4, openness 4 -> excellent
        _fact(5, OPENED, recorded=[{"assessment_hr_social": 4, "attitude_toward_staff": 4}]),
        # unrated: every score n/a
        _fact(6, OPENED, recorded=[{"assessment_hr_social": None}]),
        # rated, but closed unvalidated: counted apart
        _fact(7, OPENED, closed_as="unvalidated", recorded=[{"assessment_hr_social": 5}]),
    ]
    ratings = impact(facts, {}, {}, NOW).ratings
    # 5 rated (1-5): poor 1/5, fair 1/5, good 1/5, excellent 2/5
    assert ratings == {
        "poor": Figure(0.2, 5, "share"),
        "fair": Figure(0.2, 5, "share"),
        "good": Figure(0.2, 5, "share"),
        "excellent": Figure(0.4, 5, "share"),
    }


def test_several_businesses_scored_on_one_ticket_pool_into_its_rating() -> None:
    # Supplier gave 2 on hr, agency 4 on hr: quality (2 + 4) / 2 = 3.0 -> good
    fact = _fact(1, OPENED, recorded=[{"assessment_hr_social": 2}, {"assessment_hr_social": 4}])
    assert fact.rating == "good"


def test_scores_trend_by_the_quarter_the_ticket_opened() -> None:
    facts = [
        _fact(
            1,
            dt.date(2024, 3, 31),
            scores={"time_to_respond": 5},
            recorded=[{"assessment_hr_social": 2}],
        ),  # fmt: skip
        _fact(2, dt.date(2024, 1, 1), recorded=[{"assessment_hr_social": 4}]),
        _fact(3, dt.date(2024, 4, 1), recorded=[{"attitude_toward_staff": 1}]),
    ]
    by_quarter = impact(facts, {}, {}, NOW).by_quarter
    assert list(by_quarter) == ["2024-Q1", "2024-Q2"]
    # Q1: quality (2 + 4) / 2 = 3.0 from 2 workers; timeliness 5 from 1; openness none
    assert by_quarter["2024-Q1"] == {
        "quality": Figure(3.0, 2, "score"),
        "timeliness": Figure(5.0, 1, "score"),
        "openness": Figure(None, 0, "score"),
    }
    # Q2: openness 1 from 1 worker
    assert by_quarter["2024-Q2"] == {
        "quality": Figure(None, 0, "score"),
        "timeliness": Figure(None, 0, "score"),
        "openness": Figure(1.0, 1, "score"),
    }


def test_publish_rounds_halves_up_as_people_read_figures() -> None:
    settings = Settings.from_env({})
    assert publish(Figure(0.125, 10, "share"), settings) == 0.13  # round() would say 0.12
    assert publish(Figure(2.25, 10, "score"), settings) == 2.3  # round() would say 2.2
