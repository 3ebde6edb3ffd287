"""One error shape for every failure: ``{"error": code, "detail": ...}``, never a traceback.

422 lists each failed field with the rule it broke. Outages of PostgreSQL or Temporal are 503 with
``Retry-After``: the caller's request was not applied and may be sent again with the same request id.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from db.session import database_busy, database_unreachable

log = logging.getLogger("hrflow.api")


class ErrorBody(BaseModel):
    error: str
    detail: Any = None


class ApiError(Exception):
    """Raise from endpoints: ``ApiError(409, "stale_confirmation", {...})``."""

    def __init__(
        self, status_code: int, error: str, detail: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(error)
        self.status_code, self.error, self.detail, self.headers = status_code, error, detail, headers


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the error codes an endpoint may return."""
    return {code: {"model": ErrorBody} for code in codes}


def _body(error: str, detail: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail}


def validation_items(exc: RequestValidationError) -> list[dict[str, Any]]:
    items = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        items.append({"field": ".".join(loc), "rule": err.get("type"), "message": err.get("msg")})
    return items


# A bounded wait ran out: nothing of the request was written, and the same request (same
# X-Request-ID) may be sent again.
BUSY = "系统繁忙，本次操作未执行，请稍后重试 (the database is busy: nothing was changed; retry shortly)"

_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.error, exc.detail), exc.status_code, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                 409: "conflict", 413: "too_large"}
        return JSONResponse(
            _body(names.get(exc.status_code, "http_error"), exc.detail),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_body("validation_failed", validation_items(exc)), 422)

    @app.exception_handler(RPCError)
    async def _temporal(request: Request, exc: RPCError) -> JSONResponse:
        if exc.status in _UNAVAILABLE:
            return JSONResponse(
                _body("temporal_unavailable", "the workflow service is not reachable; retry shortly"),
                503,
                headers={"Retry-After": "5"},
            )
        log.error("Temporal call failed (request %s): %s", _rid(request), exc)
        return JSONResponse(_body("temporal_error", exc.message), 502)

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if database_unreachable(exc):
            return JSONResponse(
                _body("database_unavailable", "the database is not reachable; retry shortly"),
                503,
                headers={"Retry-After": "5"},
            )
        if database_busy(exc):
            log.warning("database busy (request %s): %s", _rid(request), str(getattr(exc, "orig", exc)).strip())
            return JSONResponse(_body("database_busy", BUSY), 503, headers={"Retry-After": "2"})
        log.exception("database error (request %s)", _rid(request))
        return JSONResponse(_body("internal_error", {"request_id": _rid(request)}), 500)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error (request %s)", _rid(request))
        return JSONResponse(_body("internal_error", {"request_id": _rid(request)}), 500)


def _rid(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)
