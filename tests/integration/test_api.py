"""The JSON API: bearer tokens, organisation scope, audit of every opened thread."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from console.app import create_app
from intake.models import AuditEntry
from safeguards.audit import verify_log

from integration.conftest import close_app
from support.builders import as_body, telegram_update


@pytest.fixture
def two_organisations(desk) -> dict[str, str]:
    """A Burmese-language ticket lands with the first organisation; tokens for both."""
    desk.organisation("Mae Sot Migrant Centre", ["my"])
    desk.organisation("Penang Workers Union", ["ne"])
    tokens = {
        "own": desk.token("cw@maesot.example", "Mae Sot Migrant Centre"),
        "other": desk.token("cw@penang.example", "Penang Workers Union"),
        "partner": desk.token("brand@example.com", "Mae Sot Migrant Centre", role="partner"),
    }
    desk.post_update(telegram_update(7340050001, "အလုပ်ရှင်က လစာ မပေးဘူး"))
    desk.work()
    return tokens


def test_caseworker_lists_and_opens_own_organisations_ticket(desk, two_organisations) -> None:
    listing = desk.api("/api/v1/tickets", two_organisations["own"]).get_json()
    assert [t["organisation"] for t in listing["tickets"]] == ["Mae Sot Migrant Centre"]
    item = listing["tickets"][0]
    assert set(item) >= {
        "ref",
        "status",
        "language",
        "channel",
        "urgent",
        "organisation",
        "categories",
        "created_at",
        "updated_at",
        "message_count",
    }
    assert (item["status"], item["language"], item["urgent"]) == ("new", "my", False)
    opened = desk.api(f"/api/v1/tickets/{item['ref']}", two_organisations["own"]).get_json()
    assert [m["direction"] for m in opened["messages"]] == ["in", "out"]
    assert opened["messages"][0]["text"] == "အလုပ်ရှင်က လစာ မပေးဘူး"


def test_another_organisations_ticket_answers_404_like_a_missing_one(
    desk, two_organisations
) -> None:
    ref = desk.sql("SELECT ref FROM tickets")[0][0]
    assert desk.api("/api/v1/tickets", two_organisations["other"]).get_json()["tickets"] == []
    hidden = desk.api(f"/api/v1/tickets/{ref}", two_organisations["other"])
    missing = desk.api("/api/v1/tickets/ZZZZ-ZZZZ", two_organisations["other"])
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["error"] == missing.get_json()["error"] == "not found"


def test_partner_token_sees_no_ticket(desk, two_organisations) -> None:
    answer = desk.api("/api/v1/tickets", two_organisations["partner"])
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "forbidden"


@pytest.mark.parametrize("header", [None, "Bearer vd_not-a-token", "Basic dXNlcjpwYXNz"])
def test_missing_or_wrong_token_answers_401(desk, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = desk.client.get("/api/v1/tickets", headers=headers)
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "unauthorized"


def test_filters_narrow_the_list_and_bad_filters_answer_400(desk, two_organisations) -> None:
    token = two_organisations["own"]
    assert (
        len(desk.api("/api/v1/tickets?language=my&urgent=false", token).get_json()["tickets"]) == 1
    )
    assert desk.api("/api/v1/tickets?language=th", token).get_json()["tickets"] == []
    assert desk.api("/api/v1/tickets?status=closed", token).get_json()["tickets"] == []
    assert desk.api("/api/v1/tickets?urgent=maybe", token).status_code == 400
    assert desk.api("/api/v1/tickets?before=%%%", token).status_code == 400


def test_pages_follow_one_another_without_gaps_or_repeats(desk) -> None:
    desk.organisation("Mae Sot Migrant Centre", ["th"])
    token = desk.token("cw@maesot.example", "Mae Sot Migrant Centre")
    for chat in range(7340051000, 7340051007):
        desk.post_update(telegram_update(chat, "สวัสดี"))
    desk.work()
    seen: list[str] = []
    url = "/api/v1/tickets?limit=3"
    while url:
        page = desk.api(url, token).get_json()
        seen += [t["ref"] for t in page["tickets"]]
        url = f"/api/v1/tickets?limit=3&before={page['next']}" if page["next"] else ""
    assert len(seen) == len(set(seen)) == 7


def test_opening_a_thread_writes_an_audit_entry_and_the_chain_holds(
    desk, two_organisations
) -> None:
    ref = desk.sql("SELECT ref FROM tickets")[0][0]
    desk.api(f"/api/v1/tickets/{ref}", two_organisations["own"])
    reads = desk.sql("SELECT actor, target, detail FROM audit_log WHERE action = 'ticket.read'")
    assert len(reads) == 1
    assert reads[0][1] == f"ticket:{ref}"
    assert reads[0][2] == {"via": "api"}
    with desk.rt.session() as session:
        assert verify_log(session) is None
        assert session.query(AuditEntry).count() >= 4  # org, users, tokens, the read


def test_postgresql_refuses_to_change_or_delete_audit_history(
    desk, two_organisations, database_url
) -> None:
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE audit_log SET actor = 'someone else'")
        conn.rollback()
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM audit_log")


def test_openapi_document_describes_every_api_route(desk) -> None:
    spec = desk.client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    served = {
        (rule.rule.replace("<", "{").replace(">", "}"), method.lower())
        for rule in desk.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and not rule.rule.endswith("openapi.json")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert served == described


def _post(desk, path: str, token: str, body: object) -> object:
    return desk.client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_reply_through_the_api_reaches_the_workers_chat_and_the_thread(
    desk, two_organisations, telegram_stub
) -> None:
    ref = desk.sql("SELECT ref FROM tickets")[0][0]
    answer = _post(
        desk, f"/api/v1/tickets/{ref}/replies", two_organisations["own"], {"text": "ဘယ်စက်ရုံမှာ အလုပ်လုပ်လဲ"}
    )
    assert answer.status_code == 202
    assert answer.get_json()["message"]["delivery_status"] == "queued"
    desk.work()
    assert "ဘယ်စက်ရုံမှာ အလုပ်လုပ်လဲ" in telegram_stub.messages_to(7340050001)
    opened = desk.api(f"/api/v1/tickets/{ref}", two_organisations["own"]).get_json()
    assert opened["messages"][-1]["text"] == "ဘယ်စက်ရုံမှာ အလုပ်လုပ်လဲ"
    assert opened["messages"][-1]["direction"] == "out"
    actions = [row[0] for row in desk.sql("SELECT action FROM audit_log ORDER BY id")]
    assert "ticket.reply" in actions


def test_reply_to_another_organisations_ticket_is_404_and_sends_nothing(
    desk, two_organisations, telegram_stub
) -> None:
    ref = desk.sql("SELECT ref FROM tickets")[0][0]
    before = desk.sql("SELECT count(*) FROM messages")[0][0]
    for token in (two_organisations["other"],):
        answer = _post(desk, f"/api/v1/tickets/{ref}/replies", token, {"text": "hello"})
        assert answer.status_code == 404
        assert answer.get_json()["error"] == "not found"
    assert (
        _post(
            desk, f"/api/v1/tickets/{ref}/replies", two_organisations["partner"], {"text": "x"}
        ).status_code
        == 403
    )
    assert desk.sql("SELECT count(*) FROM messages")[0][0] == before


def test_malformed_or_empty_reply_is_400_and_stores_nothing(desk, two_organisations) -> None:
    ref = desk.sql("SELECT ref FROM tickets")[0][0]
    before = desk.sql("SELECT count(*) FROM messages")[0][0]
    for body in ({}, {"text": 5}, {"text": "   "}, {"text": "x" * 4001}, ["text"]):
        answer = _post(desk, f"/api/v1/tickets/{ref}/replies", two_organisations["own"], body)
        assert answer.status_code == 400, body
        assert set(answer.get_json()) == {"error", "detail"}
    assert desk.sql("SELECT count(*) FROM messages")[0][0] == before


def test_categories_set_in_triage_show_in_the_ticket_json(desk, two_organisations) -> None:
    ref = desk.sql("SELECT ref FROM tickets")[0][0]
    with desk.rt.session() as session:
        session.execute(
            text(
                "INSERT INTO ticket_categories (ticket_id, category_id) SELECT t.id, c.id "
                "FROM tickets t, categories c "
                "WHERE c.code IN ('withholding_of_wages', 'recruitment_fees')"
            )
        )
        session.commit()
    item = desk.api("/api/v1/tickets", two_organisations["own"]).get_json()["tickets"][0]
    opened = desk.api(f"/api/v1/tickets/{ref}", two_organisations["own"]).get_json()
    assert (
        item["categories"] == opened["categories"] == ["withholding_of_wages", "recruitment_fees"]
    )


def test_healthz_reports_database_and_redis_reachable(desk) -> None:
    answer = desk.client.get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok"}


def test_web_process_serves_webhooks_and_threads_without_the_vault_keys(
    desk, product_env: dict[str, str], tmp_path: Path
) -> None:
    """The console never loads the vault ring: with it unreadable, the web still works."""
    desk.organisation("Mae Sot Migrant Centre", ["my"])
    token = desk.token("cw@maesot.example", "Mae Sot Migrant Centre")
    web_settings = desk.settings.with_changes(
        vault_keys_file=tmp_path / "no-such-vault.keys",
        pseudonym_pepper_file=tmp_path / "no-pepper",
    )
    web = create_app(web_settings)
    try:
        client = web.test_client()
        answer = client.post(
            "/hooks/telegram",
            data=as_body(telegram_update(7340050002, "ကူညီပါ")),
            headers={
                "X-Telegram-Bot-Api-Secret-Token": product_env["TELEGRAM_WEBHOOK_SECRET"],
                "Content-Type": "application/json",
            },
        )
        assert answer.status_code == 200
        desk.work()  # the worker, which holds the vault, does the rest
        ref = desk.sql("SELECT ref FROM tickets")[0][0]
        opened = client.get(f"/api/v1/tickets/{ref}", headers={"Authorization": f"Bearer {token}"})
        assert opened.get_json()["messages"][0]["text"] == "ကူညီပါ"
    finally:
        close_app(web)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("validation-requests", {}),
        ("validation-requests", {"summary": 5}),
        ("validation-requests", "not json"),
        ("close", "not json"),
        ("close", {"reason": ["a", "list"]}),
    ],
)
def test_malformed_validation_and_close_requests_are_400_and_change_nothing(
    desk, two_organisations, path: str, body: object
) -> None:
    ref = desk.sql("SELECT ref FROM tickets")[0][0]
    headers = {"Authorization": f"Bearer {two_organisations['own']}"}
    if isinstance(body, str):
        answer = desk.client.post(
            f"/api/v1/tickets/{ref}/{path}",
            data=body,
            headers=headers,
            content_type="application/json",
        )
    else:
        answer = desk.client.post(f"/api/v1/tickets/{ref}/{path}", json=body, headers=headers)
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "bad request"
    assert desk.sql("SELECT status, validation_status FROM tickets")[0] == ("new", None)


def test_closing_a_new_ticket_is_409_with_the_reason_and_without_a_body(
    desk, two_organisations
) -> None:
    ref = desk.sql("SELECT ref FROM tickets")[0][0]
    headers = {"Authorization": f"Bearer {two_organisations['own']}"}
    answer = desk.client.post(f"/api/v1/tickets/{ref}/close", headers=headers)
    assert answer.status_code == 409
    assert "only once the worker has confirmed the fix" in answer.get_json()["detail"]
    asked = desk.client.post(
        f"/api/v1/tickets/{ref}/validation-requests",
        json={"summary": "Wages paid"},
        headers=headers,
    )
    assert asked.status_code == 409  # a new ticket is not in remediation yet
    assert desk.sql("SELECT count(*) FROM validations")[0][0] == 0
