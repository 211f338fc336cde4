"""A brand's manager opens the partner dashboard in headless Chromium and reads its charts.

The product runs as an operator runs it (`voicedesk serve` and `voicedesk worker` on the
run's PostgreSQL and Redis). Workers write in over Telegram; their tickets are worked to
their close through the domain, dated over two past quarters; then the brand's partner
signs in with password and authenticator code, lands on the dashboard, and every chart
is drawn: the bars there, visible, of some size, and nothing of a worker on the page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.cli import create_user
from intake import businesses
from intake.db import make_engine, make_sessionmaker
from intake.models import Ticket, Worker
from safeguards import keys as keyfiles

from support.browser import PASSWORD, Login, ServedDesk, sign_in, wait_for
from support.partner_cases import Case, Words, work_case

pytestmark = pytest.mark.integration

ORG = "Bangkok Workers Centre"
BRAND, BIG, TEN, SMALL = "Northwind Apparel", "Golden Sea Foods", "Siam Garments", "Tiny Farm"
SAID = "นายจ้างยึดหนังสือเดินทางและไม่จ่ายค่าแรง"  # what every worker writes (plus a number)
GOOD = {"assessment_hr_social": 4, "attitude_toward_workers": 4, "cooperation_worker_voice": 3}
FAIR = {"assessment_hr_social": 2, "attitude_toward_workers": 2}


def quarter_starts(today: dt.date) -> tuple[dt.date, dt.date]:
    """The first days of the two quarters before this one: long enough ago to be due."""
    this = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    last = this - dt.timedelta(days=1)
    last = dt.date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    before = last - dt.timedelta(days=1)
    return dt.date(before.year, 3 * ((before.month - 1) // 3) + 1, 1), last


@contextmanager
def database(desk: ServedDesk) -> Iterator[Session]:
    engine = make_engine(desk.settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


def cases() -> dict[str, list[Case]]:
    """12 workers of one supplier in the quarter before last, 10 and 3 of two others last
    quarter: every figure published but the 3-worker supplier's own."""
    earlier, later = (start + dt.timedelta(days=5) for start in quarter_starts(dt.date.today()))
    fees, wages = (1_000_000, 1_000_000), (150_000, 100_000)
    big = [
        Case(opened=earlier, scores=GOOD, fees=fees, wages=wages, satisfaction=5) for _ in range(8)
    ]
    big += [
        Case(
            opened=earlier,
            resolved=80,
            closed=81,
            scores=FAIR,
            fees=(1_000_000, 0),
            wages=wages,
            satisfaction=2,
        )
        for _ in range(4)
    ]
    ten = [Case(opened=later, scores=GOOD, fees=fees, satisfaction=4) for _ in range(10)]
    small = [Case(opened=later, scores=FAIR, satisfaction=3) for _ in range(3)]
    return {BIG: big, TEN: ten, SMALL: small}


def seed(desk: ServedDesk) -> tuple[Login, list[str]]:
    """Workers write in; their tickets are worked to their close; answer the brand's login
    and the free text written on the tickets."""
    desk.organisation(ORG, ["th"])
    by_supplier = cases()
    total = sum(len(group) for group in by_supplier.values())
    for chat in range(total):
        desk.worker_writes(7_342_000_000 + chat, f"{SAID} {chat}")

    def filed() -> bool:
        with database(desk) as session:
            return session.scalar(select(func.count()).select_from(Ticket)) == total

    wait_for(filed, f"{total} tickets filed by the worker process")
    ring = keyfiles.load_content_ring(desk.settings)
    written: list[str] = []
    with database(desk) as session:
        staff = {
            role: create_user(session, f"{role}@bwc.example", ORG, role, PASSWORD)
            for role in ("admin", "supervisor", "caseworker")
        }
        brand = businesses.add_business(session, staff["admin"], BRAND, "brand", "US", "apparel")
        waiting = iter(session.scalars(select(Ticket).order_by(Ticket.id)).all())
        for name, group in by_supplier.items():
            supplier = businesses.add_business(session, staff["admin"], name, "supplier", "TH", "")
            businesses.link_supplier(session, staff["admin"], brand.id, supplier.id)
            for number, case in enumerate(group):
                words = Words(
                    note=f"Called the worker about {name} #{number}",
                    action=f"Return the passport at {name} #{number}",
                    owner=f"HR manager of {name} #{number}",
                    summary=f"{name} returned the passport #{number}",
                    close_reason=f"No answer from the worker #{number}",
                )
                written += words.all()
                work_case(
                    session,
                    ring,
                    desk.settings.validation_schedule,
                    staff["caseworker"],
                    staff["supervisor"],
                    next(waiting),
                    supplier.id,
                    case,
                    words,
                )
        create_user(session, "manager@northwind.example", ORG, "partner", PASSWORD, BRAND)
    return Login("manager@northwind.example", PASSWORD), written


def never_shown(desk: ServedDesk) -> list[str]:
    """Every ticket's reference, every worker's pseudonym and id, and what they wrote."""
    with database(desk) as session:
        refs = session.scalars(select(Ticket.ref)).all()
        workers = session.execute(select(Worker.pseudonym, Worker.id)).all()
    return [*refs, *(p for p, _ in workers), *(str(w) for _, w in workers), SAID]


def bars_in(page: Page, chart_id: str) -> list[dict[str, float]]:
    """The chart's bars as drawn on screen (each visible, each of some size)."""
    chart = page.locator(f"svg#{chart_id}")
    expect(chart).to_be_visible()
    bars = chart.locator("rect.bar")
    boxes = []
    for number in range(bars.count()):
        bar = bars.nth(number)
        expect(bar).to_be_visible()
        box = bar.bounding_box()
        assert box is not None, f"{chart_id}: bar {number} is not laid out"
        assert min(box["width"], box["height"]) > 0, f"{chart_id}: bar {number} {box}"
        boxes.append(box)
    return boxes


def test_partner_dashboard_draws_its_charts_and_shows_nothing_of_a_worker(
    live_desk: ServedDesk, browser_page, tmp_path: Path
) -> None:
    manager, written = seed(live_desk)
    page = browser_page()
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, manager, {})
    expect(page).to_have_url(re.compile(r"/partner$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Indicators: {BRAND}")
    expect(page.locator("#tile-workers .figure")).to_have_text("25")

    drawn = {
        "chart-axes": 3,  # quality, timeliness, openness
        "chart-trend": 2 * 3,  # two quarters, three axes each
        "chart-ratings": 4,  # poor, fair, good, excellent
        "chart-resolved": 1,
        "chart-fees": 1,
        "chart-money-THB": 2,  # owed, repaid
        "chart-money-MYR": 2,
    }
    for chart_id, count in drawn.items():
        assert len(bars_in(page, chart_id)) == count, chart_id
    # The trend's bars stand on one baseline.
    bottoms = [box["y"] + box["height"] for box in bars_in(page, "chart-trend")]
    assert max(bottoms) - min(bottoms) < 1
    rows = page.locator("table.suppliers tbody tr")
    # Tiny Farm (3 workers) alone would be given away by the roll-up minus the rows
    # shown: it is withheld, and so is the smallest shown row (Siam, 10), both pooled.
    expect(rows).to_have_count(4)
    expect(rows.filter(has_text=SMALL).locator("td").nth(1)).to_have_text("<10")
    expect(rows.filter(has_text=TEN).locator("td").nth(1)).to_have_text("<10")
    expect(rows.filter(has_text=BIG).locator("td").nth(1)).to_have_text("10")  # 12, rounded
    expect(rows.filter(has_text="pooled").locator("td").nth(1)).to_have_text("15")  # 13

    shot = tmp_path / "partner-dashboard.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"partner dashboard screenshot: {shot}")

    content = page.content()
    shown = [value for value in [*never_shown(live_desk), *written] if value in content]
    assert shown == [], "the partner's page shows something of a worker"
