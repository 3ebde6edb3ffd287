"""Approver rules as data: who signs a decision, in which order, and when.

A route is a list of steps signed one after the other (依次). A step names its approvers (a role,
a named person, her line manager N levels up, the head of her department, or the head of a named
unit) and whether all of them must sign (会签, ``all``) or any one (或签, ``any``); a step may hold
only when the case's fields say so (an amount over a threshold, a kind of change, a department).
Routes are versioned and effective-dated like the policy catalogue; a case resolves the version in
force on its first day and keeps it (``activities.approval``), so a later edit or reorganisation
does not move its approvals.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from domain.roles import Role

Mode = Literal["all", "any"]
Op = Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le"]
FieldValue = Decimal | str | int


class Approver(BaseModel):
    """Exactly one of: a role (any member), a named login, her line manager ``line_manager``
    levels up (1 = her own), the head of her department, or the head of the unit ``head_of``."""

    role: Role | None = None
    person: str | None = Field(default=None, min_length=1, max_length=64)
    line_manager: int | None = Field(default=None, ge=1, le=10)
    department_head: bool = False
    head_of: str | None = Field(default=None, min_length=1, max_length=32)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        named = [self.role is not None, self.person is not None, self.line_manager is not None,
                 self.department_head, self.head_of is not None]
        if sum(named) != 1:
            raise ValueError("每位审批人须且只须写明一种：role、person、line_manager、department_head、head_of 之一"
                             " (each approver names exactly one of role, person, line_manager, department_head,"
                             " head_of)")
        return self

    def label(self) -> str:
        if self.role is not None:
            return f"角色 {self.role.value} (role {self.role.value})"
        if self.person is not None:
            return f"指定人员 {self.person} (named person {self.person})"
        if self.line_manager is not None:
            return f"上{self.line_manager}级直属上级 (line manager, {self.line_manager} up)"
        if self.department_head:
            return "所在部门负责人 (head of her department)"
        return f"{self.head_of} 负责人 (head of {self.head_of})"


class Condition(BaseModel):
    """A step holds only if the case's ``field`` compares to ``value`` so (all conditions of a step)."""

    field: str = Field(min_length=1, max_length=40)
    op: Op = "eq"
    value: FieldValue | list[str]

    def holds(self, fields: dict[str, FieldValue]) -> bool:
        if self.field not in fields:
            return False
        have, want = fields[self.field], self.value
        if self.op in ("in", "not_in"):
            inside = str(have) in (want if isinstance(want, list) else [str(want)])
            return inside if self.op == "in" else not inside
        if isinstance(want, list):
            return False
        if self.op in ("eq", "ne"):
            same = str(have) == str(want)
            return same if self.op == "eq" else not same
        try:
            a, b = Decimal(str(have)), Decimal(str(want))
        except ArithmeticError:
            return False
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[self.op]


class Step(BaseModel):
    name: str = Field(min_length=1, max_length=60)  # what the inbox calls it: "部门负责人审批"
    mode: Mode = "any"
    approvers: list[Approver] = Field(min_length=1, max_length=20)
    when: list[Condition] = Field(default_factory=list)


class Route(BaseModel):
    """One version of the route of a decision (``si_change.approve``)."""

    decision: str
    version: int = Field(ge=0)  # 0: hrflow's built-in route
    effective_from: dt.date
    source: str = Field(min_length=1, max_length=200)  # the company rule it writes down
    steps: list[Step] = Field(min_length=1, max_length=12)

    def steps_for(self, fields: dict[str, FieldValue]) -> list[Step]:
        return [s for s in self.steps if all(c.holds(fields) for c in s.when)]


# The fields each decision's conditions may read, and what they mean (the route editor refuses any other).
DECISIONS: dict[str, dict[str, str]] = {
    "si_change.approve": {
        "kind": "变更类型 (kind of change: enroll, stop, base_adjustment, back_payment)",
        "amount": "测算总额，元 (estimated total, yuan)",
        "city": "参保城市 (city insured in)",
        "department": "所在部门代码 (her unit code)",
    },
    "maternity.approve": {
        "days": "产假总天数 (days of leave in all)",
        "city": "参保城市 (city insured in)",
        "department": "所在部门代码 (her unit code)",
    },
    "offboarding.final": {
        "kind": "离职类型 (resignation, probation_resignation, termination, mutual_agreement)",
        "ground": "解除或终止的法律依据代码，如 art_40_3；辞职为空 (the legal ground's code, art_40_3; empty for a"
                  " resignation)",
        "amount": "经济补偿，元 (economic compensation, yuan)",
        "department": "所在部门代码 (her unit code)",
    },
}

# Until a company writes its own, each decision keeps hrflow's built-in route, the one role that
# decided before routes (an hr_manager may sign where an hr_specialist may: ``Signer.admits``).
BUILT_IN: dict[str, Route] = {
    "si_change.approve": Route(
        decision="si_change.approve", version=0, effective_from=dt.date(2000, 1, 1),
        source="hrflow 内置：一位人事经理复核 (built in: one hr_manager checks)",
        steps=[Step(name="人事经理复核 (HR manager check)", approvers=[Approver(role=Role.HR_MANAGER)])]),
    "maternity.approve": Route(
        decision="maternity.approve", version=0, effective_from=dt.date(2000, 1, 1),
        source="hrflow 内置：人事审批 (built in: HR decides)",
        steps=[Step(name="人事审批 (HR check)", approvers=[Approver(role=Role.HR_SPECIALIST)])]),
    "offboarding.final": Route(
        decision="offboarding.final", version=0, effective_from=dt.date(2000, 1, 1),
        source="hrflow 内置：人事经理终审 (built in: an hr_manager gives the final approval)",
        steps=[Step(name="人事经理终审 (HR manager final approval)", approvers=[Approver(role=Role.HR_MANAGER)])]),
}


# The roles that may also sign where a role is named: a manager does what her specialists do.
COVERS: dict[str, tuple[str, ...]] = {Role.HR_SPECIALIST.value: (Role.HR_MANAGER.value,)}


class Signer(BaseModel):
    """One resolved approver: a login (``user``) or, for a role, any member of ``role``."""

    role: str
    user: str | None = None
    employee_id: str | None = None  # the person a named login is, so she never signs her own case
    label: str  # how she was found: "上1级直属上级 E0102 (line manager, 1 up)"

    def admits(self, user: str, role: str, on_behalf_of: str | None) -> bool:
        """May this login (herself, or a delegate acting for the named one) sign for this approver?"""
        if self.user is not None:
            return self.user in (user, on_behalf_of)
        return role == self.role or role in COVERS.get(self.role, ())


class ResolvedStep(BaseModel):
    name: str
    mode: Mode
    signers: list[Signer] = Field(min_length=1)
    added_by: str | None = None  # an add-sign (加签): who asked for this step


class ResolvedRoute(BaseModel):
    """What a case pinned: the version it resolved, on which day, and its people."""

    decision: str
    version: int
    source: str
    on: dt.date
    steps: list[ResolvedStep]
    notes: list[str] = Field(default_factory=list)  # who could not be found, and who stood in
