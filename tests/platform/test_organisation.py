"""The organisation: units in one tree with heads, and line managers kept by date, so that an
approver can be resolved as things stood on the day a case started."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from db.models import AuditEvent, ManagerAssignment
from domain.roles import Role
from tests.processes.support import add_employee


def people(session_factory, *numbers: str) -> None:
    ids = {"E1": "11010519491231002X", "E2": "110105198506151236", "E3": "110105199003077796",
           "E4": "110105198801010014", "E5": "11010519751212001X"}
    for n in numbers:
        add_employee(session_factory, n, resident_id_number=ids[n], name=f"员工{n}")


async def put(api, auth, code: str, body: dict, role: Role = Role.ADMIN):
    return await api.put(f"/org-units/{code}", json=body, headers=auth(role, "ops.zhou"))


async def test_units_form_one_tree_and_a_unit_without_a_head_is_led_from_above(api, auth, session_factory) -> None:
    people(session_factory, "E1", "E2")
    assert (await put(api, auth, "CO", {"name": "演示科技有限公司", "kind": "entity", "si_city": "Beijing",
                                        "head_employee_id": "E1"})).status_code == 200
    assert (await put(api, auth, "SH", {"name": "上海分公司", "kind": "branch", "parent_code": "CO",
                                        "si_city": "Shanghai"})).status_code == 200
    r = await put(api, auth, "SH-SALES", {"name": "上海销售部", "kind": "department", "parent_code": "SH"})
    assert r.status_code == 200 and r.json()["path"] == ["CO", "SH"], r.text
    head = (await api.get("/org-units/SH-SALES/head", headers=auth(Role.HR_SPECIALIST))).json()
    assert (head["head_employee_id"], head["from_unit"]) == ("E1", "CO")  # no head of its own: the company's
    assert (await put(api, auth, "SH-SALES", {"name": "上海销售部", "kind": "department", "parent_code": "SH",
                                              "head_employee_id": "E2"})).status_code == 200
    head = (await api.get("/org-units/SH-SALES/head", headers=auth(Role.HR_SPECIALIST))).json()
    assert (head["head_employee_id"], head["from_unit"]) == ("E2", "SH-SALES")
    listed = (await api.get("/org-units", headers=auth(Role.FINANCE))).json()
    assert [u["code"] for u in listed] == ["CO", "SH", "SH-SALES"]
    with session_factory() as s:
        saved = s.scalars(select(AuditEvent).where(AuditEvent.action == "org_unit.saved").order_by(AuditEvent.id)).all()
    assert len(saved) == 4 and saved[-1].before["head_employee_id"] is None and saved[-1].after["head_employee_id"] == "E2"


async def test_a_tree_that_would_break_is_refused_naming_the_field(api, auth, session_factory) -> None:
    people(session_factory, "E1")
    await put(api, auth, "CO", {"name": "公司", "kind": "entity", "si_city": "Beijing"})
    await put(api, auth, "A", {"name": "甲部", "kind": "department", "parent_code": "CO"})
    await put(api, auth, "B", {"name": "乙部", "kind": "department", "parent_code": "A"})
    cases = [
        ("A", {"name": "甲部", "kind": "department", "parent_code": "B"}, "parent_code", "no_loop"),
        ("X", {"name": "丙部", "kind": "department"}, "parent_code", "missing"),
        ("X", {"name": "丙部", "kind": "department", "parent_code": "NOPE"}, "parent_code", "unit_exists"),
        ("X", {"name": "分", "kind": "branch", "parent_code": "A", "si_city": "Beijing"}, "parent_code", "branch_under_entity"),
        ("X", {"name": "分", "kind": "branch", "parent_code": "CO"}, "si_city", "missing"),
        ("X", {"name": "分", "kind": "branch", "parent_code": "CO", "si_city": "Atlantis"}, "si_city", "known_city"),
        ("X", {"name": "公司二", "kind": "entity", "parent_code": "CO", "si_city": "Beijing"}, "parent_code", "entity_at_top"),
        ("X", {"name": "丙部", "kind": "department", "parent_code": "CO", "head_employee_id": "E404"},
         "head_employee_id", "employee_exists"),
    ]
    for code, body, field, rule in cases:
        r = await put(api, auth, code, body)
        assert r.status_code == 422, (body, r.text)
        assert [(i["field"], i["rule"]) for i in r.json()["detail"]] == [(field, rule)], (body, r.text)
    assert (await put(api, auth, "X", {"name": "丙部", "kind": "department", "parent_code": "CO"},
                      role=Role.HR_SPECIALIST)).status_code == 403
    listed = (await api.get("/org-units", headers=auth(Role.HR_MANAGER))).json()
    assert {u["code"]: u["parent_code"] for u in listed} == {"CO": None, "A": "CO", "B": "A"}


async def test_line_managers_are_kept_by_date(api, auth, session_factory) -> None:
    people(session_factory, "E1", "E2", "E3", "E4")
    hr = auth(Role.HR_SPECIALIST, "hr.li")

    async def change(emp: str, manager: str | None, day: str):
        return await api.put(f"/employees/{emp}/manager", json={"manager_id": manager, "effective_from": day}, headers=hr)

    assert (await change("E3", "E2", "2026-01-01")).status_code == 200
    assert (await change("E2", "E1", "2026-01-01")).status_code == 200
    r = await change("E3", "E4", "2026-07-01")  # a reorganisation in July
    assert r.status_code == 200 and r.json()["managers"] == ["E4"], r.text

    async def chain(emp: str, on: str, levels: int = 5) -> list[str]:
        return (await api.get(f"/employees/{emp}/managers", params={"on": on, "levels": levels}, headers=hr)).json()["managers"]

    assert await chain("E3", "2026-03-15") == ["E2", "E1"]  # a case started in March keeps its approvers
    assert await chain("E3", "2026-03-15", levels=1) == ["E2"]
    assert await chain("E3", "2026-07-01") == ["E4"]
    assert await chain("E3", "2025-12-31") == []

    r = await change("E1", "E3", "2026-02-01")  # E3 reports to E2, who reports to E1, on that day
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "managers_loop"
    assert "E1 → E3 → E2 → E1" in r.json()["detail"][0]["message"]
    r = await change("E3", "E2", "2026-05-01")  # before the current assignment began
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "not_before_current"
    r = await change("E3", "E3", "2026-08-01")
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "not_own_manager"
    r = await change("E3", "E404", "2026-08-01")
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "employee_exists"
    with session_factory() as s:
        periods = [(a.manager_id, a.effective_from, a.effective_to) for a in s.scalars(
            select(ManagerAssignment).where(ManagerAssignment.employee_id == "E3").order_by(ManagerAssignment.effective_from))]
        assert periods == [("E2", dt.date(2026, 1, 1), dt.date(2026, 7, 1)), ("E4", dt.date(2026, 7, 1), None)]
        changed = s.scalars(select(AuditEvent).where(AuditEvent.action == "employee.manager_changed")).all()
        assert len(changed) == 3 and changed[-1].before == {"manager_id": "E2"}
    r = await api.get("/employees/E3/managers", headers=auth(Role.EMPLOYEE, "E4"))
    assert r.status_code == 404  # an employee sees only her own chain
    assert (await api.get("/employees/E3/managers", headers=auth(Role.EMPLOYEE, "E3"))).status_code == 200


async def test_registration_and_import_record_the_manager_from_the_hire_date(api, auth, session_factory) -> None:
    people(session_factory, "E1")
    body = {"employee_id": "E9", "resident_id_number": "110105198506151236", "name": "李雷", "department": "销售部",
            "position": "顾问", "hire_date": "2024-05-06", "si_province": "Beijing", "si_city": "Beijing",
            "contribution_base": "12000.00", "manager_id": "E1", "unit_code": "NOPE"}
    r = await api.post("/employees", json=body, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "unit_code"
    await put(api, auth, "CO", {"name": "公司", "kind": "entity", "si_city": "Beijing"})
    r = await api.post("/employees", json=body | {"unit_code": "CO"}, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 201 and r.json()["unit_code"] == "CO", r.text
    chain = (await api.get("/employees/E9/managers", params={"on": "2024-05-06"}, headers=auth(Role.HR_MANAGER))).json()
    assert chain["managers"] == ["E1"]
    before = (await api.get("/employees/E9/managers", params={"on": "2024-05-05"}, headers=auth(Role.HR_MANAGER))).json()
    assert before["managers"] == []


async def test_an_import_places_people_in_units_that_exist(api, auth, session_factory) -> None:
    await put(api, auth, "CO", {"name": "公司", "kind": "entity", "si_city": "Beijing"})
    content = ("工号,姓名,身份证号,部门,岗位,入职日期,参保省份,参保城市,缴费基数,部门编码\r\n"
               "E1,王芳,11010519491231002X,销售部,顾问,2022-03-01,Beijing,Beijing,12000,CO\r\n"
               "E2,李雷,110105198506151236,销售部,顾问,2022-03-01,Beijing,Beijing,12000,NOPE\r\n").encode()
    r = await api.post("/employees/import", files={"file": ("e.csv", content)}, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 422
    assert [(p["row"], p["column"], p["rule"]) for p in r.json()["detail"]] == [(3, "部门编码", "unit_exists")]


async def test_a_head_office_sees_the_cases_of_its_branches(api, auth, session_factory) -> None:
    """``GET /cases?unit=`` takes in the unit and everything under it: the company sees both
    branches, a branch only its own people, a department only its own."""
    from db.models import Case, Employee

    people(session_factory, "E1", "E2", "E3", "E4")
    for code, body in (("CO", {"name": "演示科技有限公司", "kind": "entity", "si_city": "Beijing"}),
                       ("SH", {"name": "上海分公司", "kind": "branch", "parent_code": "CO", "si_city": "Shanghai"}),
                       ("SH-SALES", {"name": "上海销售部", "kind": "department", "parent_code": "SH"}),
                       ("GZ", {"name": "广州分公司", "kind": "branch", "parent_code": "CO", "si_city": "Guangzhou"})):
        assert (await put(api, auth, code, body)).status_code == 200
    placed = {"E1": "CO", "E2": "SH-SALES", "E3": "GZ", "E4": None}
    with session_factory.begin() as s:
        for emp, unit in placed.items():
            s.get(Employee, emp).unit_code = unit
            s.add(Case(workflow_id=f"probe-{emp}", kind="probe", employee_id=emp, stage="open",
                       opened_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)))

    async def seen(unit: str) -> set[str]:
        r = await api.get("/cases", params={"unit": unit}, headers=auth(Role.HR_MANAGER))
        assert r.status_code == 200, r.text
        return {c["employee_id"] for c in r.json()["items"]}

    assert await seen("CO") == {"E1", "E2", "E3"}  # not E4, who is placed nowhere
    assert await seen("SH") == {"E2"}
    assert await seen("SH-SALES") == {"E2"}
    assert await seen("GZ") == {"E3"}
    r = await api.get("/cases", params={"unit": "NOPE"}, headers=auth(Role.HR_MANAGER))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "unit", r.text
