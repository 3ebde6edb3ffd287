"""Fixtures for the bad-input tests: the API with a worker behind it (per test, or shared by a module
whose tests only read), and row counts to prove that a refused request wrote nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from db.models import Base, Transfer
from db.session import make_engine
from hrflow.codec import EncryptionCodec
from hrflow.settings import Settings
from tests.conftest import JWT_SECRET, TEST_BLIND_INDEX_KEY, _admin, database_url_for, sealing_factory
from tests.processes.support import add_employee, terminate_cases
from worker import build_worker

EMPLOYEE, OTHER = "E1001", "E2002"


def add_employees(session_factory: sessionmaker[Session]) -> None:
    add_employee(session_factory, EMPLOYEE)
    add_employee(session_factory, OTHER, resident_id_number="360426199101010071", name="张伟")


def waiting_transfer(session_factory: sessionmaker[Session], workflow_id: str, employee_id: str = EMPLOYEE) -> None:
    """A transfer of hers, Guiyang to Harbin, waiting for its materials (an upload's target)."""
    created = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with session_factory.begin() as s:
        s.add(Transfer(workflow_id=workflow_id, employee_id=employee_id, department="Sales", origin_province="Guizhou",
                       origin_city="Guiyang", destination_province="Heilongjiang", destination_city="Harbin",
                       types=["pension"], reason="moved to the Harbin office", applicant=employee_id,
                       stage="collecting_materials", created_at=created, updated_at=created))


def count_rows(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Rows per table of the schema: compare before and after a refused request."""
    with session_factory() as s:
        return {name: s.scalar(select(func.count()).select_from(table)) for name, table in Base.metadata.tables.items()}


@pytest.fixture
def row_counts(session_factory: sessionmaker[Session]) -> Callable[[], dict[str, int]]:
    return lambda: count_rows(session_factory)


@pytest.fixture
async def stack(api: httpx.AsyncClient, temporal_env: WorkflowEnvironment, settings, session_factory
                ) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a worker running every workflow and two employees on file; cases ended after, so a
    case started here never waits on the shared time-skipping server for a worker that is gone."""
    add_employees(session_factory)
    async with build_worker(temporal_env.client, settings, session_factory):
        yield api
        await terminate_cases(temporal_env.client, session_factory)


@dataclass(frozen=True)
class SharedDatabase:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]


@pytest.fixture(scope="module")
def shared_database(pg_admin_url: str, template_database: str, codec_keys: dict[str, str]) -> Iterator[SharedDatabase]:
    """One database for a whole module, with the two employees on file."""
    name = f"hrflow_badinput_{uuid.uuid4().hex[:10]}"
    _admin(pg_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}" STRATEGY FILE_COPY')
    settings = Settings(_env_file=None, database_url=database_url_for(pg_admin_url, name),  # type: ignore[call-arg]
                        jwt_secret=JWT_SECRET, codec_keys=codec_keys, codec_active_key="test-1",
                        blind_index_key=TEST_BLIND_INDEX_KEY, temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}")
    engine = make_engine(settings.sqlalchemy_url, pool_size=5)
    keys_engine = make_engine(settings.sqlalchemy_url, pool_size=2)
    try:
        session_factory = sealing_factory(engine, keys_engine)
        add_employees(session_factory)
        yield SharedDatabase(settings, engine, session_factory)
    finally:
        keys_engine.dispose()
        engine.dispose()
        _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
async def module_stack(shared_database: SharedDatabase, codec: EncryptionCodec, temporal_env: WorkflowEnvironment
                       ) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``stack``, but one app and worker on ``shared_database`` for a whole module: the contract
    test calls every operation, and a fresh database for each would take most of the run."""
    settings, session_factory = shared_database.settings, shared_database.session_factory
    app = create_app(settings, engine=shared_database.engine, temporal=temporal_env.client, codec=codec)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hrflow.test") as client,
                build_worker(temporal_env.client, settings, session_factory)):
        yield client
        await terminate_cases(temporal_env.client, session_factory)
