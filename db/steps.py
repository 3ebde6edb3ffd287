"""Idempotent activity steps, keyed by workflow id and step name and enforced by a primary key.

``claim_step`` inserts the marker first: a concurrent retry blocks on the key until the first
transaction ends, then sees the marker and gets the stored result back instead of writing again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.base import table
from db.canonical import to_jsonable
from db.models import ActivityStep, Base


@dataclass(frozen=True)
class StepClaim:
    first_time: bool
    result: Any = None  # the stored result when the step had already run


_STEPS = table(ActivityStep)
# Built once: every database step of every case claims its step first.
_CLAIM = insert(_STEPS).on_conflict_do_nothing().returning(_STEPS.c.step)  # its values are the parameters
_STORED = select(_STEPS.c.result).where(_STEPS.c.workflow_id == bindparam("workflow_id"),
                                        _STEPS.c.step == bindparam("step"))


def claim_step(session: Session, workflow_id: str, step: str) -> StepClaim:
    key = {"workflow_id": workflow_id, "step": step}
    if session.execute(_CLAIM, key).first() is not None:
        return StepClaim(first_time=True)
    return StepClaim(first_time=False, result=session.scalar(_STORED, key))


def record_result(session: Session, workflow_id: str, step: str, result: Any) -> None:
    steps = table(ActivityStep)
    session.execute(update(steps).where(steps.c.workflow_id == workflow_id, steps.c.step == step)
                    .values(result=to_jsonable(result)))


def insert_once(session: Session, model: type[Base], keys: list[Any], **values: Any) -> bool:
    """Insert the row unless a row with the same ``keys`` (a unique index) is there already, left
    by an earlier try of the same step: True when this call inserted it, so the step's other
    effects (an audit entry, a notice) happen once as well."""
    return session.execute(_insert_once(model, tuple(k.key for k in keys)), values).first() is not None


@functools.cache
def _insert_once(model: type[Base], keys: tuple[str, ...]) -> Any:
    """The statement, built once per table and keys (by name): its values are the parameters."""
    return insert(table(model)).on_conflict_do_nothing(index_elements=list(keys)).returning(literal_column("1"))
