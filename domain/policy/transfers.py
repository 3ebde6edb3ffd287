"""What a cross-province transfer of one insurance needs: conditions, materials, steps, limits.

The rules are national (a destination or origin province may add its own entry, which then wins,
destination first). Pension, medical and unemployment insurance and the housing fund follow the
person; work-injury and maternity insurance do not move (they restart at the new place), and asking
for their transfer raises ``NotTransferable`` citing the rule.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from domain.policy.catalogue import Catalogue, load_catalogue
from domain.policy.errors import NotTransferable, PolicyError, UnknownRule
from domain.policy.models import Condition, Material, RuleRef, Step, TransferRule
from domain.policy.regions import NATIONAL, normalise

TRANSFERABLE = ("pension", "medical", "unemployment", "housing_fund")

_KIND_NAMES = {
    "pension": "pension", "养老": "pension", "养老保险": "pension", "基本养老保险": "pension",
    "medical": "medical", "医疗": "medical", "医保": "medical", "医疗保险": "medical", "基本医疗保险": "medical",
    "unemployment": "unemployment", "失业": "unemployment", "失业保险": "unemployment",
    "housingfund": "housing_fund", "公积金": "housing_fund", "住房公积金": "housing_fund",
    "workinjury": "work_injury", "工伤": "work_injury", "工伤保险": "work_injury",
    "maternity": "maternity", "生育": "maternity", "生育保险": "maternity",
}


class TransferRequirements(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: str
    origin: str
    origin_zh: str
    destination: str
    destination_zh: str
    conditions: list[Condition]
    materials: list[Material]
    steps: list[Step]
    verified: bool
    rule: RuleRef


def transfer_kind(kind: str) -> str:
    """Normalise ``housing-fund``/``公积金``/... to the catalogue's kind, or ``UnknownRule``."""
    found = _KIND_NAMES.get(normalise(kind or ""))
    if found is None:
        raise UnknownRule(f"unknown transfer type {kind!r}; one of {', '.join(TRANSFERABLE)}",
                          field="type", rule="transfers")
    return found


def transfer_requirements(
    origin: str, destination: str, kind: str, on: dt.date, *, catalogue: Catalogue | None = None
) -> TransferRequirements:
    """Requirements for moving ``kind`` from ``origin`` to ``destination`` (province or city names)."""
    cat = catalogue or load_catalogue()
    src = cat.province(origin, field="origin")
    dst = cat.province(destination, field="destination")
    if src.code == dst.code:
        raise PolicyError(f"origin and destination are both {src.name_zh}: not a cross-province transfer",
                          field="destination", rule="transfers")
    normal = transfer_kind(kind)
    rule, owner = None, NATIONAL
    for region in (dst.code, src.code):
        rule = cat.find(region, "transfers", on, (normal,))
        if rule is not None:
            owner = region
            break
    if rule is None:
        rule = cat.require(NATIONAL, "transfers", on, (normal,), label=f"{normal} transfer rule")
    assert isinstance(rule, TransferRule)
    ref = cat.ref(rule, "transfers", owner)
    if not rule.transferable:
        raise NotTransferable(f"{normal} insurance does not transfer: {rule.note or ''}".strip(),
                              field="type", rule=rule.id)
    return TransferRequirements(
        kind=normal, origin=src.code, origin_zh=src.name_zh, destination=dst.code, destination_zh=dst.name_zh,
        conditions=list(rule.conditions), materials=list(rule.materials), steps=list(rule.steps),
        verified=rule.verified, rule=ref)
