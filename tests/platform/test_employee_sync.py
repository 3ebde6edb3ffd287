"""The register kept in step with the HR master system's export: new people registered under the
import's rules, the organisation fields the master's, a process's fields and a leaver left to HR,
all or nothing, every change audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.audit import verify_chain
from db.models import AuditEvent, Employee, ManagerAssignment
from domain.roles import Role
from tests.platform.test_employee_import import resident_id
from tests.processes.support import add_employee

SYNCER = "mgr.wang"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return tmp_path / "hr-master.json"


@pytest.fixture
def settings(settings, export: Path):
    return settings.model_copy(update={"hr_master_export": export})


def person(emp: str, seq: int, **fields) -> dict:
    return {"employee_id": emp, "resident_id_number": resident_id("19900101", seq), "name": f"员工{emp}",
            "department": "销售部", "position": "销售顾问", "hire_date": "2022-03-01", "si_province": "Beijing",
            "si_city": "Beijing", "contribution_base": "12000.00", "status": "active"} | fields


def write(export: Path, *people: dict) -> None:
    export.write_text(json.dumps({"source": "用友 NC 每日导出", "exported_at": "2026-12-03T02:00:00+08:00",
                                  "employees": list(people)}, ensure_ascii=False), encoding="utf-8")


async def sync(api, auth, *, dry_run: bool = False):
    return await api.post("/employees/sync", params={"dry_run": str(dry_run).lower()}, headers=auth(Role.HR_MANAGER, SYNCER))


async def test_new_people_are_registered_and_the_master_wins_for_the_organisation(api, auth, session_factory,
                                                                                   export) -> None:
    add_employee(session_factory, "E1", resident_id_number=resident_id("19900101", 1), name="员工E1",
                 department="销售部")
    add_employee(session_factory, "E2", resident_id_number=resident_id("19900101", 2), name="员工E2")
    write(export,
          person("E1", 1, department="华东销售部", position="销售经理", contribution_base="15000.00"),
          person("E2", 2, manager_id="E1", status="left"),
          person("E3", 3, manager_id="E1"))
    r = await sync(api, auth, dry_run=True)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["registered"] == ["E3"] and not report["applied"] and not report["problems"]
    assert {(c["employee_id"], c["field"], c["after"]) for c in report["changes"]} == {
        ("E1", "department", "华东销售部"), ("E1", "position", "销售经理")}
    notes = {(n["employee_id"], n["message"].split("：")[0].split(" ")[0]) for n in report["notes"]}
    assert ("E1", "contribution_base") in notes  # a base changes only through its process
    assert any(n["employee_id"] == "E2" and "离职" in n["message"] for n in report["notes"])  # HR starts it
    with session_factory() as s:
        assert s.get(Employee, "E1").department == "销售部" and s.get(Employee, "E3") is None  # a dry run changes nothing

    r = await sync(api, auth)
    assert r.status_code == 200 and r.json()["applied"], r.text
    with session_factory() as s:
        e1 = s.get(Employee, "E1")
        assert (e1.department, e1.position, str(e1.contribution_base)) == ("华东销售部", "销售经理", "10000.00")
        assert s.get(Employee, "E2").employment_status == "active"  # a leaver is not offboarded behind HR's back
        assert s.get(Employee, "E3").manager_id == "E1"
        assert s.scalar(select(ManagerAssignment.manager_id).where(ManagerAssignment.employee_id == "E3")) == "E1"
        synced = s.scalar(select(AuditEvent).where(AuditEvent.action == "employee.synced"))
        assert synced.subject == "E1" and synced.before == {"department": "销售部", "position": "Adviser"}
        assert synced.after["source"] == "用友 NC 每日导出"
        assert verify_chain(s).ok
    again = await sync(api, auth)
    assert again.status_code == 200 and again.json()["changes"] == [] and again.json()["registered"] == []


async def test_a_snapshot_with_any_problem_changes_nothing_and_names_each(api, auth, session_factory, export) -> None:
    add_employee(session_factory, "E1", resident_id_number=resident_id("19900101", 1), name="员工E1")
    add_employee(session_factory, "E2", resident_id_number=resident_id("19900101", 2), name="员工E2", department="A")
    write(export,
          person("E1", 1, manager_id="E2"),
          person("E2", 2, department="B", manager_id="E1"),  # E1 -> E2 -> E1
          person("E4", 4, unit_code="NOWHERE"),
          person("E5", 5, status="retired"),
          person("E5", 5),
          person("E6", 6, resident_id_number="110105199001010000"))
    r = await sync(api, auth)
    assert r.status_code == 422, r.text
    found = {(p["row"], p["field"], p["rule"]) for p in r.json()["detail"]}
    assert (2, "manager_id", "managers_loop") in found
    assert (3, "unit_code", "unit_exists") in found
    assert (4, "status", "status_known") in found
    assert any(row == 6 and field == "resident_id_number" for row, field, _ in found)
    with session_factory() as s:
        assert s.get(Employee, "E2").department == "A" and s.get(Employee, "E1").manager_id is None
        assert s.scalar(select(func.count()).select_from(Employee)) == 2
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "employee.synced")) == 0


async def test_no_master_or_an_unreadable_one_is_said_plainly(api, auth, export) -> None:
    r = await sync(api, auth)
    assert r.status_code == 503 and r.json()["error"] == "master_unavailable"  # no export yet
    export.write_text("{\"employees\": [", encoding="utf-8")
    r = await sync(api, auth)
    assert r.status_code == 503 and "无法读取" in r.text, r.text
    r = await api.post("/employees/sync", headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 403
