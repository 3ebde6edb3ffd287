"""Plausibility at the edge: dates outside 1900..2100, a birth on 1970-01-01, a second leave over
the first, a back-payment for months before she joined, a base outside Beijing's limits. Each is a
422 naming the field and the rule, message in Chinese then English, and nothing is written or
started; none is a 500. The message is the caller's language only (Chinese by default)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select
from temporalio.service import RPCError

from api.errors import ApiError
from api.i18n import bilingual, label
from api.routes.maternity import check_birth_date
from db.models import Case
from domain.months import add_months
from domain.policy import contribution_limits
from domain.roles import Role
from tests.badinput.conftest import EMPLOYEE, SharedDatabase, count_rows

TODAY = dt.date.today()
CHINESE = re.compile(r"[\u4e00-\u9fff]")
NEW_EMPLOYEE = {
    "employee_id": "E3003", "resident_id_number": "110105198506151236", "name": "李娜", "department": "Sales",
    "position": "Adviser", "hire_date": "2021-03-01", "si_province": "Beijing", "si_city": "Beijing",
    "contribution_base": "12000.00",
}
OFFBOARDING = {"employee_id": EMPLOYEE, "kind": "resignation", "notice_date": TODAY.isoformat(),
               "monthly_wage": "10000.00", "minimum_wage": "2540.00",
               "handover": [{"key": "files", "title": "files", "receiver": "hr.li"}]}
MATERNITY = {"employee_id": EMPLOYEE, "expected_delivery_date": (TODAY + dt.timedelta(days=60)).isoformat(),
             "company_pays_salary": False}
BACK_PAYMENT = {"employee_id": EMPLOYEE, "kind": "back_payment", "base": "10000.00",
                "months": [f"{add_months(TODAY, -2):%Y-%m}"], "effective_month": f"{TODAY:%Y-%m}", "reason": "missed"}


def resident_id(prefix17: str) -> str:
    """A valid resident ID number: the 17 digits with their ISO 7064 MOD 11-2 check character."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return prefix17 + "10X98765432"[sum(int(d) * w for d, w in zip(prefix17, weights, strict=True)) % 11]


def person(employee_id: str, sequence: str, **extra: str) -> dict[str, str]:
    return NEW_EMPLOYEE | {"employee_id": employee_id, "resident_id_number": resident_id(f"11010519900101{sequence}")} | extra


def assert_refused(r: httpx.Response, field: str, rule: str) -> dict:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_failed", body
    item = next((i for i in body["detail"] if i["field"] == field and i["rule"] == rule), None)
    assert item is not None, body
    assert CHINESE.search(item["message"]) and bilingual(item["message"]) is None, item["message"]
    assert item["label"] == label(field, "zh"), item
    return item


@pytest.fixture(scope="module")
def counts(shared_database: SharedDatabase) -> Callable[[], dict[str, int]]:
    return lambda: count_rows(shared_database.session_factory)


def hr(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth(Role.HR_SPECIALIST, "hr.li")


# ------------------------------------------------------------------ 1. dates outside 1900..2100
OUT_OF_RANGE = [
    ("POST", "/employees", NEW_EMPLOYEE, "hire_date"),
    ("POST", "/employees", NEW_EMPLOYEE, "probation_end"),
    ("POST", f"/employees/{EMPLOYEE}/rehire", {}, "hire_date"),
    ("POST", "/maternity-leaves", MATERNITY, "expected_delivery_date"),
    ("POST", "/maternity-leaves", MATERNITY, "planned_leave_start"),
    ("POST", f"/maternity-leaves/maternity-leave-{EMPLOYEE}-2026-12-01/birth", {}, "birth_date"),
    ("POST", f"/maternity-leaves/maternity-leave-{EMPLOYEE}-2026-12-01/return", {}, "date"),
    ("POST", "/offboardings", OFFBOARDING, "notice_date"),
    ("POST", "/offboardings", OFFBOARDING | {"kind": "termination", "ground": "art_39"}, "agreed_last_day"),
]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "2101-01-01"])
@pytest.mark.parametrize("method,url,body,field", OUT_OF_RANGE)
async def test_a_date_outside_1900_to_2100_is_a_422_naming_the_field(module_stack, auth, counts, method, url, body,
                                                                      field, day) -> None:
    before = counts()
    r = await module_stack.request(method, url, json=body | {field: day}, headers=hr(auth))
    item = assert_refused(r, field, "date_in_range")
    assert day in item["message"]
    assert counts() == before


QUERY_DATES = [("/transfers/statistics", {}, "to"), ("/transfers/statistics", {}, "from"),
               ("/policies/maternity-leave", {"province": "北京"}, "birth_date"),
               ("/policies/maternity-leave", {"province": "北京"}, "on"), ("/policies/contribution", {"city": "北京"}, "on")]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize("url,params,param", QUERY_DATES)
async def test_a_query_date_outside_1900_to_2100_is_a_422(module_stack, auth, url, params, param, day) -> None:
    r = await module_stack.get(url, params=params | {param: day}, headers=auth(Role.HR_MANAGER, "mgr.wang"))
    item = assert_refused(r, f"query.{param}", "date_in_range")
    assert day in item["message"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_a_non_compete_starting_outside_1900_to_2100_is_a_422(module_stack, auth, counts, day) -> None:
    before = counts()
    body = {"employee_id": EMPLOYEE, "start": day, "months": 12, "monthly_compensation": "3000.00"}
    r = await module_stack.post("/non-competes", json=body, headers=hr(auth))
    assert_refused(r, "start", "date_in_range")
    assert counts() == before


@pytest.mark.parametrize("month", ["0001-01", "0000-01", "9999-12", "1899-12"])
@pytest.mark.parametrize("field", ["months", "effective_month"])
async def test_a_month_outside_1900_to_2100_is_a_422_naming_the_field(module_stack, auth, counts, field,
                                                                       month) -> None:
    before = counts()
    body = BACK_PAYMENT | ({"months": [month]} if field == "months" else {"effective_month": month})
    r = await module_stack.post("/si-changes", json=body, headers=hr(auth))
    assert_refused(r, "months.0" if field == "months" else field, "month_in_range")
    assert counts() == before


# ------------------------------------------------------------------ 2. maternity dates and overlaps
@pytest.mark.parametrize("field,value,rule", [
    ("expected_delivery_date", "1970-01-01", "birth_date_plausible"),  # would book advances for 1969
    ("expected_delivery_date", add_months(TODAY, 11).isoformat(), "birth_date_plausible"),
    ("expected_delivery_date", add_months(TODAY, -13).isoformat(), "birth_date_plausible"),
    ("planned_leave_start", "1970-01-01", "leave_start_plausible"),
])
async def test_an_implausible_birth_or_leave_start_is_refused(module_stack, auth, counts, field, value, rule) -> None:
    before = counts()
    r = await module_stack.post("/maternity-leaves", json=MATERNITY | {field: value}, headers=hr(auth))
    assert value in assert_refused(r, field, rule)["message"]
    assert counts() == before


async def test_an_implausible_birth_is_refused_in_english_when_she_asks(module_stack, auth, counts) -> None:
    before = counts()
    r = await module_stack.post("/maternity-leaves", json=MATERNITY | {"expected_delivery_date": "1970-01-01"},
                                headers=hr(auth) | {"Accept-Language": "en"})
    assert r.status_code == 422, r.text
    item = next(i for i in r.json()["detail"] if i["rule"] == "birth_date_plausible")
    assert item["label"] == "expected delivery date" and not CHINESE.search(item["message"]), item
    assert item["message"].startswith("the birth date 1970-01-01 must lie between"), item
    assert counts() == before


async def test_a_birth_report_of_1970_is_refused(module_stack, auth, counts) -> None:
    before = counts()
    r = await module_stack.post(f"/maternity-leaves/maternity-leave-{EMPLOYEE}-2026-12-01/birth",
                                json={"birth_date": "1970-01-01"}, headers=hr(auth))
    assert_refused(r, "birth_date", "birth_date_plausible")
    assert counts() == before


def test_the_birth_window_is_12_months_back_and_10_ahead() -> None:
    for day in (add_months(TODAY, -12), TODAY, add_months(TODAY, 10)):
        check_birth_date("birth_date", day, TODAY)
    for day in (add_months(TODAY, -12) - dt.timedelta(days=1), add_months(TODAY, 10) + dt.timedelta(days=1)):
        with pytest.raises(ApiError) as refused:
            check_birth_date("birth_date", day, TODAY)
        assert refused.value.detail[0]["rule"] == "birth_date_plausible"


async def test_a_second_leave_overlapping_an_open_one_is_refused_naming_it(stack, auth, row_counts, temporal_env,
                                                                           session_factory) -> None:
    first = MATERNITY | {"expected_delivery_date": (TODAY + dt.timedelta(days=30)).isoformat()}
    r = await stack.post("/maternity-leaves", json=first, headers=hr(auth) | {"X-Request-ID": "apply-1"})
    assert r.status_code == 201, r.text
    first_id = r.json()["workflow_id"]
    before = row_counts()
    second = MATERNITY | {"expected_delivery_date": (TODAY + dt.timedelta(days=44)).isoformat()}
    r = await stack.post("/maternity-leaves", json=second, headers=hr(auth))
    item = assert_refused(r, "expected_delivery_date", "no_overlapping_leave")
    assert first_id in item["message"]
    assert row_counts() == before
    with session_factory() as s:
        assert list(s.scalars(select(Case.workflow_id).where(Case.kind == "maternity"))) == [first_id]
    second_id = f"maternity-leave-{EMPLOYEE}-{second['expected_delivery_date']}"
    with pytest.raises(RPCError):
        await temporal_env.client.get_workflow_handle(second_id).describe()
    # The first application sent again (same request id) still reaches its own case: it is no overlap.
    r = await stack.post("/maternity-leaves", json=first, headers=hr(auth) | {"X-Request-ID": "apply-1"})
    assert r.status_code == 201 and r.json()["workflow_id"] == first_id, r.text


# ------------------------------------------------------------------ 3. back-payments and the hire date
async def test_a_back_payment_for_months_before_her_hire_is_refused(module_stack, auth, counts) -> None:
    """Seed 003: she joined on the first of a month and was back-paid for the months before."""
    hired = add_months(TODAY, -3).replace(day=1)
    r = await module_stack.post("/employees", json=person("E5005", "002", hire_date=hired.isoformat()),
                                headers=hr(auth))
    assert r.status_code == 201, r.text
    before = {k: v for k, v in counts().items() if k != "audit_events"}
    early = [f"{add_months(hired, -2):%Y-%m}", f"{add_months(hired, -1):%Y-%m}"]
    r = await module_stack.post("/si-changes", json=BACK_PAYMENT | {"employee_id": "E5005", "months": early},
                                headers=auth(Role.HR_SPECIALIST, "hr.li"))
    item = assert_refused(r, "months", "month_on_or_after_hire")
    assert hired.isoformat() in item["message"] and item["message"].startswith("补缴月份不能早于入职日期")
    # Only the audit record of the refused attempt is written (as for every refused change); no case.
    assert {k: v for k, v in counts().items() if k != "audit_events"} == before
    future = [f"{add_months(TODAY, 1):%Y-%m}"]
    r = await module_stack.post("/si-changes", json=BACK_PAYMENT | {"employee_id": "E5005", "months": future},
                                headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "month_in_past", r.text


# ------------------------------------------------------------------ 4. registration
async def test_a_base_outside_beijings_limits_is_refused_at_registration(module_stack, auth, counts) -> None:
    limits = contribution_limits("Beijing", TODAY)
    before = counts()
    for base in (limits.floor - 1, limits.ceiling + 1):
        r = await module_stack.post("/employees", json=person("E6006", "004", contribution_base=f"{base:.2f}"),
                                    headers=hr(auth))
        item = assert_refused(r, "contribution_base", "base_within_city_limits")
        assert f"{limits.floor}" in item["message"] and f"{limits.ceiling}" in item["message"]
    assert counts() == before
    r = await module_stack.post("/employees", json=person("E6006", "004", contribution_base=f"{limits.floor:.2f}"),
                                headers=hr(auth))
    assert r.status_code == 201 and r.json()["notes"] == [], r.text


async def test_a_city_without_a_base_in_the_catalogue_registers_with_a_note(module_stack, auth) -> None:
    r = await module_stack.post("/employees", json=person("E7007", "006", si_province="Shanghai", si_city="Shanghai",
                                                          contribution_base="1.00"), headers=hr(auth))
    assert r.status_code == 201, r.text
    assert len(r.json()["notes"]) == 1 and "could not be checked" in r.json()["notes"][0]


@pytest.mark.parametrize("base", ["10000000000.00", "1E+11", "99999999999"])
async def test_an_amount_past_9_999_999_999_99_is_refused(module_stack, auth, counts, base) -> None:
    before = counts()
    r = await module_stack.post("/employees", json=person("E8008", "008", contribution_base=base), headers=hr(auth))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "contribution_base", r.text
    assert counts() == before


@pytest.mark.parametrize("hire_date,rule", [
    (add_months(TODAY, 13).isoformat(), "hire_date_plausible"),
    ("1970-01-01", "hire_at_16_or_older"),  # born 1990: a child
])
async def test_an_implausible_hire_date_is_refused(module_stack, auth, counts, hire_date, rule) -> None:
    before = counts()
    r = await module_stack.post("/employees", json=person("E9009", "010", hire_date=hire_date), headers=hr(auth))
    assert hire_date in assert_refused(r, "hire_date", rule)["message"]
    assert counts() == before
