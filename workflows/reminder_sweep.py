"""The daily reminder sweep, started by a Temporal Schedule: overdue approvals (escalating), returns
from maternity leave, post-departure filings, non-compete proofs, idle receivables, transfer
steps past their statutory limit, and policy figures (contribution bases, next year's holiday
arrangement) that places where employees are insured are about to be without.

Categories run side by side, each in bounded batches read in key order, so the sweep's cost grows
with what is due. Every reminder is keyed by item, cadence and recipient in the outbox: a rerun on
the same day (a retry, a manual trigger) queues nothing twice. A very long sweep continues as new
with its cursors.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contracts.reminders import CATEGORIES, SWEEP_BATCH, SweepBatch, SweepBatchResult, SweepCursor

from workflows import kernel

LAPSE = "policy_lapse"  # figures about to lapse (domain.policy.lapses): HR admins enter the new notice


class SweepRequest(BaseModel):
    """Empty from the schedule. A continued run carries where each category stopped."""

    now: dt.datetime | None = None  # the sweep's instant, fixed for all its batches
    categories: list[str] = Field(default_factory=lambda: list(CATEGORIES))
    cursors: dict[str, SweepCursor] = Field(default_factory=dict)
    due: dict[str, int] = Field(default_factory=dict)
    queued: dict[str, int] = Field(default_factory=dict)


class SweepResult(BaseModel):
    day: str
    due: dict[str, int]
    queued: dict[str, int]


@workflow.defn(name="ReminderSweep")
class ReminderSweepWorkflow:
    def __init__(self) -> None:
        self.req = SweepRequest()
        self.remaining: list[str] = []

    @workflow.run
    async def run(self, req: SweepRequest) -> SweepResult:
        self.req = req.model_copy(update={"now": req.now or workflow.now()})
        self.remaining = list(req.categories)
        if LAPSE in self.remaining and not workflow.patched("policy-lapse-watch"):
            self.remaining.remove(LAPSE)  # a sweep recorded before the lapse watch existed
        await asyncio.gather(*(self._category(c) for c in list(self.remaining)))
        if self.remaining:  # history is long: carry on in a fresh run from the cursors
            workflow.continue_as_new(self.req.model_copy(update={"categories": self.remaining}))
        day = f"{self._now():%Y-%m-%d}"
        workflow.set_current_details(f"sweep of {day}: " + ", ".join(
            f"{c} {self.req.due.get(c, 0)} due / {self.req.queued.get(c, 0)} new" for c in CATEGORIES))
        return SweepResult(day=day, due=dict(self.req.due), queued=dict(self.req.queued))

    async def _category(self, category: str) -> None:
        while True:
            result: SweepBatchResult = await kernel.run(
                SWEEP_BATCH,
                SweepBatch(category=category, now=self._now(), after=self.req.cursors.get(category)),
                summary=f"{category} after {self.req.cursors.get(category)}")
            self.req.due[category] = self.req.due.get(category, 0) + result.due
            self.req.queued[category] = self.req.queued.get(category, 0) + result.queued
            if result.next is None:
                self.req.cursors.pop(category, None)
                self.remaining.remove(category)
                return
            self.req.cursors[category] = result.next
            if workflow.info().is_continue_as_new_suggested():
                return

    def _now(self) -> dt.datetime:
        assert self.req.now is not None
        return self.req.now.astimezone(kernel.CHINA)

    @workflow.query
    def progress(self) -> SweepRequest:
        return self.req
