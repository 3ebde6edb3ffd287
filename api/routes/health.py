"""``GET /health``: is the database reachable, is Temporal reachable. 200 only when both are."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from db.session import ping

log = logging.getLogger("hrflow.health")
router = APIRouter(tags=["health"])


class Component(BaseModel):
    ok: bool
    detail: str | None = None


class Health(BaseModel):
    status: str
    database: Component
    temporal: Component


async def _database(request: Request) -> Component:
    try:
        await asyncio.wait_for(run_in_threadpool(ping, request.app.state.engine), timeout=5)
        return Component(ok=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the detail stays in the server log
        log.warning("health: database unreachable: %s", exc)
        return Component(ok=False, detail="unreachable")


async def _temporal(request: Request) -> Component:
    client = request.app.state.temporal
    if client is None:
        return Component(ok=False, detail="not connected")
    try:
        await asyncio.wait_for(client.service_client.check_health(), timeout=5)
        return Component(ok=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the detail stays in the server log
        log.warning("health: Temporal unreachable: %s", exc)
        return Component(ok=False, detail="unreachable")


@router.get("/health", response_model=Health, responses={503: {"model": Health}},
            summary="健康检查 (Is the service up)")
async def health(request: Request) -> JSONResponse:
    """数据库和 Temporal 是否都可达：都可达答 200，否则答 503 并带 Retry-After，原因只记在服务器日志里。无需令牌，
    供负载均衡和监控探测。

    Whether the database and Temporal are both reachable: 200 when they are, else 503 with Retry-After
    (the cause stays in the server log). No token needed: for load balancers and monitoring."""
    database, temporal = await asyncio.gather(_database(request), _temporal(request))
    ok = database.ok and temporal.ok
    body = Health(status="ok" if ok else "unavailable", database=database, temporal=temporal)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503,
                        headers=None if ok else {"Retry-After": "5"})
