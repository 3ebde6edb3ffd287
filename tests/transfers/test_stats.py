"""Transfer statistics against a hand-seeded month: every figure checked against values worked out
by hand, including the interpolated 90th percentile, China-time month edges and both filters."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from api.app import create_app
from api.routes import transfer_stats
from db import transfer_stats as stats
from db.models import Transfer, TransferBranch, TransferReview
from domain.roles import Role
from tests.processes.support import add_employee

CHINA = dt.timezone(dt.timedelta(hours=8))
NOV = {"from": "2026-11-01", "to": "2026-11-30"}

# id: (department, origin, destination, filed at, China time)
TRANSFERS = {
    "T1": ("R&D", "Guizhou", "Heilongjiang", dt.datetime(2026, 11, 2, 10, tzinfo=CHINA)),
    "T2": ("R&D", "Guizhou", "Heilongjiang", dt.datetime(2026, 11, 5, 10, tzinfo=CHINA)),
    "T3": ("R&D", "Guizhou", "Guangdong", dt.datetime(2026, 11, 10, 10, tzinfo=CHINA)),
    "T4": ("Sales", "Sichuan", "Heilongjiang", dt.datetime(2026, 11, 15, 10, tzinfo=CHINA)),
    "T5": ("Sales", "Guizhou", "Beijing", dt.datetime(2026, 11, 30, 23, 30, tzinfo=CHINA)),  # 15:30 UTC
    "T6": ("R&D", "Sichuan", "Guangdong", dt.datetime(2026, 12, 1, 0, 30, tzinfo=CHINA)),  # still Nov in UTC
    "T7": ("Sales", "Hunan", "Heilongjiang", dt.datetime(2026, 10, 20, 10, tzinfo=CHINA)),
}
# (transfer, kind, status, days from start to completion)
BRANCHES = [
    ("T1", "pension", "completed", Decimal(10)), ("T2", "pension", "completed", Decimal(20)),
    ("T3", "pension", "completed", Decimal(30)), ("T4", "pension", "completed", Decimal(40)),
    ("T5", "pension", "completed", Decimal("45.5")), ("T6", "pension", "completed", Decimal(100)),
    ("T7", "pension", "completed", Decimal(1)),
    ("T1", "medical", "completed", Decimal("3.5")), ("T2", "medical", "completed", Decimal(5)),
    ("T4", "medical", "completed", Decimal("2.25")),
    ("T1", "housing_fund", "completed", Decimal(7)),
    ("T2", "housing_fund", "rejected", Decimal(9)),  # ended, but not completed: not counted
    ("T3", "housing_fund", "transferring", None),
]
# (transfer, decision, reason code)
REVIEWS = [
    ("T1", "rejected", "missing_material"), ("T1", "approved", None), ("T2", "rejected", "missing_material"),
    ("T3", "rejected", "wrong_document"), ("T4", "rejected", "missing_material"), ("T5", "rejected", None),
    ("T6", "rejected", "wrong_document"), ("T7", "rejected", "illegible"),
]


class _NoTemporal:
    """Statistics never reach Temporal; this keeps the app from connecting to one."""


@pytest.fixture
async def client(settings, engine, codec) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine, temporal=_NoTemporal(), codec=codec)  # type: ignore[arg-type]
    if not any(getattr(r, "path", "") == "/transfers/statistics" for r in app.routes):
        app.router.routes.insert(0, transfer_stats.router.routes[0])  # ahead of /transfers/{id}
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                   base_url="http://hrflow.test") as c:
        yield c


@pytest.fixture
def seeded(session_factory) -> None:
    add_employee(session_factory, "E7001", resident_id_number="520102199001010020", name="李娜")
    with session_factory.begin() as s:
        for key, (department, origin, destination, at) in TRANSFERS.items():
            s.add(Transfer(workflow_id=key, employee_id="E7001", department=department, origin_province=origin,
                           origin_city="-", destination_province=destination, destination_city="-",
                           types=["pension"], reason="move", applicant="E7001", stage="seeded",
                           created_at=at, updated_at=at))
        s.flush()
        for key, kind, status, days in BRANCHES:
            started = TRANSFERS[key][3] + dt.timedelta(days=1)
            s.add(TransferBranch(workflow_id=key, kind=kind, status=status, started_at=started,
                                 completed_at=None if days is None else started + dt.timedelta(days=float(days))))
        for key, decision, reason in REVIEWS:
            s.add(TransferReview(workflow_id=key, decision=decision, reason_code=reason, actor="hr.li",
                                 at=TRANSFERS[key][3] + dt.timedelta(hours=3)))


async def _get(client: httpx.AsyncClient, auth, **params: str) -> dict:
    r = await client.get("/transfers/statistics", params=params, headers=auth(Role.HR_MANAGER, "hr.zhao"))
    assert r.status_code == 200, r.text
    return r.json()


def _times(body: dict) -> dict[str, tuple[int, str, str]]:
    return {p["kind"]: (p["completed"], p["average_days"], p["p90_days"]) for p in body["processing_days"]}


async def test_the_seeded_month(client, auth, seeded) -> None:
    body = await _get(client, auth, **NOV)
    assert (body["period_from"], body["period_to"], body["department"], body["transfers"]) == (
        "2026-11-01", "2026-11-30", None, 5)
    assert body["per_month"] == [{"month": "2026-11", "transfers": 5}]
    assert body["by_origin"] == [{"province": "Guizhou", "transfers": 4}, {"province": "Sichuan", "transfers": 1}]
    assert body["by_destination"] == [{"province": "Heilongjiang", "transfers": 3},
                                      {"province": "Beijing", "transfers": 1},
                                      {"province": "Guangdong", "transfers": 1}]
    # pension [10, 20, 30, 40, 45.5]: mean 145.5/5 = 29.1; p90 at rank 0.9*4 = 3.6: 40 + 0.6*5.5 = 43.3
    # medical [2.25, 3.5, 5]: mean 10.75/3 = 3.58 -> 3.6; p90 at rank 1.8: 3.5 + 0.8*1.5 = 4.7
    assert _times(body) == {"housing_fund": (1, "7.0", "7.0"), "medical": (3, "3.6", "4.7"),
                            "pension": (5, "29.1", "43.3")}
    assert body["rejection_reasons"] == [{"reason_code": "missing_material", "rejections": 3},
                                         {"reason_code": "unspecified", "rejections": 1},
                                         {"reason_code": "wrong_document", "rejections": 1}]


async def test_department_filter(client, auth, seeded) -> None:
    body = await _get(client, auth, department="R&D", **NOV)
    assert body["transfers"] == 3 and body["by_origin"] == [{"province": "Guizhou", "transfers": 3}]
    assert body["by_destination"] == [{"province": "Heilongjiang", "transfers": 2},
                                      {"province": "Guangdong", "transfers": 1}]
    # pension [10, 20, 30]: mean 20, p90 at rank 1.8: 20 + 0.8*10 = 28
    # medical [3.5, 5]: p90 at rank 0.9: 3.5 + 0.9*1.5 = 4.85 exactly -> 4.9 (half up, no float drift)
    assert _times(body) == {"housing_fund": (1, "7.0", "7.0"), "medical": (2, "4.3", "4.9"),
                            "pension": (3, "20.0", "28.0")}
    assert body["rejection_reasons"] == [{"reason_code": "missing_material", "rejections": 2},
                                         {"reason_code": "wrong_document", "rejections": 1}]
    assert (await _get(client, auth, department="Nobody"))["transfers"] == 0


async def test_whole_history_and_china_time_edges(client, auth, seeded) -> None:
    body = await _get(client, auth)
    assert body["per_month"] == [{"month": "2026-10", "transfers": 1}, {"month": "2026-11", "transfers": 5},
                                 {"month": "2026-12", "transfers": 1}]
    # pension [1, 10, 20, 30, 40, 45.5, 100]: mean 246.5/7 = 35.21 -> 35.2; rank 5.4: 45.5 + 0.4*54.5 = 67.3
    assert _times(body)["pension"] == (7, "35.2", "67.3")
    assert body["rejection_reasons"] == [{"reason_code": "missing_material", "rejections": 3},
                                         {"reason_code": "wrong_document", "rejections": 2},
                                         {"reason_code": "illegible", "rejections": 1},
                                         {"reason_code": "unspecified", "rejections": 1}]
    last_day = await _get(client, auth, **{"from": "2026-11-30", "to": "2026-11-30"})
    assert last_day["by_origin"] == [{"province": "Guizhou", "transfers": 1}]  # T5, 23:30 in Beijing
    december = await _get(client, auth, **{"from": "2026-12-01"})
    assert december["per_month"] == [{"month": "2026-12", "transfers": 1}]
    assert december["by_destination"] == [{"province": "Guangdong", "transfers": 1}]
    assert (await _get(client, auth, to="2026-10-31"))["transfers"] == 1


async def test_empty_period_is_empty_not_an_error(client, auth, seeded) -> None:
    body = await _get(client, auth, **{"from": "2025-01-01", "to": "2025-12-31"})
    assert body["transfers"] == 0 and body["per_month"] == body["processing_days"] == body["rejection_reasons"] == []


async def test_figures_are_exact_decimals(session_factory, seeded) -> None:
    with session_factory() as s:
        [pension] = [p for p in stats.processing_time(s, stats.StatsFilter(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
                     if p.kind == "pension"]
    assert (pension.average_days, pension.p90_days) == (Decimal("29.1"), Decimal("43.3"))
    assert isinstance(pension.p90_days, Decimal)


@pytest.mark.parametrize("role", [Role.HR_SPECIALIST, Role.HR_MANAGER, Role.COMPLIANCE])
async def test_readers(client, auth, role: Role) -> None:
    assert (await client.get("/transfers/statistics", headers=auth(role))).status_code == 200


@pytest.mark.parametrize("role", [Role.EMPLOYEE, Role.FINANCE, Role.IT, Role.ADMIN])
async def test_others_are_403(client, auth, role: Role) -> None:
    r = await client.get("/transfers/statistics", headers=auth(role, "x", "E7001"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


@pytest.mark.parametrize("params,field,rule", [
    ({"from": "2026-02-30"}, "query.from", "date_from_datetime_parsing"),
    ({"to": "last week"}, "query.to", "date_from_datetime_parsing"),
    ({"from": "2026-12-01", "to": "2026-11-01"}, "query.from", "period_order"),
    ({"department": ""}, "query.department", "string_too_short"),
])
async def test_bad_filters_are_422(client, auth, params: dict, field: str, rule: str) -> None:
    r = await client.get("/transfers/statistics", params=params, headers=auth(Role.HR_MANAGER))
    assert r.status_code == 422 and r.json()["error"] == "validation_failed"
    [item] = r.json()["detail"]
    assert (item["field"], item["rule"]) == (field, rule)


async def _behind(client: httpx.AsyncClient, auth, **params: str) -> dict:
    r = await client.get("/transfers/statistics/cases", params=params, headers=auth(Role.COMPLIANCE, "cmp.sun"))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("period", [NOV, {}, {"department": "R&D", **NOV}], ids=["november", "all", "r&d-november"])
async def test_every_figure_leads_to_exactly_the_transfers_it_counts(client, auth, seeded, period: dict) -> None:
    figures = await _get(client, auth, **period)
    slices = ([({"month": m["month"]}, m["transfers"]) for m in figures["per_month"]]
              + [({"origin": p["province"]}, p["transfers"]) for p in figures["by_origin"]]
              + [({"destination": p["province"]}, p["transfers"]) for p in figures["by_destination"]]
              + [({"rejection_reason": r["reason_code"]}, r["rejections"]) for r in figures["rejection_reasons"]])
    assert slices
    for cut, count in slices:
        body = await _behind(client, auth, **period, **cut)
        assert body["total"] == len(body["items"]) == count, (cut, body)
        for row in body["items"]:
            filed = dt.datetime.fromisoformat(row["created_at"]).astimezone(CHINA)
            if "month" in cut:
                assert f"{filed:%Y-%m}" == cut["month"]
            if "origin" in cut:
                assert row["origin_province"] == cut["origin"]
            if "destination" in cut:
                assert row["destination_province"] == cut["destination"]
            if "department" in period:
                assert row["department"] == period["department"]
    whole = await _behind(client, auth, **period)
    assert whole["total"] == figures["transfers"]


async def test_the_transfers_behind_come_newest_first_and_limited(client, auth, seeded) -> None:
    body = await _behind(client, auth, origin="Guizhou", **NOV)
    assert [r["workflow_id"] for r in body["items"]] == ["T5", "T3", "T2", "T1"]
    assert (await _behind(client, auth, rejection_reason="unspecified", **NOV))["items"][0]["workflow_id"] == "T5"
    first_two = await _behind(client, auth, origin="Guizhou", limit="2", **NOV)
    assert first_two["total"] == 4 and [r["workflow_id"] for r in first_two["items"]] == ["T5", "T3"]


@pytest.mark.parametrize("params,field", [({"month": "2026-13"}, "query.month"), ({"limit": "0"}, "query.limit"),
                                          ({"from": "2026-12-01", "to": "2026-11-01"}, "query.from")])
async def test_bad_drill_downs_are_422(client, auth, params: dict, field: str) -> None:
    r = await client.get("/transfers/statistics/cases", params=params, headers=auth(Role.HR_MANAGER))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, r.text
    assert (await client.get("/transfers/statistics/cases", headers=auth(Role.FINANCE))).status_code == 403


async def test_a_branch_counts_only_its_own_people(client, auth, seeded, session_factory) -> None:
    """Staff placed in a unit (``api.scope``): the figures and the cases behind them are her people's."""
    from db.models import Employee, OrgUnit, StaffMember

    with session_factory.begin() as s:
        s.add_all([OrgUnit(code="CO", name="演示科技", kind="entity", si_city="Beijing"),
                   OrgUnit(code="GZ", name="广州分公司", kind="branch", parent_code="CO", si_city="Guangzhou")])
        s.flush()
        s.add(StaffMember(user_id="hr.gz", display_name="广州人事", role="hr_manager", unit_code="GZ"))
    branch = auth(Role.HR_MANAGER, "hr.gz")

    async def seen() -> tuple[int, int]:
        figures = await client.get("/transfers/statistics", params=NOV, headers=branch)
        behind = await client.get("/transfers/statistics/cases", params=NOV, headers=branch)
        assert figures.status_code == behind.status_code == 200, (figures.text, behind.text)
        return figures.json()["transfers"], behind.json()["total"]

    assert await seen() == (0, 0)  # E7001 works elsewhere
    with session_factory.begin() as s:
        s.get(Employee, "E7001").unit_code = "GZ"
    assert await seen() == (5, 5)
