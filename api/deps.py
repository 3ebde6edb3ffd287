"""Request-scoped dependencies: the shared Temporal client and the request id.

There is no request-scoped database session: all database work goes through
``api.transactions.transact``, so no session outlives the thread that used it. The dependencies
are ``async`` (they only read what the app already holds): FastAPI runs a plain ``def`` dependency
in a thread, which would make every request queue for threads the database work needs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from api.errors import ApiError


async def temporal_client(request: Request) -> Client:
    client: Client | None = request.app.state.temporal
    if client is None:
        raise ApiError(503, "temporal_unavailable", "流程服务未连接，本次操作未执行，请稍后重试 (the workflow service is not connected)",
                       headers={"Retry-After": "5"})
    return client


async def request_id(request: Request) -> str:
    rid: str = request.state.request_id  # set by the app's middleware for every request
    return rid


TemporalDep = Annotated[Client, Depends(temporal_client)]
RequestId = Annotated[str, Depends(request_id)]
