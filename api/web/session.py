"""The web session: who is signed in, for how long, and that a form was posted by our own page.

The session cookie carries the same signed token the API takes as a bearer token (HttpOnly,
SameSite=Lax, Secure behind HTTPS), so a page acts with exactly the rights the API gives that
person. It ends at the token's expiry (``HRFLOW_JWT_TTL_MINUTES``) or after
``HRFLOW_SESSION_IDLE_MINUTES`` without a request, whichever comes first; signing out clears it.
Every form carries a token derived from the session (``form_token``), and a post whose token or
``Origin`` does not match is refused before anything is done.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from api.auth import decode_token, mint_token
from api.errors import ApiError
from domain.constant_time import same
from domain.roles import Role
from hrflow.settings import Settings

COOKIE = "hrflow_session"
SEEN_COOKIE = "hrflow_seen"  # when the session last made a request, signed


@dataclass(frozen=True)
class Identity:
    """A person the sign-in method vouches for, as the directory knows her."""

    user: str
    role: Role
    employee_id: str | None = None
    display_name: str = ""
    unit_code: str | None = None  # the unit whose people she works for (the token's claim during an outage)


@dataclass(frozen=True)
class Session:
    token: str
    user: str
    role: Role
    employee_id: str | None


def _secret(request: Request) -> bytes:
    secret: str = request.app.state.jwt_secret
    return secret.encode()


def _mac(request: Request, purpose: str, value: str) -> str:
    return hmac.new(_secret(request), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def start(request: Request, response: Response, who: Identity) -> None:
    """Sign ``who`` in: the session cookie, and the first 'seen' mark."""
    settings: Settings = request.app.state.settings
    token = mint_token(request.app.state.jwt_secret, user=who.user, role=who.role, employee_id=who.employee_id,
                       unit=who.unit_code, ttl=dt.timedelta(minutes=settings.jwt_ttl_minutes))
    _set(response, settings, COOKIE, token)
    _mark_seen(request, response, token)


def end(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
    response.delete_cookie(SEEN_COOKIE, path="/")


def current(request: Request) -> Session | None:
    """The signed-in session, or None (none, expired, idle too long, or tampered with)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        principal = decode_token(request.app.state.jwt_secret, token)
    except ApiError:  # expired, tampered with, or naming an unknown role
        return None
    seen, _, mac = request.cookies.get(SEEN_COOKIE, "").partition(".")
    settings: Settings = request.app.state.settings
    if not (seen.isascii() and seen.isdigit()) or not same(mac, _mac(request, "seen", f"{token}:{seen}")):
        return None
    if time.time() - int(seen) > settings.session_idle_minutes * 60:
        return None
    return Session(token=token, user=principal.user, role=principal.role, employee_id=principal.employee_id)


def touch(request: Request, response: Response, session: Session) -> None:
    """A request of the session: it stays alive for another idle period."""
    _mark_seen(request, response, session.token)


def form_token(request: Request, session: Session) -> str:
    return _mac(request, "csrf", session.token)


def posted_by_our_page(request: Request, session: Session | None, posted: str | None) -> bool:
    """A form post from one of our pages: same origin (when the browser says), and, once signed
    in, the session's form token."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        return False
    if session is None:
        return True
    return same(posted, form_token(request, session))


def _set(response: Response, settings: Settings, name: str, value: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="lax", secure=settings.secure_cookies, path="/")


def _mark_seen(request: Request, response: Response, token: str) -> None:
    now = str(int(time.time()))
    _set(response, request.app.state.settings, SEEN_COOKIE, f"{now}.{_mac(request, 'seen', f'{token}:{now}')}")
