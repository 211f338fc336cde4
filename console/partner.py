"""The partner dashboard: a brand's or supplier's own supply chain, in figures and charts.

A partner never sees a ticket. The figures come from `intake.indicators` and are
published (`indicators.publish`: "<10" for a figure built from too few workers, counts
rounded) the moment they leave the domain, so neither the page, its charts nor the CSV
export ever holds an unpublished number. A chart draws a bar only for a published
number; a suppressed figure is written as "<10" where its bar would be.

The charts are inline SVG whose geometry is computed here (the CSP allows no script):
horizontal bars for the axis scores, ratings, resolution and money, grouped vertical
bars for the quarterly trend.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal, format_percent
from flask import Blueprint, Response, render_template
from sqlalchemy.orm import Session

from console.context import db, settings
from console.guard import allows, signed_in_user
from console.i18n import _, local_money, local_number, ui_language
from console.labels import axis_label, partner_figure_label, rating_label
from intake import indicators, remediation
from intake.models import Business, BusinessKind, User
from intake.settings import Settings
from safeguards import audit

blueprint = Blueprint("partner", __name__)

# What `indicators.publish` answers: "<10", a number, or None (nothing to measure).
Shown = str | float | int | None


def number(value: Shown) -> float | None:
    """A published value a chart may draw, as a number; None for "<10" or no figure."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def is_number(value: Shown) -> bool:
    return number(value) is not None


# --- the published figures of one scope (a supply chain, or one business) ---------------


@dataclass(frozen=True)
class Published:
    """An `Impact` as a partner may see it: every figure already published."""

    workers: Shown
    tickets: Shown
    axes: dict[str, Shown]
    resolved_within_60_days: Shown
    closed_unvalidated: Shown
    ratings: dict[str, Shown]
    fees_eligible: Shown
    fees_reimbursed: Shown
    fees_reimbursed_share: Shown
    money: dict[str, dict[str, Shown]]  # currency -> owed / repaid, minor units
    by_quarter: dict[str, dict[str, Shown]]  # quarter -> axis -> score


def publish_impact(impact: indicators.Impact, config: Settings) -> Published:
    """Publish every figure of an impact: nothing unpublished goes further than this."""
    return Published(
        **indicators.each_figure(impact, lambda figure: indicators.publish(figure, config))
    )


@dataclass(frozen=True)
class Scope:
    """Whose figures: the partner's whole supply chain, or one supplier of a brand."""

    name: str
    kind: str  # "supply_chain" (the partner's roll-up) or "supplier"
    figures: Published


@dataclass(frozen=True)
class Dashboard:
    business: Business
    chain: Scope
    suppliers: list[Scope]  # rows of the brand's table (its own tickets, pooled rows too)
    supplier_count: int  # the suppliers the brand buys from


def dashboard_of(session: Session, user: User, config: Settings) -> Dashboard | None:
    """The partner's own supply chain (a brand: itself and its suppliers; a supplier:
    itself), published; None when the account names no business."""
    business = session.get(Business, user.business_id) if user.business_id else None
    if business is None:
        return None
    chain = indicators.supply_chain(session, business)
    rollup = Scope(
        business.name,
        "supply_chain",
        publish_impact(indicators.impact_of(session, chain, config), config),
    )
    suppliers = []
    if business.kind == BusinessKind.BRAND:
        # Row by row, with small rows pooled so the roll-up cannot give them away.
        for part, impact in indicators.breakdown(session, business, config):
            if part is None:
                # TRANSLATORS: a row of the brand's table pooling suppliers with few workers.
                name = _("Other suppliers, pooled (too few workers each)")
            elif part.id == business.id:
                # TRANSLATORS: a row of the brand's table: tickets about the brand itself.
                name = _("%(brand)s, directly") % {"brand": part.name}
            else:
                name = part.name
            suppliers.append(Scope(name, "supplier", publish_impact(impact, config)))
    return Dashboard(business, rollup, suppliers, len(chain) - 1)


# --- showing a published value in the reader's language -----------------------------------


def _locale() -> Locale:
    try:
        return Locale.parse(ui_language())
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def show(value: Shown, kind: str = "count", currency: str = "") -> str:
    """A published value as the reader's locale writes it: "<10" and "–" stay as they are."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if kind == "share":
        return format_percent(value, locale=_locale())
    if kind == "score":
        return format_decimal(value, format="0.0", locale=_locale())
    if kind == "amount":
        return local_money(int(value), currency)
    return local_number(value)


# --- charts: geometry for inline SVG ----------------------------------------------------------

WIDTH = 600  # every chart's viewBox is this wide; CSS scales it to the column
ROW = 44  # a horizontal bar's row: its label line, then the bar
BAR = 16
LABEL_BASELINE = 16


@dataclass(frozen=True)
class Bar:
    """One bar, or the place of one: a suppressed figure has no bar, only its "<10"."""

    key: str  # the CSS class that colours it (an axis, a rating, "repaid"...)
    label: str
    value: Shown
    text: str  # the value as the reader sees it
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0

    @property
    def drawn(self) -> bool:
        return is_number(self.value)


@dataclass(frozen=True)
class Row:
    """A horizontal bar chart's row: a label and value above, the bar on its track below."""

    label: str
    text: str
    bar: Bar
    label_y: float
    track_y: float


@dataclass(frozen=True)
class HorizontalChart:
    rows: list[Row]
    height: int
    width: int = WIDTH


def horizontal(bars: Sequence[Bar], maximum: float) -> HorizontalChart:
    """Bars on a track of 0..maximum, one row each; a bar that is not drawn leaves its track."""
    rows = []
    for place_in_chart, bar in enumerate(bars):
        top = place_in_chart * ROW
        length = 0.0
        if bar.drawn and maximum > 0:
            # A zero is still a hairline, so "0" never looks like "nothing measured".
            length = max(WIDTH * min(number(bar.value) or 0.0, maximum) / maximum, 2.0)
        placed = Bar(
            bar.key,
            bar.label,
            bar.value,
            bar.text,
            x=0,
            y=top + LABEL_BASELINE + 6,
            width=round(length, 1),
            height=BAR if bar.drawn else 0,
        )
        rows.append(
            Row(bar.label, bar.text, placed, top + LABEL_BASELINE, top + LABEL_BASELINE + 6)
        )
    return HorizontalChart(rows, height=max(len(bars) * ROW, ROW))


@dataclass(frozen=True)
class Group:
    """One quarter of the trend: its label and its axes' bars."""

    label: str
    x: float
    width: float
    bars: list[Bar]

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Tick:
    value: str
    y: float


@dataclass(frozen=True)
class TrendChart:
    groups: list[Group]
    ticks: list[Tick]
    baseline: float
    left: float
    width: int
    height: int


TREND_TOP, TREND_PLOT, TREND_LEFT = 10, 200, 28
GROUP_WIDTH, BAR_WIDTH = 96, 32  # the narrowest a quarter gets; the widest a bar gets


def trend(by_quarter: dict[str, dict[str, Shown]], axes: Sequence[str]) -> TrendChart:
    """Each quarter a group of one bar per axis, on a 0..5 scale, the quarters spread over
    the chart's width (a long history widens the chart; CSS scales it back)."""
    baseline = TREND_TOP + TREND_PLOT
    quarters = max(len(by_quarter), 1)
    width = max(WIDTH, TREND_LEFT + GROUP_WIDTH * quarters)
    slot = (width - TREND_LEFT) / quarters
    bar_width = min((slot - 24) / len(axes), BAR_WIDTH)
    groups = []
    for column, (quarter, scores) in enumerate(by_quarter.items()):
        x = TREND_LEFT + column * slot
        first = x + (slot - bar_width * len(axes)) / 2
        bars = []
        for place, axis in enumerate(axes):
            value = scores.get(axis)
            height = TREND_PLOT * (number(value) or 0.0) / 5
            bars.append(
                Bar(
                    axis,
                    axis_label(axis),
                    value,
                    show(value, "score"),
                    x=round(first + place * bar_width + 2, 1),
                    y=round(baseline - height, 1),
                    width=round(bar_width - 4, 1),
                    height=round(height, 1),
                )
            )
        groups.append(Group(quarter, round(x, 1), round(slot, 1), bars))
    ticks = [
        Tick(show(score, "count"), round(baseline - TREND_PLOT * score / 5, 1))
        for score in range(6)
    ]
    return TrendChart(groups, ticks, baseline, TREND_LEFT, width, baseline + 30)


def axes_chart(figures: Published) -> HorizontalChart:
    return horizontal(
        [
            Bar(axis, axis_label(axis), value, show(value, "score"))
            for axis, value in figures.axes.items()
        ],
        maximum=5,
    )


def ratings_chart(figures: Published) -> HorizontalChart:
    return horizontal(
        [
            Bar(rating, rating_label(rating), value, show(value, "share"))
            for rating, value in figures.ratings.items()
        ],
        maximum=1,
    )


def share_chart(key: str, label: str, value: Shown) -> HorizontalChart:
    return horizontal([Bar(key, label, value, show(value, "share"))], maximum=1)


def money_chart(currency: str, sides: dict[str, Shown]) -> HorizontalChart:
    """Repaid against owed, in one currency (currencies are never added together)."""
    owed, repaid = sides.get("owed"), sides.get("repaid")
    scale = number(owed) or 1.0
    return horizontal(
        [
            Bar("owed", partner_figure_label("money_owed"), owed, show(owed, "amount", currency)),
            Bar(
                "repaid",
                partner_figure_label("money_repaid"),
                repaid,
                show(repaid, "amount", currency),
            ),
        ],
        maximum=max(scale, number(repaid) or 0.0),
    )


def charts_of(figures: Published) -> dict[str, object]:
    axes = list(indicators.AXES)
    return {
        "axes": axes_chart(figures),
        "trend": trend(figures.by_quarter, axes),
        "ratings": ratings_chart(figures),
        "resolved": share_chart(
            "resolved",
            partner_figure_label("resolved_within_60_days"),
            figures.resolved_within_60_days,
        ),
        "fees": share_chart(
            "fees", partner_figure_label("fees_reimbursed_share"), figures.fees_reimbursed_share
        ),
        "money": {
            currency: money_chart(currency, sides) for currency, sides in figures.money.items()
        },
    }


# --- the views ------------------------------------------------------------------------


@blueprint.get("/partner")
@allows("indicators.partner")
def dashboard() -> Response:
    """The partner's own supply chain: counts, shares, scores and their trend."""
    user = signed_in_user()
    found = dashboard_of(db(), user, settings())
    page = render_template(
        "partner.html",
        user=user,
        dashboard=found,
        charts=charts_of(found.chain.figures) if found else None,
        axes=list(indicators.AXES),
        show=show,
        small_cell=settings().small_cell,
        round_counts_to=settings().round_counts_to,
    )
    return _private(Response(page, mimetype="text/html"))


CSV_COLUMNS = ("scope", "business", "indicator", "quarter", "breakdown", "value", "label")


def csv_rows(found: Dashboard) -> list[tuple[str, ...]]:
    """The dashboard's published values, one per row (money in major units, per currency)."""
    rows: list[tuple[str, ...]] = []
    for scope in [found.chain, *found.suppliers]:

        def add(
            indicator: str,
            value: Shown,
            breakdown: str = "",
            quarter: str = "",
            label: str = "",
            scope: Scope = scope,
        ) -> None:
            rows.append(
                (
                    scope.kind,
                    scope.name,
                    indicator,
                    quarter,
                    breakdown,
                    _cell_value(value),
                    label or partner_figure_label(indicator),
                )
            )

        figures = scope.figures
        add("workers", figures.workers)
        add("tickets", figures.tickets)
        for axis, value in figures.axes.items():
            add("axis_score", value, axis, label=axis_label(axis))
        add("resolved_within_60_days", figures.resolved_within_60_days)
        add("closed_unvalidated", figures.closed_unvalidated)
        for rating, value in figures.ratings.items():
            add("rating_share", value, rating, label=rating_label(rating))
        add("fees_eligible", figures.fees_eligible)
        add("fees_reimbursed", figures.fees_reimbursed)
        add("fees_reimbursed_share", figures.fees_reimbursed_share)
        for currency, sides in figures.money.items():
            for side in ("owed", "repaid"):
                value = sides[side]
                amount = number(value)
                if amount is not None:
                    value = str(remediation.from_minor(int(amount), currency))
                add(f"money_{side}", value, currency)
        for quarter, scores in figures.by_quarter.items():
            for axis, value in scores.items():
                add("axis_score_by_quarter", value, axis, quarter, label=axis_label(axis))
    return rows


def _cell_value(value: Shown) -> str:
    return "" if value is None else str(value)


def _cell(text: str) -> str:
    """A spreadsheet must not run a business name as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@blueprint.get("/partner/indicators.csv")
@allows("indicators.partner")
def export_csv() -> Response:
    """The same published values as the dashboard, as CSV (a header only with no business)."""
    user = signed_in_user()
    session = db()
    found = dashboard_of(session, user, settings())
    out = io.StringIO()
    out.write("\ufeff")  # spreadsheets then read Thai, Burmese or Khmer business names right
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    if found is not None:
        writer.writerows(tuple(_cell(cell) for cell in row) for row in csv_rows(found))
        audit.record(
            session,
            actor=f"user:{user.id}",
            action="indicators.exported",
            target=f"business:{found.business.id}",
        )
        session.commit()
    answer = Response(out.getvalue(), mimetype="text/csv")
    answer.headers["Content-Disposition"] = 'attachment; filename="indicators.csv"'
    return _private(answer)


def _private(response: Response) -> Response:
    """A partner's figures are theirs alone: no shared cache keeps them."""
    response.headers["Cache-Control"] = "no-store"
    return response
