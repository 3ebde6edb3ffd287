"""The case processes as the API serves them: each kind, its workflow ids and its routes.

The web app finds a case's process from its id; a delegation's scope names processes and is held
to their routes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Process:
    kind: str  # the CaseKind: "maternity"
    ids: str  # its workflow ids' prefix: "maternity-leave-"
    api: str  # its routes' prefix: "/maternity-leaves"


PROCESSES = (
    Process("maternity", "maternity-leave-", "/maternity-leaves"),
    Process("offboarding", "offboarding-", "/offboardings"),
    Process("transfer", "transfer-", "/transfers"),
    Process("si_change", "si-change-", "/si-changes"),
    Process("non_compete", "non-compete-", "/non-competes"),
    Process("resignation", "resignation-", "/resignations"),
    Process("base_adjustment", "base-adjustment-", "/base-adjustments"),
)
BY_KIND = {p.kind: p for p in PROCESSES}


def process_of(workflow_id: str) -> Process | None:
    return next((p for p in PROCESSES if workflow_id.startswith(p.ids)), None)
