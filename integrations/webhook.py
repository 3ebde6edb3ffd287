"""Group robots: WeCom (企业微信) and DingTalk (钉钉) accept the same JSON text message.

WeCom's robot URL carries its key; DingTalk's may also require signing: with a secret set, each
request adds ``timestamp`` and ``sign`` = Base64(HMAC-SHA256(secret, "timestamp\\nsecret")), as its
documentation describes. HTTP 4xx and a non-zero ``errcode`` are permanent failures (a wrong key or
signature will not heal), except the robots' rate limits; 5xx and network errors are retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx

from integrations.mail import DeliveryFailed

RATE_LIMITED = {45009, 130101, 660026}  # WeCom and DingTalk "too many messages" codes


def sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def text_message(text: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": text}}


@dataclass(frozen=True)
class GroupRobot:
    url: str
    secret: str | None = None
    timeout: float = 10.0

    def signed_url(self, now_ms: int | None = None) -> str:
        if not self.secret:
            return self.url
        ts = now_ms if now_ms is not None else int(time.time() * 1000)
        return f"{self.url}{'&' if '?' in self.url else '?'}timestamp={ts}&sign={sign(self.secret, ts)}"

    def send(self, text: str) -> None:
        try:
            response = httpx.post(self.signed_url(), json=text_message(text), timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}", permanent=False) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise DeliveryFailed(f"HTTP {response.status_code}", permanent=False)
        if response.status_code >= 400:
            raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}", permanent=True)
        try:
            code = int(response.json().get("errcode", 0))
        except (ValueError, AttributeError):
            code = 0  # a receiver that answers 2xx without the robots' JSON took it
        if code:
            raise DeliveryFailed(f"errcode {code}: {response.text[:200]}", permanent=code not in RATE_LIMITED)
