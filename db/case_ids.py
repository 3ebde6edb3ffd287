"""Readable, stable workflow ids: ``si-change-E1001-3``, the third such case of that employee.

The id is tied to the API request id, so a client that retries a request (same ``X-Request-ID``)
gets the same id back, and Temporal's ``USE_EXISTING`` conflict policy returns the running case
instead of starting a second one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import CaseRequest, CaseSequence


def known(session: Session, request_id: str) -> str | None:
    """The case an earlier request with this id opened, if any."""
    return session.scalar(select(CaseRequest.workflow_id).where(CaseRequest.request_id == request_id))


def allocate(session: Session, prefix: str, request_id: str) -> str:
    known_case = known(session, request_id)
    if known_case is not None:
        return known_case
    n = session.execute(
        insert(CaseSequence).values(prefix=prefix, last=1)
        .on_conflict_do_update(index_elements=[CaseSequence.prefix], set_={"last": CaseSequence.last + 1})
        .returning(CaseSequence.last)
    ).scalar_one()
    workflow_id = f"{prefix}-{n}"
    session.add(CaseRequest(request_id=request_id, workflow_id=workflow_id))
    session.flush()
    return workflow_id
