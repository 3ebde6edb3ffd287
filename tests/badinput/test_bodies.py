"""Oversized and malformed JSON bodies: refused before any handler parses them, whatever the request
says about its length, and nothing is written. Text with NUL characters, which PostgreSQL cannot
store, is refused naming the field instead of failing deep in a handler or an activity."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from api.app import create_app
from api.i18n import label, say
from api.routes import NUL_REFUSED
from domain.roles import Role
from tests.badinput.conftest import EMPLOYEE, OTHER, add_employees

LIMIT = 1_000_000  # HRFLOW_MAX_BODY_BYTES default

NEW_EMPLOYEE = {
    "employee_id": "E3003", "resident_id_number": "110105198506151236", "name": "李娜", "department": "Sales",
    "position": "Adviser", "hire_date": "2021-03-01", "si_province": "Beijing", "si_city": "Beijing",
    "contribution_base": "12000.00",
}
# (method, url, role, a body the endpoint would otherwise act on)
WRITERS = [
    ("POST", "/employees", Role.HR_SPECIALIST, NEW_EMPLOYEE),
    ("POST", "/transfers", Role.HR_SPECIALIST, {"employee_id": EMPLOYEE, "origin_city": "Guiyang",
                                               "destination_city": "Harbin", "types": ["pension"], "reason": "moved"}),
    ("POST", f"/employees/{EMPLOYEE}/records", Role.FINANCE, {"kind": "loan", "title": "car loan", "amount": "100.00"}),
    ("POST", "/codec/encode", Role.ADMIN, {"payloads": [{"metadata": {}, "data": ""}]}),
]


def _padded(body: dict, size: int) -> bytes:
    """``body`` as JSON, padded with whitespace to exactly ``size`` bytes: still a valid body."""
    raw = json.dumps(body).encode()
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize("delivery", ["declared", "chunked", "Chunked", "malformed-length"])
async def test_bodies_over_the_limit_are_413_and_write_nothing(stack, auth, row_counts, delivery: str) -> None:
    """``Chunked`` is how a client may spell it (the server accepts any case) and a malformed length
    is what a server in front may pass on: neither may carry a body past the limit."""
    before = row_counts()
    for method, url, role, body in WRITERS:
        data = _padded(body, LIMIT + 1)
        headers = auth(role) | {"content-type": "application/json"}
        if delivery == "declared":
            r = await stack.request(method, url, content=data, headers=headers)
        elif delivery == "malformed-length":
            r = await stack.request(method, url, content=data, headers=headers | {"content-length": "1e6"})
        else:
            r = await stack.request(method, url, content=_chunks(data),
                                    headers=headers | {"transfer-encoding": delivery})
            assert "content-length" not in r.request.headers
        assert r.status_code == 413, (url, r.text)
        assert r.json() == {"error": "too_large", "detail": f"请求内容超过 {LIMIT} 字节的上限"}  # Chinese by default
    assert row_counts() == before


async def test_a_body_of_exactly_the_limit_is_read(stack, auth) -> None:
    r = await stack.post("/employees", content=_padded(NEW_EMPLOYEE, LIMIT),
                         headers=auth(Role.HR_SPECIALIST) | {"content-type": "application/json"})
    assert r.status_code == 201, r.text
    again = _padded(NEW_EMPLOYEE | {"employee_id": "E4004"}, LIMIT)
    r = await stack.post("/employees", content=_chunks(again),
                         headers=auth(Role.HR_SPECIALIST) | {"content-type": "application/json"})
    assert r.status_code == 409, r.text  # streamed, read in full and judged: that resident ID is on file


async def test_a_body_cut_off_by_a_disconnect_is_not_a_request(settings, engine, temporal_env, codec, token,
                                                               session_factory, row_counts) -> None:
    """A streamed body that ends in a disconnect never reaches the app: the part that arrived may
    well parse, but the client did not send it as a request."""
    add_employees(session_factory)
    app = create_app(settings, engine=engine, temporal=temporal_env.client, codec=codec)
    body = json.dumps({"kind": "loan", "title": "car loan", "amount": "100.00"}).encode()
    messages = [{"type": "http.request", "body": body, "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": f"/employees/{EMPLOYEE}/records", "raw_path": b"", "root_path": "",
             "query_string": b"", "client": ("127.0.0.1", 1), "server": ("hrflow.test", 80),
             "headers": [(b"host", b"hrflow.test"), (b"content-type", b"application/json"),
                         (b"transfer-encoding", b"chunked"),
                         (b"authorization", f"Bearer {token(Role.FINANCE)}".encode())]}
    before = row_counts()
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert sent == [] and row_counts() == before


@pytest.mark.parametrize("method,url,role,body,field", [
    ("POST", "/employees", Role.HR_SPECIALIST, NEW_EMPLOYEE | {"name": "王\x00芳"}, "name"),
    ("POST", "/transfers", Role.EMPLOYEE, {"employee_id": EMPLOYEE, "origin_city": "Guiyang",
                                          "destination_city": "Harbin", "types": ["pension"], "reason": "moved\x00"},
     "reason"),
    ("POST", f"/employees/{OTHER}/records", Role.COMPLIANCE, {"kind": "dispute", "title": "\x00"}, "title"),
    ("POST", "/offboardings", Role.HR_MANAGER, {
        "employee_id": EMPLOYEE, "kind": "resignation", "notice_date": "2026-11-02", "monthly_wage": "10000.00",
        "minimum_wage": "2420.00", "handover": [{"key": "files", "title": "files\x00", "receiver": "hr.li"}]},
     "handover.0.title"),
])
async def test_text_with_nul_is_refused_naming_the_field_and_starts_nothing(stack, auth, row_counts, temporal_env,
                                                                            method, url, role, body, field) -> None:
    before = row_counts()
    r = await stack.request(method, url, json=body, headers=auth(role, EMPLOYEE if role is Role.EMPLOYEE else "x"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [{"field": field, "rule": "no_nul_character", "label": label(field, "zh"),
                                   "message": say(NUL_REFUSED, "zh")}]
    assert row_counts() == before
    r = await stack.request(method, url, json=body, headers=auth(role, EMPLOYEE if role is Role.EMPLOYEE else "x")
                            | {"accept-language": "en"})
    assert [(i["label"], i["message"]) for i in r.json()["detail"]] == [(label(field, "en"), say(NUL_REFUSED, "en"))]
    assert row_counts() == before


@pytest.mark.parametrize("url,role", [
    ("/transfers", Role.EMPLOYEE),
    ("/maternity-leaves/maternity-E0001-2026-11-02/withdraw", Role.HR_SPECIALIST),
    ("/offboardings/offboarding-E0001-2026-11-02/withdraw", Role.HR_MANAGER),
    ("/transfers/transfer-E0001-2026-11-02/cancel", Role.HR_SPECIALIST),
])
async def test_a_reason_of_spaces_is_no_reason(stack, auth, row_counts, url, role) -> None:
    body = {"reason": " \t "}
    if url == "/transfers":
        body |= {"employee_id": EMPLOYEE, "origin_city": "Guiyang", "destination_city": "Harbin", "types": ["pension"]}
    before = row_counts()
    r = await stack.post(url, json=body, headers=auth(role, EMPLOYEE if role is Role.EMPLOYEE else "x"))
    assert r.status_code == 422, r.text
    assert [(d["field"], d["rule"]) for d in r.json()["detail"]] == [("reason", "string_too_short")]
    assert row_counts() == before
