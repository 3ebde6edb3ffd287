"""Request-scoped dependencies: one database session per request, the shared Temporal client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from temporalio.client import Client

from api.errors import ApiError
from db.session import unit_of_work


def db_session(request: Request) -> Iterator[Session]:
    """Commit when the endpoint returns, roll back when it raises (one unit of work).

    A request that changes something checks the database first (the pool pings the connection it
    hands out; the connection goes straight back). With PostgreSQL down it is refused with a 503
    at once, before it reaches Temporal, instead of handing a workflow a decision whose effects
    cannot be recorded and keeping the caller waiting until the database returns."""
    with unit_of_work(request.app.state.session_factory) as session:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            session.connection()
            session.rollback()
        yield session


def temporal_client(request: Request) -> Client:
    client = request.app.state.temporal
    if client is None:
        raise ApiError(503, "temporal_unavailable", "the workflow service is not connected",
                       headers={"Retry-After": "5"})
    return client


def request_id(request: Request) -> str:
    return request.state.request_id


SessionDep = Annotated[Session, Depends(db_session, scope="function")]  # commit before responding
TemporalDep = Annotated[Client, Depends(temporal_client)]
RequestId = Annotated[str, Depends(request_id)]
