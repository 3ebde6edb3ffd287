"""Bearer tokens and roles. Every endpoint declares who may call it with ``require(...)``.

Tokens are HS256 JWTs signed with ``HRFLOW_JWT_SECRET``: ``sub`` is the user, ``role`` one of
``domain.roles.Role``, ``emp`` the employee number of the person (for role ``employee`` it is the
subject itself), ``unit`` the organisation unit whose people a staff login works for (absent: the
whole company; ``api.scope``). For a login the staff directory lists, the directory, not ``emp``
or ``unit``, says which employee she is and whom she works for; the claims serve while the
directory cannot be read. Browsers calling the codec endpoint from the Temporal UI may carry the same token
in the ``hrflow_token`` cookie instead of a header, and a browser reading the monthly report (GET
only, under ``/reports/monthly/``) in the ``hrflow_report_token`` cookie.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.processes import PROCESSES
from api.transactions import transact
from db.directory import Listed, delegations_in_force, person_of
from db.models import Delegation
from db.session import database_busy, database_unreachable
from domain.roles import STAFF, Role

log = logging.getLogger("hrflow.api.auth")
ISSUER = "hrflow"
AUDIENCE = "hrflow-api"
COOKIE = "hrflow_token"
REPORT_COOKIE = "hrflow_report_token"  # read-only report pages in a plain browser tab
REPORT_PATH = "/reports/monthly/"
ON_BEHALF_OF = "x-on-behalf-of"  # a delegate names the person she acts for (api.routes.delegations)
DELEGATE_READS = frozenset({"/inbox", "/cases", "/me"})  # what a delegate reads as the delegator
_USER = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_EMPLOYEE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class Principal(BaseModel):
    """Who calls; frozen, as one decoded token's caller is shared by its every request."""

    model_config = ConfigDict(frozen=True)

    user: str
    role: Role
    employee_id: str | None = None  # the caller's own employee number, if they are staff too
    on_behalf_of: str | None = None  # the delegator, when she acts under a delegation (X-On-Behalf-Of)
    on_behalf_of_employee_id: str | None = None  # the delegator's employee number, if she is one
    unit: str | None = None  # staff: the unit whose people she works for, with those under it (None: all)

    def is_self(self, employee_id: str | None) -> bool:
        return self.employee_id is not None and self.employee_id == employee_id

    def speaks_for(self, employee_id: str | None) -> bool:
        """Is a decision of this caller one of ``employee_id``'s, made by her or by her delegate?"""
        return self.is_self(employee_id) or (self.on_behalf_of_employee_id is not None
                                             and self.on_behalf_of_employee_id == employee_id)


def mint_token(
    secret: str,
    *,
    user: str,
    role: Role,
    employee_id: str | None = None,
    unit: str | None = None,
    ttl: dt.timedelta = dt.timedelta(hours=8),
    now: dt.datetime | None = None,
) -> str:
    issued = now or dt.datetime.now(dt.UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user,
        "role": role.value,
        "iat": issued,
        "exp": issued + ttl,
    }
    if employee_id or role is Role.EMPLOYEE:
        claims["emp"] = employee_id or user
    if unit:
        claims["unit"] = unit
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(secret: str, token: str, *, now: dt.datetime | None = None) -> Principal:
    """The caller a token names. Its signature and claims are checked at its first use and the
    answer kept (``_verified``); its expiry is checked at every use, as PyJWT checks it."""
    principal, expires = _verified(secret, token)
    if expires <= (now or dt.datetime.now(dt.UTC)).timestamp():
        raise _unauthenticated("the token has expired; ask for a new one")
    return principal


@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Principal, float]:
    """A token's caller and expiry, verified once: a token's bytes and the secret decide everything
    but whether it has expired by now (a refusal raises, and is not kept)."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthenticated("the token has expired; ask for a new one") from None
    except jwt.PyJWTError as exc:
        raise _unauthenticated(f"the token is not valid: {exc}") from None
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise _unauthenticated(f"the token names an unknown role {claims.get('role')!r}") from None
    user, employee, unit = claims["sub"], claims.get("emp"), claims.get("unit")
    if not isinstance(user, str) or not _USER.match(user):
        raise _unauthenticated("the token's subject must be 1-64 letters, digits or . _ @ -")
    if employee is not None and (not isinstance(employee, str) or not _EMPLOYEE.match(employee)):
        raise _unauthenticated("the token's employee number is malformed")
    if unit is not None and (not isinstance(unit, str) or not _EMPLOYEE.match(unit)):
        raise _unauthenticated("the token's unit is malformed")
    return Principal(user=user, role=role, employee_id=employee, unit=unit), float(claims["exp"])


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


_bearer = HTTPBearer(auto_error=False, description="JWT from `hrflow token`")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = credentials.credentials if credentials else None
    if token is None and request.url.path.startswith("/codec/"):
        token = request.cookies.get(COOKIE)  # the Temporal UI's browser; nowhere else
    if token is None and request.method == "GET" and request.url.path.startswith(REPORT_PATH):
        token = request.cookies.get(REPORT_COOKIE)  # a director's browser: reading reports only
    if not token:
        raise _unauthenticated("sign in: send 'Authorization: Bearer <token>'")
    principal = await as_the_directory_knows(request, decode_token(request.app.state.jwt_secret, token))
    delegator = request.headers.get(ON_BEHALF_OF, "").strip()
    if delegator:
        principal = await acting_for(request, principal, delegator)
    request.state.principal = principal
    return principal


async def as_the_directory_knows(request: Request, principal: Principal) -> Principal:
    """A login the directory lists (staff, and line managers who sign approvals) is the employee the
    directory says she is (``app.state.directory``, by default ``listed_in_directory``) and works
    for the unit it places her in, whatever her token claims, and one the directory took off signs
    in no more (401); an employee's token the directory does not list names herself."""
    try:
        listed: Listed | None = await request.app.state.directory(request, principal.user)
    except (DBAPIError, PoolTimeout) as exc:
        if not (database_unreachable(exc) or database_busy(exc)) or request.method not in ("GET", "HEAD"):
            raise  # nobody decides while the directory cannot say who she is (503)
        log.warning("directory unreachable: %s reads as her token says", principal.user)
        return principal  # a read that Temporal answers alone still works during an outage
    if listed is not None and not listed.active:
        raise _unauthenticated("此账号已停用（已离职或已从人员名录中停用）"
                               " (this login is disabled: she has left, or the directory took her off)")
    if listed is None:
        return principal
    return principal.model_copy(update={"employee_id": listed.employee_id, "unit": listed.unit_code})


async def acting_for(request: Request, principal: Principal, delegator: str) -> Principal:
    """The delegate acting for ``delegator`` under a delegation in force now, within its processes:
    with the delegator's role and for the delegator's people (her unit), as herself (her own
    employee number), the delegator named in every audit entry. Without one, nothing is done at all (403)."""
    path = request.url.path
    process = next((p for p in PROCESSES if path == p.api or path.startswith(p.api + "/")), None)
    if process is None and not (request.method == "GET" and path in DELEGATE_READS):
        raise ApiError(403, "delegation_scope", "授权代办只适用于案件的办理和待办 (a delegation covers case decisions"
                                                " and the inbox only)")

    def work(session: Session) -> tuple[list[Delegation], Listed | None]:
        return (delegations_in_force(session, delegator, principal.user, dt.datetime.now(dt.UTC)),
                person_of(session, delegator))

    in_force, delegator_is = await transact(request, work)
    if not in_force:
        raise ApiError(403, "no_delegation", f"您没有 {delegator} 当前有效的授权 (you hold no delegation from"
                                             f" {delegator} in force now)")
    given = next((d for d in in_force if process is None or not d.processes or process.kind in d.processes), None)
    if given is None:
        kind = process.kind if process else ""
        raise ApiError(403, "delegation_scope", f"{delegator} 的授权不包括此流程（{kind}） (the delegation from"
                                                f" {delegator} does not cover {kind})")
    return principal.model_copy(update={
        "role": Role(given.role), "on_behalf_of": delegator, "unit": delegator_is.unit_code if delegator_is else None,
        "on_behalf_of_employee_id": delegator_is.employee_id if delegator_is else None})


async def listed_in_directory(request: Request, user: str) -> Listed | None:
    """The staff directory's entry for ``user`` (``db.directory``)."""
    return await transact(request, lambda session: person_of(session, user))


Authenticated = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency: the caller must hold one of ``roles``."""
    allowed = frozenset(roles)

    async def check(principal: Authenticated) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise ApiError(403, "forbidden", f"您的角色（{principal.role.value}）不能办理此操作，可办理的角色：{names}"
                                             f" (role {principal.role.value} may not do this; allowed: {names})")
        return principal

    vars(check)["roles"] = allowed  # who may call a route, for the web app to offer only what one may do
    return check


# The callers the case processes' routes name most; a route with a set of its own writes it out.
Anyone = Annotated[Principal, Depends(require(*Role))]
Hr = Annotated[Principal, Depends(require(Role.HR_SPECIALIST, Role.HR_MANAGER))]
Staff = Annotated[Principal, Depends(require(*STAFF))]
HrOrSelf = Annotated[Principal, Depends(require(Role.HR_SPECIALIST, Role.HR_MANAGER, Role.EMPLOYEE))]
HrManager = Annotated[Principal, Depends(require(Role.HR_MANAGER))]
