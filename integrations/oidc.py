"""Sign-in through any standard OpenID Connect provider (Keycloak, Authing, Azure AD, ...).

The authorization-code flow with PKCE (S256) and a nonce. The provider's endpoints and keys come
from its discovery document; the ID token is checked the way OpenID Connect Core 3.1.3.7 says:
signature against the published keys (an unknown key id fetches them once more: providers rotate),
issuer, audience, expiry, and the nonce of this attempt; an answer naming another issuer (RFC 9207)
is refused before its code is spent. The login is one claim of the verified
token (``preferred_username`` unless configured), never a name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from integrations.identity import INVALID, NO_LOGIN, REFUSED, UNAVAILABLE, Attempt, SignInProblem, Vouched

ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
DISCOVERY_TTL_SECONDS = 3600


@dataclass
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str = "openid profile email"
    login_claim: str = "preferred_username"
    timeout: float = 10.0
    clock_skew_seconds: int = 60
    key: str = "oidc"
    _discovery: dict[str, Any] | None = field(default=None, repr=False)
    _discovered_at: float = 0.0
    _keys: jwt.PyJWKSet | None = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def authorization_url(self, attempt: Attempt, redirect_uri: str) -> str:
        endpoint = (await self._metadata())["authorization_endpoint"]
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                           "scope": self.scopes, "state": attempt.state, "nonce": attempt.nonce,
                           "code_challenge": attempt.challenge, "code_challenge_method": "S256"})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def login(self, answer: Mapping[str, str], attempt: Attempt, redirect_uri: str) -> Vouched:
        claims = await self.verified_claims(await self.exchange(answer, attempt, redirect_uri), attempt.nonce)
        login = claims.get(self.login_claim)
        if not isinstance(login, str) or not login.strip():
            raise SignInProblem(NO_LOGIN, f"no {self.login_claim!r} claim")
        return Vouched(login=login.strip(), subject=f"{self.issuer} {claims['sub']}")

    async def exchange(self, answer: Mapping[str, str], attempt: Attempt, redirect_uri: str) -> str:
        """The ID token the answer's code is worth (the code with this attempt's PKCE verifier)."""
        metadata = await self._metadata()
        if "iss" in answer and answer["iss"] != self.issuer:  # RFC 9207: an answer of another provider
            raise SignInProblem(INVALID, f"answer from issuer {answer['iss']!r}")
        form = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": redirect_uri,
                "code_verifier": attempt.verifier, "client_id": self.client_id}
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        tokens = await self._call("POST", metadata["token_endpoint"], data=form, auth=auth)
        if tokens.status_code in (400, 401):
            raise SignInProblem(REFUSED, f"token endpoint: HTTP {tokens.status_code} {_error_of(tokens)}")
        id_token = _json(tokens).get("id_token")
        if not isinstance(id_token, str):
            raise SignInProblem(UNAVAILABLE, "the token answer carries no id_token")
        return id_token

    async def verified_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        metadata = await self._metadata()
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise SignInProblem(INVALID, str(exc)) from None
        algorithms = [a for a in metadata.get("id_token_signing_alg_values_supported", ["RS256"]) if a in ASYMMETRIC]
        if header.get("alg") not in algorithms:
            raise SignInProblem(INVALID, f"algorithm {header.get('alg')!r} not accepted")
        key = await self._key(str(header.get("kid") or ""))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token, key=key, algorithms=algorithms, audience=self.client_id, issuer=self.issuer,
                leeway=self.clock_skew_seconds, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.PyJWTError as exc:
            raise SignInProblem(INVALID, f"{type(exc).__name__}: {exc}") from None
        if claims.get("nonce") != nonce:
            raise SignInProblem(INVALID, "nonce does not match this attempt")
        azp = claims.get("azp")
        if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1 and azp != self.client_id:
            raise SignInProblem(INVALID, "azp names another client")
        return claims

    async def _key(self, kid: str) -> jwt.PyJWK:
        for refresh in (False, True):
            keys = await self._key_set(refresh)
            for candidate in keys.keys:
                if not kid or candidate.key_id == kid:
                    return candidate
        raise SignInProblem(INVALID, f"no published key {kid!r}")

    async def _key_set(self, refresh: bool) -> jwt.PyJWKSet:
        async with self._lock:
            if self._keys is None or refresh:
                answer = await self._call("GET", (await self._metadata())["jwks_uri"])
                try:
                    self._keys = jwt.PyJWKSet.from_dict(_json(answer))
                except jwt.PyJWTError as exc:
                    raise SignInProblem(UNAVAILABLE, f"keys: {exc}") from None
            return self._keys

    async def _metadata(self) -> dict[str, Any]:
        if self._discovery is not None and time.monotonic() - self._discovered_at < DISCOVERY_TTL_SECONDS:
            return self._discovery
        answer = await self._call("GET", f"{self.issuer.rstrip('/')}/.well-known/openid-configuration")
        metadata = _json(answer)
        needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if metadata.get("issuer") != self.issuer or any(not isinstance(metadata.get(k), str) for k in needed):
            raise SignInProblem(UNAVAILABLE, "discovery document names another issuer or lacks endpoints")
        self._discovery, self._discovered_at = metadata, time.monotonic()
        return metadata

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                answer = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise SignInProblem(UNAVAILABLE, f"{type(exc).__name__}: {exc}") from None
        if answer.status_code >= 500:
            raise SignInProblem(UNAVAILABLE, f"HTTP {answer.status_code} from {url}")
        return answer


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code >= 400 or not isinstance(body, dict):  # its text may hold tokens: not logged
        raise SignInProblem(UNAVAILABLE, f"HTTP {answer.status_code} from {answer.request.url.path}")
    return body


def _error_of(answer: httpx.Response) -> str:
    """The OAuth ``error`` code of a refusal (RFC 6749 5.2), nothing else of its body."""
    try:
        body = answer.json()
    except ValueError:
        return ""
    return str(body.get("error", ""))[:60] if isinstance(body, dict) else ""
