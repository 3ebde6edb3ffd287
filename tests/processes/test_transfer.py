"""Cross-province transfers through the API, on the time-skipping server and real PostgreSQL.

Seed 002 is the walk-through: Guiyang to Harbin for pension, medical insurance and housing fund,
as the employee and as HR; the statutory working-day limits, the batch review, and the
destination refusal that restores the origin enrollment.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from db.models import ApprovalTask, AuditEvent, Notification, SiEnrollment, Transfer
from domain.roles import Role
from integrations.si_agency import AgencySubmission
from tests.domain.test_document_structure import MINIMAL_PDF as PDF
from tests.processes import support
from tests.processes.support import add_employee, env_today, eventually, record_history, until

HR, MANAGER, OPS = "hr.li", "mgr.wang", "ops"
GUIYANG_TO_HARBIN = {"origin_city": "贵阳", "destination_city": "哈尔滨", "types": ["pension", "medical", "housing_fund"],
                     "reason": "relocated to the Harbin branch"}


ROUTES = support.CaseRoutes("/transfers", Role.HR_SPECIALIST, HR)
view, wait_view = ROUTES.view, ROUTES.wait_view


async def apply(api, auth, emp: str, body: dict = GUIYANG_TO_HARBIN, as_employee: bool = True) -> dict:
    headers = auth(Role.EMPLOYEE, emp) if as_employee else auth(Role.HR_SPECIALIST, HR)
    r = await api.post("/transfers", json={"employee_id": emp} | body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def upload_all(api, auth, emp: str, wf: str, codes, session_factory) -> None:
    def row_written() -> bool:  # the workflow records the transfer before documents can attach to it
        with session_factory() as s:
            return s.get(Transfer, wf) is not None
    await eventually(row_written)
    for code in codes:
        r = await api.post(f"/transfers/{wf}/materials/{code}", files={"file": (f"{code}.pdf", PDF, "application/pdf")},
                           headers=auth(Role.EMPLOYEE, emp))
        assert r.status_code == 201, r.text


def required(v: dict) -> list[str]:
    return sorted({c for codes in v["required_materials"].values() for c in codes})


async def complete_steps(api, auth, wf: str, kind: str) -> None:
    v = await wait_view(api, auth, wf, lambda v: any(b["kind"] == kind and b["status"] == "transferring"
                                                     for b in v["branches"]))
    branch = next(b for b in v["branches"] if b["kind"] == kind)
    for step in branch["steps"]:
        r = await api.post(f"/transfers/{wf}/agency-progress", headers=auth(Role.ADMIN, OPS),
                           json={"kind": kind, "step": step["code"], "status": "done", "reference": f"{kind}-{step['code']}"})
        assert r.status_code == 200, r.text
        # The same report twice is harmless.
        r = await api.post(f"/transfers/{wf}/agency-progress", headers=auth(Role.ADMIN, OPS),
                           json={"kind": kind, "step": step["code"], "status": "done"})
        assert r.status_code in (200, 409)


async def test_guiyang_to_harbin_end_to_end(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    started = await apply(api, auth, emp)
    wf = started["workflow_id"]
    assert set(started["required_materials"]) == {"pension", "medical", "housing_fund"}
    codes = required(started)
    await upload_all(api, auth, emp, wf, codes, session_factory)
    await wait_view(api, auth, wf, lambda v: v["stage"] == "awaiting_review")
    r = await api.post(f"/transfers/{wf}/review", json={"approve": True}, headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 200, r.text
    for kind in ("pension", "medical", "housing_fund"):
        await complete_steps(api, auth, wf, kind)
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "completed")
    assert {b["kind"]: b["status"] for b in v["branches"]} == {"pension": "completed", "medical": "completed",
                                                              "housing_fund": "completed"}
    # No contribution base for Guiyang or Harbin in the catalogue: HR moves the enrollment by hand.
    assert any("Move the social-insurance enrollment" in t for t in v["manual_tasks"])
    with session_factory() as s:
        row = s.get(Transfer, wf)
        assert (row.stage, row.origin_province, row.destination_province) == ("completed", "guizhou", "heilongjiang")
        templates = set(s.scalars(select(Notification.template).where(Notification.workflow_id == wf)))
    assert {"transfer.materials_required", "transfer.branch_completed", "transfer.finished"} <= templates
    await record_history(temporal_env.client, wf, "transfer", "guiyang_to_harbin")


async def test_missing_document_reminds_then_abandons(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    wf = (await apply(api, auth, emp))["workflow_id"]
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "collecting_materials")
    codes = required(v)
    await upload_all(api, auth, emp, wf, codes[:-1], session_factory)
    v = await wait_view(api, auth, wf, lambda v: v["missing_materials"] == codes[-1:])
    today = await env_today(temporal_env)
    await until(temporal_env, today + dt.timedelta(days=31))
    await wait_view(api, auth, wf, lambda v: v["stage"] == "abandoned")
    with session_factory() as s:
        reminders = s.scalars(select(Notification).where(Notification.template == "transfer.materials_reminder"))
        assert all(n.params["missing"] == codes[-1:] for n in reminders)
    await record_history(temporal_env.client, wf, "transfer", "abandoned")


async def test_batch_of_ten_with_two_not_reviewable(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    ids = []
    for i in range(10):
        other = f"{emp[:7]}{i}"
        add_employee(session_factory, other, resident_id_number=f"11010519900101{i:03d}" + "X")
        ids.append((other, (await apply(api, auth, other, as_employee=False))["workflow_id"]))
    for other, wf in ids[:8]:  # two never complete their documents
        v = await wait_view(api, auth, wf, lambda v: v["stage"] == "collecting_materials")
        await upload_all(api, auth, other, wf, required(v), session_factory)
        await wait_view(api, auth, wf, lambda v: v["stage"] == "awaiting_review")
    items = [{"workflow_id": wf, "approve": i % 2 == 0, "reason_code": None if i % 2 == 0 else "illegible_document"}
             for i, (_, wf) in enumerate(ids)]
    r = await api.post("/transfers/review-batch", json={"items": items}, headers=auth(Role.HR_MANAGER, MANAGER))
    assert r.status_code == 200
    lines = r.json()
    assert [line["applied"] for line in lines] == [True] * 8 + [False, False]
    assert {line["error"] for line in lines[8:]} == {"wrong_stage"}
    returned = await view(api, auth, ids[1][1])
    assert returned["stage"] == "collecting_materials" and returned["returned_for"]["reason_code"] == "illegible_document"


async def test_destination_refusal_restores_origin_enrollment(stack, auth, emp, temporal_env, session_factory,
                                                              agency, faults, monkeypatch) -> None:
    from api.routes import transfers as transfer_routes

    api = stack
    original = transfer_routes.pin_si_change

    def with_shanghai(city, on):  # the catalogue's Shanghai base ends 2026-06: Beijing's figures stand in
        if city in ("上海", "shanghai"):
            return original("北京", on).model_copy(update={"city": "shanghai"})
        return original(city, on)
    monkeypatch.setattr(transfer_routes, "pin_si_change", with_shanghai)
    with session_factory.begin() as s:
        s.add(SiEnrollment(employee_id=emp, city="beijing", status="active", base=Decimal("10000.00"),
                           since_month="2025-01", opened_by="seed"))
    agency.submit(AgencySubmission(reference=f"seed-{emp}", employee_id=emp, resident_id_number="11010519491231002X",
                                   city="beijing", kind="enrollment", base="10000.00", months=[],
                                   effective_month="2025-01"))
    faults.reject[f"{emp}@shanghai"] = ("not_registered", "no residence registration in Shanghai")
    body = {"origin_city": "北京", "destination_city": "上海", "types": ["pension"], "reason": "moved"}
    wf = (await apply(api, auth, emp, body))["workflow_id"]
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "collecting_materials")
    await upload_all(api, auth, emp, wf, required(v), session_factory)
    await wait_view(api, auth, wf, lambda v: v["stage"] == "awaiting_review")
    await api.post(f"/transfers/{wf}/review", json={"approve": True}, headers=auth(Role.HR_SPECIALIST, HR))
    v = await wait_view(api, auth, wf, lambda v: v["enrollment"]["origin_restore"] is not None)
    assert v["enrollment"]["origin_stop"] and v["enrollment"]["destination_start"] is None
    with session_factory() as s:
        active = list(s.scalars(select(SiEnrollment).where(SiEnrollment.employee_id == emp,
                                                           SiEnrollment.status == "active")))
        assert [a.city for a in active] == ["beijing"]  # covered again at the origin

    def told() -> Notification | None:
        with session_factory() as s:
            return s.scalar(select(Notification).where(Notification.template == "transfer.destination_refused"))
    notice = await eventually(told)
    assert notice.recipient == "hr_specialist"
    assert "no residence registration in Shanghai" in notice.params["reason"]  # the refusal, by name
    with session_factory() as s:
        refused = s.scalar(select(ApprovalTask).where(ApprovalTask.workflow_id == wf,
                                                      ApprovalTask.task_key.like("destination-refused-%")))
    assert refused.by_hand and refused.status == "open" and "no residence registration" in refused.title
    # Work done by hand is closed by the person who did it, never by the system.
    r = await api.post(f"/tasks/{refused.id}/done", json={"note": "residence permit filed; enrolled again 2027-01"},
                       headers=auth(Role.HR_MANAGER, MANAGER))
    assert r.status_code == 200 and (r.json()["decision"], r.json()["actor"]) == ("done", MANAGER), r.text
    await record_history(temporal_env.client, wf, "transfer", "destination_refused_named")


async def test_others_cannot_read_or_cancel(stack, auth, emp, session_factory) -> None:
    api = stack
    wf = (await apply(api, auth, emp))["workflow_id"]
    await wait_view(api, auth, wf, lambda v: v["stage"] == "collecting_materials")
    assert (await api.get(f"/transfers/{wf}", headers=auth(Role.EMPLOYEE, "E9999999"))).status_code == 404
    r = await api.post(f"/transfers/{wf}/cancel", json={"reason": "x"}, headers=auth(Role.EMPLOYEE, "E9999999"))
    assert r.status_code == 404
    r = await api.post(f"/transfers/{wf}/cancel", json={"reason": "staying"}, headers=auth(Role.EMPLOYEE, emp))
    assert r.status_code == 200 and r.json()["stage"] == "cancelled"
    with session_factory() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.workflow_id == wf,
                                                 AuditEvent.action == "transfer.stage_changed")) is not None
