"""Fixtures for the fault tests: their own PostgreSQL (stoppable), a Temporal dev server with its
history on disk (restartable), ``hrflow worker`` as an OS process (killable), the real API in
process, and processes configured so a case runs start to finish in seconds of real time
(rollback window 0 h, follow-up 0 days): the dev server cannot skip time.

The root conftest's ``engine``, ``session_factory`` and ``auth`` fixtures work here unchanged;
``database_url``, ``settings`` and ``api`` are overridden to point at these parts.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from api.app import create_app
from db.migrate import upgrade
from db.models import Case
from db.sealed_fields import KEYRING
from db.session import make_engine
from hrflow.codec import EncryptionCodec, data_converter
from hrflow.settings import Settings
from tests.conftest import _admin, database_url_for
from tests.faults.harness import DevServer, Postgres, WorkerProcess, worker_env
from tests.processes.support import temporal_binary


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: fault injection (kill -9, restarts, outages) against real servers; -m faults")


# ---------------------------------------------------------------- PostgreSQL of our own
@pytest.fixture(scope="package")
def fault_pg() -> Iterator[Postgres]:
    pg = Postgres(Path(tempfile.mkdtemp(prefix="hrflow-faults-pg-")))
    try:
        yield pg
    finally:
        pg.close()


@pytest.fixture(scope="package")
def fault_template(fault_pg: Postgres) -> str:
    name = "hrflow_faults_template"
    _admin(fault_pg.admin_url, f'CREATE DATABASE "{name}"')
    upgrade(database_url_for(fault_pg.admin_url, name))
    return name


@pytest.fixture
def database_url(fault_pg: Postgres, fault_template: str) -> Iterator[str]:
    """A fresh, migrated database on our own server (overrides the root fixture)."""
    name = f"hrflow_fault_{uuid.uuid4().hex[:10]}"
    _admin(fault_pg.admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{fault_template}" STRATEGY FILE_COPY')
    yield database_url_for(fault_pg.admin_url, name)
    if not fault_pg.running():  # a test that failed during its outage
        fault_pg.start()
    _admin(fault_pg.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The API's engine as production sizes it (HRFLOW_DATABASE_POOL_SIZE defaults to 10)."""
    eng = make_engine(database_url, pool_size=10)
    yield eng
    eng.dispose()


# ---------------------------------------------------------------- Temporal with history on disk
@pytest.fixture(scope="package")
async def devserver(codec: EncryptionCodec) -> AsyncIterator[DevServer]:
    directory = Path(tempfile.mkdtemp(prefix="hrflow-faults-temporal-"))
    server = DevServer(directory, temporal_binary("temporal"), data_converter(codec))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="package")
async def temporal_client(devserver: DevServer) -> Client:
    return await devserver.client()


@pytest.fixture
def person_codec(session_factory: sessionmaker[Session], codec_keys: dict[str, str]) -> EncryptionCodec:
    """The codec every hrflow process has: the master key, and each employee's own key in this
    test's database (the worker processes make them; the API and the test must read them), through
    the test sessions' keyring (one per process, on its own connections, as in hrflow)."""
    masters = {k: base64.b64decode(v) for k, v in codec_keys.items()}
    return EncryptionCodec("test-1", masters, keyring=session_factory.kw["info"][KEYRING])


@pytest.fixture
async def temporal(devserver: DevServer, temporal_client: Client, person_codec: EncryptionCodec) -> AsyncIterator[Client]:
    """The client (on the shared connection, with this test's codec), with the server up at the
    start of each test (a failed restart test may have left it down)."""
    if not devserver.up:
        await devserver.start()
    yield Client(temporal_client.service_client, namespace=temporal_client.namespace,
                 data_converter=data_converter(person_codec))


# ---------------------------------------------------------------- settings, worker, API
@pytest.fixture
def settings(settings: Settings, devserver: DevServer) -> Settings:
    """The root fixture's settings (on this package's ``database_url``), pointed at our dev server."""
    return settings.model_copy(update={
        "temporal_address": devserver.address,
        "temporal_task_queue": f"faults-{uuid.uuid4().hex[:8]}",
        "rollback_window_hours": 0,  # approved changes go to the agency at once
        "si_followup_days": 0,  # and the case completes right after execution
    })


@pytest.fixture
def worker_settings() -> dict[str, str]:
    """Extra HRFLOW_* variables for the worker process; tests override this fixture."""
    return {"HRFLOW_SIM_AGENCY_LATENCY_MS": "0"}


@pytest.fixture
def worker(tmp_path: Path, settings: Settings, codec_keys: dict[str, str], temporal: Client,
           worker_settings: dict[str, str]) -> Iterator[WorkerProcess]:
    """``hrflow worker`` in its own process, started; stopped after the test whatever happened."""
    with WorkerProcess(tmp_path, worker_env(
            database_url=settings.sqlalchemy_url, temporal_address=settings.temporal_address,
            task_queue=settings.temporal_task_queue, codec_keys=codec_keys, **worker_settings)) as proc:
        yield proc


@pytest.fixture
async def api(settings: Settings, engine: Engine, temporal: Client, person_codec: EncryptionCodec,
              session_factory: sessionmaker[Session], devserver: DevServer) -> AsyncIterator[httpx.AsyncClient]:
    """The real app in this event loop, on our PostgreSQL and dev server; the test's cases are
    terminated afterwards, so nothing of it keeps running on the shared dev server."""
    app = create_app(settings, engine=engine, temporal=temporal, codec=person_codec)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hrflow.test",
                                     timeout=httpx.Timeout(120)) as client:
            yield client
    if not devserver.up:  # a restart test failed with the server down: nothing to terminate
        return
    try:
        with session_factory() as s:
            ids = list(s.scalars(select(Case.workflow_id).where(Case.status == "open")))
    except Exception:  # noqa: BLE001 - the database may be what the test broke
        ids = []
    for workflow_id in ids:
        try:
            await temporal.get_workflow_handle(workflow_id).terminate("fault test finished")
        except RPCError:
            pass
