"""The reminder sweep's one activity: read a batch of due items, queue their reminders.

Each reminder's outbox dedupe key is (category, item, cadence, recipient), so a batch that is
retried, or a sweep run twice on the same day, queues nothing twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.unit import DbActivities, db_step
from db import outbox, reminders
from domain.contracts.reminders import SWEEP_BATCH, SweepBatch, SweepBatchResult, SweepCursor


class ReminderActivities(DbActivities):
    def __init__(self, session_factory: sessionmaker[Session], policy: reminders.SweepPolicy,
                 batch_size: int = 200) -> None:
        super().__init__(session_factory)
        self._policy, self._batch = policy, batch_size

    @activity.defn(name=SWEEP_BATCH.name)
    def sweep_batch(self, req: SweepBatch) -> SweepBatchResult:
        limit = req.limit or self._batch
        after = reminders.Cursor(req.after.at, req.after.id) if req.after else None
        queued = 0
        with db_step(self._sessions) as session:
            found = reminders.due(session, req.category, now=req.now, policy=self._policy, after=after, limit=limit)
            if req.category == "policy_lapse":
                reminders.open_lapse_tasks(session, found, req.now)
            for r in found:
                for kind, who in r.recipients:
                    queued += outbox.enqueue(
                        session, dedupe_key=f"reminder:{r.category}:{r.item_id}:{r.cadence}:{kind}:{who}",
                        recipient_kind=kind, recipient=who, template=r.template, params=r.params,
                        workflow_id=r.workflow_id, at=req.now)
        last = found[-1].cursor if len(found) == limit else None
        return SweepBatchResult(category=req.category, due=len(found), queued=queued,
                                next=SweepCursor(at=last.at, id=last.id) if last else None)

    def all(self) -> list[Any]:
        return [self.sweep_batch]
