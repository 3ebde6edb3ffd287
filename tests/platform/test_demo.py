"""The demo company (`hrflow dev --demo`): loaded through the real API against the test stack, every
case at its planned stage, and a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import func, select
from stdnum.cn import ric

from db.models import Case, Employee, EmployeeRecord, SiChange, StaffMember, Transfer, TransferMaterial
from domain.identity import parse_resident_id
from domain.roles import STAFF, Role
from hrflow import cli, demo
from integrations.si_agency import FaultPlan, SimulatedAgency
from tests.processes.support import terminate_cases
from worker import build_worker

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_company_data_holds_together() -> None:
    company = demo.load_company()
    departments = {d.name for d in company.departments}
    assert departments == {"销售部", "研发部", "财务部", "人力资源部"}
    ids = [e.employee_id for e in company.employees]
    assert len(ids) == len(set(ids)) and 10 <= len(ids) <= 15
    assert len({e.resident_id_number for e in company.employees}) == len(ids)
    seen: set[str] = set()
    for person in company.employees:
        assert ric.is_valid(person.resident_id_number), person.employee_id  # GB 11643 check digit, known county
        assert person.department in departments
        assert person.manager_id is None or person.manager_id in seen, f"{person.employee_id}: manager listed later"
        assert person.email is not None and person.email.endswith("@example.com")
        seen.add(person.employee_id)
    assert {e.si_city for e in company.employees} >= {"Beijing", "Shanghai", "Guiyang"}
    # Someone in every staff role, and the hr_manager at two levels; nobody twice.
    assert {m.role for m in company.staff} == STAFF
    assert {m.level for m in company.staff if m.role is Role.HR_MANAGER} == {1, 2}
    assert len({m.user_id for m in company.staff}) == len(company.staff)
    assert all(m.email.endswith("@example.com") for m in company.staff)
    # Every case names an employee of the company; a maternity leave is a woman's.
    for case in company.cases:
        person = company.employee(case.employee)
        if case.kind == "maternity":
            assert parse_resident_id(person.resident_id_number).sex == "F", case.key
    assert len({c.key for c in company.cases}) == len(company.cases)


def test_the_data_file_ships_with_the_package() -> None:
    assert 'hrflow = ["demo_company.yaml"]' in PYPROJECT.read_text()
    assert yaml.safe_load((Path(demo.__file__).parent / demo.DATA_FILE).read_text(encoding="utf-8"))["cases"]


def test_relative_dates() -> None:
    today = dt.date(2026, 12, 31)
    assert demo.relative_date("today", today) == today
    assert demo.relative_date("today+7d", today) == dt.date(2027, 1, 7)
    assert demo.relative_date("today-10d", today) == dt.date(2026, 12, 21)
    assert demo.relative_date("today+2m", today) == dt.date(2027, 2, 28)  # clamped to the month's end
    assert demo.relative_date("month-0", today) == dt.date(2026, 12, 1)
    assert demo.relative_date("month-12", today) == dt.date(2025, 12, 1)
    assert demo.relative_date("2021-04-06", today) == dt.date(2021, 4, 6)
    assert demo.relative_month("month-1", today) == "2026-11"
    assert demo.relative_month("2026-08", today) == "2026-08"
    with pytest.raises(ValueError):
        demo.relative_date("month-2d", today)


def test_request_ids_fit_the_header_rule() -> None:
    long = demo.request_id("transfer-review", "upload", "x" * 80)
    assert len(long) == 64 and long.startswith("demo-transfer-review-upload-")
    assert demo.request_id("staff", "hr.li") == "demo-staff-hr.li"
    assert long == demo.request_id("transfer-review", "upload", "x" * 80)  # the same step, the same id


def test_the_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.build_parser().parse_args(["dev", "--demo"]).demo is True
    assert cli.build_parser().parse_args(["dev"]).demo is False
    # `hrflow demo` with no `hrflow dev` behind it: one line saying what to start, exit code 2.
    monkeypatch.setenv("HRFLOW_DEV_DIR", str(tmp_path / "dev"))
    assert cli.main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrflow: no `hrflow dev` found") and "hrflow dev --demo" in err and err.count("\n") == 1


@pytest.fixture
async def company_stack(temporal_env, settings, session_factory, api) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a worker running every workflow, on an empty database; cases ended after."""
    agency = SimulatedAgency(session_factory, FaultPlan())
    async with build_worker(temporal_env.client, settings, session_factory, agency=agency):
        yield api
        await terminate_cases(temporal_env.client, session_factory)


COUNTED = (Employee, StaffMember, Case, SiChange, Transfer, TransferMaterial, EmployeeRecord)


def counts(session_factory) -> dict[str, int]:
    with session_factory() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in COUNTED}


async def test_demo_loads_every_stage_and_a_second_run_changes_nothing(
        company_stack: httpx.AsyncClient, token: Callable[..., str], session_factory) -> None:
    api = company_stack
    company = demo.load_company()
    first = await demo.seed(api, token)
    assert first.staff_added == [m.user_id for m in company.staff]
    assert first.employees_added == [e.employee_id for e in company.employees]
    assert all(c.started for c in first.cases)
    assert [(c.key, c.stage) for c in first.cases] == [(p.key, p.stage) for p in company.cases]

    def headers(role: Role, user: str, employee: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, user, employee)}"}

    # Read back through the API: a staff member in every role, every employee, every case's stage.
    staff = (await api.get("/staff", headers=headers(Role.ADMIN, "ops.zhou"))).json()
    assert {Role(m["role"]) for m in staff} == STAFF
    assert {(m["user_id"], m["display_name"]) for m in staff} == {(m.user_id, m.display_name) for m in company.staff}
    for person in company.employees:
        r = await api.get(f"/employees/{person.employee_id}", headers=headers(Role.HR_MANAGER, "mgr.wang"))
        assert r.status_code == 200, r.text
        assert (r.json()["name"], r.json()["department"]) == (person.name, person.department)
    for case in first.cases:
        r = await api.get(f"{demo.PREFIXES[case.kind]}/{case.workflow_id}", headers=headers(Role.HR_MANAGER, "mgr.wang"))
        assert r.status_code == 200 and r.json()["stage"] == case.planned_stage, (case.key, r.text)
    await _stages_in_detail(api, headers, first)

    before = counts(session_factory)
    second = await demo.seed(api, token)
    assert len(first.writes) == len(set(first.writes))  # one request id per step
    assert not second.changed and second.writes == []
    assert second.staff_added == [] and second.employees_added == []
    assert [(c.key, c.workflow_id, c.stage) for c in second.cases] == [(c.key, c.workflow_id, c.stage) for c in first.cases]
    assert counts(session_factory) == before
    assert before["employees"] == len(company.employees) and before["cases"] == len(company.cases)

    text = second.summary()
    assert "演示公司已载入" in text and "sign in as" in text
    for member in company.staff:
        assert f"--user {member.user_id} --role {member.role.value}" in text
    for case in second.cases:
        assert case.workflow_id in text


async def _stages_in_detail(api: httpx.AsyncClient, headers: Callable[..., dict[str, str]], loaded: demo.Loaded) -> None:
    """What each stage means in the case's own view, as the plan describes it."""
    by_key = {c.key: c for c in loaded.cases}
    mgr = headers(Role.HR_MANAGER, "mgr.wang")

    leave = (await api.get(f"/maternity-leaves/{by_key['maternity-on-leave'].workflow_id}", headers=mgr)).json()
    assert dt.date.fromisoformat(leave["leave_start"]) < dt.date.today()  # a leave under way

    off = (await api.get(f"/offboardings/{by_key['offboarding-clearance'].workflow_id}", headers=mgr)).json()
    status = {(i["gate"], i["key"]): i["status"] for i in off["items"]}
    assert status[("handover", "clients")] == "done" and status[("handover", "contracts")] == "open"
    assert status[("it", "accounts")] == "open"
    assert sorted(s for (gate, _), s in status.items() if gate == "it") == ["done", "open"]  # the laptop is back
    assert [s for (gate, _), s in status.items() if gate == "finance"] == ["open"]  # the cash advance

    collecting = (await api.get(f"/transfers/{by_key['transfer-collecting'].workflow_id}", headers=mgr)).json()
    assert collecting["missing_materials"] and "resident_id_card" not in collecting["missing_materials"]
    review = (await api.get(f"/transfers/{by_key['transfer-review'].workflow_id}", headers=mgr)).json()
    assert review["missing_materials"] == []

    back = (await api.get(f"/si-changes/{by_key['si-back-payment'].workflow_id}", headers=mgr)).json()
    assert back["facts"]["kind"] == "back_payment" and len(back["facts"]["months"]) == 3
    r = await api.post(f"/si-changes/{by_key['si-back-payment'].workflow_id}/approve", json={}, headers=mgr)
    assert r.status_code == 409 and r.json()["error"] == "confirmation_required"  # the cost comes first
    approved = (await api.get(f"/si-changes/{by_key['si-enrollment-approved'].workflow_id}", headers=mgr)).json()
    assert approved["approver"] == "mgr.wang" and approved["execute_after"] is not None

    nc = (await api.get(f"/non-competes/{by_key['non-compete'].workflow_id}", headers=mgr)).json()
    assert nc["months_paid"] == 2
