"""The scheduled seal on a real worker: it folds what moved, writes nothing when nothing did, and
the seals it leaves verify."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.audit import AuditActivities
from db import audit
from db.models import AuditSeal
from tests.processes.support import record_history
from workflows.audit_seal import AuditSealRequest, AuditSealWorkflow


def _append(session_factory, case: str, n: int) -> None:
    for i in range(n):
        with session_factory.begin() as s:
            audit.append(s, audit.AuditEntry(actor="hr.li", actor_role="hr_specialist", action="test.step",
                                             workflow_id=case, after={"i": i}))


async def test_the_seal_workflow_folds_moved_chains_once(temporal_env: WorkflowEnvironment, session_factory) -> None:
    queue = f"seal-{uuid.uuid4().hex[:6]}"
    async with Worker(temporal_env.client, task_queue=queue, workflows=[AuditSealWorkflow],
                      activities=AuditActivities(session_factory).all(), activity_executor=ThreadPoolExecutor(2)):
        async def run(record: str | None = None):
            wf = f"audit-seal-{uuid.uuid4().hex[:6]}"
            result = await temporal_env.client.execute_workflow(AuditSealWorkflow.run, AuditSealRequest(), id=wf,
                                                                task_queue=queue)
            if record:
                await record_history(temporal_env.client, wf, "audit_seal", record)
            return result

        _append(session_factory, "si-change-E001-1", 2)
        _append(session_factory, "offboarding-E002-1", 1)
        first = await run(record="two_chains_sealed")
        idle = await run(record="nothing_moved")
    assert (first.chains, idle.seal_id, idle.chains) == (2, None, 0)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(AuditSeal)) == 1
        report = audit.verify_chain(s)
    assert (report.ok, report.seals_checked, report.unsealed_rows, report.head_hash) == (True, 1, 0, first.hash)
