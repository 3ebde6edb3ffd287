"""The rule that keeps the API from hanging, checked where it is enforced.

- Only ``api.transactions`` opens sessions in the API, and ``transact`` refuses work that awaits.
- Every connection starts with its bounded waits; a lock or a pooled connection not had in time
  is a 503 ``database_busy`` with ``Retry-After`` and a rollback, never a 500 and never a hang.
(The API as its own process under a held lock and a slow Temporal: tests/faults/test_api_never_hangs.py.)
"""

from __future__ import annotations

import types
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.transactions import reach_database, transact
from db.session import Limits, database_busy, make_engine
from domain.roles import Role

LOCK_KEY = 0x74657374  # any advisory lock will do


async def test_transact_refuses_work_that_awaits() -> None:
    async def work(session: Session) -> None:
        ...

    with pytest.raises(TypeError, match="must not span an await"):
        await transact(types.SimpleNamespace(app=None), work)  # type: ignore[arg-type]


async def test_a_decision_checks_the_database_once_per_request(engine: Engine) -> None:
    """The guard before Temporal opens a transaction only if the request has not been through one
    (the directory's look-up of the caller); a transaction that failed does not count."""
    factory, opened = sessionmaker(engine), []

    def counted() -> Session:
        opened.append(1)
        return factory()

    app = types.SimpleNamespace(state=types.SimpleNamespace(session_factory=counted, db_threads=anyio.CapacityLimiter(2)))

    def request() -> types.SimpleNamespace:
        return types.SimpleNamespace(app=app, state=types.SimpleNamespace())

    alone = request()
    await reach_database(alone)  # type: ignore[arg-type]
    await reach_database(alone)  # type: ignore[arg-type]
    assert len(opened) == 1
    looked_up = request()
    await transact(looked_up, lambda session: session.execute(text("SELECT 1")))  # type: ignore[arg-type]
    await reach_database(looked_up)  # type: ignore[arg-type]
    assert len(opened) == 2
    failed = request()
    with pytest.raises(DBAPIError):
        await transact(failed, lambda session: session.execute(text("SELECT no_such_column")))  # type: ignore[arg-type]
    await reach_database(failed)  # type: ignore[arg-type]
    assert len(opened) == 4


def test_each_connection_starts_with_its_bounded_waits(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1, name="hrflow-test",
                         limits=Limits(lock_timeout_ms=1500, statement_timeout_ms=20_000,
                                       idle_in_transaction_timeout_ms=45_000))
    with engine.connect() as conn:
        shown = {name: conn.execute(text(f"SHOW {name}")).scalar_one()
                 for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout",
                              "application_name")}
    engine.dispose()
    assert shown == {"lock_timeout": "1500ms", "statement_timeout": "20s",
                     "idle_in_transaction_session_timeout": "45s", "application_name": "hrflow-test"}


def test_a_lock_not_had_in_time_is_busy_and_rolls_back(database_url: str, engine: Engine) -> None:
    quick = make_engine(database_url, pool_size=1, limits=Limits(lock_timeout_ms=200))
    with engine.connect() as holder, holder.begin():
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        with quick.connect() as conn, pytest.raises(DBAPIError) as caught:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    quick.dispose()
    assert database_busy(caught.value) and caught.value.orig.pgcode == "55P03"


async def test_a_pool_with_no_free_connection_answers_503(database_url: str, settings, temporal_env, codec,
                                                           auth) -> None:
    tight = make_engine(database_url, pool_size=1, limits=Limits(pool_timeout_seconds=0.3))
    app = create_app(settings, engine=tight, temporal=temporal_env.client, codec=codec)
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        with tight.connect():  # someone else has the only connection
            r = await client.get("/cases", headers=auth(Role.HR_MANAGER))
            w = await client.put("/staff/hr.li", json={"display_name": "李", "role": "hr_specialist"},
                                 headers=auth(Role.ADMIN))
        after = await client.get("/cases", headers=auth(Role.HR_MANAGER))
    tight.dispose()
    for answer in (r, w):
        assert answer.status_code == 503 and answer.json()["error"] == "database_busy", answer.text
        assert answer.headers["retry-after"] == "2"
        assert "请稍后重试" in answer.json()["detail"]
    assert after.status_code == 200


def test_only_the_transaction_helpers_open_sessions_in_the_api() -> None:
    """A route that opened its own session (as the refused-change audit once did, on the event loop
    and as a second connection beside the request's) would escape the rule."""
    api_dir = Path(__file__).resolve().parents[2] / "api"
    allowed = {"transactions.py", "app.py"}
    offenders = [f"{path.relative_to(api_dir)}:{n}" for path in api_dir.rglob("*.py") if path.name not in allowed
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if "session_factory" in line or "unit_of_work" in line]
    assert offenders == []
