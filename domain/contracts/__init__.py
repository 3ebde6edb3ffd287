"""What workflows and activities exchange: each activity's name, its request and its result.

Workflows call activities by these names only (``workflows.kernel.run``) and never import the
activities layer, so workflow code loads no database or network code; the activities register
under the same names. A name is part of every recorded history: it never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out")


@dataclass(frozen=True)
class ActivityRef(Generic[In, Out]):
    """An activity as a workflow sees it: ``ActivityRef[OpenCase, None]("case.open")``.

    ``result`` is the type the payload converter decodes the answer into (a model, ``list[str]``,
    ``Decimal``...); None for an activity that answers nothing. ``bookkeeping``: a quick,
    idempotent write of the case's own records (no outside office, no mail), which the workflow
    runs as a local activity (``workflows.kernel.run``)."""

    name: str
    result: Any = None
    bookkeeping: bool = False
