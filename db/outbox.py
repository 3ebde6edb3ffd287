"""The notification outbox: a process writes what must be said to whom; delivery reads it later.

Each row has a dedupe key (workflow id + step + recipient), so a retried activity never queues the
same notification twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.base import table
from db.canonical import to_jsonable
from db.models import Notification

_NOTIFICATIONS = table(Notification)
# Built once (a case's steps queue her notices): its values are the parameters.
_ENQUEUE = (insert(_NOTIFICATIONS).on_conflict_do_nothing(index_elements=[_NOTIFICATIONS.c.dedupe_key])
            .returning(_NOTIFICATIONS.c.id))


def enqueue(session: Session, *, dedupe_key: str, recipient_kind: str, recipient: str, template: str,
            params: dict[str, Any], workflow_id: str | None, at: dt.datetime) -> bool:
    row = session.execute(_ENQUEUE, {
        "dedupe_key": dedupe_key, "recipient_kind": recipient_kind, "recipient": recipient, "template": template,
        "params": to_jsonable(params), "workflow_id": workflow_id, "created_at": at}).first()
    return row is not None
