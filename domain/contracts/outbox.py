"""A notice to people (roles, users, the employee), written to the outbox and delivered from there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from domain.contracts import ActivityRef


class Recipient(BaseModel):
    kind: str  # role, user, employee
    who: str


class Notify(BaseModel):
    workflow_id: str
    step: str  # with the recipient, the outbox dedupe key
    recipients: list[Recipient]
    template: str
    params: dict[str, Any] = Field(default_factory=dict)
    at: dt.datetime


# The activity, by the name recorded in every history.
NOTIFY: ActivityRef[Notify, None] = ActivityRef("case.notify", bookkeeping=True)
# Notices were once written by an activity of each process; recorded histories name them, so the
# one notify activity also answers to these names, and the processes that used one still call it.
MATERNITY_NOTIFY: ActivityRef[Notify, None] = ActivityRef("maternity.notify", bookkeeping=True)
NON_COMPETE_NOTIFY: ActivityRef[Notify, None] = ActivityRef("non_compete.notify", bookkeeping=True)
REPORT_NOTIFY: ActivityRef[Notify, None] = ActivityRef("report.notify", bookkeeping=True)
TRANSFER_NOTIFY: ActivityRef[Notify, None] = ActivityRef("transfer.notify", bookkeeping=True)
NOTIFY_ALIASES = tuple(ref.name for ref in (MATERNITY_NOTIFY, NON_COMPETE_NOTIFY, REPORT_NOTIFY, TRANSFER_NOTIFY))
