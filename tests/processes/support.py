"""Shared helpers for process tests: seeded employees, waiting for a stage, recording histories."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from db.models import Employee
from domain.roles import Role
from hrflow.codec import EncryptionCodec, data_converter
from hrflow.temporal import ensure_search_attributes

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


def add_employee(session_factory: sessionmaker[Session], employee_id: str = "E1001", *,
                 resident_id_number: str = "11010519491231002X", name: str = "王芳",
                 city: str = "Beijing", province: str = "Beijing", department: str = "Sales",
                 base: str = "10000.00") -> None:
    with session_factory.begin() as s:
        s.add(Employee(employee_id=employee_id, resident_id_number=resident_id_number, name=name,
                       department=department, position="Adviser", hire_date=dt.date(2021, 3, 1),
                       si_province=province, si_city=city, contribution_base=Decimal(base)))


async def eventually(probe: Callable[[], Any], *, timeout: float = 30.0, every: float = 0.05,
                     what: str = "condition", detail: Callable[[], str] | None = None) -> Any:
    """Poll ``probe`` (sync or async) until it returns something truthy, in real time; on time-out
    say ``what`` was awaited and, if given, what ``detail`` reports."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s" + (f"\n{detail()}" if detail else ""))
        await asyncio.sleep(every)


async def wait_view(view: Callable[[], Any], check: Callable[[dict], Any]) -> dict:
    """Poll a case's view (``view`` returns its JSON) until ``check`` holds; on time-out, show the last one."""
    last: dict = {}

    async def probe() -> dict | None:
        last["v"] = v = await view()
        return v if check(v) else None
    try:
        return await eventually(probe)
    except AssertionError:
        raise AssertionError(f"last view: {last.get('v')}") from None


async def terminate_cases(client: Client, session_factory: sessionmaker[Session]) -> None:
    """End every case this test's database knows of, while the test's worker still runs, once no
    activity or workflow task of it is in flight. The time-skipping server is shared by a module: a
    case terminated with work in flight left the server unable to skip time by itself, so every
    later sleep of the module waited for its call's 30 s time-out."""
    from sqlalchemy import select
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError

    from db.models import Case

    with session_factory() as s:
        ids = list(s.scalars(select(Case.workflow_id)))
    for workflow_id in ids:
        handle = client.get_workflow_handle(workflow_id)
        try:
            for _ in range(100):  # up to 5 s for the activities in flight to finish on the worker
                described = await handle.describe()
                if described.status != WorkflowExecutionStatus.RUNNING:
                    break
                raw = described.raw_description
                if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
                    await handle.terminate("test finished")
                    break
                await asyncio.sleep(0.05)
            else:
                await handle.terminate("test finished")
        except RPCError:
            pass  # closed meanwhile


async def record_history(client: Client, workflow_id: str, process: str, scenario: str) -> None:
    """With HRFLOW_RECORD_HISTORIES=1, keep this run's history for the replay tests."""
    if not os.environ.get("HRFLOW_RECORD_HISTORIES"):
        return
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    target = HISTORIES / process / f"{scenario}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(history.to_json())
    # Child workflow ids derive from the parent's id: replay needs the original one.
    target.with_suffix(".id").write_text(workflow_id + "\n")


async def until(env: Any, day: dt.date, hour: int = 12) -> None:
    """Let workflow time run to ``hour`` o'clock China time on ``day`` (a ``time_skipping_env``, whose
    sleep asks again for what is left when the server gives up on a call)."""
    target = dt.datetime.combine(day, dt.time(hour), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    now = await env.get_current_time()
    if target > now:
        await env.sleep(target - now)


async def env_today(env: Any) -> dt.date:
    return (await env.get_current_time()).astimezone(dt.timezone(dt.timedelta(hours=8))).date()


def temporal_binary(name: str) -> str:
    """A Temporal server binary the test extras installed (``temporal``, ``temporal-test-server``)."""
    import shutil
    import sys

    import pytest

    found = shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))
    if not found:
        pytest.fail(f"{name} not on PATH: install the test extras (pip install -e '.[test]')")
    return found


# A sleep call the server gave up on: its connection dropped, or its own 30 s ran out while the
# clock could not skip (work in flight on a loaded machine). What is left of the sleep is asked again.
RETRIED_SLEEP_ERRORS = ("h2 protocol error", "Timeout expired")


class _SleepAcrossDroppedConnections:
    """The time-skipping server's ``sleep``, continued for what is left of it when the connection
    drops mid-call. The Java test server now and then closes an HTTP/2 connection under a waiting
    call ("h2 protocol error"); the test service's calls are not retried by the client, so one
    dropped connection would fail a test that did nothing wrong. The virtual clock decides what is
    left, so the case never sees more (or less) time pass than the test asked for."""

    def __init__(self, env: WorkflowEnvironment) -> None:
        self._env, self._sleep = env, env.sleep

    async def __call__(self, duration: dt.timedelta | float) -> None:
        wanted = duration if isinstance(duration, dt.timedelta) else dt.timedelta(seconds=duration)
        until = await self._env.get_current_time() + wanted
        for attempt in range(4):
            left = until - await self._env.get_current_time()
            if left <= dt.timedelta(0):
                return
            try:
                await self._sleep(left)
                return
            except RPCError as dropped:
                if not any(m in str(dropped) for m in RETRIED_SLEEP_ERRORS) or attempt == 3:
                    raise


@asynccontextmanager
async def time_skipping_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of its own, its clock at the real date. For modules whose tests each
    run months of a case: on one server per module the workflow clock drifts a year and more past
    the real date, which the API judges births and hire dates against (10 and 12 months ahead)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_binary("temporal-test-server"), data_converter=data_converter(codec))
    env.sleep = _SleepAcrossDroppedConnections(env)  # type: ignore[method-assign]
    await ensure_search_attributes(env.client, "default")
    try:
        yield env
    finally:
        await env.shutdown()


@dataclass(frozen=True)
class CaseRoutes:
    """One process's case routes as the tests call them: read a case as its usual reader, wait for
    a state, post a message as someone."""

    prefix: str  # e.g. "/maternity-leaves"
    reader: Role
    reader_user: str

    async def view(self, api: Any, auth: Any, wf: str) -> dict:
        return (await api.get(f"{self.prefix}/{wf}", headers=auth(self.reader, self.reader_user))).json()

    async def wait_view(self, api: Any, auth: Any, wf: str, check: Callable[[dict], Any]) -> dict:
        return await wait_view(lambda: self.view(api, auth, wf), check)

    async def post(self, api: Any, auth: Any, wf: str, action: str, role: Role, user: str,
                   body: dict | None = None) -> Any:
        return await api.post(f"{self.prefix}/{wf}/{action}", json=body or {}, headers=auth(role, user))
