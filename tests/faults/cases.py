"""Driving many social-insurance changes through the real API, and reading what they left behind.

The social-insurance change is the process under fault: several database-writing activities
(case, stage transitions, tasks, audit) and one call to the simulated agency per case.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.audit import verify_chain
from db.models import ActivityStep, ApprovalTask, AuditEvent, Case, SiChange, SiEnrollment, SimAgencyRequest
from domain.roles import Role
from tests.faults.harness import tail
from tests.processes.support import eventually

MAKER, CHECKER = "hr.li", "mgr.wang"

# What one case that runs submit -> approve -> execute -> complete leaves behind, exactly once each.
AUDIT_PER_CASE = {"si_change.opened": 1, "task.opened": 1, "task.approved": 1,
                  "si_change.stage_changed": 5,  # submitted, approved, executing, executed, completed
                  "si_change.executed": 1, "approval.route_resolved": 1}
# t1 submitted, t2 the route resolved, t3 the task key approve-t3, then approved, executing,
# executed, completed; and the agency call.
STEPS_PER_CASE = {"t1", "t2", "t4", "t5", "t6", "t7", "execute-1"}


def employee_ids(n: int, prefix: str = "F") -> list[str]:
    """Fresh employee numbers: workflow ids name the employee, and the dev server is shared."""
    tag = uuid.uuid4().hex[:6].upper()
    return [f"{prefix}{tag}{i:03d}" for i in range(n)]


def change_body(employee_id: str) -> dict[str, Any]:
    return {"employee_id": employee_id, "kind": "enrollment", "base": "10000.00",
            "effective_month": f"{dt.date.today():%Y-%m}", "reason": "new hire"}


async def submit_all(api: httpx.AsyncClient, auth: Callable[..., dict[str, str]], employees: Sequence[str],
                     *, concurrency: int = 16) -> list[str]:
    gate = asyncio.Semaphore(concurrency)

    async def one(employee_id: str) -> str:
        """As a careful client does: a 503 (a case not yet open, a database away) is sent again,
        with the same request id, after its Retry-After; the case is opened once."""
        while True:
            async with gate:
                r = await api.post("/si-changes", json=change_body(employee_id),
                                   headers=auth(Role.HR_SPECIALIST, MAKER) | {"X-Request-ID": f"submit-{employee_id}"})
            if r.status_code != 503:
                break
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
        assert r.status_code == 201, r.text
        return r.json()["workflow_id"]

    return list(await asyncio.gather(*(one(e) for e in employees)))


class Approver:
    """Approves every case as soon as its task is in the database, once per case, with the case's
    own request id; keeps every answer."""

    def __init__(self, api: httpx.AsyncClient, auth: Callable[..., dict[str, str]],
                 session_factory: sessionmaker[Session], workflow_ids: Sequence[str], *,
                 concurrency: int = 16) -> None:
        self.api, self.auth, self.sessions = api, auth, session_factory
        self.pending = set(workflow_ids)
        self.answers: dict[str, httpx.Response] = {}
        self.unavailable: list[httpx.Response] = []  # 503s, each sent again
        self._gate = asyncio.Semaphore(concurrency)
        self._sent: list[asyncio.Task[None]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _approve(self, workflow_id: str) -> None:
        """As a careful client does: a 503 is sent again, with the same request id, shortly."""
        while True:
            async with self._gate:
                answer = await self.api.post(
                    f"/si-changes/{workflow_id}/approve", json={},
                    headers=self.auth(Role.HR_MANAGER, CHECKER) | {"X-Request-ID": f"approve-{workflow_id}"})
            if answer.status_code != 503:
                self.answers[workflow_id] = answer
                return
            self.unavailable.append(answer)
            await asyncio.sleep(1)

    async def _run(self) -> None:
        while self.pending:
            try:
                ready = await asyncio.to_thread(open_tasks, self.sessions) & self.pending
            except Exception:  # noqa: BLE001 - the database may be down: look again shortly
                ready = set()
            for workflow_id in ready:
                self.pending.discard(workflow_id)
                self._sent.append(asyncio.create_task(self._approve(workflow_id)))
            await asyncio.sleep(0.3)
        await asyncio.gather(*self._sent)

    async def finish(self, timeout: float) -> dict[str, httpx.Response]:
        assert self._task is not None
        await asyncio.wait_for(self._task, timeout)
        return self.answers

    async def cancel(self) -> None:
        for task in [self._task, *self._sent]:
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(*[t for t in [self._task, *self._sent] if t is not None], return_exceptions=True)


def open_tasks(session_factory: sessionmaker[Session]) -> set[str]:
    """The cases with an approval task waiting."""
    with session_factory() as s:
        return set(s.scalars(select(ApprovalTask.workflow_id).where(ApprovalTask.status == "open")))


def stage_counts(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory() as s:
        rows = s.execute(select(SiChange.stage, func.count()).group_by(SiChange.stage)).all()
    return dict(sorted((stage, n) for stage, n in rows))


def completed(session_factory: sessionmaker[Session], workflow_ids: Sequence[str]) -> bool:
    with session_factory() as s:
        done = s.scalar(select(func.count()).select_from(Case).where(
            Case.workflow_id.in_(workflow_ids), Case.status == "completed"))
    return done == len(workflow_ids)


async def all_completed(session_factory: sessionmaker[Session], workflow_ids: Sequence[str], log: Any,
                        *, timeout: float) -> None:
    """Wait until every case completed; on time-out show the stages and the worker's last lines."""
    await eventually(lambda: completed(session_factory, workflow_ids), timeout=timeout, what="every case completed",
                     detail=lambda: f"{stage_counts(session_factory)}\n{tail(log)}")


def agency_requests(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(SimAgencyRequest)) or 0


def accepted_unanswered(session_factory: sessionmaker[Session]) -> int:
    """Requests the agency has recorded whose case has not yet recorded the answer: a crash now
    leaves the agency with a request the case never heard back about."""
    with session_factory() as s:
        answered = select(ActivityStep.step).where(
            ActivityStep.workflow_id == func.split_part(SimAgencyRequest.reference, ":", 1),
            ActivityStep.step == "execute-1").exists()
        return s.scalar(select(func.count()).select_from(SimAgencyRequest).where(~answered)) or 0


def assert_each_effect_once(session_factory: sessionmaker[Session], workflow_ids: Sequence[str],
                            employees: Sequence[str]) -> dict[str, int]:
    """Every case completed with each of its side effects exactly once; returns the agency's
    call counts."""
    n = len(workflow_ids)
    wanted = set(workflow_ids)
    with session_factory() as s:
        cases = dict(s.execute(select(Case.workflow_id, Case.status)).all())
        assert cases == dict.fromkeys(wanted, "completed")

        changes = s.execute(select(SiChange.workflow_id, SiChange.stage, SiChange.acceptance_no)).all()
        assert {w for w, _, _ in changes} == wanted and {st for _, st, _ in changes} == {"completed"}

        # The agency: one request per case, under the case's own reference, accepted once.
        requests = s.execute(select(SimAgencyRequest.reference, SimAgencyRequest.operation,
                                    SimAgencyRequest.outcome, SimAgencyRequest.number,
                                    SimAgencyRequest.attempts)).all()
        assert sorted(r.reference for r in requests) == sorted(f"{w}:execute-1" for w in wanted)
        assert {(r.operation, r.outcome) for r in requests} == {("submit", "accepted")}
        assert {r.number for r in requests} == {a for _, _, a in changes}  # the case kept the agency's answer
        assert len({r.number for r in requests}) == n

        # The effect of the agency's acceptance: one active enrollment per person.
        enrollments = s.execute(select(SiEnrollment.employee_id, SiEnrollment.status, SiEnrollment.opened_by)).all()
        assert len(enrollments) == n
        assert sorted(e.employee_id for e in enrollments) == sorted(employees)
        assert {e.status for e in enrollments} == {"active"} and {e.opened_by for e in enrollments} == wanted

        # Idempotency markers: exactly the steps each case takes (the primary key forbids twins).
        steps = collections.defaultdict(set)
        for workflow_id, step in s.execute(select(ActivityStep.workflow_id, ActivityStep.step)):
            steps[workflow_id].add(step)
        assert s.scalar(select(func.count()).select_from(ActivityStep)) == n * len(STEPS_PER_CASE)
        assert {w: frozenset(v) for w, v in steps.items()} == dict.fromkeys(wanted, frozenset(STEPS_PER_CASE))

        # One approval task per case, decided once.
        tasks = s.execute(select(ApprovalTask.workflow_id, ApprovalTask.status, ApprovalTask.decision)).all()
        assert len(tasks) == n and {(t.status, t.decision) for t in tasks} == {("decided", "approved")}

        # The audit trail: the same rows for every case, and an intact chain.
        per_case: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for workflow_id, action in s.execute(select(AuditEvent.workflow_id, AuditEvent.action)):
            per_case[workflow_id][action] += 1
        odd = {w: dict(c) for w, c in per_case.items() if dict(c) != AUDIT_PER_CASE}
        assert not odd, f"{len(odd)} cases with other audit rows, e.g. {next(iter(odd.items()))}"
        assert set(per_case) == wanted
        report = verify_chain(s)
        assert report.ok, report
        assert report.rows_checked == n * sum(AUDIT_PER_CASE.values())
        attempts = [r.attempts for r in requests]
    return {"agency_calls": sum(attempts), "agency_repeated_references": sum(1 for a in attempts if a > 1)}
