"""The API never hangs: no transaction across an await, no database work on the event loop, bounded waits.

The API runs as ``hrflow api`` in its own process (uvicorn, the default pool of 10), so what one
request does to its event loop is seen from outside, as clients see it.

- Another session holds the heads of the audit chains the writers extend (as a long activity would) for far longer than the
  lock timeout, while writers that need it (employee records: a sync route; refused enrollment
  changes, audited by an async route) and readers arrive together. Every writer is answered 503
  ``database_busy`` with ``Retry-After`` after about the lock timeout, while the lock is still
  held, with nothing written; every reader keeps being answered meanwhile. Sent again with the same
  request ids once the lock is free, each writer lands once. Before this was fixed the refused
  change took the lock on the event loop: the whole API stopped until the other session let go.
- Temporal answers slowly (a proxy adds 0.3 s each way): decisions, the employee's own reads and
  audited writes run together. Every decision lands exactly once, database-only requests are not
  slowed by Temporal, and no API connection sits idle inside a transaction while Temporal thinks.
- No worker runs: a decision waits for the case a bounded time, then answers 503
  ``pending``; sent again with its request id once the worker is back, it lands once.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Self

import httpx
import psycopg2
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.latency_proxy import LatencyProxy
from bench.slow_temporal import watch_idle_transactions
from db.audit import GENESIS, verify_chain
from db.models import AuditEvent, EmployeeRecord, SiChange
from domain.roles import Role
from tests.conftest import JWT_SECRET
from tests.faults import cases
from tests.faults.harness import ApiProcess, DevServer, add_employees, tail, worker_env
from tests.processes.support import eventually

pytestmark = pytest.mark.faults

LOCK_TIMEOUT_MS = 1000
HOLD_SECONDS = 8.0  # the other session keeps the chain's lock this long: eight lock timeouts


UPDATE_WAIT = 3.0  # seconds an in-process API request waits for a case's decision


@pytest.fixture
def settings(settings):
    """Approved changes wait an hour, so each stays open while the decisions race."""
    return settings.model_copy(update={"rollback_window_hours": 1, "temporal_update_wait_seconds": UPDATE_WAIT})


def _api_env(settings, codec_keys: dict[str, str], temporal_address: str) -> dict[str, str]:
    return worker_env(database_url=settings.sqlalchemy_url, temporal_address=temporal_address,
                      task_queue=settings.temporal_task_queue, codec_keys=codec_keys,
                      HRFLOW_JWT_SECRET=JWT_SECRET, HRFLOW_ROLLBACK_WINDOW_HOURS="1",
                      HRFLOW_DATABASE_LOCK_TIMEOUT_MS=str(LOCK_TIMEOUT_MS))


@pytest.fixture
def slow_temporal(devserver: DevServer) -> Iterator[LatencyProxy]:
    proxy = LatencyProxy(devserver.address, delay=0.3)
    proxy.start()
    yield proxy
    proxy.stop()


def _process(directory: Path, env: dict[str, str]) -> Iterator[ApiProcess]:
    proc = ApiProcess(directory, env)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def api_process(tmp_path: Path, settings, codec_keys, temporal, devserver: DevServer) -> Iterator[ApiProcess]:
    yield from _process(tmp_path, _api_env(settings, codec_keys, devserver.address))


@pytest.fixture
def slow_api_process(tmp_path: Path, settings, codec_keys, temporal,
                     slow_temporal: LatencyProxy) -> Iterator[ApiProcess]:
    yield from _process(tmp_path, _api_env(settings, codec_keys, slow_temporal.address))


class ChainLockHolder:
    """A session of its own that holds the heads of the given audit chains (as an append that has
    not committed does) and keeps them until ``release``."""

    def __init__(self, database_url: str, chains: list[str]) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.conn = psycopg2.connect(url.render_as_string(hide_password=False))
        self.chains = chains
        self.released = threading.Event()

    def __enter__(self) -> Self:
        with self.conn.cursor() as cur:
            for chain in self.chains:
                cur.execute("INSERT INTO audit_chain_heads (chain, seq, head_hash) VALUES (%s, 0, %s)"
                            " ON CONFLICT (chain) DO UPDATE SET chain = EXCLUDED.chain", (chain, GENESIS))
        return self

    def release(self) -> None:
        self.conn.rollback()
        self.released.set()

    def __exit__(self, *exc: object) -> None:
        if not self.released.is_set():
            self.release()
        self.conn.close()


class Timings:
    """Each answer, with how long it took and whether the lock was still held when it came."""

    def __init__(self, lock: ChainLockHolder | None = None) -> None:
        self.lock = lock
        self.answers: dict[str, list[tuple[float, bool, httpx.Response]]] = collections.defaultdict(list)

    async def call(self, kind: str, request: asyncio.Future[httpx.Response] | object) -> httpx.Response:
        t0 = time.monotonic()
        response = await request  # type: ignore[misc]
        held = self.lock is not None and not self.lock.released.is_set()
        self.answers[kind].append((time.monotonic() - t0, held, response))
        return response

    def slowest(self, kind: str) -> float:
        return max(t for t, _, _ in self.answers[kind])


async def until_answered(send: Callable[[], Awaitable[httpx.Response]], tries: int = 10) -> httpx.Response:
    """Send, and send again after ``Retry-After`` while the API answers 503 busy."""
    for _ in range(tries - 1):
        response = await send()
        if response.status_code != 503:
            return response
        await asyncio.sleep(float(response.headers["Retry-After"]))
    return await send()


def _record(employee_id: str, n: int) -> dict[str, object]:
    return {"kind": "dispute", "title": f"labour dispute {n}"}


def _refused_change(n: int) -> dict[str, object]:
    return cases.change_body(f"NOBODY{n:03d}")  # no such employee: refused, and the refusal audited


async def test_a_held_audit_lock_answers_writers_503_and_never_stops_readers(
        api_process: ApiProcess, auth, session_factory, database_url: str) -> None:
    employees = cases.employee_ids(12, prefix="H")
    add_employees(session_factory, employees)
    compliance = auth(Role.COMPLIANCE, "comp.zhao")
    maker = auth(Role.HR_SPECIALIST, cases.MAKER)
    staff = auth(Role.HR_MANAGER, cases.CHECKER)

    async with httpx.AsyncClient(base_url=api_process.url, timeout=httpx.Timeout(60)) as http:
        def write_record(i: int) -> object:
            return http.post(f"/employees/{employees[i]}/records", json=_record(employees[i], i),
                             headers=compliance | {"X-Request-ID": f"record-{employees[i]}"})

        def refused_change(i: int) -> object:
            return http.post("/si-changes", json=_refused_change(i),
                             headers=maker | {"X-Request-ID": f"refused-{employees[i]}"})

        chains = [f"subject:{e}" for e in employees] + [f"subject:NOBODY{i:03d}" for i in range(len(employees))]
        with ChainLockHolder(database_url, chains) as lock:
            timings = Timings(lock)
            writers_done = asyncio.Event()

            async def writers() -> None:
                await asyncio.gather(*(timings.call("record", write_record(i)) for i in range(len(employees))),
                                     *(timings.call("refused change", refused_change(i)) for i in range(len(employees))))
                writers_done.set()

            async def reader(path: str, headers: dict[str, str]) -> None:
                while not writers_done.is_set():
                    await timings.call(f"GET {path}", http.get(path, headers=headers))
                    await asyncio.sleep(0.05)

            async def release_later() -> None:
                await asyncio.sleep(HOLD_SECONDS)
                lock.release()

            await asyncio.gather(writers(), reader("/health", {}), reader(f"/employees/{employees[0]}", staff),
                                 reader("/cases", staff), release_later())

        for kind in ("record", "refused change"):
            for took, held, r in timings.answers[kind]:
                assert held, f"{kind} answered only once the lock was released ({took:.1f} s): {r.status_code}"
                assert r.status_code == 503 and r.json()["error"] == "database_busy", r.text
                assert r.headers.get("Retry-After"), r.headers
        for path in ("/health", f"/employees/{employees[0]}", "/cases"):
            reads = timings.answers[f"GET {path}"]
            assert reads and all(r.status_code == 200 for _, _, r in reads), [r.text for _, _, r in reads][:3]
            assert any(held for _, held, _ in reads), f"GET {path} was never answered while the lock was held"
            # a reader never waits for the lock: far less than the time the lock was held
            assert timings.slowest(f"GET {path}") < HOLD_SECONDS / 2, (path, timings.slowest(f"GET {path}"))

        with session_factory() as s:  # nothing half-written
            assert s.scalar(select(func.count()).select_from(EmployeeRecord)) == 0
            assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0

        # The same requests again, now that the lock is free, as a client does with a 503: after
        # Retry-After, with the same request id. Each lands once.
        again = await asyncio.gather(*(until_answered(lambda i=i: write_record(i)) for i in range(len(employees))),
                                     *(until_answered(lambda i=i: refused_change(i)) for i in range(len(employees))))
    assert [r.status_code for r in again] == [201] * len(employees) + [422] * len(employees), \
        [r.text for r in again if r.status_code not in (201, 422)][:3]
    with session_factory() as s:
        per_employee = collections.Counter(s.scalars(select(EmployeeRecord.employee_id)))
        assert per_employee == {e: 1 for e in employees}
        per_request = collections.Counter(s.scalars(select(AuditEvent.request_id)))
        assert per_request == {f"{kind}-{e}": 1 for e in employees for kind in ("record", "refused")}
        assert verify_chain(s).ok


async def test_decisions_through_slow_temporal_all_land_and_hold_no_transaction(
        slow_api_process: ApiProcess, worker, auth, session_factory, database_url: str) -> None:
    employees = cases.employee_ids(20, prefix="S")
    add_employees(session_factory, employees)
    checker = auth(Role.HR_MANAGER, cases.CHECKER)
    compliance = auth(Role.COMPLIANCE, "comp.zhao")

    async with httpx.AsyncClient(base_url=slow_api_process.url, timeout=httpx.Timeout(120)) as http:
        workflow_ids = await cases.submit_all(http, auth, employees)
        await eventually(lambda: cases.open_tasks(session_factory) >= set(workflow_ids), timeout=120,
                         what="every change waiting for its checker", detail=lambda: tail(worker.log))

        timings = Timings()
        done = asyncio.Event()
        idle_in_transaction: list[tuple[str, float]] = []  # API sessions idle in a transaction > 0.5 s
        dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)

        def approve(i: int) -> object:
            return http.post(f"/si-changes/{workflow_ids[i]}/approve", json={},
                             headers=checker | {"X-Request-ID": f"approve-{employees[i]}"})

        def own_read(i: int) -> object:  # the employee's own case: a database check, then Temporal
            return http.get(f"/si-changes/{workflow_ids[i]}",
                            headers=auth(Role.EMPLOYEE, f"emp.{employees[i]}", employee=employees[i]))

        def record(i: int) -> object:
            return http.post(f"/employees/{employees[i]}/records", json=_record(employees[i], i),
                             headers=compliance | {"X-Request-ID": f"record-{employees[i]}"})

        async def load() -> None:
            await asyncio.gather(*(timings.call(kind, call(i)) for i in range(len(employees))
                                   for kind, call in (("approve", approve), ("own read", own_read),
                                                      ("record", record))))
            done.set()

        async def db_reader() -> None:
            while not done.is_set():
                await timings.call("GET /cases", http.get("/cases", headers=checker))

        await asyncio.gather(load(), db_reader(), watch_idle_transactions(dsn, done, idle_in_transaction))

    for kind in ("approve", "own read"):
        assert [r.status_code for _, _, r in timings.answers[kind]] == [200] * len(employees), \
            [r.text for _, _, r in timings.answers[kind] if r.status_code != 200][:3]
    assert [r.status_code for _, _, r in timings.answers["record"]] == [201] * len(employees)
    assert idle_in_transaction == [], idle_in_transaction[:5]
    # Database-only requests are not held up by Temporal's slowness (each decision took longer).
    assert timings.slowest("GET /cases") < LOCK_TIMEOUT_MS / 1000 + 1.0, timings.slowest("GET /cases")
    assert min(t for t, _, _ in timings.answers["approve"]) > 0.6  # the proxy did slow Temporal down

    def stages() -> dict[str, str]:
        with session_factory() as s:
            return dict(s.execute(select(SiChange.workflow_id, SiChange.stage)
                                  .where(SiChange.workflow_id.in_(workflow_ids))).all())
    await eventually(lambda: stages() == {w: "approved" for w in workflow_ids}, timeout=60,
                     what="every change approved", detail=lambda: str(collections.Counter(stages().values())))
    with session_factory() as s:
        approvals = collections.Counter(s.scalars(select(AuditEvent.workflow_id).where(
            AuditEvent.workflow_id.in_(workflow_ids), AuditEvent.action == "task.approved")))
        assert approvals == {w: 1 for w in workflow_ids}
        assert collections.Counter(s.scalars(select(EmployeeRecord.employee_id))) == {e: 1 for e in employees}
        assert verify_chain(s).ok


async def test_a_decision_while_no_worker_runs_is_pending_then_lands_once(
        api, auth, session_factory, worker) -> None:
    [employee] = cases.employee_ids(1, prefix="P")
    add_employees(session_factory, [employee])
    [wf] = await cases.submit_all(api, auth, [employee])
    await eventually(lambda: wf in cases.open_tasks(session_factory), timeout=60, what="the change waiting",
                     detail=lambda: tail(worker.log))
    headers = auth(Role.HR_MANAGER, cases.CHECKER) | {"X-Request-ID": f"approve-{employee}"}
    worker.stop()

    t0 = time.monotonic()
    pending = await api.post(f"/si-changes/{wf}/approve", json={}, headers=headers)
    waited = time.monotonic() - t0
    assert pending.status_code == 503 and pending.json()["error"] == "pending", pending.text
    assert pending.headers["Retry-After"] and "同一 X-Request-ID" in pending.json()["detail"]["message"]
    assert UPDATE_WAIT <= waited < UPDATE_WAIT + 5  # bounded by the setting, not by the worker's return

    worker.start()
    answer = await eventually(lambda: _approved(api, wf, headers), timeout=90, what="the decision applied",
                              detail=lambda: tail(worker.log))
    assert answer.json()["stage"] == "approved" and answer.json()["approver"] == cases.CHECKER
    with session_factory() as s:
        approvals = list(s.scalars(select(AuditEvent.request_id).where(
            AuditEvent.workflow_id == wf, AuditEvent.action == "task.approved")))
    assert approvals == [f"approve-{employee}"]


async def _approved(api: httpx.AsyncClient, wf: str, headers: dict[str, str]) -> httpx.Response | None:
    """The decision sent again with its request id: its answer, or None while still pending."""
    r = await api.post(f"/si-changes/{wf}/approve", json={}, headers=headers)
    if r.status_code == 503 and r.json()["error"] == "pending":
        return None
    assert r.status_code == 200, r.text
    return r
