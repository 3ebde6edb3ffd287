"""The audit seal's one activity. Sealing is idempotent by construction: a retry finds the heads
its first try sealed already sealed, and seals only what moved since. Anchoring the newest seal
outside the database comes after the seal commits (an anchor of a rolled-back seal would be a false
alarm) and is idempotent too: a retry anchors the newest seal if no anchor holds it yet."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.unit import DbActivities, db_step
from db import audit
from db.audit_anchors import AnchorStore, anchor_newest
from domain.contracts.audit import SEAL_AUDIT, SealRequest, SealResult


class AuditActivities(DbActivities):
    def __init__(self, session_factory: sessionmaker[Session], anchors: AnchorStore | None = None) -> None:
        super().__init__(session_factory)
        self._anchors = anchors

    @activity.defn(name=SEAL_AUDIT.name)
    def seal(self, req: SealRequest) -> SealResult:
        with db_step(self._sessions) as session:
            sealed = audit.seal(session, at=req.at)
        anchored = None
        if self._anchors is not None:
            with db_step(self._sessions) as session:
                anchor = anchor_newest(session, self._anchors, at=req.at)
            anchored = anchor.seal_id if anchor else None
        if sealed is None:
            return SealResult(seal_id=None, anchored_seal_id=anchored)
        return SealResult(seal_id=sealed.id, chains=sealed.chains, hash=sealed.hash, anchored_seal_id=anchored)

    def all(self) -> list[Any]:
        return [self.seal]
