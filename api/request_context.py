"""Every answer names its request and, unless it is a static asset, forbids caching.

The request id is the caller's ``X-Request-ID`` when it is a plain token (so a client that sends a
decision again with the same id is recognised), otherwise a fresh one; handlers read it from
``request.state.request_id`` and every answer carries it back. A plain ASGI middleware: Starlette's
``BaseHTTPMiddleware`` runs each request through an extra task and memory streams, a measurable
share of a busy API's CPU.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContext:
    def __init__(self, app: ASGIApp, cacheable: tuple[str, ...]) -> None:
        self.app, self.cacheable = app, cacheable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        private = not scope["path"].startswith(self.cacheable)  # answers name people: no proxy or browser keeps one

        async def send_with_context(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                if private:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_context)
