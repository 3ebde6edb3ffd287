"""The moving parts the fault tests break on purpose: their own PostgreSQL, a Temporal dev server
that keeps its history in SQLite, and ``hrflow worker`` as a separate OS process.

Each part can be stopped and started again mid-run, and each one's teardown stops it whatever
state the test left it in, so a failing test leaves no process behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import ric
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from db.models import Employee
from hrflow.stack import (
    forget_handles,
    free_port,
    pg_ctl,
    postgres_server,
    postgres_user,
    spawn,
    stop_process,
    wait_healthy,
)
from hrflow.temporal import ensure_search_attributes
from tests.conftest import TEST_BLIND_INDEX_KEY
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

REPO = Path(__file__).resolve().parents[2]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} not readable)"


# ---------------------------------------------------------------- PostgreSQL
class Postgres:
    """An embedded PostgreSQL of our own (the session's shared one is never stopped), which the
    outage test stops with ``pg_ctl stop -m fast`` and starts again on the same socket."""

    def __init__(self, parent: Path) -> None:
        self.parent = parent
        self.pgdata = parent / "data"
        self._server = postgres_server(self.pgdata, cleanup_mode="delete")
        info = self._server.get_postmaster_info()
        self.socket_dir = info.socket_dir
        self.admin_url = self._server.get_uri()
        self.user = postgres_user()

    def _pg_ctl(self, args: list[str]) -> None:
        pg_ctl(self.pgdata, args, timeout=60)

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def stop(self) -> None:
        """What an outage looks like: sessions are cut and new connections refused."""
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def start(self) -> None:
        self._pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}",
                      "-l", str(self.pgdata / "log"), "start"])

    def close(self) -> None:
        if self.running():
            with contextlib.suppress(Exception):  # teardown: the lines below still clean up
                self.stop()
        forget_handles(self.pgdata)
        shutil.rmtree(self.parent, ignore_errors=True)


# ---------------------------------------------------------------- Temporal
class DevServer:
    """``temporal server start-dev`` on a fixed port with its history in a SQLite file, so it can
    be stopped and started again with every workflow where it was."""

    def __init__(self, directory: Path, binary: str, data_converter: DataConverter) -> None:
        self.db_file = directory / "temporal.db"
        self.binary = binary
        self.data_converter = data_converter
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._env: WorkflowEnvironment | None = None

    @property
    def up(self) -> bool:
        return self._env is not None

    async def start(self) -> None:
        self._env = await WorkflowEnvironment.start_local(
            port=self.port,
            dev_server_existing_path=self.binary,
            dev_server_database_filename=str(self.db_file),
            data_converter=self.data_converter,
            search_attributes=SEARCH_ATTRIBUTES,
            dev_server_extra_args=["--sqlite-pragma", "journal_mode=wal",
                                   "--sqlite-pragma", "synchronous=normal"],
        )
        await ensure_search_attributes(self._env.client, "default")  # flags are ignored on an existing db

    async def stop(self) -> None:
        env, self._env = self._env, None
        if env is not None:
            await env.shutdown()

    async def client(self) -> Client:
        """A client of our own: it outlives a restart of the server (it reconnects)."""
        return await Client.connect(self.address, data_converter=self.data_converter)


# ---------------------------------------------------------------- the worker and the API
class WorkerProcess:
    """``hrflow worker`` in its own process, configured only through HRFLOW_* variables; SIGKILLed by
    the kernel if the test process dies, so a killed pytest leaves no worker. As a context manager
    it is started on entry and stopped on exit, whatever the test did."""

    command = "worker"

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HRFLOW_")} | env
        self.env["PYTHONPATH"] = str(REPO)
        self.log = directory / f"{self.command}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.command} already running"
        self.started += 1
        with open(self.log, "ab") as out:
            out.write(f"---- {self.command} start {self.started} at {dt.datetime.now():%H:%M:%S.%f}\n".encode())
        # cwd is the test's directory: a developer's .hrflow/dev.env must not be read.
        self.proc = spawn([sys.executable, "-m", "hrflow.cli", self.command], env=self.env, log=self.log,
                          cwd=self.directory, death_signal=signal.SIGKILL)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.alive(), f"{self.command} is not running:\n{tail(self.log)}"
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Teardown: SIGTERM (graceful), then SIGKILL if it lingers."""
        if self.proc is not None:
            stop_process(self.command, self.proc, timeout=15)


class ApiProcess(WorkerProcess):
    """``hrflow api`` (uvicorn, as production runs it) in its own process: a test that blocks its
    event loop cannot block the test's own, and is seen from outside as a client sees it."""

    command = "api"

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        super().__init__(directory, env | {"HRFLOW_API_HOST": "127.0.0.1", "HRFLOW_API_PORT": str(self.port)})
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        super().start()
        healthy = wait_healthy(self.url + "/health", check=self._check_alive, timeout=timeout, interval=0.2)
        assert healthy, f"the API did not become healthy:\n{tail(self.log)}"

    def _check_alive(self) -> None:
        assert self.alive(), f"the API exited:\n{tail(self.log)}"


# ---------------------------------------------------------------- data and waiting
def resident_id(n: int) -> str:
    """A valid, distinct resident ID number (Beijing Chaoyang, born 1980-1989) for person ``n``."""
    born = dt.date(1980, 1, 1) + dt.timedelta(days=n // 500)
    body = f"110105{born:%Y%m%d}{(n % 500) * 2 + 1:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum ignores the last of 18 characters


def add_employees(session_factory: sessionmaker[Session], ids: Sequence[str]) -> None:
    with session_factory.begin() as s:
        for n, employee_id in enumerate(ids):
            s.add(Employee(employee_id=employee_id, resident_id_number=resident_id(n), name="测试员工",
                           department="Sales", position="Adviser", hire_date=dt.date(2021, 3, 1),
                           si_province="Beijing", si_city="Beijing", contribution_base=Decimal("10000.00")))


def worker_env(*, database_url: str, temporal_address: str, task_queue: str, codec_keys: dict[str, str],
               **extra: str) -> dict[str, str]:
    return {
        "HRFLOW_DATABASE_URL": database_url,
        "HRFLOW_TEMPORAL_ADDRESS": temporal_address,
        "HRFLOW_TEMPORAL_NAMESPACE": "default",
        "HRFLOW_TEMPORAL_TASK_QUEUE": task_queue,
        "HRFLOW_CODEC_KEYS": json.dumps(codec_keys),
        "HRFLOW_CODEC_ACTIVE_KEY": next(iter(codec_keys)),
        "HRFLOW_BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,  # the session_factory fixture's: the rows it sealed stay findable
        "HRFLOW_WORKER_GRACEFUL_SHUTDOWN_SECONDS": "2",
        **extra,
    }
