"""Crashes mid-saga: ``kill -9`` of the worker process, and a restart of the Temporal server.

Every case must complete, and every side effect must be there exactly once: one agency request
per case, one enrollment, the exact idempotency markers and audit rows, an intact audit chain.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio.client import Client

from tests.faults import cases
from tests.faults.harness import DevServer, WorkerProcess, add_employees, tail
from tests.processes.support import eventually
from workflows.si_change import SiChangeResult

pytestmark = pytest.mark.faults

CASES = 200


@pytest.fixture
def worker_settings() -> dict[str, str]:
    # Agency latency keeps cases in flight at the agency when the worker dies.
    return {"HRFLOW_SIM_AGENCY_LATENCY_MS": "500", "HRFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES": "50"}


async def test_worker_killed_mid_saga_every_case_completes_once(
        api, auth, session_factory, worker: WorkerProcess, temporal: Client, record_property) -> None:
    """``hrflow worker`` SIGKILLed with 200 cases between submission and completion, some of them
    accepted by the agency without the answer recorded; a new worker process takes over.

    Recovery takes about half a minute, whatever the machine: an activity that was running in the
    killed process is retried when the server notices it died, for an agency call when its 20 s
    heartbeat timeout runs out (it heartbeats while the agency answers), for a database step at its
    30 s start-to-close timeout."""
    employees = cases.employee_ids(CASES, "K")
    add_employees(session_factory, employees)
    started = time.monotonic()
    expected = [f"si-change-{e}-1" for e in employees]  # the first change of each new employee
    approver = cases.Approver(api, auth, session_factory, expected)
    approver.start()  # approving while the rest are still being submitted
    submitting = asyncio.ensure_future(cases.submit_all(api, auth, employees))  # a 201 waits for the worker
    try:
        # Kill once a tenth of the cases reached the agency (the rest are spread over every
        # stage), at a moment when the agency holds requests whose answers are still on their way.
        await eventually(lambda: cases.agency_requests(session_factory) >= CASES // 10, timeout=120,
                       what="a tenth of the cases at the agency", detail=lambda: tail(worker.log))
        await eventually(lambda: cases.accepted_unanswered(session_factory) >= 3, timeout=60, every=0.05,
                       what="requests accepted by the agency, answers not yet recorded")
        worker.kill9()
        at_kill = cases.stage_counts(session_factory)
        killed_at = time.monotonic()
        # Mid-saga: most cases still running, some of them at the agency.
        assert at_kill.get("completed", 0) < CASES // 4 and at_kill.get("executing", 0) > 0, at_kill
        worker.start()
        workflow_ids = await submitting
        assert workflow_ids == expected
        submitted_s = time.monotonic() - started
        answers = await approver.finish(timeout=240)
        await cases.all_completed(session_factory, workflow_ids, worker.log, timeout=240)
    finally:
        await approver.cancel()
        if not submitting.done():
            submitting.cancel()
    recovered = time.monotonic() - killed_at
    assert {r.status_code for r in answers.values()} == {200}, [r.text for r in answers.values()
                                                                if r.status_code != 200][:3]
    assert worker.started == 2 and worker.alive()

    calls = cases.assert_each_effect_once(session_factory, workflow_ids, employees)
    # Some case asked the agency again after the crash and got the first answer, not a second request.
    assert calls["agency_repeated_references"] >= 1, calls
    results = await asyncio.gather(*(temporal.get_workflow_handle(w, result_type=SiChangeResult).result()
                                     for w in workflow_ids))
    assert {r.stage for r in results} == {"completed"}
    stats = {"stages_at_kill": at_kill, **calls, "submitted_s": round(submitted_s, 1),
             "killed_at_s": round(killed_at - started, 1), "recovery_s": round(recovered, 1),
             "total_s": round(time.monotonic() - started, 1)}
    record_property("kill9", stats)
    print(f"\nkill -9 mid-saga: {stats}")


RESTART_CASES = 40
RESTART_HELD = 10  # approved only once the server is back


async def test_temporal_restart_mid_run_cases_resume(
        api, auth, session_factory, worker: WorkerProcess, temporal: Client, devserver: DevServer,
        record_property) -> None:
    """The dev server keeps its state in SQLite: stopped and started again mid-run, it resumes
    every case where it was (same runs, nothing started afresh), and the worker and the API's
    client reconnect by themselves. A quarter of the cases is approved only after the restart, so
    the restart is mid-run however fast the others go."""
    employees = cases.employee_ids(RESTART_CASES, "T")
    add_employees(session_factory, employees)
    workflow_ids = await cases.submit_all(api, auth, employees)
    held = workflow_ids[-RESTART_HELD:]
    approver = cases.Approver(api, auth, session_factory, workflow_ids[:-RESTART_HELD])
    late_approver = cases.Approver(api, auth, session_factory, held)
    approver.start()
    try:
        await eventually(lambda: cases.agency_requests(session_factory) >= 1, timeout=60,
                       what="the first case at the agency", detail=lambda: tail(worker.log))
        runs = {w: (await temporal.get_workflow_handle(w).describe()).run_id for w in workflow_ids}
        down = time.monotonic()
        await devserver.stop()
        at_restart = cases.stage_counts(session_factory)
        await asyncio.sleep(3)  # down for a few seconds, as in a real restart
        await devserver.start()
        downtime = time.monotonic() - down
        assert at_restart.get("completed", 0) <= RESTART_CASES - RESTART_HELD, at_restart
        late_approver.start()
        answers = await approver.finish(timeout=200) | await late_approver.finish(timeout=100)
        await cases.all_completed(session_factory, workflow_ids, worker.log, timeout=200)
    finally:
        await approver.cancel()
        await late_approver.cancel()
    assert {r.status_code for r in answers.values()} == {200}
    assert worker.started == 1 and worker.alive()  # the worker rode out the restart
    after = {w: (await temporal.get_workflow_handle(w).describe()).run_id for w in workflow_ids}
    assert after == runs  # the state was kept: the same runs carried on, none started afresh
    calls = cases.assert_each_effect_once(session_factory, workflow_ids, employees)
    stats = {"stages_at_restart": at_restart, "downtime_s": round(downtime, 1),
             "approvals_503": len(approver.unavailable) + len(late_approver.unavailable), **calls}
    record_property("temporal_restart", stats)
    print(f"\nTemporal restart mid-run: {stats}")
