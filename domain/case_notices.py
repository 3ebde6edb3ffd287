"""Which steps of a case the employee is told of, in her words (Chinese first, English second).

Seed 002 asks that she see each step without asking: sent to the agency, in progress (each office
step with its expected date), done, refused, returned, approved, rejected, revoked. A task opened
for a person or a role is told to them too, so nobody has to poll the inbox.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LABELS_FILE = Path(__file__).with_name("case_notices.yaml")


@cache
def _labels() -> tuple[dict[str, tuple[str, str]], dict[str, dict[str, tuple[str, str]]]]:
    """The texts (data, beside the notice templates): each process's name, and per process the
    stages she is told of, as (zh, en)."""
    doc = yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))
    kinds = {kind: (t["zh"], t["en"]) for kind, t in doc["kinds"].items()}
    stages = {kind: {stage: (t["zh"], t["en"]) for stage, t in by_stage.items()} for kind, by_stage in doc["stages"].items()}
    return kinds, stages


def kind_labels() -> dict[str, tuple[str, str]]:
    return _labels()[0]


def employee_stages() -> dict[str, dict[str, tuple[str, str]]]:
    """(kind, stage) -> what she is told, zh and en. A stage not listed is not hers to hear of."""
    return _labels()[1]


def stage_notice(kind: str, stage: str, previous: str | None, details: dict[str, Any]) -> dict[str, Any] | None:
    """The parameters of her notice for this stage change, or None when there is none to send: a
    new stage she hears of, or a transfer's next office step (with its expected date)."""
    kind_zh, kind_en = kind_labels().get(kind, (kind, kind))
    if kind == "transfer" and details.get("step"):
        step, due, branch = details["step"], details.get("due"), details.get("branch")
        return {"kind_zh": kind_zh, "kind_en": kind_en,
                "label_zh": f"{branch}：{step} 办理中" + (f"，预计 {due} 前完成" if due else ""),
                "label_en": f"{branch}: {step} in progress" + (f", expected by {due}" if due else "")}
    labels = employee_stages().get(kind, {}).get(stage)
    if labels is None or stage == previous:
        return None
    return {"kind_zh": kind_zh, "kind_en": kind_en, "label_zh": labels[0], "label_en": labels[1]}
