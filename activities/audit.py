"""The audit seal's one activity. Sealing is idempotent by construction: a retry finds the heads
its first try sealed already sealed, and seals only what moved since."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from activities.unit import DbActivities, db_step
from db import audit
from domain.contracts.audit import SEAL_AUDIT, SealRequest, SealResult


class AuditActivities(DbActivities):
    @activity.defn(name=SEAL_AUDIT.name)
    def seal(self, req: SealRequest) -> SealResult:
        with db_step(self._sessions) as session:
            sealed = audit.seal(session, at=req.at)
        if sealed is None:
            return SealResult(seal_id=None)
        return SealResult(seal_id=sealed.id, chains=sealed.chains, hash=sealed.hash)

    def all(self) -> list[Any]:
        return [self.seal]
