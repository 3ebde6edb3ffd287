"""Social-insurance changes through the API, on the time-skipping server and real PostgreSQL.

Seed 003 is the thread: a back-payment entered by mistake must be caught by the confirmation
step, or revoked inside the rollback window, and the audit trail must show who did what.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from db.audit import verify_chain
from db.models import ApprovalTask, AuditEvent, Case, SiEnrollment, SimAgencyRequest
from domain.roles import Role
from integrations.si_agency import SimulatedAgency
from tests.processes.support import add_employee, eventually, record_history, terminate_cases
from worker import build_worker
from workflows.si_change import SiChangeResult

MAKER, CHECKER = "hr.li", "mgr.wang"
ENROLL = {"kind": "enrollment", "base": "10000.00",
          "effective_month": "2026-11", "reason": "new hire"}
BACK_PAY = {"kind": "back_payment", "base": "10000.00",
            "months": ["2026-08", "2026-09", "2026-10"], "effective_month": "2026-11",
            "reason": "new hire (clerk picked back-payment)"}


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"si_followup_days": 1, "sim_agency_latency_ms": 0})


async def submit(api: httpx.AsyncClient, auth, body: dict) -> dict:
    r = await api.post("/si-changes", json=body, headers=auth(Role.HR_SPECIALIST, MAKER))
    assert r.status_code == 201, r.text
    return r.json()


async def stage_of(api, auth, workflow_id: str) -> str:
    r = await api.get(f"/si-changes/{workflow_id}", headers=auth(Role.HR_MANAGER, CHECKER))
    return r.json().get("stage")


async def wait_stage(api, auth, workflow_id: str, stage: str) -> None:
    async def probe() -> bool:
        return await stage_of(api, auth, workflow_id) == stage
    await eventually(probe)


async def wait_submitted(api, auth, workflow_id: str) -> None:
    """Submitted and in the checker's inbox (the case row and its task are written)."""
    async def probe() -> bool:
        items = (await api.get("/inbox", headers=auth(Role.HR_MANAGER, CHECKER))).json()["items"]
        return workflow_id in [i["workflow_id"] for i in items]
    await eventually(probe)


async def test_enrollment_lifecycle(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    started = await submit(api, auth, ENROLL | {"employee_id": emp})
    wf = started["workflow_id"]
    assert wf == f"si-change-{emp}-1"
    assert Decimal(started["estimate"]["monthly_total"]) == Decimal("2653.00")
    await wait_submitted(api, auth, wf)
    inbox = (await api.get("/inbox", headers=auth(Role.HR_MANAGER, CHECKER))).json()["items"]
    assert [i["workflow_id"] for i in inbox] == [wf]

    r = await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "approved" and r.json()["approver"] == CHECKER
    assert (await api.get("/inbox", headers=auth(Role.HR_MANAGER, CHECKER))).json()["items"] == []

    await temporal_env.sleep(dt.timedelta(hours=71))
    assert await stage_of(api, auth, wf) == "approved"  # still inside the 72-hour window
    await temporal_env.sleep(dt.timedelta(hours=2))
    await wait_stage(api, auth, wf, "executed")
    view = (await api.get(f"/si-changes/{wf}", headers=auth(Role.HR_MANAGER, CHECKER))).json()
    assert view["acceptance_no"].startswith("SB")

    await temporal_env.sleep(dt.timedelta(days=2))
    result = await temporal_env.client.get_workflow_handle(wf, result_type=SiChangeResult).result()
    assert result.stage == "completed"
    with session_factory() as s:
        enrollment = s.scalar(select(SiEnrollment))
        assert (enrollment.status, enrollment.base, enrollment.since_month) == ("active", Decimal("10000.00"), "2026-11")
        assert s.scalar(select(Case.status).where(Case.workflow_id == wf)) == "completed"
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == wf).order_by(AuditEvent.id)))
        assert actions[0] == "si_change.opened" and "task.approved" in actions and "si_change.executed" in actions
        assert verify_chain(s).ok
    await record_history(temporal_env.client, wf, "si_change", "enrollment_lifecycle")


async def test_self_approval_and_wrong_role_refused(stack, auth, emp, session_factory) -> None:
    api = stack
    wf = (await submit(api, auth, ENROLL | {"employee_id": emp}))["workflow_id"]
    await wait_submitted(api, auth, wf)
    # The maker holding a manager token is still the maker.
    r = await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, MAKER))
    assert r.status_code == 403 and r.json()["error"] == "self_approval"
    r = await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_SPECIALIST, "hr.zhao"))
    assert r.status_code == 403
    assert await stage_of(api, auth, wf) == "submitted"


async def test_back_payment_needs_fresh_confirmation(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    started = await submit(api, auth, BACK_PAY | {"employee_id": emp})
    wf, total = started["workflow_id"], started["estimate"]["total"]
    assert Decimal(total) == Decimal("7959.00")  # 3 months x 2,653.00: "you are about to pay 7,959 yuan"
    await wait_submitted(api, auth, wf)
    r = await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 409 and r.json()["error"] == "confirmation_required"
    assert r.json()["detail"]["estimate"]["total"] == total
    r = await api.post(f"/si-changes/{wf}/approve", json={"confirm_total": "8000.00"},
                       headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 409 and r.json()["error"] == "stale_confirmation"
    # The checker sees the cost and sends it back: this is the seed's mistake caught.
    r = await api.post(f"/si-changes/{wf}/reject", json={"reason": "new hire: normal enrollment, not back-payment"},
                       headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200 and r.json()["stage"] == "rejected"
    r = await api.post(f"/si-changes/{wf}/correct", json={"reason": "normal enrollment", "kind": "enrollment"},
                       headers=auth(Role.HR_SPECIALIST, MAKER))
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "submitted" and r.json()["facts"]["months"] == []
    assert Decimal(r.json()["estimate"]["total"]) == Decimal("2653.00")
    r = await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200 and r.json()["stage"] == "approved"
    with session_factory() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == wf).order_by(AuditEvent.id)))
        actors = set(s.scalars(select(AuditEvent.actor).where(AuditEvent.workflow_id == wf)))
    assert "task.rejected" in actions and {MAKER, CHECKER} <= actors
    # The correction is told everywhere a person reads the case: its summary, and the audit entry
    # saying what it was before (back-payment, three months, 7,959.00) and what it is now.
    with session_factory() as s:
        summary = s.scalar(select(Case.summary).where(Case.workflow_id == wf))
        corrected = s.scalars(select(AuditEvent).where(AuditEvent.workflow_id == wf,
                                                       AuditEvent.action == "si_change.stage_changed")
                              .order_by(AuditEvent.id)).all()
    assert summary.startswith("社保增员：beijing") and "back_payment" not in summary, summary
    change = next(e for e in corrected if e.after.get("corrected"))
    assert change.before["kind"] == "back_payment" and change.after["kind"] == "enrollment"
    assert change.before["months"] == ["2026-08", "2026-09", "2026-10"] and change.after["months"] == []
    assert Decimal(change.before["estimate_total"]) == Decimal("7959.00")
    assert "补缴" in change.before["summary"] and "增员" in change.after["summary"]
    description = await temporal_env.client.get_workflow_handle(wf).describe()
    assert "back_payment" not in (await description.static_summary() or "")
    r = await api.post(f"/si-changes/{wf}/withdraw", json={"reason": "hire postponed"},
                       headers=auth(Role.HR_SPECIALIST, MAKER))
    assert r.status_code == 200 and r.json()["stage"] == "withdrawn"
    await record_history(temporal_env.client, wf, "si_change", "back_payment_confirmation")


async def test_revocation_inside_window_never_reaches_agency(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    wf = (await submit(api, auth, BACK_PAY | {"employee_id": emp}))["workflow_id"]
    await wait_submitted(api, auth, wf)
    r = await api.post(f"/si-changes/{wf}/approve", json={"confirm_total": "7959.00"},
                       headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200
    await temporal_env.sleep(dt.timedelta(hours=10))
    r = await api.post(f"/si-changes/{wf}/revoke", json={"reason": "wrong kind, caught in time"},
                       headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200 and r.json()["stage"] == "submitted"
    await temporal_env.sleep(dt.timedelta(hours=100))  # well past the original window
    assert await stage_of(api, auth, wf) == "submitted"
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SimAgencyRequest)) == 0
        approve_tasks = list(s.scalars(select(ApprovalTask.status).where(ApprovalTask.workflow_id == wf)
                                       .order_by(ApprovalTask.id)))
    assert approve_tasks == ["decided", "open"]  # approved, then back in the checker's inbox
    await record_history(temporal_env.client, wf, "si_change", "revoked_in_window")


async def test_revocation_after_execution_files_with_agency(stack, auth, emp, temporal_env, session_factory, settings) -> None:
    api = stack
    wf = (await submit(api, auth, ENROLL | {"employee_id": emp}))["workflow_id"]
    await wait_submitted(api, auth, wf)
    await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))
    await temporal_env.sleep(dt.timedelta(hours=73))
    await wait_stage(api, auth, wf, "executed")
    r = await api.post(f"/si-changes/{wf}/revoke", json={"reason": "employee never started"},
                       headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "revoked" and r.json()["revocation_no"].startswith("RV")
    with session_factory() as s:
        ops = sorted(s.scalars(select(SimAgencyRequest.operation)))
        assert ops == ["revoke", "submit"]
        assert s.scalar(select(SiEnrollment.status)) == "revoked"
        assert s.scalar(select(Case.status).where(Case.workflow_id == wf)) == "revoked"
    await record_history(temporal_env.client, wf, "si_change", "revoked_after_execution")


async def test_agency_outage_is_retried_and_submitted_once(stack, auth, emp, temporal_env, faults, session_factory) -> None:
    api = stack
    wf = (await submit(api, auth, ENROLL | {"employee_id": emp}))["workflow_id"]
    await wait_submitted(api, auth, wf)
    faults.outages = 3
    await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))
    await temporal_env.sleep(dt.timedelta(hours=73))

    async def executed_after_backoff() -> bool:
        await temporal_env.sleep(dt.timedelta(minutes=1))  # the retry back-off, skipped
        return await stage_of(api, auth, wf) == "executed"
    await eventually(executed_after_backoff)
    assert faults.outages == 0
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SimAgencyRequest)) == 1
        assert s.scalar(select(func.count()).select_from(SiEnrollment)) == 1


async def test_agency_rejection_returns_to_maker(stack, auth, emp, temporal_env, faults, session_factory) -> None:
    api = stack
    wf = (await submit(api, auth, ENROLL | {"employee_id": emp}))["workflow_id"]
    await wait_submitted(api, auth, wf)
    faults.reject[emp] = ("base_mismatch", "base differs from the declared wage")
    await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))
    await temporal_env.sleep(dt.timedelta(hours=73))
    await wait_stage(api, auth, wf, "agency_rejected")
    view = (await api.get(f"/si-changes/{wf}", headers=auth(Role.HR_MANAGER, CHECKER))).json()
    assert "base differs from the declared wage" in view["agency_reason"]
    inbox = (await api.get("/inbox", headers=auth(Role.HR_SPECIALIST, MAKER))).json()["items"]
    assert [i["workflow_id"] for i in inbox] == [wf]
    with session_factory() as s:
        assert s.scalar(select(SimAgencyRequest.attempts)) == 1  # a rejection is not retried
    faults.reject.clear()
    r = await api.post(f"/si-changes/{wf}/correct", json={"reason": "declared wage fixed", "base": "12000.00"},
                       headers=auth(Role.HR_SPECIALIST, MAKER))
    assert r.status_code == 200 and r.json()["stage"] == "submitted"
    await record_history(temporal_env.client, wf, "si_change", "agency_rejected_then_corrected")


@pytest.mark.parametrize("change,field,rule", [
    ({"base": "1000.00"}, "base", "base_within_city_limits"),
    ({"kind": "back_payment", "months": ["2099-01"]}, "months", "month_in_past"),
    ({"kind": "back_payment", "months": ["2020-01"]}, "months", "within_back_payment_lookback"),
    ({"kind": "stop", "base": None}, "city", "active_enrollment_required"),
])
async def test_refused_requests_start_nothing(stack, auth, emp, session_factory, temporal_env, change, field, rule) -> None:
    api = stack
    r = await api.post("/si-changes", json=ENROLL | {"employee_id": emp} | change, headers=auth(Role.HR_SPECIALIST, MAKER))
    assert r.status_code == 422, r.text
    assert {k: r.json()["detail"][0][k] for k in ("field", "rule")} == {"field": field, "rule": rule}
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        refused = s.scalar(select(AuditEvent).where(AuditEvent.action == "si_change.refused"))
        assert refused.actor == MAKER and refused.after["rule"] == rule


async def test_invalid_resident_id_on_record_is_refused(stack, auth, emp, session_factory) -> None:
    add_employee(session_factory, "E0009", resident_id_number="110105194912310021")  # legacy bad data
    r = await stack.post("/si-changes", json=ENROLL | {"employee_id": "E0009"}, headers=auth(Role.HR_SPECIALIST, MAKER))
    assert r.status_code == 422
    assert r.json()["detail"][0]["rule"] == "resident_id_check_digit"


async def test_second_enrollment_in_same_city_refused(stack, auth, emp, session_factory) -> None:
    wf = (await submit(stack, auth, ENROLL | {"employee_id": emp}))["workflow_id"]
    await wait_submitted(stack, auth, wf)
    r = await stack.post("/si-changes", json=ENROLL | {"employee_id": emp}, headers=auth(Role.HR_SPECIALIST, MAKER))
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "one_open_change_per_city"


async def test_rollback_window_survives_a_worker_restart(temporal_env, settings, session_factory, api, auth, emp,
                                                         faults) -> None:
    """The window is a Temporal timer, not worker memory: a new worker executes the change."""
    add_employee(session_factory, emp)
    agency = SimulatedAgency(session_factory, faults)
    # No workflow cache: nothing is sticky to the first worker, as after a crash.
    async with build_worker(temporal_env.client, settings, session_factory, agency=agency, max_cached_workflows=0):
        wf = (await submit(api, auth, ENROLL | {"employee_id": emp}))["workflow_id"]
        await wait_submitted(api, auth, wf)
        r = await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))
        assert r.status_code == 200
    # No worker at all for a while; then a fresh one, with an empty workflow cache.
    async with build_worker(temporal_env.client, settings, session_factory, agency=agency, max_cached_workflows=0):
        await temporal_env.sleep(dt.timedelta(hours=73))
        await wait_stage(api, auth, wf, "executed")
        await terminate_cases(temporal_env.client, session_factory)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SimAgencyRequest)) == 1


async def test_repin_applies_new_figures_and_voids_the_approval(stack, auth, emp, session_factory, monkeypatch) -> None:
    """A rule change reaches a running case only through an explicit, audited re-pin."""
    from api.routes import si_changes

    api = stack
    wf = (await submit(api, auth, ENROLL | {"employee_id": emp}))["workflow_id"]
    await wait_submitted(api, auth, wf)
    assert (await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))).status_code == 200
    original = si_changes.pin_si_change

    def changed_catalogue(city, on):  # as if the city had published a new pension rate
        snap = original(city, on)
        rates = snap.rates.model_copy(update={"rates": {**snap.rates.rates, "pension": snap.rates.rates["pension"]
                                                         .model_copy(update={"employee": Decimal("0.09")})}})
        return snap.model_copy(update={"rates": rates, "version": "f" * 64})

    monkeypatch.setattr(si_changes, "pin_si_change", changed_catalogue)
    r = await api.post(f"/si-changes/{wf}/repin", json={"reason": "2027 rates published"},
                       headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "submitted" and r.json()["policy_version"] == "f" * 64
    assert Decimal(r.json()["estimate"]["monthly_total"]) == Decimal("2753.00")  # +1% of 10,000
    def repinned() -> AuditEvent | None:
        with session_factory() as s:
            return s.scalar(select(AuditEvent).where(AuditEvent.action == "si_change.policy_repinned"))
    event = await eventually(repinned)
    assert event.actor == CHECKER and event.after["reason"] == "2027 rates published"


async def test_revocation_after_agency_window_becomes_manual_task(temporal_env, settings, session_factory, engine,
                                                                  codec, auth, emp, faults) -> None:
    long_followup = settings.model_copy(update={"si_followup_days": 60})
    add_employee(session_factory, emp)
    from api.app import create_app

    app = create_app(long_followup, engine=engine, temporal=temporal_env.client, codec=codec)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t") as client, \
            build_worker(temporal_env.client, long_followup, session_factory,
                         agency=SimulatedAgency(session_factory, faults)):
        wf = (await submit(client, auth, ENROLL | {"employee_id": emp}))["workflow_id"]
        await wait_submitted(client, auth, wf)
        await client.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))
        await temporal_env.sleep(dt.timedelta(hours=73))
        await wait_stage(client, auth, wf, "executed")
        await temporal_env.sleep(dt.timedelta(days=31))  # past the agency's 30-day window (policy)
        r = await client.post(f"/si-changes/{wf}/revoke", json={"reason": "left before starting"},
                              headers=auth(Role.HR_MANAGER, CHECKER))
        assert r.status_code == 200, r.text
        assert r.json()["stage"] == "revocation_manual" and r.json()["manual_task"]
        inbox = (await client.get("/inbox", headers=auth(Role.HR_SPECIALIST, MAKER))).json()["items"]
        assert [i["task_key"] for i in inbox] == [r.json()["manual_task"]]
        await terminate_cases(temporal_env.client, session_factory)
    with session_factory() as s:
        assert list(s.scalars(select(SimAgencyRequest.operation))) == ["submit"]  # the agency was not asked
