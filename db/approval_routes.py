"""The route a decision follows on a day, and its approvers resolved to people from the directory.

A case calls this once, on its first day (and again with the same version when its facts change):
her line manager and department heads as they were then, each found as a login the directory lists.
Nobody signs her own case or checks her own work: such an approver, or one without an active login,
is replaced by the next one up, and failing that by any hr_manager, each replacement noted.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import ApprovalRouteVersion, Employee, OrgUnit, StaffMember
from db.organisation import head_of, managers_up
from domain.approval_routes import BUILT_IN, Approver, FieldValue, ResolvedRoute, ResolvedStep, Route, Signer, Step
from domain.roles import Role

FALLBACK = Role.HR_MANAGER


def route_in_force(session: Session, decision: str, on: dt.date, version: int | None = None) -> Route:
    """The version in force on ``on`` (or exactly ``version``, the one a case pinned); hrflow's
    built-in route until the company writes one."""
    query = select(ApprovalRouteVersion).where(ApprovalRouteVersion.decision == decision)
    if version is not None:
        query = query.where(ApprovalRouteVersion.version == version)
    else:
        query = query.where(ApprovalRouteVersion.effective_from <= on).order_by(
            ApprovalRouteVersion.effective_from.desc(), ApprovalRouteVersion.version.desc())
    row = session.scalars(query.limit(1)).first()
    if row is None:
        return BUILT_IN[decision]
    return Route(decision=decision, version=row.version, effective_from=row.effective_from, source=row.source,
                 steps=[Step.model_validate(s) for s in row.steps])


def login_of(session: Session, employee_id: str) -> StaffMember | None:
    """The active login that is this employee: linked to her, else the one whose e-mail is hers."""
    linked = session.scalars(select(StaffMember).where(StaffMember.employee_id == employee_id, StaffMember.active)
                             .order_by(StaffMember.user_id).limit(1)).first()
    if linked is not None:
        return linked
    her = session.get(Employee, employee_id)
    email = her.email if her is not None else None
    if not email:
        return None
    same = session.scalars(select(StaffMember).where(func.lower(StaffMember.email) == email.lower(),
                                                     StaffMember.employee_id.is_(None), StaffMember.active)
                           .limit(2)).all()
    return same[0] if len(same) == 1 else None


def signer_named(session: Session, user: str) -> Signer | None:
    """The active staff login ``user`` as an approver (a transfer, an add-sign), or None."""
    member = session.get(StaffMember, user)
    return as_signer(member, member.display_name) if member is not None and member.active else None


def as_signer(member: StaffMember, label: str) -> Signer:
    return Signer(role=member.role, user=member.user_id, employee_id=member.employee_id, label=label)


class _Resolver:
    def __init__(self, session: Session, *, subject: str, maker: str | None, on: dt.date) -> None:
        self.session, self.subject, self.maker, self.on = session, subject, maker, on
        self.notes: list[str] = []
        self.unit = session.scalar(select(Employee.unit_code).where(Employee.employee_id == subject))

    def step(self, step: Step) -> ResolvedStep:
        signers: list[Signer] = []
        for approver in step.approvers:
            found = self.approver(approver)
            if all(found.user != s.user or found.role != s.role for s in signers):
                signers.append(found)  # one person found twice signs once
        return ResolvedStep(name=step.name, mode=step.mode, signers=signers)

    def approver(self, a: Approver) -> Signer:
        if a.role is not None:
            return Signer(role=a.role.value, label=a.label())
        if a.person is not None:
            member = self.session.get(StaffMember, a.person)
            if member is not None and member.active and self._may_sign(member):
                return as_signer(member, a.label())
            return self._fallback(a, f"指定人员 {a.person} 无有效登录或为当事人/经办人 (named person {a.person}"
                                     " has no active login, or is the subject or the maker)")
        for employee_id in self._candidates(a):
            member = login_of(self.session, employee_id)
            if member is not None and self._may_sign(member):
                return as_signer(member, f"{a.label()}: {employee_id}")
        return self._fallback(a, f"{a.label()} 无可签批的人员 (nobody who may sign was found)")

    def _candidates(self, a: Approver) -> list[str]:
        """Whom the approver names, then those who stand in for each (up the chain or the tree)."""
        if a.line_manager is not None:
            return managers_up(self.session, self.subject, self.on)[a.line_manager - 1:]
        code = self.unit if a.department_head else a.head_of
        found: list[str] = []
        while code is not None and len(found) < 50:
            head = head_of(self.session, code)
            if head.head_employee_id is None or head.from_unit is None:
                break
            if head.head_employee_id != self.subject:
                found.append(head.head_employee_id)
            found += [m for m in managers_up(self.session, head.head_employee_id, self.on) if m not in found]
            from_unit = self.session.get_one(OrgUnit, head.from_unit)
            code = from_unit.parent_code
        return [e for e in found if e != self.subject]

    def _may_sign(self, member: StaffMember) -> bool:
        return member.employee_id != self.subject and member.user_id != self.maker

    def _fallback(self, a: Approver, why: str) -> Signer:
        self.notes.append(f"{why}；由人事经理代为审批 (any hr_manager signs instead)")
        return Signer(role=FALLBACK.value, label=f"{a.label()} → 人事经理 (hr_manager)")


def resolve(session: Session, route: Route, fields: dict[str, FieldValue], *, subject: str, maker: str | None,
            on: dt.date) -> ResolvedRoute:
    """The route's steps that hold for these fields, with their approvers as people on ``on``."""
    resolver = _Resolver(session, subject=subject, maker=maker, on=on)
    fields = {**fields, "department": resolver.unit or ""} if "department" not in fields else fields
    steps = [resolver.step(s) for s in route.steps_for(fields)]
    if not steps:  # conditions left no step: the decision still needs a checker
        steps = [resolver.step(BUILT_IN[route.decision].steps[0])]
        resolver.notes.append("规则条件未选中任何步骤，由人事经理复核 (no step of the route held; an hr_manager checks)")
    return ResolvedRoute(decision=route.decision, version=route.version, source=route.source, on=on, steps=steps,
                         notes=resolver.notes)
