"""The decisions an e-mailed link may carry: a yes or a no on one task, never one that needs a figure.

Keyed by the case's process and the task's purpose (its key without the step: ``approve-m3`` is
``approve``). A back-payment's approval needs the checker to type the total she confirms, so an
enrollment change is linkable only when it is not a back-payment (``db.action_links`` sends no
link for one, and the link page refuses one all the same).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LinkChoice:
    name: str  # "approve", "reject": the button, and what the link records
    action: str  # the API's action on the case: its path after the case id
    body: dict[str, Any] = field(default_factory=dict)  # fixed fields of the action's body
    needs_reason: bool = False  # a reason is written on the confirmation page


APPROVE, REJECT = LinkChoice("approve", "approve"), LinkChoice("reject", "reject", needs_reason=True)
CHOICES: dict[tuple[str, str], tuple[LinkChoice, ...]] = {
    ("maternity", "approve"): (APPROVE, REJECT),
    ("si_change", "approve"): (APPROVE, REJECT),
    ("maternity", "extension"): (LinkChoice("approve", "extensions-decision", {"approve": True}),
                                 LinkChoice("reject", "extensions-decision", {"approve": False}, needs_reason=True)),
    ("offboarding", "withdrawal"): (LinkChoice("approve", "withdrawal-decision", {"accept": True}),
                                    LinkChoice("reject", "withdrawal-decision", {"accept": False}, needs_reason=True)),
}
_STEP = re.compile(r"-[a-z]*\d+$")


def purpose_of(task_key: str) -> str:
    return _STEP.sub("", task_key)


def choices_for(kind: str, task_key: str) -> tuple[LinkChoice, ...]:
    """What a link on this task may decide; empty: the task is decided in the web app only."""
    return CHOICES.get((kind, purpose_of(task_key)), ())
