"""Identity providers a person signs in through: one interface for OpenID Connect and the office IMs.

A provider sends the browser away to sign in (``authorization_url``) and, when it comes back with a
code, says which login its answer vouches for (``login``). What the login may do is the directory's
word, never the provider's: the caller looks the login up in hrflow's own directory.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class SignInProblem(Exception):
    """A sign-in that cannot complete. ``code`` names the reason for the page (``sso_<code>``);
    ``detail`` is for the log, never shown (it may carry the provider's words)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


UNAVAILABLE = "provider_unavailable"  # the provider could not be reached or answered wrongly
REFUSED = "provider_refused"  # the provider (or the person, there) said no
INVALID = "token_invalid"  # what came back does not prove the sign-in (signature, audience, expiry, nonce)
NO_LOGIN = "login_missing"  # the provider vouched for someone but named no login


@dataclass(frozen=True)
class Attempt:
    """One sign-in's secrets, kept in a signed cookie between leaving and coming back: ``state``
    ties the answer to this browser, ``nonce`` the ID token to this attempt, and ``verifier`` is
    PKCE's (RFC 7636) secret behind the S256 ``challenge`` sent out."""

    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Vouched:
    """Whom a provider vouches for: the ``login`` hrflow's directory knows her by, and the
    provider's own fixed ``subject`` for her account (OpenID's ``sub``, an IM's user id), which
    hrflow binds to the login at her first sign-in: an account renamed to someone else's login is
    then refused."""

    login: str
    subject: str


class IdentityProvider(Protocol):
    key: str  # in the sign-in URL: /app/sign-in/{key}

    async def authorization_url(self, attempt: Attempt, redirect_uri: str) -> str: ...

    async def login(self, answer: Mapping[str, str], attempt: Attempt, redirect_uri: str) -> Vouched:
        """Whom the provider's answer (the query it sent the browser back with, its ``code``
        present) vouches for, or ``SignInProblem``."""
        ...
