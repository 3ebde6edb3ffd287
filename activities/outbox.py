"""Writing notifications to the outbox from a workflow: the message models and the one write.

Each process registers its own ``notify`` activity (its name is part of recorded histories); all
of them write through ``write`` here, keyed by workflow id, step and recipient, so a retried
activity never queues a notification twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from activities.unit import db_step
from db import outbox


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


def write(session_factory: sessionmaker[Session], req: Notify) -> None:
    with db_step(session_factory) as session:
        for r in req.recipients:
            outbox.enqueue(session, dedupe_key=f"{req.workflow_id}:{req.step}:{r.kind}:{r.who}",
                           recipient_kind=r.kind, recipient=r.who, template=req.template,
                           params=req.params, workflow_id=req.workflow_id, at=req.at)
