"""Whom a staff login works for. A member the directory places in a unit (``StaffMember.unit_code``,
a branch's HR in her branch) sees, starts and decides the cases of the people of that unit and of
the units under it, and no one else's except where an approver route names her; a member placed
nowhere works for the whole company. The rule holds during a database outage too: the unit cannot
be looked up then, so a placed login reads no case at all (503) rather than every case.
Employees see only their own cases (``api.routes.cases``), whatever this module says.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import QueryableAttribute, Session
from starlette.requests import Request

from api.auth import Principal
from api.errors import ApiError
from api.transactions import transact
from db import organisation
from db.models import Employee
from domain.roles import STAFF

S = TypeVar("S", bound=Select[Any])


def placed(principal: Principal) -> bool:
    """Is she staff working for one unit's people rather than the whole company's?"""
    return principal.role in STAFF and principal.unit is not None


def units(session: Session, principal: Principal) -> list[str] | None:
    """The codes of her unit and those under it; None: she works for the whole company."""
    if not placed(principal):
        return None
    assert principal.unit is not None
    return organisation.within(session, principal.unit)  # a unit since removed: none


def people(session: Session, principal: Principal) -> Select[Any] | None:
    """The employee numbers she works for, as a subquery; None: everyone."""
    hers = units(session, principal)
    return None if hers is None else select(Employee.employee_id).where(Employee.unit_code.in_(hers))


def limit(stmt: S, session: Session, principal: Principal, employee_column: QueryableAttribute[Any]) -> S:
    """``stmt`` kept to the rows of the people she works for."""
    hers = people(session, principal)
    return stmt if hers is None else stmt.where(employee_column.in_(hers))


def covers(session: Session, principal: Principal, employee_id: str | None) -> bool:
    hers = people(session, principal)
    if hers is None:
        return True
    return employee_id is not None and session.scalar(hers.where(Employee.employee_id == employee_id)) is not None


def require_covered(session: Session, principal: Principal, employee_id: str, field: str = "employee_id") -> None:
    """422 naming ``field`` when she does not work for this employee (a case she may not start)."""
    if not covers(session, principal, employee_id):
        raise ApiError(422, "validation_failed", [{
            "field": field, "rule": "within_your_unit",
            "message": f"员工 {employee_id} 不属于您负责的组织单位 {principal.unit} 及其下属单位"
                       f" ({employee_id} is not among the people of unit {principal.unit}, whom you work for)"}])


async def check_start(request: Request, principal: Principal, employee_id: str) -> None:
    """Before a case starts: a placed member starts one only for her people (422 naming employee_id)."""
    if placed(principal):
        await transact(request, lambda session: require_covered(session, principal, employee_id))


def outside_unit(principal: Principal, unit_code: str | None) -> tuple[str, str]:
    """Why a placed member may not put someone in ``unit_code`` (Chinese, English), given her units."""
    if unit_code is None:
        return (f"须填写组织单位：您负责 {principal.unit} 及其下属单位的员工",
                f"name the unit: you work for the people of {principal.unit} and the units under it")
    return (f"组织单位 {unit_code} 不在您负责的 {principal.unit} 及其下属单位内",
            f"unit {unit_code} is not {principal.unit} or a unit under it, whose people you work for")


def require_unit(session: Session, principal: Principal, unit_code: str | None, field: str = "unit_code") -> None:
    """422 naming ``field`` when a placed member would register someone outside her units."""
    hers = units(session, principal)
    if hers is not None and unit_code not in hers:
        zh, en = outside_unit(principal, unit_code)
        raise ApiError(422, "validation_failed", [{"field": field, "rule": "within_your_unit",
                                                   "message": f"{zh} ({en})"}])
