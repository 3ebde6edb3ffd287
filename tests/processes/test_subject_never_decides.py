"""The subject of a case never decides on it, in every process, whatever her token says.

The leaks measured on main before (issue 17): an hr_specialist approved her own maternity leave, an
hr_manager approved his own enrollment change and accepted the withdrawal of his own resignation,
and a token minted without ``--employee`` signed off its holder's own clearance. Here the staff
directory says who a login is (``db.directory``): linked by an admin, or by the one employee with
her e-mail; the token's employee claim is never believed for a login the directory lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from db.models import Employee
from domain.roles import Role
from hrflow.codec import EncryptionCodec
from tests.processes import support
from tests.processes import test_maternity as maternity
from tests.processes import test_non_compete as non_compete
from tests.processes import test_offboarding as offboarding
from tests.processes import test_si_change as si_change
from tests.processes import test_transfer as transfer
from tests.processes.support import env_today, until

ADMIN = "ops.zhou"


@pytest.fixture
async def temporal_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    """One server per test: the non-compete test moves the clock to its first day."""
    async with support.time_skipping_env(codec) as env:
        yield env


async def listed(api, auth, user: str, role: Role, *, employee_id: str | None = None, email: str | None = None) -> None:
    """Put ``user`` in the staff directory, linked to ``employee_id`` (or only sharing an e-mail)."""
    body = {"display_name": user, "role": role.value, "employee_id": employee_id, "email": email}
    r = await api.put(f"/staff/{user}", json=body, headers=auth(Role.ADMIN, ADMIN))
    assert r.status_code == 200, r.text


def refused_as_subject(r, emp: str) -> None:
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["error"] == "self_approval"
    assert f"您是本案的当事人（{emp}）" in body["detail"]["message"]


async def test_a_specialist_files_her_own_leave_but_a_colleague_approves_it(stack, auth, emp) -> None:
    api = stack
    await listed(api, auth, "hr.self", Role.HR_SPECIALIST, employee_id=emp)
    due = dt.date.today() + dt.timedelta(days=30)
    r = await api.post("/maternity-leaves", json={"employee_id": emp, "expected_delivery_date": due.isoformat(),
                                                 "company_pays_salary": False},
                       headers=auth(Role.HR_SPECIALIST, "hr.self"))
    assert r.status_code == 201, r.text  # filing for herself is allowed: deciding is not
    wf = r.json()["workflow_id"]
    for claimed in (None, "E0000000"):  # no claim, or a claim of someone else: the directory wins
        r = await maternity.post(api, auth, wf, "approve", Role.HR_SPECIALIST, "hr.self") if claimed is None else \
            await api.post(f"/maternity-leaves/{wf}/approve", json={},
                           headers=auth(Role.HR_SPECIALIST, "hr.self", claimed))
        refused_as_subject(r, emp)
    r = await maternity.post(api, auth, wf, "reject", Role.HR_SPECIALIST, "hr.self", {"reason": "test"})
    refused_as_subject(r, emp)
    assert (await maternity.view(api, auth, wf))["stage"] == "applied"
    r = await maternity.post(api, auth, wf, "approve", Role.HR_SPECIALIST, maternity.HR)
    assert r.status_code == 200 and r.json()["stage"] == "approved", r.text


async def test_a_manager_never_checks_an_enrollment_change_of_his_own(stack, auth, emp) -> None:
    api = stack
    await listed(api, auth, "mgr.self", Role.HR_MANAGER, employee_id=emp)
    wf = (await si_change.submit(api, auth, si_change.ENROLL | {"employee_id": emp}))["workflow_id"]
    await si_change.wait_submitted(api, auth, wf)
    for action, body in (("approve", {}), ("reject", {"reason": "no"})):
        r = await api.post(f"/si-changes/{wf}/{action}", json=body, headers=auth(Role.HR_MANAGER, "mgr.self"))
        refused_as_subject(r, emp)
    assert await si_change.stage_of(api, auth, wf) == "submitted"
    r = await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, si_change.CHECKER))
    assert r.status_code == 200 and r.json()["stage"] == "approved", r.text
    r = await api.post(f"/si-changes/{wf}/revoke", json={"reason": "mine"}, headers=auth(Role.HR_MANAGER, "mgr.self"))
    refused_as_subject(r, emp)


async def test_known_by_her_mail_a_manager_cannot_accept_her_own_withdrawal(
        stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    with session_factory.begin() as s:
        s.get(Employee, emp).email = "Wang.Self@example.com"
    await listed(api, auth, "mgr.self", Role.HR_MANAGER, email="wang.self@example.com")  # not linked, same mailbox
    wf = (await offboarding.start(api, auth, emp, await env_today(temporal_env)))["workflow_id"]
    await offboarding.wait_view(api, auth, wf, lambda v: v["risk"])
    r = await api.post(f"/offboardings/{wf}/withdraw", json={"reason": "I want to stay"}, headers=auth(Role.EMPLOYEE, emp))
    assert r.status_code == 200, r.text
    r = await api.post(f"/offboardings/{wf}/withdrawal-decision", json={"accept": True},
                       headers=auth(Role.HR_MANAGER, "mgr.self"))
    refused_as_subject(r, emp)
    r = await api.post(f"/offboardings/{wf}/withdrawal-decision", json={"accept": True},
                       headers=auth(Role.HR_MANAGER, offboarding.MANAGER))
    assert r.status_code == 200 and r.json()["stage"] == "withdrawn", r.text


async def test_a_token_without_her_number_does_not_sign_off_her_own_clearance(stack, auth, emp, temporal_env) -> None:
    api = stack
    await listed(api, auth, "it.self", Role.IT, employee_id=emp)
    wf = (await offboarding.start(api, auth, emp, await env_today(temporal_env)))["workflow_id"]
    await offboarding.wait_view(api, auth, wf, lambda v: v["risk"])
    r = await offboarding.sign(api, auth, wf, Role.IT, "it.self", "it", "accounts", "revoked")
    refused_as_subject(r, emp)
    r = await offboarding.sign(api, auth, wf, Role.IT, offboarding.IT, "it", "accounts", "revoked")
    assert r.status_code == 200, r.text


async def test_hr_does_not_review_her_own_transfer(stack, auth, emp, session_factory) -> None:
    api = stack
    await listed(api, auth, "hr.self", Role.HR_SPECIALIST, employee_id=emp)
    started = await transfer.apply(api, auth, emp)
    wf = started["workflow_id"]
    await transfer.upload_all(api, auth, emp, wf, transfer.required(started), session_factory)
    await transfer.wait_view(api, auth, wf, lambda v: v["stage"] == "awaiting_review")
    r = await api.post(f"/transfers/{wf}/review", json={"approve": True}, headers=auth(Role.HR_SPECIALIST, "hr.self"))
    refused_as_subject(r, emp)
    r = await api.post("/transfers/review-batch", json={"items": [{"workflow_id": wf, "approve": True}]},
                       headers=auth(Role.HR_SPECIALIST, "hr.self"))
    assert r.status_code == 200 and r.json()[0]["error"] == "self_approval", r.text
    assert (await transfer.view(api, auth, wf))["stage"] == "awaiting_review"


async def test_a_manager_does_not_release_his_own_non_compete(stack, auth, emp, temporal_env) -> None:
    api = stack
    await listed(api, auth, "mgr.self", Role.HR_MANAGER, employee_id=emp)
    first_day = await env_today(temporal_env) + dt.timedelta(days=1)
    r = await non_compete.start(api, auth, emp, first_day, 12)
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    await until(temporal_env, first_day)
    await non_compete.wait_view(api, auth, wf, lambda v: v["stage"] == "active")
    r = await non_compete.post(api, auth, wf, "release", Role.HR_MANAGER, "mgr.self", {"reason": "mine"})
    refused_as_subject(r, emp)
    assert (await non_compete.view(api, auth, wf))["stage"] == "active"


async def test_the_directory_links_only_registered_employees(stack, auth) -> None:
    api = stack
    r = await api.put("/staff/hr.new", json={"display_name": "新同事", "role": "hr_specialist", "employee_id": "E404"},
                      headers=auth(Role.ADMIN, ADMIN))
    assert r.status_code == 422
    assert [(e["field"], e["rule"]) for e in r.json()["detail"]] == [("employee_id", "known_employee")]
    assert "没有登记工号为 E404 的员工" in r.json()["detail"][0]["message"]
