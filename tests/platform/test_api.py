"""The API's edges: who may call what (401/403 as JSON), validation naming field and rule,
personal data by role, employees seeing only their own cases, health, request ids, body limits."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select

from db.models import AuditEvent, Case
from domain.roles import Role

EMPLOYEE = {
    "employee_id": "E1001",
    "resident_id_number": "11010519491231002X",
    "name": "王芳",
    "department": "Sales",
    "position": "Adviser",
    "hire_date": "2021-03-01",
    "si_province": "Beijing",
    "si_city": "Beijing",
    "contribution_base": "12000.00",
}


async def _register(api: httpx.AsyncClient, auth, body: dict = EMPLOYEE) -> httpx.Response:
    return await api.post("/employees", json=body, headers=auth(Role.HR_SPECIALIST, "hr.li"))


async def test_missing_expired_and_forged_tokens_are_401(api: httpx.AsyncClient, token) -> None:
    r = await api.get("/me")
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
    assert r.headers["www-authenticate"] == "Bearer"
    expired = token(Role.ADMIN, ttl=dt.timedelta(seconds=-5))
    r = await api.get("/me", headers={"Authorization": f"Bearer {expired}", "Accept-Language": "en"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    from api.auth import mint_token

    forged = mint_token("another-secret-" + "y" * 40, user="x", role=Role.ADMIN)
    r = await api.get("/me", headers={"Authorization": f"Bearer {forged}", "Accept-Language": "en"})
    assert r.status_code == 401 and "not valid" in r.json()["detail"]


async def test_wrong_role_is_403_naming_allowed_roles(api: httpx.AsyncClient, auth) -> None:
    r = await api.post("/employees", json=EMPLOYEE, headers=auth(Role.FINANCE) | {"Accept-Language": "en"})
    assert r.status_code == 403
    assert r.json() == {"error": "forbidden",
                        "detail": "role finance may not do this; allowed: hr_manager, hr_specialist"}


@pytest.mark.parametrize("field,value,rule", [
    ("resident_id_number", "110105194912310021", "resident_id_check_digit"),
    ("resident_id_number", "11010519491331002X", "resident_id_birth_date"),
    ("resident_id_number", "99010519491231002X", "resident_id_region"),
    ("resident_id_number", "1101051949", "resident_id_format"),
    ("contribution_base", "-1", "greater_than_equal"),
    ("contribution_base", "100.001", "decimal_max_places"),
    ("hire_date", "2021-02-30", "date_from_datetime_parsing"),
])
async def test_bad_input_names_field_and_rule_and_writes_nothing(api, auth, session_factory,
                                                                 field, value, rule) -> None:
    r = await _register(api, auth, EMPLOYEE | {field: value})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "validation_failed"
    assert {"field": field, "rule": rule} == {k: body["detail"][0][k] for k in ("field", "rule")}
    with session_factory() as s:
        assert s.scalar(select(AuditEvent.id)) is None


async def test_register_audits_without_personal_data(api, auth, session_factory) -> None:
    r = await _register(api, auth)
    assert r.status_code == 201, r.text
    assert r.json()["resident_id_number"] == "11010519491231002X"
    assert (await _register(api, auth)).status_code == 409
    with session_factory() as s:
        event = s.scalar(select(AuditEvent))
    assert (event.actor, event.action, event.subject) == ("hr.li", "employee.registered", "E1001")
    assert event.after["resident_id_number"] == "110105********002X"
    assert event.after["name"] == "王*"
    assert event.request_id == r.headers["x-request-id"]


async def test_personal_data_is_shown_by_role(api, auth) -> None:
    await _register(api, auth)
    seen = {}
    for role, user, employee in [(Role.HR_MANAGER, "m", None), (Role.FINANCE, "f", None),
                                 (Role.ADMIN, "ops", None), (Role.EMPLOYEE, "E1001", None)]:
        r = await api.get("/employees/E1001", headers=auth(role, user, employee))
        assert r.status_code == 200
        seen[role] = (r.json()["name"], r.json()["resident_id_number"])
    assert seen[Role.HR_MANAGER] == ("王芳", "11010519491231002X")
    assert seen[Role.FINANCE] == ("王芳", "110105********002X")
    assert seen[Role.ADMIN] == ("王*", "110105********002X")
    assert seen[Role.EMPLOYEE] == ("王芳", "11010519491231002X")  # her own record
    r = await api.get("/employees/E1001", headers=auth(Role.EMPLOYEE, "E2002"))
    assert r.status_code == 404


async def test_employee_sees_only_own_cases(api, auth, session_factory) -> None:
    await _register(api, auth)
    await _register(api, auth, EMPLOYEE | {"employee_id": "E2002", "resident_id_number": "360426199101010071"})
    now = dt.datetime.now(dt.UTC)
    with session_factory.begin() as s:
        for emp in ("E1001", "E2002"):
            s.add(Case(workflow_id=f"probe-{emp}", kind="probe", employee_id=emp, stage="x", opened_at=now))
    mine = await api.get("/cases", headers=auth(Role.EMPLOYEE, "E1001"))
    assert [c["workflow_id"] for c in mine.json()["items"]] == ["probe-E1001"]
    # Asking for someone else's list or case: own list / 404, never their data.
    theirs = await api.get("/cases?employee_id=E2002", headers=auth(Role.EMPLOYEE, "E1001"))
    assert [c["workflow_id"] for c in theirs.json()["items"]] == ["probe-E1001"]
    assert (await api.get("/cases/probe-E2002", headers=auth(Role.EMPLOYEE, "E1001"))).status_code == 404
    assert (await api.get("/cases/probe-E1001", headers=auth(Role.EMPLOYEE, "E1001"))).status_code == 200
    staff = await api.get("/cases", headers=auth(Role.HR_MANAGER))
    assert {c["workflow_id"] for c in staff.json()["items"]} == {"probe-E1001", "probe-E2002"}


async def test_case_list_pages_by_cursor(api, auth, session_factory) -> None:
    await _register(api, auth)
    now = dt.datetime.now(dt.UTC)
    with session_factory.begin() as s:
        for i in range(5):
            s.add(Case(workflow_id=f"probe-{i}", kind="probe", employee_id="E1001", stage="x", opened_at=now))
    seen, cursor = [], None
    while True:
        r = await api.get("/cases", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=auth(Role.HR_MANAGER))
        seen += [c["workflow_id"] for c in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"probe-{i}" for i in reversed(range(5))]


async def test_health_ok(api) -> None:
    r = await api.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": {"ok": True, "detail": None},
                        "temporal": {"ok": True, "detail": None}}


async def test_health_503_when_database_down(settings, temporal_env, codec) -> None:
    from api.app import create_app
    from db.session import make_engine

    dead = make_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    app = create_app(settings, engine=dead, temporal=temporal_env.client, codec=codec)
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/health")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["database"]["ok"] is False and r.json()["temporal"]["ok"] is True


async def test_unknown_request_id_is_replaced_and_oversized_body_refused(api, auth) -> None:
    r = await api.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert len(r.headers["x-request-id"]) == 32
    r = await api.get("/health", headers={"X-Request-ID": "req-123"})
    assert r.headers["x-request-id"] == "req-123"
    r = await api.post("/employees", content=b"{" + b" " * 2_000_000 + b"}",
                       headers=auth(Role.HR_SPECIALIST) | {"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"


async def test_audit_endpoints_by_role(api, auth) -> None:
    await _register(api, auth)
    assert (await api.get("/audit/verify", headers=auth(Role.HR_SPECIALIST))).status_code == 403
    r = await api.get("/audit/verify", headers=auth(Role.COMPLIANCE))
    body = r.json()
    assert (body["ok"], body["rows_checked"], body["first_broken_id"]) == (True, 1, None)
    assert len(body["head_hash"]) == 64
    r = await api.get("/audit/events", params={"subject": "E1001"}, headers=auth(Role.HR_MANAGER))
    assert [e["action"] for e in r.json()["items"]] == ["employee.registered"]


async def test_chunked_oversized_body_refused(api, auth) -> None:
    async def chunks():
        for _ in range(30):
            yield b" " * 100_000

    r = await api.post("/employees", content=chunks(),
                       headers=auth(Role.HR_SPECIALIST) | {"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    r = await api.post("/employees", content=b"x" * 6_000_000,  # uploads may be larger, not this large
                       headers=auth(Role.HR_SPECIALIST) | {"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413
