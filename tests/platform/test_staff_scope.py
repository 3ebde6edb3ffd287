"""A branch's HR works for the branch's people: she sees, starts and closes only their cases and
tasks, reads only their records, registers and imports people only into her units; head office
staff, placed nowhere, see everyone. The directory places her, whatever her token says; while the
directory cannot be read her token's unit claim holds."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from api.app import create_app
from api.auth import mint_token
from db.models import ApprovalTask, Case, Employee
from domain.roles import Role
from tests.platform.test_organisation import people, put

BRANCH_HR, HEAD_HR, ADMIN = "hr.sh", "hr.li", "ops.zhou"


@pytest.fixture
async def company(api, auth, session_factory) -> None:
    """A company CO with branches SH (a sales department under it) and GZ; E1 in Shanghai sales,
    E2 in Guangzhou, E3 at head office; one open case with one HR task each; hr.sh placed in SH."""
    people(session_factory, "E1", "E2", "E3")
    for code, body in (("CO", {"name": "演示科技有限公司", "kind": "entity", "si_city": "Beijing"}),
                       ("SH", {"name": "上海分公司", "kind": "branch", "parent_code": "CO", "si_city": "Shanghai"}),
                       ("SH-SALES", {"name": "上海销售部", "kind": "department", "parent_code": "SH"}),
                       ("GZ", {"name": "广州分公司", "kind": "branch", "parent_code": "CO", "si_city": "Guangzhou"})):
        assert (await put(api, auth, code, body)).status_code == 200
    with session_factory.begin() as s:
        for emp, unit in {"E1": "SH-SALES", "E2": "GZ", "E3": "CO"}.items():
            s.get(Employee, emp).unit_code = unit
            s.add(Case(workflow_id=f"si-change-{emp}-probe", kind="si_change", employee_id=emp, stage="pending_approval",
                       opened_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)))
            s.flush()
            s.add(ApprovalTask(workflow_id=f"si-change-{emp}-probe", task_key="file", title="补交材料 (Hand in papers)",
                               role="hr_specialist", by_hand=True, created_at=dt.datetime.now(dt.UTC)))
    for user, unit in ((BRANCH_HR, "SH"), (HEAD_HR, None)):
        r = await api.put(f"/staff/{user}", headers=auth(Role.ADMIN, ADMIN),
                          json={"display_name": user, "role": "hr_specialist", "unit_code": unit})
        assert r.status_code == 200 and r.json()["unit_code"] == unit, r.text


def hr(auth, user: str = BRANCH_HR) -> dict[str, str]:
    return auth(Role.HR_SPECIALIST, user)  # the token claims no unit: the directory places her


async def test_a_branch_sees_its_own_people_and_head_office_sees_all(api, auth, company) -> None:
    async def cases(user: str, **params: str) -> set[str]:
        r = await api.get("/cases", params=params, headers=hr(auth, user))
        assert r.status_code == 200, r.text
        return {c["employee_id"] for c in r.json()["items"]}

    async def inbox(user: str) -> set[str]:
        r = await api.get("/inbox", headers=hr(auth, user))
        assert r.status_code == 200, r.text
        return {t["employee_id"] for t in r.json()["items"]}

    assert await cases(BRANCH_HR) == {"E1"}  # her branch and the department under it
    assert await cases(BRANCH_HR, unit="GZ") == set()  # a filter does not widen what she sees
    assert await cases(HEAD_HR) == {"E1", "E2", "E3"}
    assert await inbox(BRANCH_HR) == {"E1"}
    assert await inbox(HEAD_HR) == {"E1", "E2", "E3"}
    for path in ("/cases/si-change-E2-probe", "/employees/E2", "/employees/E3/managers"):
        r = await api.get(path, headers=hr(auth))
        assert r.status_code == 404, (path, r.text)  # like a case or person that does not exist
    assert (await api.get("/cases/si-change-E1-probe", headers=hr(auth))).status_code == 200
    assert (await api.get("/employees/E1", headers=hr(auth))).status_code == 200
    assert (await api.get("/employees/E2", headers=hr(auth, HEAD_HR))).status_code == 200


async def test_a_branch_starts_and_closes_nothing_for_another_branch(api, auth, company, session_factory) -> None:
    enrol = {"kind": "enrollment", "base": "10000.00", "effective_month": "2026-11", "reason": "new hire"}
    r = await api.post("/si-changes", json=enrol | {"employee_id": "E2"}, headers=hr(auth))
    assert r.status_code == 422, r.text
    assert [(i["field"], i["rule"]) for i in r.json()["detail"]] == [("employee_id", "within_your_unit")]
    assert "SH" in r.json()["detail"][0]["message"]  # her unit, in words
    with session_factory.begin() as s:
        gz_task, sh_task = (s.scalars(select(ApprovalTask.id).where(ApprovalTask.workflow_id == f"si-change-{e}-probe")
                                      ).one() for e in ("E2", "E1"))
        s.execute(update(Case).values(status="completed"))  # closed cases: their tasks close by hand
    r = await api.post(f"/tasks/{gz_task}/done", json={"note": "已交"}, headers=hr(auth))
    assert r.status_code == 404, r.text
    r = await api.post(f"/tasks/{sh_task}/done", json={"note": "已交"}, headers=hr(auth))
    assert r.status_code == 200, r.text


async def test_a_branch_registers_and_imports_people_only_into_its_units(api, auth, company) -> None:
    newcomer = {"employee_id": "E9", "name": "钱多", "resident_id_number": "11010519751212001X",
                "department": "Sales", "position": "Adviser", "hire_date": "2026-11-02", "si_province": "Shanghai",
                "si_city": "Shanghai", "contribution_base": "10000.00"}
    for unit in ("GZ", None):
        r = await api.post("/employees", json=newcomer | {"unit_code": unit}, headers=hr(auth))
        assert r.status_code == 422, r.text
        assert [(i["field"], i["rule"]) for i in r.json()["detail"]] == [("unit_code", "within_your_unit")]
    r = await api.post("/employees", json=newcomer | {"unit_code": "SH-SALES"}, headers=hr(auth))
    assert r.status_code == 201, r.text
    csv = ("员工编号,姓名,身份证号,部门,岗位,入职日期,参保省份,参保城市,缴费基数,组织单位编码\n"
           "E10,孙立,110105198801010014,销售,顾问,2026-11-02,Guangdong,Guangzhou,10000.00,GZ\n")
    r = await api.post("/employees/import", params={"dry_run": "true"}, headers=hr(auth),
                       files={"file": ("people.csv", csv.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    assert [(p["row"], p["field"], p["rule"]) for p in r.json()["problems"]] == [(2, "unit_code", "within_your_unit")]


async def test_a_placed_login_is_placed_by_its_token_while_the_directory_is_away(settings, engine, temporal_env,
                                                                              codec, company) -> None:
    """The directory down: a read goes by the token. The web app's token carries her unit, so the
    Guangzhou case stays hidden; a staff decision is refused outright (503)."""
    app = create_app(settings, engine=engine, temporal=temporal_env.client, codec=codec)

    async def directory_away(request, user):
        raise OperationalError("SELECT 1", {}, Exception("connection to server failed"))

    async with app.router.lifespan_context(app):
        app.state.directory = directory_away
        placed = mint_token(settings.require_jwt_secret(), user=BRANCH_HR, role=Role.HR_SPECIALIST, unit="SH")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hrflow.test") as client:
            headers = {"Authorization": f"Bearer {placed}"}
            assert (await client.get("/cases/si-change-E2-probe", headers=headers)).status_code == 404
            assert (await client.get("/cases/si-change-E1-probe", headers=headers)).status_code == 200
            r = await client.get("/cases", headers=headers)
            assert {c["employee_id"] for c in r.json()["items"]} == {"E1"}
            r = await client.post("/si-changes/si-change-E2-probe/approve", json={}, headers=headers)
            assert r.status_code == 503, r.text
