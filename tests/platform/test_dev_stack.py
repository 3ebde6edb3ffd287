"""`hrflow dev` end to end: one command brings up PostgreSQL, Temporal (+ UI), worker and API;
Ctrl-C leaves no process behind; a restart keeps the data; bad configuration is one clear line."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

from hrflow.stack import libpq_url

pytestmark = pytest.mark.slow

EMPLOYEE = {
    "employee_id": "E1001", "resident_id_number": "11010519491231002X", "name": "王芳",
    "department": "Sales", "position": "Adviser", "hire_date": "2021-03-01",
    "si_province": "Beijing", "si_city": "Beijing", "contribution_base": "12000.00",
}


# Below the kernel's ephemeral range (32768-60999 here): the servers other tests start on port 0
# meanwhile cannot take the dev stack's ports in the seconds between its port check and its bind.
# (Once in CI the API answered a fresh token with "Signature verification failed": what another
# test's hrflow API, with its own secret, on the dev stack's API port looks like.)
OWN_PORTS = range(20000, 32000)
_handed_out: set[int] = set()


def _free_port() -> int:
    """A port nothing listens on now, outside the ephemeral range, not handed out before."""
    while True:
        port = random.choice(OWN_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HRFLOW_")}
    return env | extra


def _hrflow(*args: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hrflow.cli", *args], check=False, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _request(url: str, *, token: str | None = None, body: dict | None = None,
             method: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, method=method,
                                 headers={"content-type": "application/json"}
                                 | ({"Authorization": f"Bearer {token}"} if token else {}))
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class DevStack:
    def __init__(self, cwd: Path, env: dict[str, str], api_port: int) -> None:
        self.cwd, self.env, self.api = cwd, env, f"http://127.0.0.1:{api_port}"
        self.log = open(cwd / "dev-output.txt", "ab")  # noqa: SIM115 - the child's log, open while it runs
        self.proc = subprocess.Popen([sys.executable, "-m", "hrflow.cli", "dev"], cwd=cwd, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.cwd / "dev-output.txt").read_text()
            try:
                status, body = _request(self.api + "/health")
                if status == 200:
                    return body
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError("not healthy in time:\n" + (self.cwd / "dev-output.txt").read_text())

    def processes(self) -> list[psutil.Process]:
        procs = psutil.Process(self.proc.pid).children(recursive=True)
        pid_file = self.cwd / ".hrflow" / "pgdata" / "postmaster.pid"
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        return procs + [postmaster] + postmaster.children(recursive=True)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=90)


def test_dev_runs_everything_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    api_port, temporal_port, ui_port, smtp_port = _free_port(), _free_port(), _free_port(), _free_port()
    env = _env(HRFLOW_API_PORT=str(api_port), HRFLOW_TEMPORAL_PORT=str(temporal_port),
               HRFLOW_TEMPORAL_UI_PORT=str(ui_port), HRFLOW_SMTP_PORT=str(smtp_port),
               HRFLOW_DELIVERY_INTERVAL_SECONDS="1")
    stack = DevStack(tmp_path, env, api_port)
    try:
        health = stack.wait_healthy()
        assert health["database"]["ok"] and health["temporal"]["ok"]
        # Other commands in the same directory find the stack through .hrflow/dev.env.
        token = _hrflow("token", "--user", "hr.li", "--role", "hr_specialist", cwd=tmp_path, env=env).stdout.strip()
        status, body = _request(stack.api + "/employees", token=token, body=EMPLOYEE)
        assert status == 201, body
        # The Temporal UI answers, and the custom search attributes are registered.
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/", timeout=5) as r:
            assert r.status == 200
        listed = subprocess.run(
            [str(Path(sys.executable).parent / "temporal"), "operator", "search-attribute", "list",
             "--address", f"127.0.0.1:{temporal_port}"], check=True, capture_output=True, text=True, timeout=30).stdout
        for name in ("EmployeeId", "CaseKind", "CaseStage", "Province", "Department"):
            assert name in listed
        _the_app_runs_without_ddl_rights(tmp_path, env)
        _reminders_reach_the_mail_sink_once(tmp_path, env)
        _report_shows_the_seeded_alerts(tmp_path, env, stack.api)
        started = stack.processes()
        assert len(started) >= 5
        assert stack.interrupt() == 0
        time.sleep(1)
        alive = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], [p.cmdline() for p in alive]
    finally:
        if stack.proc.poll() is None:  # a failed assertion: still stop it in order (PostgreSQL too)
            try:
                stack.interrupt()
            except subprocess.TimeoutExpired:
                stack.proc.kill()

    again = DevStack(tmp_path, env, api_port)
    try:
        again.wait_healthy()
        token = _hrflow("token", "--user", "m", "--role", "hr_manager", cwd=tmp_path, env=env).stdout.strip()
        status, body = _request(again.api + "/employees/E1001", token=token)
        assert status == 200 and body["name"] == "王芳"
        assert _hrflow("audit", "verify", cwd=tmp_path, env=env).returncode == 0
    finally:
        assert again.interrupt() == 0


def _the_app_runs_without_ddl_rights(cwd: Path, env: dict[str, str]) -> None:
    """The API and worker's URL names a role that cannot switch the audit triggers off; `hrflow
    migrate` still works, as the owner."""
    import psycopg2
    from psycopg2 import errors

    conn = psycopg2.connect(libpq_url(_database_url(cwd)))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone() == ("hrflow_app",)
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute("ALTER TABLE audit_events DISABLE TRIGGER ALL")
    finally:
        conn.close()
    migrated = _hrflow("migrate", cwd=cwd, env=env)
    assert migrated.returncode == 0 and "database at revision" in migrated.stdout, migrated.stderr


def _reminders_reach_the_mail_sink_once(cwd: Path, env: dict[str, str]) -> None:
    """The worker synced the schedules at start; overdue items seeded into the stack's database
    and a triggered sweep reach the local SMTP sink, and a second sweep the same day sends nothing."""
    from sqlalchemy import create_engine

    from tests.reminders.seed import EXPECTED_EMAILS, seed

    def schedules() -> list[dict]:
        return json.loads(_hrflow("schedules", "list", cwd=cwd, env=env).stdout)

    deadline = time.monotonic() + 30
    while not all(s["exists"] for s in schedules()):
        assert time.monotonic() < deadline, schedules()
        time.sleep(0.5)
    engine = create_engine(_database_url(cwd))
    seed(_stack_sessions(cwd, engine), dt.datetime.now(dt.UTC))
    engine.dispose()

    mail = cwd / ".hrflow" / "mail"
    for run in (1, 2):
        assert _hrflow("schedules", "trigger", "reminder-sweep", cwd=cwd, env=env).returncode == 0
        deadline = time.monotonic() + 60
        while True:
            sweep = next(s for s in schedules() if s["id"] == "reminder-sweep")
            if len(sweep["recent"]) >= run and not sweep["running"] and len(list(mail.glob("*.eml"))) >= EXPECTED_EMAILS:
                break
            assert time.monotonic() < deadline, (sweep, len(list(mail.glob("*.eml"))))
            time.sleep(0.5)
    time.sleep(3)  # three relay rounds after the second sweep: still no copy
    assert len(list(mail.glob("*.eml"))) == EXPECTED_EMAILS


def _report_shows_the_seeded_alerts(cwd: Path, env: dict[str, str], api: str) -> None:
    """The hand-computed report company (tests/reports/seed.py) seeded into the stack: computing
    November through the API stores the report, and its alerts include the seed's."""
    from sqlalchemy import create_engine

    from tests.reports.seed import seed

    engine = create_engine(_database_url(cwd))
    seed(_stack_sessions(cwd, engine))
    engine.dispose()
    token = _hrflow("token", "--user", "director.chen", "--role", "hr_manager", cwd=cwd, env=env).stdout.strip()
    status, body = _request(api + "/reports/monthly/2026-11/compute", token=token, method="POST")
    assert status == 202, body
    deadline = time.monotonic() + 60
    while (found := _request(api + "/reports/monthly/2026-11", token=token))[0] != 200:
        assert time.monotonic() < deadline, found
        time.sleep(0.5)
    alerts = {(a["metric"], a["dimension"]) for a in found[1]["alerts"]}
    assert {("maternity_return_attrition", "销售部"), ("undeducted_rate", "销售部")} <= alerts, alerts


def _stack_sessions(cwd: Path, engine: Any) -> Any:
    """Sessions sealing ID numbers with the stack's own keys (its secrets.json), as its API's do."""
    from db.person_keys import PersonKeyring
    from db.session import make_session_factory

    secrets_ = json.loads((cwd / ".hrflow" / "secrets.json").read_text())
    keys = {k: base64.b64decode(v) for k, v in secrets_["codec_keys"].items()}
    keyring = PersonKeyring(make_session_factory(engine), secrets_["codec_active_key"], keys)
    return make_session_factory(engine, keyring=keyring, blind_index_key=base64.b64decode(secrets_["blind_index_key"]))


def _database_url(cwd: Path) -> str:
    env_file = (cwd / ".hrflow" / "dev.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in env_file if "=" in line)["HRFLOW_DATABASE_URL"].strip("'")


def test_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _hrflow("dev", cwd=tmp_path, env=_env(HRFLOW_API_PORT=str(port)))
    assert result.returncode == 2
    assert result.stderr.strip() == f"hrflow: port {port} is taken; set HRFLOW_API_PORT to another port"


CODEC = '{"k1": "' + "A" * 43 + '="}'


@pytest.mark.parametrize("command,env,message", [
    ("api", {"HRFLOW_JWT_SECRET": "s" * 40, "HRFLOW_CODEC_KEYS": CODEC},
     "hrflow: HRFLOW_DATABASE_URL is not set"),
    ("api", {"HRFLOW_DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "HRFLOW_CODEC_KEYS": CODEC},
     "hrflow: HRFLOW_JWT_SECRET is not set"),
    ("api", {"HRFLOW_DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "HRFLOW_JWT_SECRET": "s" * 40,
             "HRFLOW_CODEC_KEYS": CODEC}, "hrflow: cannot reach the database named by HRFLOW_DATABASE_URL"),
    ("worker", {"HRFLOW_DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "HRFLOW_CODEC_KEYS": CODEC},
     "hrflow: cannot reach the database named by HRFLOW_DATABASE_URL"),
    ("migrate", {}, "hrflow: HRFLOW_DATABASE_URL is not set"),
])
def test_bad_configuration_is_one_line(tmp_path: Path, command: str, env: dict[str, str], message: str) -> None:
    result = _hrflow(command, cwd=tmp_path, env=_env(**env))
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_wrong_temporal_address_is_one_line(tmp_path: Path, database_url: str) -> None:
    env = _env(HRFLOW_DATABASE_URL=database_url, HRFLOW_JWT_SECRET="s" * 40, HRFLOW_CODEC_KEYS=CODEC,
               HRFLOW_TEMPORAL_ADDRESS="127.0.0.1:1")
    result = _hrflow("api", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("hrflow: cannot reach Temporal at 127.0.0.1:1")
    assert "HRFLOW_TEMPORAL_ADDRESS" in result.stderr and "Traceback" not in result.stderr
