"""Erasure as a process: the legal check (PIPL art. 47, the catalogue's retention periods), a second
compliance officer's decision, the hold while the law keeps her records, then the destruction of
her key: her cases' histories and her row become unreadable, another employee's do not, and the
audit chain verifies."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from activities.erasure import ERASED_NAME
from db import audit, sealed_fields
from db.blind_index import erased_digest
from db.models import Case, Employee, Notification, PersonKey
from db.person_keys import KeyDestroyed
from domain.months import add_months
from domain.roles import Role
from tests.processes.erasure.histories import approved_case, payloads_of
from tests.processes.support import add_employee, eventually, record_history, until
from tests.processes.test_si_change import wait_stage

ASKER, CHECKER = "comp.zhou", "comp.wu"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"si_followup_days": 1, "sim_agency_latency_ms": 0})


async def _closed_cases(api, auth, temporal_env, *employees: str) -> list[str]:
    """One si-change case per employee, run to its end (executed, then followed up)."""
    cases = [await approved_case(api, auth, temporal_env, e) for e in employees]
    await temporal_env.sleep(dt.timedelta(hours=73))
    for wf in cases:
        await wait_stage(api, auth, wf, "executed")
    await temporal_env.sleep(dt.timedelta(days=2))
    for wf in cases:
        await temporal_env.client.get_workflow_handle(wf).result()
    return cases


def _departed(session_factory, employee_id: str, on: dt.date) -> None:
    with session_factory.begin() as s:
        s.execute(update(Employee).where(Employee.employee_id == employee_id)
                  .values(employment_status="departed", leaving_on=on))


async def _ask(api, auth, employee_id: str, *, as_role: Role = Role.COMPLIANCE, user: str = ASKER,
               employee: str | None = None) -> dict:
    headers = auth(as_role, user, employee) if employee else auth(as_role, user)
    r = await api.post("/erasures", json={"employee_id": employee_id, "reason": "离职满两年，本人书面申请删除"},
                       headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _view(api, auth, wf: str) -> dict:
    r = await api.get(f"/erasures/{wf}", headers=auth(Role.COMPLIANCE, CHECKER))
    assert r.status_code == 200, r.text
    return r.json()


async def _wait(api, auth, wf: str, stage: str, *, erased: bool = False) -> dict:
    seen: dict = {}

    async def probe():
        seen.update(await _view(api, auth, wf))
        return dict(seen) if seen["stage"] == stage and (seen["erased"] or not erased) else None
    return await eventually(probe, what=f"{wf} at {stage}", detail=lambda: str(seen))


async def _decide(api, auth, wf: str, approve: bool = True, *, user: str = CHECKER, role: Role = Role.COMPLIANCE):
    return await api.post(f"/erasures/{wf}/decide", json={"approve": approve, "reason": "核对无误"},
                          headers=auth(role, user))


async def test_a_leaver_past_retention_is_erased_and_only_she(stack, auth, emp, temporal_env, session_factory,
                                                              codec, keyring) -> None:
    api = stack
    other = emp + "B"
    add_employee(session_factory, other, resident_id_number="110105198506151236", name="李娜")
    hers, theirs = await _closed_cases(api, auth, temporal_env, emp, other)
    _departed(session_factory, emp, dt.date.today() - dt.timedelta(days=800))  # more than two years ago

    wf = (await _ask(api, auth, emp))["workflow_id"]
    assert wf == f"erasure-{emp}-1"
    v = await _wait(api, auth, wf, "awaiting_approval")
    assert v["assessment"]["verdict"] == "ready"
    assert v["assessment"]["retention"][0]["code"] == "contract_copy_retention"
    assert "第五十条" in v["assessment"]["retention"][0]["source"]

    # Maker-checker: the one who asked, the person herself, and other roles may not decide.
    assert (await _decide(api, auth, wf, user=ASKER)).status_code == 403
    assert (await _decide(api, auth, wf, role=Role.HR_MANAGER, user="mgr.wang")).status_code == 403
    r = await _decide(api, auth, wf)
    assert r.status_code == 200, r.text
    v = await _wait(api, auth, wf, "erasing", erased=True)  # her key destroyed; the processes' caches drop it within the ttl
    assert v["erased"]["keys_destroyed"] == 1
    await temporal_env.sleep(dt.timedelta(seconds=301))  # HRFLOW_PERSON_KEY_CACHE_SECONDS, 300 by default
    v = await _wait(api, auth, wf, "erased")
    assert v["erased"]["keys_destroyed"] == 1 and v["decided_by"] == CHECKER

    with session_factory() as s:
        row = s.get(Employee, emp)
        assert row.name == ERASED_NAME and row.resident_id_number == sealed_fields.ERASED
        assert row.resident_id_sealed is None and row.resident_id_plain is None
        assert row.resident_id_digest == erased_digest(emp)
        assert row.email is None and row.mobile is None
        assert s.get(Employee, other).name == "李娜"
        assert s.get(PersonKey, (emp, 1)).destroyed_by == wf
        assert s.scalar(select(Case.status).where(Case.workflow_id == wf)) == "completed"
        assert audit.verify_chain(s).ok
        told = s.scalar(select(Notification).where(Notification.template == "erasure.done"))
        assert told.recipient == "compliance"

    keyring.forget()
    her_history = await temporal_env.client.get_workflow_handle(hers).fetch_history()
    for payload in payloads_of(her_history):
        with pytest.raises(KeyDestroyed):
            await codec.decode([payload])
    their_history = await temporal_env.client.get_workflow_handle(theirs).fetch_history()
    assert await codec.decode(payloads_of(their_history))
    # Her closed case, read through the API: the worker cannot replay it any more, and the API says
    # so (410 Gone, never a 500); the other employee's reads as before; the case list still has hers.
    r = await api.get(f"/si-changes/{hers}", headers=auth(Role.HR_MANAGER, "mgr.wang"))
    assert r.status_code == 410 and r.json()["error"] == "erased", r.text
    r = await api.get(f"/si-changes/{theirs}", headers=auth(Role.HR_MANAGER, "mgr.wang"))
    assert r.status_code == 200, r.text
    assert (await api.get(f"/cases/{hers}", headers=auth(Role.HR_MANAGER, "mgr.wang"))).status_code == 200
    # The erasure case itself stays readable: it holds her number, never her name or ID number.
    erasure_history = await temporal_env.client.get_workflow_handle(wf).fetch_history()
    decoded = await codec.decode(payloads_of(erasure_history))
    assert not any(b"11010519491231002X" in p.data for p in decoded)
    await temporal_env.client.get_workflow_handle(wf).result()
    await record_history(temporal_env.client, wf, "erasure", "past_retention_erased")


async def test_within_the_retention_period_she_is_erased_when_it_ends(stack, auth, emp, temporal_env,
                                                                      session_factory) -> None:
    api = stack
    left = dt.date.today() - dt.timedelta(days=100)
    _departed(session_factory, emp, left)
    wf = (await _ask(api, auth, emp, as_role=Role.EMPLOYEE, user=emp, employee=emp))["workflow_id"]
    v = await _wait(api, auth, wf, "awaiting_approval")
    assert v["assessment"]["verdict"] == "held" and v["on_her_request"] is True
    assert v["held_until"] == add_months(left, 24).isoformat()
    assert (await _decide(api, auth, wf)).status_code == 200
    await _wait(api, auth, wf, "held")
    with session_factory() as s:
        assert s.get(Employee, emp).name != ERASED_NAME  # kept, not processed, until the period ends
    await until(temporal_env, add_months(left, 24), hour=10)  # woken at 09:00, the caches' 300 s run out by 10:00
    v = await _wait(api, auth, wf, "erased")
    assert v["assessment"]["verdict"] == "ready"  # checked again on waking
    with session_factory() as s:
        assert s.get(Employee, emp).name == ERASED_NAME
    await temporal_env.client.get_workflow_handle(wf).result()
    await record_history(temporal_env.client, wf, "erasure", "held_then_erased")


async def test_the_check_refuses_while_she_is_employed_or_a_case_of_hers_is_open(stack, auth, emp, temporal_env,
                                                                                 session_factory) -> None:
    api = stack
    wf = (await _ask(api, auth, emp))["workflow_id"]
    v = await _wait(api, auth, wf, "refused")
    assert v["assessment"]["verdict"] == "refused" and "在职" in v["assessment"]["reasons"][0]

    open_case = await approved_case(api, auth, temporal_env, emp)  # approved, inside its rollback window
    _departed(session_factory, emp, dt.date.today() - dt.timedelta(days=800))
    wf = (await _ask(api, auth, emp))["workflow_id"]
    v = await _wait(api, auth, wf, "refused")
    assert any(open_case in reason for reason in v["assessment"]["reasons"])
    with session_factory() as s:
        assert s.get(Employee, emp).name != ERASED_NAME
        assert s.scalar(select(PersonKey.destroyed_at).where(PersonKey.employee_id == emp)) is None
    await temporal_env.client.get_workflow_handle(wf).result()
    await record_history(temporal_env.client, wf, "erasure", "refused_open_case")


async def test_who_may_ask_and_withdraw(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    _departed(session_factory, emp, dt.date.today() - dt.timedelta(days=100))
    r = await api.post("/erasures", json={"employee_id": emp, "reason": "x"}, headers=auth(Role.EMPLOYEE, "E0", "E0"))
    assert r.status_code == 403  # an employee asks only for herself
    r = await api.post("/erasures", json={"employee_id": emp, "reason": "x"}, headers=auth(Role.HR_MANAGER, "m"))
    assert r.status_code == 403
    r = await api.post("/erasures", json={"employee_id": "NOBODY", "reason": "x"}, headers=auth(Role.COMPLIANCE, ASKER))
    assert r.status_code == 404
    r = await api.post("/erasures", json={"employee_id": emp, "reason": "  "}, headers=auth(Role.COMPLIANCE, ASKER))
    assert r.status_code == 422

    # A leaver no longer signs in: compliance files her written request, and it is hers.
    r = await api.post("/erasures", json={"employee_id": emp, "reason": "本人书面申请", "on_her_request": True},
                       headers=auth(Role.COMPLIANCE, ASKER))
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    assert (await _wait(api, auth, wf, "awaiting_approval"))["on_her_request"] is True
    assert (await _decide(api, auth, wf)).status_code == 200
    await _wait(api, auth, wf, "held")
    r = await api.post(f"/erasures/{wf}/withdraw", json={}, headers=auth(Role.COMPLIANCE, CHECKER))
    assert r.status_code == 403  # only the one who asked
    r = await api.post(f"/erasures/{wf}/withdraw", json={"reason": "复核后保留"}, headers=auth(Role.COMPLIANCE, ASKER))
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "withdrawn"
    assert (await _decide(api, auth, wf)).status_code == 409
    await temporal_env.client.get_workflow_handle(wf).result()
    await record_history(temporal_env.client, wf, "erasure", "held_then_withdrawn")
