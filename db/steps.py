"""Idempotent activity steps, keyed by workflow id and step name and enforced by a primary key.

``claim_step`` inserts the marker first: a concurrent retry blocks on the key until the first
transaction ends, then sees the marker and gets the stored result back instead of writing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.base import table
from db.canonical import to_jsonable
from db.models import ActivityStep, Base


@dataclass(frozen=True)
class StepClaim:
    first_time: bool
    result: Any = None  # the stored result when the step had already run


def claim_step(session: Session, workflow_id: str, step: str) -> StepClaim:
    steps = table(ActivityStep)
    inserted = session.execute(
        insert(steps).values(workflow_id=workflow_id, step=step).on_conflict_do_nothing().returning(steps.c.step)
    ).first()
    if inserted is not None:
        return StepClaim(first_time=True)
    stored = session.scalar(
        select(ActivityStep.result).where(
            ActivityStep.workflow_id == workflow_id, ActivityStep.step == step
        )
    )
    return StepClaim(first_time=False, result=stored)


def record_result(session: Session, workflow_id: str, step: str, result: Any) -> None:
    steps = table(ActivityStep)
    session.execute(update(steps).where(steps.c.workflow_id == workflow_id, steps.c.step == step)
                    .values(result=to_jsonable(result)))


def insert_once(session: Session, model: type[Base], keys: list[Any], **values: Any) -> bool:
    """Insert the row unless a row with the same ``keys`` (a unique index) is there already, left
    by an earlier try of the same step: True when this call inserted it, so the step's other
    effects (an audit entry, a notice) happen once as well."""
    statement = insert(table(model)).values(**values).on_conflict_do_nothing(index_elements=keys)
    return session.execute(statement.returning(literal_column("1"))).first() is not None
