"""Refuse oversized request bodies before the app parses them, declared length or not.

A body with a Content-Length over the limit is answered 413 at once. Any other body (chunked, however
``Transfer-Encoding`` is spelled, or with a malformed length the server let through) is read up to
the limit and answered 413 when it goes past it, so no handler ever sees an oversized body.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import UploadFile
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, too_large
from api.i18n import language


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                await _too_large(scope, send, limit)
            else:  # the server delivers no more than the declared length
                await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left mid-body: a partial body is not a request
                return
            size += len(message.get("body", b""))
            if size > limit:
                await _too_large(scope, send, limit)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    said = too_large(limit).said(language(HTTPConnection(scope)))  # in the caller's language, as every error
    payload = json.dumps({"error": "too_large", "detail": said}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


_CHUNK = 64 * 1024


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """An uploaded file, at most ``limit`` bytes, chunk by chunk: one byte more is a 413, whatever
    the client declared."""
    chunks, size = [], 0
    while chunk := await file.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"文件超过 {limit} 字节的上限 (the file is over the limit of {limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)
