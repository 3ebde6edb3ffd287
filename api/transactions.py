"""Database work in the API: always in a worker thread, always one transaction that ends there.

No endpoint holds a session. It hands a plain function to ``transact``, which runs it in a thread
inside one unit of work, committed (or rolled back) and its connection returned before the thread
returns. The function cannot await, so a transaction (and the audit chain heads it locks) can
never stay open across a Temporal call, an upload, a slow client or a sleep, and the event loop
never waits on a lock. This is the only place in the API that opens a session
(``tests/platform/test_transactions.py`` keeps it so).

The threads are counted against one limiter as large as the connection pool: each thread holds
exactly one connection, from its start to its end, so none waits for a connection another holds.
Before, a request-scoped session kept its connection between threads while the request queued for
the next one; under load the pool emptied into that queue.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from fastapi import FastAPI, Request
from sqlalchemy.orm import Session

from db.session import unit_of_work

T = TypeVar("T")


def size_threads(app: FastAPI, threads: int) -> None:
    """Run in the serving event loop (the lifespan): the default thread limiter (which FastAPI's
    few plain ``def`` endpoints use too) becomes the one ``transact`` uses, ``threads`` wide."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    limiter.total_tokens = threads
    app.state.db_threads = limiter


async def transact(request: Request, work: Callable[[Session], T]) -> T:
    """``work(session)`` in a worker thread and one transaction: committed when it returns, rolled
    back when it raises. The database is reached first (a 503 when it is away or busy, before the
    caller goes on to Temporal). Rows come back detached with their columns loaded (sessions do not
    expire on commit); their relationships do not load any more."""
    if inspect.iscoroutinefunction(work) or inspect.iscoroutinefunction(getattr(work, "func", None)):
        raise TypeError("transact() runs plain functions: a transaction must not span an await")
    factory = request.app.state.session_factory

    def run() -> T:
        with unit_of_work(factory) as session:
            session.connection()
            result = work(session)
            if inspect.isawaitable(result):
                raise TypeError("transact() work returned an awaitable: a transaction must not span an await")
            return result

    result = await anyio.to_thread.run_sync(run, limiter=request.app.state.db_threads)
    request.state.reached_database = True
    return result


async def reach_database(request: Request) -> None:
    """A decision that needs no row still checks the database before it goes to Temporal: with
    PostgreSQL away it is refused (503) instead of reaching a workflow that cannot record it. A
    request that has already been through a transaction (the directory's look-up of the caller,
    moments before) has made that check."""
    if not getattr(request.state, "reached_database", False):
        await transact(request, lambda session: None)
