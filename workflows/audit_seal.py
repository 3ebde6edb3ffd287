"""AuditSealWorkflow: fold the audit chains that moved into the next seal, started every few
minutes by a Temporal Schedule. One small transaction per run; a run that finds nothing moved
writes nothing. Appends never wait for it: it locks only the heads it seals, for one statement."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contracts.audit import SEAL_AUDIT, SealRequest, SealResult

from workflows import kernel

# A seal is due every few minutes: retry a database outage until the next one would be due.
SEAL_STEP = kernel.DB_STEP.within(timedelta(minutes=30))


class AuditSealRequest(BaseModel):
    """Empty from the schedule."""


@workflow.defn(name="AuditSeal")
class AuditSealWorkflow:
    @workflow.run
    async def run(self, req: AuditSealRequest) -> SealResult:
        result = await kernel.run(SEAL_AUDIT, SealRequest(at=workflow.now()), summary="seal the chains that moved",
                                  options=SEAL_STEP)
        if result.seal_id is None:
            workflow.set_current_details("没有新的审计记录需要封存 (no chain moved since the last seal)")
        else:
            workflow.set_current_details(f"**封存 Seal {result.seal_id}**：{result.chains} 条链 chain(s)，"
                                         f"哈希 hash `{result.hash}`")
        return result
