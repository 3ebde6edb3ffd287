"""The reminder sweep: one page of due obligations at a time, resumed from a cursor per category.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from domain.contracts import ActivityRef

# What the sweep looks for, one category at a time (each with its own cursor).
CATEGORIES = ("approval_overdue", "maternity_return", "departure_filing", "non_compete_proof",
              "receivable_no_followup", "transfer_step_overdue", "policy_lapse")


class SweepCursor(BaseModel):
    at: dt.datetime | dt.date
    id: int


class SweepBatch(BaseModel):
    category: str
    now: dt.datetime
    after: SweepCursor | None = None
    limit: int | None = None  # None: the configured batch size


class SweepBatchResult(BaseModel):
    category: str
    due: int  # items found in this batch
    queued: int  # notifications newly queued (a rerun queues 0)
    next: SweepCursor | None  # None: the category is done


# The activities, by the names recorded in every history.
SWEEP_BATCH: ActivityRef[SweepBatch, SweepBatchResult] = ActivityRef("reminders.sweep_batch", SweepBatchResult)
