"""The report over HTTP: the list, JSON, the CSV Excel opens, 404/422/403/401, and computing a month
through the workflow (202, 409 while it runs, 202 again once it has finished)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.outbox import NoticeActivities
from activities.report import ReportActivities
from db import report
from db.models import Employee
from db.report import ReportThresholds
from domain.roles import Role
from tests.reports.conftest import report_app
from tests.reports.test_figures import NOVEMBER
from workflows.monthly_report import MonthlyReportResult, MonthlyReportWorkflow

READERS = (Role.HR_MANAGER, Role.COMPLIANCE, Role.FINANCE, Role.ADMIN)


@pytest.fixture
async def client(settings, engine, codec, temporal_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    app = report_app(settings, engine, codec, temporal_env.client)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hrflow.test") as c:
        yield c


@pytest.fixture
def november(seeded, compute) -> None:
    compute("2026-10")
    compute("2026-11")


async def test_json_for_every_reader(client, auth, november) -> None:
    for role in READERS:
        r = await client.get("/reports/monthly/2026-11", headers=auth(role))
        assert r.status_code == 200, (role, r.text)
    body = r.json()
    assert body["month"] == "2026-11" and body["computed_at"] == "2026-12-01T02:00:00Z"
    assert body["thresholds"]["undeducted_rate_alert"] == "0.05"
    assert len(body["alerts"]) == 9
    undeducted = {f["dimension"]: f for f in body["figures"]["undeducted_rate"]}
    assert undeducted["销售部"] == {"dimension": "销售部", "value": "0.5000", "numerator": "3159.00",
                                  "denominator": "6318.00", "alert": True}
    assert sum(len(v) for v in body["figures"].values()) == len(NOVEMBER)
    assert [f["dimension"] for f in body["figures"]["receivable_ageing"]] == ["0-30", "31-90", "91-180", "181+"]

    listing = await client.get("/reports/monthly", headers=auth(Role.FINANCE))
    assert listing.status_code == 200
    assert [(m["month"], m["alerts"]) for m in listing.json()] == [("2026-11", 9), ("2026-10", 8)]


async def test_csv_opens_in_excel_and_runs_nothing(client, auth, session_factory, seeded, compute) -> None:
    with session_factory.begin() as s:  # a department named like a formula, with a base above the band
        s.add(Employee(employee_id="X1", resident_id_number="110105199001999999", name="测试", department="=1+1",
                       position="顾问", hire_date=dt.date(2020, 1, 1), si_province="Beijing", si_city="Beijing",
                       contribution_base=Decimal("50000.00")))
    compute("2026-11")
    r = await client.get("/reports/monthly/2026-11/figures.csv", headers=auth(Role.COMPLIANCE))
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="report-2026-11.csv"'
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["month", "metric", "dimension", "value", "numerator", "denominator", "alert"]
    assert ["2026-11", "undeducted_rate", "销售部", "0.5", "3159", "6318", "true"] in rows
    assert ["2026-11", "receivable_ageing", "181+", "3212", "4", "", "false"] in rows
    assert ["2026-11", "base_outside_band", "'=1+1", "1", "1", "1", "true"] in rows
    assert len(rows) == 1 + len(NOVEMBER) + 1  # the formula-named department adds one figure


async def test_errors(client, auth, token, november) -> None:
    missing = await client.get("/reports/monthly/2020-01", headers=auth(Role.HR_MANAGER))
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    for path in ("/reports/monthly/2026-13", "/reports/monthly/2026-1/figures.csv", "/reports/monthly/nov/page"):
        bad = await client.get(path, headers=auth(Role.HR_MANAGER) | {"Accept-Language": "en"})
        assert bad.status_code == 422, path
        assert bad.json() == {"error": "validation_failed", "detail": [
            {"field": "path.month", "rule": "month_format", "label": "month",
             "message": f"'{path.split('/')[3]}' is not a month written YYYY-MM"}]}
    for role in (Role.EMPLOYEE, Role.HR_SPECIALIST, Role.IT):
        for path in ("/reports/monthly", "/reports/monthly/2026-11", "/reports/monthly/2026-11/figures.csv",
                     "/reports/monthly/2026-11/page", "/reports/monthly/2026-11/members?metric=company_attrition",
                     "/reports/monthly/2026-11/members.html?metric=company_attrition"):
            r = await client.get(path, headers=auth(role, employee="E1" if role is Role.EMPLOYEE else None))
            assert r.status_code == 403, (role, path)
            assert r.json()["error"] == "forbidden"
    assert (await client.get("/reports/monthly/2026-11")).status_code == 401
    for role in (Role.FINANCE, Role.COMPLIANCE):
        assert (await client.post("/reports/monthly/2026-11/compute", headers=auth(role))).status_code == 403
    future = await client.post("/reports/monthly/2999-01/compute", headers=auth(Role.ADMIN))
    assert future.status_code == 422 and future.json()["detail"][0]["rule"] == "month_not_future"
    bad = await client.post("/reports/monthly/2026-13/compute", headers=auth(Role.ADMIN))
    assert bad.status_code == 422 and bad.json()["detail"][0]["rule"] == "month_format"


async def test_compute_starts_the_workflow(client, auth, settings, session_factory, temporal_env, seeded) -> None:
    # No worker polls yet, so the first run is still going when the second request arrives.
    first = await client.post("/reports/monthly/2026-11/compute", headers=auth(Role.HR_MANAGER, "mgr.wang"))
    assert first.status_code == 202
    assert first.json() == {"month": "2026-11", "workflow_id": "monthly-report-2026-11"}
    second = await client.post("/reports/monthly/2026-11/compute", headers=auth(Role.ADMIN))
    assert second.status_code == 409 and second.json()["error"] == "report_running"

    handle = temporal_env.client.get_workflow_handle("monthly-report-2026-11", result_type=MonthlyReportResult)
    try:
        async with Worker(temporal_env.client, task_queue=settings.temporal_task_queue,
                          workflows=[MonthlyReportWorkflow],
                          activities=[*ReportActivities(session_factory, ReportThresholds()).all(), *NoticeActivities(session_factory).all()],
                          activity_executor=ThreadPoolExecutor(max_workers=4)):
            result = await handle.result()
            assert len(result.alerts) == 9
            assert await (await handle.describe()).static_summary() == "Monthly risk and compliance report 2026-11"
            with session_factory() as s:
                assert [r.month for r in report.runs(s)] == ["2026-11"]
            again = await client.post("/reports/monthly/2026-11/compute", headers=auth(Role.ADMIN))
            assert again.status_code == 202  # a finished month may be recomputed
            await temporal_env.client.get_workflow_handle("monthly-report-2026-11").result()
    finally:
        try:
            await handle.terminate("test finished")
        except RPCError:
            pass  # already closed


async def test_the_members_behind_a_figure(client, auth, november) -> None:
    r = await client.get("/reports/monthly/2026-11/members", headers=auth(Role.FINANCE),
                         params={"metric": "undeducted_rate", "dimension": "销售部"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["listed"], body["total"], body["counted"]) == ("denominator", 6, 3)
    assert body["label"].startswith("垫付社保未扣回率")
    assert body["figure"] == {"dimension": "销售部", "value": "0.5000", "numerator": "3159.00",
                              "denominator": "6318.00", "alert": True}
    assert [(m["employee_id"], m["facts"]["month"], m["outstanding"], m["counted"]) for m in body["items"]][:3] == [
        ("S1", "2025-10", "1053.00", True), ("S1", "2025-11", "1053.00", True), ("S1", "2025-12", "1053.00", True)]
    assert {m["workflow_id"] for m in body["items"]} == {"maternity-leave-S1", "maternity-leave-S2"}

    # every dimension of a metric without a company row; the limit cuts the list, not the counts
    ageing = await client.get("/reports/monthly/2026-11/members", headers=auth(Role.COMPLIANCE),
                              params={"metric": "receivable_ageing", "limit": 5})
    assert ageing.status_code == 200 and ageing.json()["figure"] is None
    assert (ageing.json()["total"], len(ageing.json()["items"])) == (13, 5)

    unknown = await client.get("/reports/monthly/2026-11/members", headers=auth(Role.HR_MANAGER),
                               params={"metric": "salaries"})
    assert unknown.status_code == 422
    assert [(d["field"], d["rule"]) for d in unknown.json()["detail"]] == [("query.metric", "known_metric")]
    assert unknown.json()["detail"][0]["message"].startswith("没有指标 'salaries'")
    # no such department; October has no advance without rates, so no figure at all for the metric
    for month, params in (("2026-11", {"metric": "undeducted_rate", "dimension": "财务部"}),
                          ("2026-10", {"metric": "deduction_unknown_rate"})):
        none = await client.get(f"/reports/monthly/{month}/members", headers=auth(Role.HR_MANAGER), params=params)
        assert none.status_code == 404 and none.json()["error"] == "not_found", params
    absent = await client.get("/reports/monthly/2020-01/members", headers=auth(Role.ADMIN),
                              params={"metric": "company_attrition"})
    assert absent.status_code == 404


async def test_the_members_page_is_self_contained_and_links_each_case(client, auth, november) -> None:
    r = await client.get("/reports/monthly/2026-11/members.html", headers=auth(Role.HR_MANAGER),
                         params={"metric": "maternity_return_attrition", "dimension": "销售部"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    html = r.text
    assert "产假返岗一年内离职率" in html and "共 2 条，计入 2 条" in html
    assert '<a href="/app/cases/maternity-leave-S1">maternity-leave-S1</a>' in html
    assert "最后工作日 last day：2026-06-30" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html

    page = await client.get("/reports/monthly/2026-11/page", headers=auth(Role.HR_MANAGER))
    link = 'href="members.html?metric=maternity_return_attrition&amp;dimension=%E9%94%80%E5%94%AE%E9%83%A8"'
    assert link in page.text  # each numerator opens the members behind it, relative to the page
