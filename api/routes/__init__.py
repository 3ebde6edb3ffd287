"""One router per resource; ``api.app`` mounts them. ``resource_router`` gives each the same edges."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request

from api.errors import ApiError, responses

NUL = "\x00"
NUL_REFUSED = "文字中不能含有 NUL 字符（U+0000） (text may not contain the NUL character (U+0000))"


def resource_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` whose routes refuse NUL characters and document 422 in the API's error shape
    (not FastAPI's default one, which no response of ours has), and 503: any request may find the
    database away or busy, or a case not answering in time (each with ``Retry-After``)."""
    return APIRouter(dependencies=[Depends(refuse_nul)], responses=responses(422, 503), **kwargs)


async def refuse_nul(request: Request) -> None:
    """PostgreSQL text cannot hold U+0000: a NUL in the path, the query or a JSON body would fail deep
    in a handler (a 500) or in an activity (retried for ever), so it is a 422 naming the field here."""
    field = next(_nul_in_url(request), None) or next(_nul_in_json(await _json_body(request)), None)
    if field is not None:
        raise ApiError(422, "validation_failed", [{"field": field, "rule": "no_nul_character",
                                                   "message": NUL_REFUSED}])


def _nul_in_url(request: Request) -> Iterator[str]:
    for name, value in request.path_params.items():
        if NUL in str(value):
            yield f"path.{name}"
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            yield f"query.{name.replace(NUL, '')}"


async def _json_body(request: Request) -> Any:
    """The JSON body, if there is one that parses; forms and malformed bodies are FastAPI's to judge."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith(("multipart/", "application/x-www-form-urlencoded")):
        return None
    body = await request.body()  # cached: FastAPI reads the same bytes for the endpoint
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _nul_in_json(document: Any) -> Iterator[str]:
    """Dotted paths of strings (or keys) holding a NUL; iterative, so deep nesting cannot overflow."""
    queue: deque[tuple[str, Any]] = deque([("", document)])
    while queue:
        path, value = queue.popleft()
        if isinstance(value, str) and NUL in value:
            yield path or "body"
        elif isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if NUL in key:
                    yield where.replace(NUL, "")
                queue.append((where, item))
        elif isinstance(value, list):
            queue.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))
