"""Who manages whom on a given day, who heads a unit, and the checks that keep both a tree.

Approver rules ("her line manager", "two levels up", "the head of her department") read these;
a case resolves them on the day it starts, so a later reorganisation does not move its approvals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from db.models import Employee, ManagerAssignment, OrgUnit

MAX_DEPTH = 50  # no organisation is deeper; a longer walk is a loop the checks missed


def manager_on(session: Session, employee_id: str, on: dt.date) -> str | None:
    """Her line manager on ``on`` (None: nobody, or not yet registered then)."""
    return session.scalar(select(ManagerAssignment.manager_id).where(
        ManagerAssignment.employee_id == employee_id, ManagerAssignment.effective_from <= on,
        or_(ManagerAssignment.effective_to.is_(None), ManagerAssignment.effective_to > on)))


def managers_up(session: Session, employee_id: str, on: dt.date, levels: int = MAX_DEPTH) -> list[str]:
    """Her manager, her manager's manager, ... on ``on``, at most ``levels`` of them."""
    chain: list[str] = []
    current = employee_id
    while len(chain) < min(levels, MAX_DEPTH):
        manager = manager_on(session, current, on)
        if manager is None or manager in chain or manager == employee_id:
            break
        chain.append(manager)
        current = manager
    return chain


def record_manager(session: Session, employee_id: str, manager_id: str | None, effective_from: dt.date) -> None:
    """From ``effective_from`` on, ``manager_id`` manages her (None: nobody). The assignment open
    until then ends that day (one that would only have begun later is dropped); ``employees.manager_id``
    is always the newest assignment's manager."""
    current = session.scalar(select(ManagerAssignment).where(
        ManagerAssignment.employee_id == employee_id, ManagerAssignment.effective_to.is_(None)).with_for_update())
    if current is not None:
        if current.effective_from >= effective_from:
            session.delete(current)  # replaced before it began: it never applied
            session.flush()
        else:
            current.effective_to = effective_from
    session.add(ManagerAssignment(employee_id=employee_id, manager_id=manager_id, effective_from=effective_from))
    session.execute(update(Employee).where(Employee.employee_id == employee_id).values(manager_id=manager_id))
    session.flush()


def loop_through(session: Session, employee_id: str, manager_id: str, on: dt.date) -> list[str] | None:
    """The chain that would close a loop if ``manager_id`` managed her from ``on``: her manager's
    managers reach back to her. None when it would not."""
    chain = [manager_id, *managers_up(session, manager_id, on)]
    return [employee_id, *chain[:chain.index(employee_id) + 1]] if employee_id in chain else None


def current_assignment_start(session: Session, employee_id: str) -> dt.date | None:
    return session.scalar(select(ManagerAssignment.effective_from).where(
        ManagerAssignment.employee_id == employee_id, ManagerAssignment.effective_to.is_(None)))


@dataclass(frozen=True)
class Head:
    unit_code: str  # the unit asked about
    head_employee_id: str | None
    from_unit: str | None  # the unit whose head it is: the same, or the nearest above with a head


def head_of(session: Session, code: str) -> Head:
    """The head of a unit, or of the nearest unit above it that has one (a unit without its own
    head is led from above)."""
    current: str | None = code
    for _ in range(MAX_DEPTH):
        if current is None:
            break
        unit = session.get(OrgUnit, current)
        if unit is None:
            break
        if unit.head_employee_id is not None:
            return Head(code, unit.head_employee_id, unit.code)
        current = unit.parent_code
    return Head(code, None, None)


def ancestors(session: Session, code: str) -> list[str]:
    """The units above ``code``, nearest first."""
    found: list[str] = []
    unit = session.get(OrgUnit, code)
    while unit is not None and unit.parent_code is not None and unit.parent_code not in found \
            and len(found) < MAX_DEPTH:
        found.append(unit.parent_code)
        unit = session.get(OrgUnit, unit.parent_code)
    return found


def within(session: Session, code: str) -> list[str]:
    """``code`` and every unit below it: a head office with its branches and their departments."""
    tree = select(OrgUnit.code).where(OrgUnit.code == code).cte("tree", recursive=True)
    tree = tree.union(select(OrgUnit.code).join(tree, OrgUnit.parent_code == tree.c.code))
    return list(session.scalars(select(tree.c.code)))
