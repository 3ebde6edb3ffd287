"""Bearer tokens that must not get in: expired, signed with another secret, unsigned (``alg: none``),
signed with another algorithm, payload edited after signing, meant for another audience or issuer,
missing claims, naming an unknown role. Each is a 401 in the JSON error shape with
``WWW-Authenticate: Bearer``; a valid token with the wrong role is a 403 naming the allowed roles.
The reasons are asserted in English (``Accept-Language: en``); by default they are in Chinese."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import warnings
from typing import Any

import httpx
import jwt
import pytest

from api.auth import AUDIENCE, ISSUER, mint_token
from domain.roles import Role
from tests.conftest import JWT_SECRET

NOW = dt.datetime.now(dt.UTC)
EN = {"Accept-Language": "en"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ops", "role": "admin", "iat": NOW,
              "exp": NOW + dt.timedelta(hours=1)}
    return {k: v for k, v in (claims | changes).items() if v is not None}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any]) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims | {'exp': int(claims['exp'].timestamp())})}."


def _tampered() -> str:
    """A valid employee token whose payload now says admin; the signature is the original one."""
    header, _, signature = mint_token(JWT_SECRET, user="E1001", role=Role.EMPLOYEE).split(".")
    payload = _b64({"iss": ISSUER, "aud": AUDIENCE, "sub": "E1001", "role": "admin", "emp": "E1001",
                    "exp": int((NOW + dt.timedelta(hours=1)).timestamp())})
    return f"{header}.{payload}.{signature}"


def _signed(claims: dict[str, Any], secret: str = JWT_SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():  # PyJWT finds the test secret short for HS512; it is only a forgery
        warnings.simplefilter("ignore")
        return jwt.encode(claims, secret, algorithm=algorithm)


BAD_TOKENS = {
    "expired": (mint_token(JWT_SECRET, user="ops", role=Role.ADMIN, ttl=dt.timedelta(seconds=-1)), "expired"),
    "wrong secret": (_signed(_claims(), secret="another-secret-" + "y" * 40), "not valid"),
    "alg none": (_unsigned(_claims()), "not valid"),
    "HS512 with the right secret": (_signed(_claims(), algorithm="HS512"), "not valid"),
    "payload edited after signing": (_tampered(), "not valid"),
    "wrong audience": (_signed(_claims(aud="another-api")), "not valid"),
    "wrong issuer": (_signed(_claims(iss="someone-else")), "not valid"),
    "no expiry": (_signed(_claims(exp=None)), "not valid"),
    "no subject": (_signed(_claims(sub=None)), "not valid"),
    "unknown role": (_signed(_claims(role="root")), "unknown role"),
    "subject with a newline": (_signed(_claims(sub="ops\nadmin")), "subject"),
    "not a JWT": ("definitely-not-a-token", "not valid"),
}
PROTECTED = [("GET", "/me"), ("GET", "/cases"), ("GET", "/audit/verify"), ("POST", "/employees"),
             ("GET", "/policies/regions"), ("POST", "/codec/decode")]


def _assert_401(r: httpx.Response, says: str) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/json" and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "unauthenticated" and says in r.json()["detail"], r.json()


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_tokens_are_401_everywhere(module_stack: httpx.AsyncClient, case: str) -> None:
    token, says = BAD_TOKENS[case]
    for method, url in PROTECTED:
        r = await module_stack.request(method, url, json={}, headers={"Authorization": f"Bearer {token}"} | EN)
        _assert_401(r, says)
    r = await module_stack.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and CHINESE.search(r.json()["detail"]), r.json()


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic b3BzOnNlY3JldA==", "bearer",
                                    "Token " + mint_token(JWT_SECRET, user="ops", role=Role.ADMIN)])
async def test_missing_or_malformed_authorization_is_401(module_stack, header: str) -> None:
    r = await module_stack.get("/me", headers=({"Authorization": header} if header else {}) | EN)
    _assert_401(r, "sign in")


async def test_the_codec_cookie_signs_in_nowhere_but_the_codec(module_stack) -> None:
    """The Temporal UI's cookie is accepted on /codec only: elsewhere a cookie is not a credential."""
    module_stack.cookies.set("hrflow_token", mint_token(JWT_SECRET, user="ops", role=Role.ADMIN))
    try:
        _assert_401(await module_stack.get("/me", headers=EN), "sign in")
        r = await module_stack.post("/codec/decode", json={"payloads": []})
        assert r.status_code == 200, r.text
    finally:
        module_stack.cookies.clear()


@pytest.mark.parametrize("role,method,url,allowed", [
    (Role.FINANCE, "POST", "/employees", "hr_manager, hr_specialist"),
    (Role.EMPLOYEE, "GET", "/audit/events", "admin, compliance, hr_manager"),
    (Role.HR_SPECIALIST, "GET", "/audit/verify", "admin, compliance"),
    (Role.IT, "GET", "/receivables", "compliance, finance, hr_manager, hr_specialist"),
    (Role.EMPLOYEE, "POST", "/codec/decode", "admin, compliance, hr_manager"),
    (Role.HR_MANAGER, "POST", "/si-changes", "hr_specialist"),
    (Role.EMPLOYEE, "GET", "/si-changes", "admin, compliance, finance, hr_manager, hr_specialist, it"),
    (Role.FINANCE, "POST", "/transfers/transfer-E1001-1/agency-progress", "admin"),
])
async def test_a_valid_token_with_the_wrong_role_is_403(module_stack, role: Role, method: str, url: str,
                                                        allowed: str) -> None:
    """Refused before the body is even looked at: an empty body gets the same 403."""
    token = mint_token(JWT_SECRET, user="E1001" if role is Role.EMPLOYEE else "someone", role=role)
    r = await module_stack.request(method, url, json={}, headers={"Authorization": f"Bearer {token}"} | EN)
    assert r.status_code == 403, r.text
    assert r.json() == {"error": "forbidden", "detail": f"role {role.value} may not do this; allowed: {allowed}"}
    r = await module_stack.request(method, url, json={}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and CHINESE.search(r.json()["detail"]) and allowed in r.json()["detail"], r.text



def _refused(secret: str, token: str, **at: dt.datetime) -> str:
    from api.auth import decode_token
    from api.errors import ApiError

    with pytest.raises(ApiError) as refused:
        decode_token(secret, token, **at)
    assert refused.value.status_code == 401
    return str(refused.value.detail)


def test_a_token_verified_once_is_still_refused_once_it_expires_and_its_forgeries_never_pass() -> None:
    """A token's verdict is kept after its first use; its expiry is not: it is checked at every use."""
    from api.auth import decode_token

    issued = dt.datetime.now(dt.UTC).replace(microsecond=0)
    token = mint_token(JWT_SECRET, user="E1002", role=Role.EMPLOYEE, ttl=dt.timedelta(minutes=5), now=issued)
    assert decode_token(JWT_SECRET, token).employee_id == "E1002"
    assert decode_token(JWT_SECRET, token, now=issued + dt.timedelta(seconds=299)).user == "E1002"  # kept
    for later in (issued + dt.timedelta(minutes=5), issued + dt.timedelta(days=1)):
        assert "expired" in _refused(JWT_SECRET, token, now=later)
    header, _, signature = token.split(".")
    forged = f"{header}.{_tampered().split('.')[1]}.{signature}"  # the kept verdict is for these bytes only
    assert "not valid" in _refused(JWT_SECRET, forged)
    assert "not valid" in _refused("another-secret-" + "y" * 40, token)  # and for this secret only
    with pytest.raises(ValueError, match="frozen"):  # one caller, shared by the token's requests
        decode_token(JWT_SECRET, token).role = Role.ADMIN  # type: ignore[misc]
