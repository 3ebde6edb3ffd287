"""What WeCom, DingTalk and Feishu share: an app's access token, and their JSON answers.

Each hands an app a token for a couple of hours. ``AppToken`` fetches it when there is none or it
is five minutes from its end, forgets it when the platform says it is invalid, and retries a call
once for that and once when the platform is busy (a network error, HTTP 5xx, an answer that is not
JSON). ``json_answer`` is one HTTP call whose answer is a JSON object, or ``PlatformBusy``;
``coded_answer`` one whose object carries a result code (0: done), or the platform's own error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

RENEW_BEFORE_SECONDS = 300
BUSY = -1  # the code each platform's error carries for "could not answer now"
T = TypeVar("T")


class PlatformBusy(Exception):
    """The platform could not answer now (network, HTTP 5xx, not JSON): worth one more try."""


def json_answer(base: str, method: str, path: str, *, timeout: float, **request: Any) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the JSON object a platform answered; ``PlatformBusy`` otherwise."""
    try:
        with httpx.Client(base_url=base, timeout=timeout) as client:
            answer = client.request(method, path, **request)
    except httpx.HTTPError as exc:
        raise PlatformBusy(f"{type(exc).__name__}: {exc}") from None
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code >= 500 or not isinstance(body, dict):
        raise PlatformBusy(f"HTTP {answer.status_code}")
    return answer.status_code, body


def coded_answer(base: str, method: str, path: str, *, timeout: float, error: Callable[[int, str], Exception],
                 code_field: str = "errcode", message_fields: tuple[str, ...] = ("errmsg",),
                 **request: Any) -> dict[str, Any]:
    """The JSON object when its ``code_field`` is 0; otherwise ``error(code, message)``, and
    ``error(BUSY, ...)`` when the platform could not answer at all."""
    try:
        _, body = json_answer(base, method, path, timeout=timeout, **request)
    except PlatformBusy as exc:
        raise error(BUSY, str(exc)) from None
    code = int(body.get(code_field, 0))
    if code:
        raise error(code, next((str(body[f]) for f in message_fields if body.get(f)), ""))
    return body


@dataclass
class AppToken:
    """An app's access token; ``fetch`` returns a new one and its lifetime in seconds."""

    fetch: Callable[[], tuple[str, int]]
    _token: str | None = field(default=None, repr=False)
    _until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._until:
                self._token, lifetime = self.fetch()
                self._until = time.monotonic() + max(lifetime - RENEW_BEFORE_SECONDS, lifetime // 2)
            return self._token

    def call(self, send: Callable[[str], T], *, expired: Callable[[Exception], bool],
             busy: Callable[[Exception], bool]) -> T:
        """``send(token)``, again with a new token when ``expired`` says so, again when ``busy`` does."""
        retried_token = retried_busy = False
        while True:
            token = self.get()
            try:
                return send(token)
            except Exception as exc:
                if expired(exc) and not retried_token:
                    retried_token = True
                    with self._lock:
                        if self._token == token:
                            self._token = None
                    continue
                if busy(exc) and not retried_busy:
                    retried_busy = True
                    continue
                raise
