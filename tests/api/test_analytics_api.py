"""/v1/analytics: JSON with the period and definitions echoed back, CSV, auth and validation."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import event

from tests.api.conftest import bearer
from tests.integration.test_analytics_core import seed_engagement, seed_product_md_example

JUNE = {"start": "2025-06-01", "end": "2025-07-01"}
REPORTS = ["retention", "revenue-churn", "cohorts", "nps", "support", "exit-reasons", "campaigns", "summary"]


async def test_retention_report_echoes_period_and_definitions(client, admin, sessionmaker) -> None:
    async with sessionmaker() as s:
        await seed_product_md_example(s)
        await s.commit()
    r = await client.get("/v1/analytics/retention", params=JUNE, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["granularity"], body["timezone"], body["start"], body["end"]) == (
        "month",
        "UTC",
        "2025-06-01",
        "2025-07-01",
    )
    assert body["active_days"] == 90 and body["currency"] == "USD"
    assert "(E - N) / S" in body["definitions"]["crr_percent"]
    assert "lapsed and came back" in body["definitions"]["retained_customers"]
    assert body["ltv_formula"].startswith("LTV = average order value x purchase frequency")
    (row,) = body["periods"]
    assert row["period"]["label"] == "2025-06" and row["period"]["complete"] is True
    assert (row["customers_start"], row["customers_end"], row["acquired_customers"]) == (50, 65, 25)
    assert (row["crr_percent"], row["churn_rate_percent"]) == (pytest.approx(80.0), pytest.approx(20.0))

    r = await client.get("/v1/analytics/retention", params={**JUNE, "format": "csv"}, headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "retention_2025-06_2025-06.csv" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 1
    assert rows[0]["period"] == "2025-06" and rows[0]["crr_percent"] == "80.0"
    assert rows[0]["revenue"] == "60.00" and rows[0]["currency"] == "USD"  # 40 x 1.00 + 25 x 0.80

    # Moscow time: June starts three hours earlier; the echo says so.
    r = await client.get("/v1/analytics/retention", params={**JUNE, "tz": "Europe/Moscow"}, headers=admin)
    assert r.json()["timezone"] == "Europe/Moscow"
    assert r.json()["periods"][0]["period"]["start_at"].startswith("2025-05-31T21:00:00")


async def test_empty_period_says_no_data(client, admin) -> None:
    r = await client.get("/v1/analytics/retention", params={**JUNE, "granularity": "week"}, headers=admin)
    assert r.status_code == 200
    rows = r.json()["periods"]
    assert [p["period"]["label"] for p in rows] == [
        "2025-W22",
        "2025-W23",
        "2025-W24",
        "2025-W25",
        "2025-W26",
        "2025-W27",
    ]
    assert all(p["no_data"] and p["crr_percent"] is None and p["ltv_minor"] is None for p in rows)


@pytest.mark.parametrize("report", REPORTS)
async def test_every_report_json_csv_and_auth(report, client, admin, make_key, sessionmaker) -> None:
    async with sessionmaker() as s:
        await seed_product_md_example(s)
        await seed_engagement(s)
        await s.commit()
    url = f"/v1/analytics/{report}"
    params = {"start": "2025-06-01"} if report == "summary" else JUNE
    r = await client.get(url, params=params, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["definitions"]["counted_order"] and body["timezone"] == "UTC"
    assert body["start"] == "2025-06-01"
    r = await client.get(url, params={**params, "format": "csv"}, headers=admin)
    assert r.status_code == 200 and r.text.count("\r\n") >= 2, r.text
    assert (await client.get(url, params=params)).status_code == 401
    other = bearer(await make_key("customers:read"))
    r = await client.get(url, params=params, headers=other)
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    r = await client.get(url, params={**params, "granularity": "day"}, headers=admin)
    assert r.status_code == 422


async def test_report_contents(client, admin, sessionmaker) -> None:
    async with sessionmaker() as s:
        await seed_product_md_example(s)
        await seed_engagement(s)
        await s.commit()
    headers = admin
    churn = (await client.get("/v1/analytics/revenue-churn", params=JUNE, headers=headers)).json()
    assert churn["periods"][0]["revenue_churn_percent"] == pytest.approx(3000 / 7000 * 100)
    cohorts = (
        await client.get(
            "/v1/analytics/cohorts", params={"start": "2025-03-01", "end": "2025-07-01"}, headers=headers
        )
    ).json()
    assert [c["active"] for c in cohorts["cohorts"]][0] == [50, 0, 0, 40]
    camp = (await client.get("/v1/analytics/campaigns", params=JUNE, headers=headers)).json()["campaigns"][0]
    assert (camp["win_back_rate_percent"], camp["holdout_rate_percent"], camp["significant"]) == (
        pytest.approx(30.0),
        pytest.approx(10.0),
        True,
    )
    s = (await client.get("/v1/analytics/summary", params={"start": "2025-06-17"}, headers=headers)).json()
    assert s["period"]["label"] == "2025-06"
    assert s["retention"]["crr_percent"] == pytest.approx(80.0)
    assert s["nps"]["responses"] == 6 and [r["reason"] for r in s["exit_reasons"]][0] == "price"
    assert s["support"]["first_response_median_seconds"] == pytest.approx(210.0)
    exits = (await client.get("/v1/analytics/exit-reasons", params=JUNE, headers=headers)).json()
    assert exits["answered"] == 4


async def test_invalid_ranges_are_422_with_a_code(client, admin) -> None:
    for params, code in (
        ({"start": "2025-07-01", "end": "2025-06-01"}, "invalid_range"),
        ({"start": "2000-01-01", "granularity": "week"}, "too_many_periods"),
        ({"start": "2027-01-01"}, "period_in_future"),
    ):
        r = await client.get("/v1/analytics/retention", params=params, headers=admin)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, (params, r.text)
    for params in ({"tz": "Mars/Olympus"}, {"start": "2025-13-01"}, {"periods": "0"}, {"format": "xml"}):
        r = await client.get("/v1/analytics/retention", params=params, headers=admin)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", params


@pytest.mark.parametrize(
    ("report", "params"),
    [
        ("retention", {"end": "0001-02-01", "periods": "12"}),  # twelve months before year 1
        ("cohorts", {"end": "9999-12-31"}),  # the period after December 9999
        (
            "nps",
            {"start": "0001-01-01", "end": "0001-02-01", "tz": "Europe/Moscow"},
        ),  # midnight before year 1
        ("summary", {"start": "9999-12-15"}),
    ],
)
async def test_dates_off_the_calendar_are_422_not_500(report, params, client, admin) -> None:
    r = await client.get(f"/v1/analytics/{report}", params=params, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_range", r.text
    assert r.json()["error"]["details"] == {"earliest": "1900-01-01", "latest": "9000-01-01"}


async def test_reports_read_without_taking_the_sqlite_write_lock(client, admin, engine) -> None:
    begins: list[str] = []

    def on_execute(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        for report in ("nps", "support", "summary"):
            begins.clear()
            r = await client.get(f"/v1/analytics/{report}", params=JUNE, headers=admin)
            assert r.status_code == 200, r.text
            # The key check may write (last used), the report itself only reads: writers go on.
            assert begins == ["BEGIN IMMEDIATE", "BEGIN"], (report, begins)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
