"""Two enrollment changes of employees whose line manager (mgr.li, an employee login) signs first,
each at her step: the cases the e-mail link and WeCom card tests decide from outside the web app."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select

from db.models import AuditEvent
from domain.roles import Role
from tests.processes import test_si_change as si_change
from tests.processes.support import add_employee, eventually
from tests.web.conftest import EMPLOYEE

LINE = "mgr.li"
CHINA = dt.timezone(dt.timedelta(hours=8))
ROUTE = {"effective_from": dt.datetime.now(CHINA).date().isoformat(), "source": "《社保业务审批办法》第 3 条",
         "steps": [{"name": "直属上级审批", "approvers": [{"line_manager": 1}]},
                   {"name": "人事经理复核", "approvers": [{"role": "hr_manager"}]}]}


async def two_cases_at_her_step(site: str, auth, session_factory) -> tuple[str, str]:
    add_employee(session_factory, "E-MGR", resident_id_number="110105198506151236", name="周敏")
    add_employee(session_factory, "E1002", resident_id_number="110101199003071102", name="刘洋")
    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.put(f"/staff/{LINE}", headers=auth(Role.ADMIN, "ops.wu"),
                          json={"display_name": "周敏", "role": "employee", "employee_id": "E-MGR",
                                "email": "mgr.li@example.cn"})
        assert r.status_code == 200, r.text
        hr = auth(Role.HR_MANAGER, "mgr.wang")
        for emp in (EMPLOYEE, "E1002"):
            r = await api.put(f"/employees/{emp}/manager", headers=hr,
                              json={"manager_id": "E-MGR", "effective_from": "2021-03-01"})
            assert r.status_code == 200, r.text
        r = await api.post("/approval-routes/si_change.approve", json=ROUTE, headers=hr)
        assert r.status_code == 201, r.text
        ids = []
        for emp in (EMPLOYEE, "E1002"):
            r = await api.post("/si-changes", json=si_change.ENROLL | {"employee_id": emp},
                               headers=auth(Role.HR_SPECIALIST, "hr.li"))
            assert r.status_code == 201, r.text
            ids.append(r.json()["workflow_id"])
        for workflow_id in ids:
            async def at_first_step(workflow_id: str = workflow_id) -> bool:
                v = (await api.get(f"/si-changes/{workflow_id}", headers=hr)).json()
                return bool(v.get("approval") and v["approval"]["current"] == 0)

            await eventually(at_first_step, what="the route's first step open")
    return ids[0], ids[1]


def audit_actions(session_factory, workflow_id: str) -> list[tuple[str, str]]:
    with session_factory() as s:
        return [(e.action, e.actor) for e in s.scalars(select(AuditEvent).where(AuditEvent.workflow_id == workflow_id)
                                                       .order_by(AuditEvent.id))]


