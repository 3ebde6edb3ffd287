"""The personal data access log (issue 21): a full value shown is a row, in the answer's own
transaction; a masked value, or her own view, is not. Compliance reads it, newest first, a page at
a time or as CSV; nobody can change it."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from db.models import PersonalDataAccess
from domain.roles import Role
from tests.api.people import HER, OTHER, case_id, seed, transfer_id


def _rows(session_factory) -> list[PersonalDataAccess]:
    with session_factory() as s:
        return list(s.scalars(select(PersonalDataAccess).order_by(PersonalDataAccess.id)))


async def test_a_full_view_is_logged_with_who_whose_what_and_why(api, auth, session_factory) -> None:
    seed(session_factory)
    r = await api.get("/employees/E1001", params={"purpose": case_id(HER)}, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 200, r.text
    assert r.json()["resident_id_number"] == HER["resident_id_number"] and not r.json()["masked"]
    rows = _rows(session_factory)
    assert sorted(row.what for row in rows) == ["name", "resident_id_number"]
    for row in rows:
        assert (row.actor, row.actor_role, row.employee_id, row.purpose, row.on_behalf_of) == (
            "hr.li", "hr_specialist", "E1001", case_id(HER), None)
        assert row.request_id == r.headers["x-request-id"]
    # Without a stated purpose the view is logged all the same, its purpose empty.
    await api.get("/employees/E1001", headers=auth(Role.HR_MANAGER, "mgr.wang"))
    assert [(row.actor, row.purpose) for row in _rows(session_factory)[2:]] == [("mgr.wang", None)] * 2


async def test_masked_values_and_her_own_views_are_not_logged(api, auth, session_factory) -> None:
    seed(session_factory)
    r = await api.get("/employees/E1001", headers=auth(Role.ADMIN, "ops.zhou"))  # both masked
    assert r.status_code == 200 and r.json()["masked"] and r.json()["resident_id_number"] == "110105********002X"
    r = await api.get("/employees/E1001", headers=auth(Role.EMPLOYEE, "E1001"))  # her own record, in full
    assert r.status_code == 200 and r.json()["resident_id_number"] == HER["resident_id_number"]
    assert _rows(session_factory) == []
    # Finance sees her name in full, her ID number masked: only the name is a disclosure.
    r = await api.get("/employees/E1001", headers=auth(Role.FINANCE, "fin.zhao"))
    assert r.json()["name"] == HER["name"] and "*" in r.json()["resident_id_number"]
    assert [(row.actor, row.what) for row in _rows(session_factory)] == [("fin.zhao", "name")]


@pytest.mark.parametrize("purpose", [case_id(OTHER), "si-change-E1001-404"])
async def test_a_purpose_that_is_not_one_of_her_cases_is_refused_and_nothing_shown(api, auth, session_factory,
                                                                                  purpose: str) -> None:
    seed(session_factory)
    r = await api.get("/employees/E1001", params={"purpose": purpose}, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 422, r.text
    [item] = r.json()["detail"]
    assert (item["field"], item["rule"]) == ("query.purpose", "case_of_employee")
    assert "查阅目的" in item["message"] and purpose in item["message"]
    assert "110105" not in r.text and _rows(session_factory) == []


async def test_a_document_download_is_logged_with_its_case_as_purpose(api, auth, session_factory) -> None:
    materials = seed(session_factory)
    url = f"/transfers/{transfer_id(HER)}/materials/{materials['E1001']}/content"
    r = await api.get(url, headers=auth(Role.HR_MANAGER, "mgr.wang"))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    [row] = _rows(session_factory)
    assert (row.actor, row.actor_role, row.employee_id, row.what, row.purpose) == (
        "mgr.wang", "hr_manager", "E1001", "document", transfer_id(HER))
    assert str(materials["E1001"]) in (row.detail or "") and "身份证.pdf" in (row.detail or "")
    assert (await api.get(url, headers=auth(Role.EMPLOYEE, "E1001"))).status_code == 200  # her own: not logged
    assert len(_rows(session_factory)) == 1


async def _views(api, auth) -> list[str]:
    """Four readers, two employees, in this order: the request ids of the answers."""
    ids = []
    for role, user, emp in [(Role.HR_SPECIALIST, "hr.li", "E1001"), (Role.HR_MANAGER, "mgr.wang", "E2002"),
                            (Role.HR_SPECIALIST, "hr.li", "E2002"), (Role.FINANCE, "fin.zhao", "E1001")]:
        r = await api.get(f"/employees/{emp}", headers=auth(role, user))
        assert r.status_code == 200
        ids.append(r.headers["x-request-id"])
    return ids


async def test_compliance_reads_the_log_newest_first_by_employee_and_by_actor(api, auth, session_factory) -> None:
    seed(session_factory)
    ids = await _views(api, auth)
    compliance = auth(Role.COMPLIANCE, "cmp.sun")
    r = await api.get("/privacy/access-log", params={"employee_id": "E1001"}, headers=compliance)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(i["actor"], i["what"]) for i in items] == [("fin.zhao", "name"), ("hr.li", "name"),
                                                         ("hr.li", "resident_id_number")]
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)
    assert items[0]["request_id"] == ids[3] and r.json()["next_cursor"] is None
    r = await api.get("/privacy/access-log", params={"actor": "hr.li"}, headers=compliance)
    assert [(i["employee_id"], i["request_id"]) for i in r.json()["items"]] == [
        ("E2002", ids[2]), ("E2002", ids[2]), ("E1001", ids[0]), ("E1001", ids[0])]
    r = await api.get("/privacy/access-log", params={"actor": "hr.li", "what": "resident_id_number",
                                                     "employee_id": "E2002"}, headers=auth(Role.ADMIN, "ops.zhou"))
    assert [i["request_id"] for i in r.json()["items"]] == [ids[2]]


async def test_the_log_pages_by_cursor_and_downloads_as_csv(api, auth, session_factory) -> None:
    seed(session_factory)
    await _views(api, auth)
    compliance = auth(Role.COMPLIANCE, "cmp.sun")
    everything = (await api.get("/privacy/access-log", headers=compliance)).json()["items"]
    assert len(everything) == 7  # finance's view is the name alone
    seen, cursor, pages = [], None, 0
    while True:
        r = await api.get("/privacy/access-log", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=compliance)
        assert r.status_code == 200, r.text
        seen += [i["id"] for i in r.json()["items"]]
        pages += 1
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in everything] and pages == 4
    r = await api.get("/privacy/access-log.csv", params={"employee_id": "E2002"}, headers=compliance)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][:2] == ["时间（北京时间） (Time in China)", "查阅人 (Reader)"]
    assert [(row[1], row[4], row[5]) for row in table[1:]] == [
        ("hr.li", "E2002", "姓名"), ("hr.li", "E2002", "身份证号"), ("mgr.wang", "E2002", "姓名"),
        ("mgr.wang", "E2002", "身份证号")]
    assert all(row[0].endswith("+08:00") for row in table[1:])


@pytest.mark.parametrize("role", [Role.HR_SPECIALIST, Role.HR_MANAGER, Role.FINANCE, Role.EMPLOYEE])
async def test_only_compliance_and_admins_read_the_log(api, auth, role: Role) -> None:
    for path in ("/privacy/access-log", "/privacy/access-log.csv"):
        r = await api.get(path, headers=auth(role, "someone"))
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden" and "您的角色" in r.json()["detail"]
        assert "compliance" in r.json()["detail"]


@pytest.mark.parametrize("params,field,rule", [
    ({"since": "yesterday"}, "query.since", "datetime_from_date_parsing"),
    ({"until": "2026-13-01"}, "query.until", "datetime_from_date_parsing"),
    ({"since": "2026-11-02T00:00:00+08:00", "until": "2026-11-01"}, "query.until", "period_order"),
    ({"what": "salary"}, "query.what", "access_kind_known"),
    ({"cursor": "not-a-cursor"}, "query.cursor", "cursor_format"),
    ({"employee_id": "E1001'; --"}, "query.employee_id", "string_pattern_mismatch"),
    ({"limit": "0"}, "query.limit", "greater_than_equal"),
])
async def test_a_bad_parameter_is_a_422_naming_it(api, auth, params, field, rule) -> None:
    r = await api.get("/privacy/access-log", params=params, headers=auth(Role.COMPLIANCE, "cmp.sun"))
    assert r.status_code == 422, r.text
    [item] = r.json()["detail"]
    assert (item["field"], item["rule"]) == (field, rule)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in item["message"])  # said in Chinese


async def test_a_time_without_a_zone_is_china_time(api, auth, session_factory) -> None:
    seed(session_factory)
    await _views(api, auth)
    compliance = auth(Role.COMPLIANCE, "cmp.sun")
    r = await api.get("/privacy/access-log", params={"until": "2000-01-01T08:00:00"}, headers=compliance)
    assert r.status_code == 200 and r.json()["items"] == []
    r = await api.get("/privacy/access-log", params={"since": "2000-01-01"}, headers=compliance)
    assert len(r.json()["items"]) == 7


@pytest.mark.parametrize("statement", [
    "UPDATE personal_data_access SET actor = 'nobody'",
    "DELETE FROM personal_data_access",
    "TRUNCATE personal_data_access",
])
async def test_the_log_cannot_be_changed(api, auth, session_factory, statement: str) -> None:
    seed(session_factory)
    await api.get("/employees/E1001", headers=auth(Role.HR_SPECIALIST, "hr.li"))
    with session_factory() as s, pytest.raises(DBAPIError, match="personal_data_access is append-only"):
        s.execute(text(statement))
    assert [row.actor for row in _rows(session_factory)] == ["hr.li", "hr.li"]
