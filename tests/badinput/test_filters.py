"""Classic SQL injection in every list filter, cursor and id: a typed parameter refuses the text with
422, a text filter matches it literally (so nothing, since no row holds it), and afterwards every
table is still there with the rows it had."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import quote

import httpx
import pytest

from api.auth import mint_token
from db.models import ApprovalTask, Case, EmployeeRecord, Receivable
from domain.roles import Role
from tests.badinput.conftest import EMPLOYEE, OTHER, SharedDatabase, count_rows
from tests.conftest import JWT_SECRET

PAYLOADS = [
    "' OR 1=1 --",
    "1; DROP TABLE cases",
    "x'; DROP TABLE employees; --",
    "' UNION SELECT resident_id_number, name FROM employees --",
    '") OR ("1"="1',
    "%' OR '%'='",
    "1 OR 1=1",
    f"{EMPLOYEE}' --",
    "$1",
]
NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
HR = {"Authorization": f"Bearer {mint_token(JWT_SECRET, user='mgr.wang', role=Role.HR_MANAGER)}"}

# (path, query parameter) -> what a payload gets: "empty" = 200 with no rows, "422" = refused by type
TEXT_FILTERS = [
    ("/cases", "kind"), ("/cases", "stage"), ("/cases", "status"), ("/cases", "employee_id"),
    ("/si-changes", "stage"), ("/si-changes", "employee_id"), ("/si-changes", "cursor"),
    ("/offboardings", "stage"),
    ("/receivables", "status"),
    ("/audit/events", "workflow_id"), ("/audit/events", "subject"),
    ("/transfers/statistics", "department"),
]
TYPED_FILTERS = [
    ("/cases", "cursor"), ("/cases", "limit"), ("/inbox", "cursor"), ("/inbox", "limit"),
    ("/si-changes", "limit"), ("/offboardings", "limit"), ("/receivables", "cursor"),
    ("/audit/events", "cursor"), ("/transfers/statistics", "from"), ("/transfers/statistics", "to"),
    ("/me/notifications", "cursor"), ("/me/notifications", "unread_only"),
]
ID_PATHS = ["/cases/{}", "/employees/{}", "/receivables/{}", "/employees/{}/records", "/transfers/{}/materials"]


@pytest.fixture(scope="module")
def rows(shared_database: SharedDatabase) -> SharedDatabase:
    """A row behind every list, so a filter that let ``OR 1=1`` through would return it."""
    with shared_database.session_factory.begin() as s:
        for employee in (EMPLOYEE, OTHER):
            s.add(Case(workflow_id=f"maternity-leave-{employee}-2026-12-01", kind="maternity", employee_id=employee,
                       stage="on_leave", opened_at=NOW))
            s.add(Case(workflow_id=f"offboarding-{employee}-2026-11-02", kind="offboarding", employee_id=employee,
                       stage="clearance", opened_at=NOW))
            s.add(Receivable(employee_id=employee, workflow_id=f"maternity-leave-{employee}-2026-12-01",
                             kind="maternity_advance", month="2026-12", amount=Decimal("100.00"), booked_at=NOW))
            s.add(EmployeeRecord(employee_id=employee, kind="loan", title="car loan", recorded_by="fin.zhao"))
        s.flush()
        s.add(ApprovalTask(workflow_id=f"maternity-leave-{EMPLOYEE}-2026-12-01", task_key="approve",
                           title="approve the leave", role="hr_manager", created_at=NOW))
    return shared_database


def _rows_of(body: object) -> list:
    if isinstance(body, list):
        return body
    assert isinstance(body, dict)
    if "items" in body:
        return body["items"]
    return body["per_month"]  # transfer statistics


async def test_a_list_without_filters_shows_the_seeded_rows(module_stack: httpx.AsyncClient, rows) -> None:
    """The control: the filters below come back empty because they match nothing, not because the
    lists are."""
    for path in ("/cases", "/offboardings", "/receivables", "/inbox"):
        r = await module_stack.get(path, headers=HR)
        assert r.status_code == 200 and _rows_of(r.json()), (path, r.text)


@pytest.mark.parametrize("path,param", TEXT_FILTERS)
async def test_text_filters_match_an_injection_literally(module_stack, rows, path: str, param: str) -> None:
    before = count_rows(rows.session_factory)
    for payload in PAYLOADS:
        r = await module_stack.get(path, params={param: payload}, headers=HR)
        assert r.status_code == 200, (payload, r.text)
        assert _rows_of(r.json()) == [], (payload, r.text)
    assert count_rows(rows.session_factory) == before


@pytest.mark.parametrize("path,param", TYPED_FILTERS)
async def test_typed_filters_refuse_an_injection(module_stack, rows, path: str, param: str) -> None:
    for payload in PAYLOADS:
        r = await module_stack.get(path, params={param: payload}, headers=HR)
        assert r.status_code == 422, (payload, r.text)
        assert r.json()["error"] == "validation_failed"
        assert r.json()["detail"][0]["field"] == f"query.{param}"


async def test_ids_in_paths_are_only_ids(module_stack, rows) -> None:
    before = count_rows(rows.session_factory)
    for template in ID_PATHS:
        for payload in PAYLOADS:
            r = await module_stack.get(template.format(quote(payload, safe="")), headers=HR)
            found = r.status_code == 200 and _rows_of(r.json())
            assert r.status_code in (200, 404) and not found, (template, payload, r.text)
    assert count_rows(rows.session_factory) == before


async def test_an_employee_cannot_widen_her_own_list(module_stack, rows) -> None:
    me = {"Authorization": f"Bearer {mint_token(JWT_SECRET, user=EMPLOYEE, role=Role.EMPLOYEE)}"}
    for payload in PAYLOADS:
        r = await module_stack.get("/cases", params={"employee_id": payload, "kind": "maternity"}, headers=me)
        assert [c["employee_id"] for c in r.json()["items"]] == [EMPLOYEE], payload


@pytest.mark.parametrize("path,param", [("/policies/contribution", "city"), ("/policies/maternity-leave", "province"),
                                        ("/policies/deadlines", "region")])
async def test_catalogue_lookups_answer_an_injection_with_unknown_region(module_stack, path: str, param: str) -> None:
    for payload in PAYLOADS:
        r = await module_stack.get(path, params={param: payload}, headers=HR)
        assert r.status_code == 404 and r.json()["detail"]["rule"] == "region", (payload, r.text)
