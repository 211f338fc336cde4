"""What a partner sees: their own supply chain's figures, with every small cell hidden.

One brand buys from four suppliers whose tickets come from 3, 9, 10 and 50 distinct
workers; a fifth supplier, outside the brand's chain, has 12. Every ticket is worked to
its close through the domain (notes, remediation, money, the worker's answer, scores),
so there is free text, a pseudonym and a reference on each for the partner never to see.
The 50-worker supplier's figures are computed here by hand, from the definitions in
DOMAIN.md and README ("What partners see").
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import os
import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
import pytest
from babel.numbers import format_currency
from flask.testing import FlaskClient
from sqlalchemy import select

from console.cli import create_user, issue_token
from intake import businesses, conversation, tickets
from intake.models import Direction, User
from intake.settings import Settings
from safeguards.pseudonyms import pseudonym_for

from integration.conftest import PASSWORD, TABLES, Desk, open_desk
from support import signin
from support.partner_cases import Case, Words, work_case

Q1, Q2 = dt.date(2025, 1, 15), dt.date(2025, 4, 15)  # long past: every ticket is due
TEN_THOUSAND_BAHT, FIFTEEN_HUNDRED_RINGGIT = 1_000_000, 150_000  # minor units
THOUSAND_RINGGIT, FIVE_HUNDRED_RINGGIT = 100_000, 50_000

# A quarter-one case: responded in 2 days (5), plan 10 days later (4), resolved in 29 (5),
# closed after 30; the worker says 5; caseworkers score HR 5, toward workers 4,
# cooperation 5 and leave senior management n/a.
GOOD = {
    "assessment_hr_social": 5,
    "attitude_toward_workers": 4,
    "cooperation_worker_voice": 5,
    "assessment_senior_management": None,
}


def quarter_one(fees_repaid: bool = True, wages: tuple[int, int] | None = None) -> Case:
    repaid = TEN_THOUSAND_BAHT if fees_repaid else 0
    return Case(opened=Q1, scores=GOOD, fees=(TEN_THOUSAND_BAHT, repaid), wages=wages)


def fifty() -> list[Case]:
    """The 50-worker supplier: 20 good cases in Q1, 20 slower ones in Q2 (10 rated good,
    10 fair), and 10 in Q2 the worker never answered, closed by a supervisor."""
    wages = (FIFTEEN_HUNDRED_RINGGIT, THOUSAND_RINGGIT)
    cases = [quarter_one(wages=wages if n < 12 else None) for n in range(20)]
    cases += [quarter_two(satisfaction=4, hr=4, toward_workers=2) for _ in range(10)]
    cases += [quarter_two(satisfaction=1, hr=3, toward_workers=1) for _ in range(10)]
    never_answered = Case(
        opened=Q2 + dt.timedelta(days=30),
        responded=None,
        resolved=None,
        closed=40,
        satisfaction=None,
        unvalidated=True,
    )
    return cases + [never_answered] * 10


def quarter_two(satisfaction: int, hr: int, toward_workers: int) -> Case:
    """Responded in 2 days (5), plan 10 days later (4), resolved in 89 (3), closed after
    90 (not within 60 days); the fees owed not repaid."""
    return Case(
        opened=Q2,
        resolved=89,
        closed=90,
        satisfaction=satisfaction,
        scores={"assessment_hr_social": hr, "attitude_toward_workers": toward_workers},
        fees=(TEN_THOUSAND_BAHT, 0),
    )


SUPPLIERS = {
    3: [quarter_one(fees_repaid=False) for _ in range(3)],
    9: [quarter_one(wages=(FIVE_HUNDRED_RINGGIT, FIVE_HUNDRED_RINGGIT)) for _ in range(9)],
    10: [quarter_one(fees_repaid=n < 7) for n in range(10)],
    50: fifty(),
}
OUTSIDE = [quarter_one() for _ in range(12)]  # a supplier the brand does not buy from

# The 50-worker supplier, by hand (a ticket's scores are pooled: each scored indicator
# of each ticket counts once; n/a and missing dates are left out):
#   quality    = satisfaction 20x5 + 10x4 + 10x1 = 150 and HR 20x5 + 10x4 + 10x3 = 170
#                -> 320 / 80 = 4.0
#   timeliness = Q1 20 x (5 + 4 + 5) + Q2 20 x (5 + 4 + 3) = 520 / 120 = 4.33 -> 4.3
#   openness   = Q1 20 x (4 + 5) + Q2 10x2 + 10x1 = 210 / 60 = 3.5
#   resolved in under 60 days: 20 of the 40 validated (the 10 unvalidated are apart) -> 0.5
#   ratings (mean of a ticket's axes): Q1 (5 + 4.67 + 4.5)/3 = 4.72 excellent; Q2 with
#     satisfaction 4: (4 + 4 + 2)/3 = 3.33 good; with 1: (2 + 4 + 1)/3 = 2.33 fair
#     -> excellent 20/40, good 10/40, fair 10/40, poor 0/40
#   fees: 40 eligible, 20 reimbursed (Q1) -> share 0.5; THB owed 40 x 10,000.00,
#     repaid 20 x 10,000.00; MYR (12 workers) owed 12 x 1,500.00, repaid 12 x 1,000.00
#   by quarter: 2025-Q1 quality 5.0, timeliness 14/3 = 4.7, openness 4.5;
#               2025-Q2 quality (40 + 10 + 40 + 30)/40 = 3.0, timeliness 4.0, openness 1.5
FIFTY_BY_HAND = {
    ("workers", ""): "50",
    ("tickets", ""): "50",
    ("resolved_within_60_days", ""): "0.5",
    ("closed_unvalidated", ""): "10",
    ("rating_share", "poor"): "0.0",
    ("rating_share", "fair"): "0.25",
    ("rating_share", "good"): "0.25",
    ("rating_share", "excellent"): "0.5",
    ("fees_eligible", ""): "40",
    ("fees_reimbursed", ""): "20",
    ("fees_reimbursed_share", ""): "0.5",
    ("money_owed", "THB"): "400000.00",
    ("money_repaid", "THB"): "200000.00",
    ("money_owed", "MYR"): "18000.00",
    ("money_repaid", "MYR"): "12000.00",
    ("axis_score_by_quarter", "2025-Q1 quality"): "5.0",
    ("axis_score_by_quarter", "2025-Q1 timeliness"): "4.7",
    ("axis_score_by_quarter", "2025-Q1 openness"): "4.5",
    ("axis_score_by_quarter", "2025-Q2 quality"): "3.0",
    ("axis_score_by_quarter", "2025-Q2 timeliness"): "4.0",
    ("axis_score_by_quarter", "2025-Q2 openness"): "1.5",
}
FIFTY_AXES_BY_HAND = {
    ("axis_score", "quality"): "4.0",
    ("axis_score", "timeliness"): "4.3",
    ("axis_score", "openness"): "3.5",
}
# The brand's roll-up over its chain (72 workers; the outside supplier's 12 not among
# them): counts rounded to 5, shares of the pooled tickets.
#   workers 72 -> 70; fees eligible 40 + 10 + 9 + 3 = 62 -> 60, reimbursed 20 + 7 + 9 = 36
#   -> 35, share 36/62 = 0.58; resolved 42 of 62 = 0.68; ratings excellent 42/62 = 0.68,
#   good and fair 10/62 = 0.16; THB owed 62 x 10,000.00, repaid 36 x 10,000.00; MYR (21
#   workers) owed 18,000.00 + 9 x 500.00, repaid 12,000.00 + 4,500.00.
ROLLUP_BY_HAND = {
    ("workers", ""): "70",
    ("tickets", ""): "70",
    ("resolved_within_60_days", ""): "0.68",
    ("closed_unvalidated", ""): "10",
    ("rating_share", "excellent"): "0.68",
    ("rating_share", "good"): "0.16",
    ("rating_share", "fair"): "0.16",
    ("rating_share", "poor"): "0.0",
    ("fees_eligible", ""): "60",
    ("fees_reimbursed", ""): "35",
    ("fees_reimbursed_share", ""): "0.58",
    ("money_owed", "THB"): "620000.00",
    ("money_repaid", "THB"): "360000.00",
    ("money_owed", "MYR"): "22500.00",
    ("money_repaid", "MYR"): "16500.00",
}


PARTNERS = ("brand", "supplier", "small")  # the brand, its 50- and its 9-worker suppliers


@dataclass
class Chain:
    """The seeded desk, the partners' signed-in browsers, and what they must never see."""

    desk: Desk
    mark: str
    organisation: str
    brand: str
    suppliers: dict[int, str]  # workers -> supplier name
    outside: str
    never: dict[str, str] = field(default_factory=dict)  # value -> what it is
    clients: dict[str, FlaskClient] = field(default_factory=dict)  # by PARTNERS
    tokens: dict[str, str] = field(default_factory=dict)


def _seed(desk: Desk, mark: str) -> Chain:
    organisation = f"Mae Sot Migrant Centre {mark}"
    desk.organisation(organisation, ["my"])
    ring, pepper = desk.rt.keys.content, desk.rt.keys.pepper
    schedule = desk.settings.validation_schedule
    chain = Chain(
        desk,
        mark,
        organisation,
        brand=f"Brand {mark}",
        suppliers={size: f"Supplier{size} {mark}" for size in SUPPLIERS},
        outside=f"Outside Supplier {mark}",
    )
    chat = 7_700_000_000
    with desk.rt.session() as session:
        staff = {
            role: create_user(session, f"{role}@{mark}.example", organisation, role, PASSWORD)
            for role in ("admin", "supervisor", "caseworker")
        }
        brand = businesses.add_business(session, staff["admin"], chain.brand, "brand", "US", "")
        ids = {}
        for size, name in [*chain.suppliers.items(), (0, chain.outside)]:
            supplier = businesses.add_business(session, staff["admin"], name, "supplier", "TH", "")
            ids[size] = supplier.id
            if size:
                businesses.link_supplier(session, staff["admin"], brand.id, supplier.id)
        for size, cases in [*SUPPLIERS.items(), (0, OUTSIDE)]:
            for number, case in enumerate(cases):
                chat += 1
                key = f"{size}-{number}"
                words = Words(
                    note=f"note {key} {mark}",
                    action=f"action {key} {mark}",
                    owner=f"owner {key} {mark}",
                    summary=f"summary {key} {mark}",
                    close_reason=f"reason {key} {mark}",
                )
                said = f"အလုပ်ရှင်က လစာ မပေးဘူး {key} {mark}"
                worker = conversation.worker_for(
                    session, pseudonym_for(pepper, "telegram", str(chat)), "telegram"
                )
                ticket = tickets.create_ticket(
                    session, worker, "telegram", "my", staff["caseworker"].organisation_id, "TH"
                )
                tickets.add_message(
                    session, ring, ticket, direction=Direction.IN, text=said, language="my"
                )
                work_case(
                    session,
                    ring,
                    schedule,
                    staff["caseworker"],
                    staff["supervisor"],
                    ticket,
                    ids[size],
                    case,
                    words,
                )
                chain.never |= {value: f"free text of {key}" for value in [said, *words.all()]}
        businesses_of = {"brand": chain.brand, "supplier": chain.suppliers[50]}
        businesses_of["small"] = chain.suppliers[9]
        for who, business in businesses_of.items():
            user = create_user(
                session, f"{who}@{mark}.example", organisation, "partner", PASSWORD, business
            )
            chain.tokens[who] = issue_token(session, user)
        session.commit()
    for pseudonym, ref, worker_id in desk.sql(
        "SELECT w.pseudonym, t.ref, w.id::text FROM tickets t JOIN workers w ON w.id = t.worker_id"
    ):
        chain.never |= {pseudonym: "a pseudonym", ref: "a reference", worker_id: "a worker's id"}
    assert len(chain.never) == (6 + 3) * 84, "each ticket's words, pseudonym, ref and worker"
    totp: dict[str, str] = {}
    for who in PARTNERS:
        client = desk.app.test_client()
        landed = signin.sign_in(client, f"{who}@{mark}.example", PASSWORD, totp)
        assert landed.request.path == "/partner", "a partner lands on their dashboard"
        chain.clients[who] = client
    return chain


def _key_line() -> str:
    return "k" + secrets.token_hex(4) + ":" + base64.urlsafe_b64encode(os.urandom(32)).decode()


def _truncate(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        # The audit log refuses TRUNCATE by trigger; replica mode lets the test reset it.
        conn.execute("SET session_replication_role = replica")
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="module")
def chain(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[Chain]:
    """Seeded once for the module (84 tickets worked to their close): the tests only read."""
    folder = tmp_path_factory.mktemp("partner-view")
    (folder / "content.keys").write_text(_key_line() + "\n")
    (folder / "vault.keys").write_text(_key_line() + "\n")
    (folder / "pepper").write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
    env = {
        "VOICEDESK_INSTANCE": str(folder / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key",
        "VOICEDESK_CONTENT_KEYS_FILE": str(folder / "content.keys"),
        "VOICEDESK_VAULT_KEYS_FILE": str(folder / "vault.keys"),
        "VOICEDESK_PSEUDONYM_PEPPER_FILE": str(folder / "pepper"),
    }
    _truncate(database_url)
    with open_desk(Settings.from_env(env).with_changes(testing=True)) as desk:
        yield _seed(desk, uuid.uuid4().hex[:8])
    _truncate(database_url)


# --- reading what the partner sees -------------------------------------------------------


def page_of(chain: Chain, who: str) -> str:
    answer = chain.clients[who].get("/partner")
    assert answer.status_code == 200, answer.status_code
    assert answer.headers["Cache-Control"] == "no-store"
    return html.unescape(answer.text)


def csv_text(chain: Chain, who: str) -> str:
    answer = chain.clients[who].get("/partner/indicators.csv")
    assert answer.status_code == 200, answer.status_code
    assert answer.mimetype == "text/csv"
    return answer.get_data(as_text=True).removeprefix("\ufeff")


def csv_of(chain: Chain, who: str) -> dict[str, dict[tuple[str, str], str]]:
    """The export, by "scope:business": (indicator, [quarter] breakdown) -> value."""
    found: dict[str, dict[tuple[str, str], str]] = {}
    for row in csv.DictReader(io.StringIO(csv_text(chain, who))):
        breakdown = f"{row['quarter']} {row['breakdown']}".strip()
        cells = found.setdefault(f"{row['scope']}:{row['business']}", {})
        assert (row["indicator"], breakdown) not in cells, "one value per figure"
        cells[(row["indicator"], breakdown)] = row["value"]
    return found


def supplier_rows(page: str) -> dict[str, list[str]]:
    """The dashboard's table of suppliers: name -> the cells after it."""
    table = re.search(r'<table class="queue suppliers">(.*?)</table>', page, re.S)
    assert table is not None, "no table of suppliers"
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S):
        cells = [cell.strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def chart(page: str, chart_id: str) -> str:
    found = re.search(rf'<svg class="chart-svg [a-z]+" id="{chart_id}".*?</svg>', page, re.S)
    assert found is not None, f"no chart {chart_id}"
    return found.group(0)


def money(amount: str, currency: str) -> str:
    return format_currency(Decimal(amount), currency, locale="en")


# --- what a partner sees ----------------------------------------------------------------


POOLED = "Other suppliers, pooled (too few workers each)"


def test_brand_sees_under_ten_for_its_3_and_9_worker_suppliers_and_rounded_figures_else(
    chain: Chain,
) -> None:
    exported = csv_of(chain, "brand")
    assert set(exported) == {
        f"supply_chain:{chain.brand}",
        *(f"supplier:{name}" for name in chain.suppliers.values()),
        f"supplier:{POOLED}",
    }
    # The 3- and 9-worker suppliers, withheld one by one, are shown pooled: 12 workers,
    # published as 10, so the roll-up minus the rows shown gives nothing away.
    assert exported[f"supplier:{POOLED}"][("workers", "")] == "10"
    for size in (3, 9):
        values = exported[f"supplier:{chain.suppliers[size]}"]
        assert ("money_owed", "THB") in values
        assert (
            "axis_score_by_quarter",
            "2025-Q1 quality",
        ) in values
        assert set(values.values()) == {"<10"}, f"every figure of the {size}-worker supplier"
    ten = exported[f"supplier:{chain.suppliers[10]}"]
    assert ten[("workers", "")] == "10"
    assert ten[("fees_eligible", "")] == "10"
    assert ten[("fees_reimbursed", "")] == "5"  # 7 workers: published rounded to 5
    assert ten[("fees_reimbursed_share", "")] == "0.7"
    assert ten[("resolved_within_60_days", "")] == "1.0"
    assert ten[("rating_share", "excellent")] == "1.0"
    assert ten[("closed_unvalidated", "")] == "<10"  # none: a count of 0 workers is small too
    assert ten[("money_owed", "THB")] == "100000.00"
    assert ten[("money_repaid", "THB")] == "70000.00"
    fifty = exported[f"supplier:{chain.suppliers[50]}"]
    assert {key: fifty[key] for key in FIFTY_BY_HAND} == FIFTY_BY_HAND
    rollup = exported[f"supply_chain:{chain.brand}"]
    assert {key: rollup[key] for key in ROLLUP_BY_HAND} == ROLLUP_BY_HAND

    page = page_of(chain, "brand")
    # The suppliers it buys from, not the table's rows (which pool the small ones).
    assert "your brand and its suppliers (4)" in page
    rows = supplier_rows(page)
    assert set(rows) == {*chain.suppliers.values(), POOLED}
    for size in (3, 9):
        assert set(rows[chain.suppliers[size]]) == {"<10"}, rows[chain.suppliers[size]]
    workers, issues, *_axes, resolved, fees, unvalidated = rows[chain.suppliers[50]]
    assert (workers, issues, resolved, fees, unvalidated) == ("50", "50", "50%", "50%", "10")
    assert rows[chain.suppliers[10]][:2] == ["10", "10"]
    # The headline and charts are the roll-up's.
    assert '<div class="tile" id="tile-workers"><span class="figure">70</span>' in page
    assert '<div class="tile" id="tile-resolved"><span class="figure">68%</span>' in page
    assert "35 of 60 eligible workers reimbursed" in page
    assert money("620000.00", "THB") in page
    assert money("16500.00", "MYR") in page
    assert chain.outside not in page


def test_axis_scores_pool_the_recorded_and_the_computed_indicators(chain: Chain) -> None:
    fifty = csv_of(chain, "brand")[f"supplier:{chain.suppliers[50]}"]
    assert {key: fifty[key] for key in FIFTY_AXES_BY_HAND} == FIFTY_AXES_BY_HAND


def test_supplier_sees_its_own_figures_and_no_other_business(chain: Chain) -> None:
    own = chain.suppliers[50]
    exported = csv_of(chain, "supplier")
    assert set(exported) == {f"supply_chain:{own}"}
    assert {key: exported[f"supply_chain:{own}"][key] for key in FIFTY_BY_HAND} == FIFTY_BY_HAND
    page = page_of(chain, "supplier")
    assert own in page
    assert 'class="queue suppliers"' not in page
    exported_text = csv_text(chain, "supplier")
    for other in (chain.brand, chain.outside, *(chain.suppliers[n] for n in (3, 9, 10))):
        assert other not in page, f"the supplier's page names {other}"
        assert other not in exported_text, f"the supplier's export names {other}"
    # Its charts: two quarters of three bars; four ratings; repaid against owed per currency.
    assert chart(page, "chart-trend").count('<rect class="bar ') == 6
    assert chart(page, "chart-ratings").count('<rect class="bar ') == 4
    assert chart(page, "chart-money-THB").count('<rect class="bar ') == 2
    assert money("400000.00", "THB") in page
    assert money("12000.00", "MYR") in page
    assert "20 of 40 eligible workers reimbursed" in page


def test_a_figure_from_too_few_workers_is_written_under_ten_and_never_drawn(chain: Chain) -> None:
    page = page_of(chain, "small")
    assert chain.suppliers[9] in page
    assert '<div class="tile" id="tile-workers"><span class="figure"><10</span>' in page
    assert '<rect class="bar' not in page, "nothing of a 9-worker supplier is drawn"
    assert chart(page, "chart-axes").count('<text class="value suppressed"') == 3
    assert chart(page, "chart-trend").count('<text class="suppressed"') == 3
    assert chart(page, "chart-ratings").count("<10") == 4
    # What was drawn for the 50-worker supplier is a bar where this one reads "<10".
    assert '<rect class="bar fees"' in chart(page_of(chain, "supplier"), "chart-fees")
    assert '<rect class="bar fees"' not in chart(page, "chart-fees")


# --- and what no partner ever sees ------------------------------------------------------

_PARAMETER = re.compile(r"<(?:([^:>]+):)?([^>]+)>")


def every_route(chain: Chain, method: str) -> list[str]:
    """Every route of the app for this method, its parameters filled in: a ticket's real
    reference where a route names a ticket, so a route that would show it is asked for it."""
    ref = chain.desk.sql("SELECT ref FROM tickets ORDER BY id LIMIT 1")[0][0]

    def value(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        if name == "filename":
            return "console.css"
        if converter == "uuid" or name in (
            "envelope_id",
            "attachment_id",
            "message_id",
            "action_id",
        ):
            return str(uuid.uuid4())
        if converter == "int" or name.endswith("_id"):
            return "1"
        return str(ref)

    rules = chain.desk.app.url_map.iter_rules()
    return sorted({_PARAMETER.sub(value, r.rule) for r in rules if method in (r.methods or ())})


def test_no_page_export_or_api_answer_shows_a_partner_a_worker(chain: Chain) -> None:
    pages = every_route(chain, "GET")
    assert {"/partner", "/partner/indicators.csv", "/tickets", "/api/v1/tickets"} <= set(pages)
    leaks, reached = [], set()
    for who in PARTNERS:
        token = {"Authorization": f"Bearer {chain.tokens[who]}"}
        for path in pages:
            if path.startswith("/api/"):
                answer = chain.desk.client.get(path, headers=token)
                if path != "/api/v1/openapi.json":
                    assert answer.status_code == 403, (who, path, answer.status_code)
            else:
                answer = chain.clients[who].get(path)
            if answer.status_code == 200:
                reached.add(path)
            body = html.unescape(answer.get_data(as_text=True)) + answer.headers.get("Location", "")
            answer.close()  # a static file holds its handle until then
            leaks += [
                f"{who}: GET {path} shows {what} ({value})"
                for value, what in chain.never.items()
                if value in body and value not in path
            ]
        for path in every_route(chain, "POST"):
            if path.startswith("/api/"):
                answer = chain.desk.client.post(path, json={}, headers=token)
                assert answer.status_code == 403, (who, path, answer.status_code)
    assert not leaks, "\n".join(leaks[:20])
    assert {"/partner", "/partner/indicators.csv"} <= reached
    assert not [path for path in reached if path.startswith(("/tickets", "/api/v1/tickets"))]


def test_a_partner_with_no_business_gets_a_clear_empty_page(chain: Chain) -> None:
    with chain.desk.rt.session() as session:
        create_user(
            session, f"nobody@{chain.mark}.example", chain.organisation, "partner", PASSWORD
        )
        session.commit()
    client = chain.desk.app.test_client()
    landed = signin.sign_in(client, f"nobody@{chain.mark}.example", PASSWORD, {})
    assert landed.request.path == "/partner"
    page = html.unescape(landed.text)
    assert 'id="no-business"' in page
    assert "<svg" not in page
    assert "<10" not in page
    exported = client.get("/partner/indicators.csv").get_data(as_text=True).removeprefix("\ufeff")
    assert exported.splitlines() == ["scope,business,indicator,quarter,breakdown,value,label"]
    with chain.desk.rt.session() as session:
        nobody = session.scalars(select(User).where(User.email.like("nobody@%"))).one()
        assert nobody.business_id is None
