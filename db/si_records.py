"""The checks of an enrollment change that need her records: the employee, her ID number, a second
enrollment in the same city, a competing open change. The API runs them before a case starts and
the case's first activity runs them again when it starts (or is corrected).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Employee, SiChange, SiEnrollment
from domain.contracts.si_change import ChangeFacts
from domain.identity import InvalidResidentId, parse_resident_id
from domain.si_change import ChangeKind, ChangeRefused

# The stages of a change that is still open (at most one per employee and city).
OPEN_STAGES = ("submitted", "approved", "executing", "rejected", "agency_rejected")


def validate_against_records(session: Session, workflow_id: str, facts: ChangeFacts) -> Employee:
    """The checks that need the database: the employee, the ID number, duplicate enrollments."""
    employee = session.get(Employee, facts.employee_id)
    if employee is None:
        raise ChangeRefused("employee_id", "employee_exists", f"no employee {facts.employee_id}")
    try:
        parse_resident_id(employee.resident_id_number)
    except InvalidResidentId as exc:
        raise ChangeRefused("resident_id_number", f"resident_id_{exc.part}",
                            f"the employee's resident ID number is wrong: {exc}") from None
    active = session.scalar(select(SiEnrollment).where(
        SiEnrollment.employee_id == facts.employee_id, SiEnrollment.city == facts.city,
        SiEnrollment.status == "active"))
    if facts.kind in (ChangeKind.ENROLLMENT, ChangeKind.BACK_PAYMENT) and active is not None:
        raise ChangeRefused("city", "no_second_active_enrollment",
                            f"{facts.employee_id} is already enrolled in {facts.city}"
                            f" since {active.since_month}")
    if facts.kind in (ChangeKind.STOP, ChangeKind.BASE_ADJUSTMENT) and active is None:
        raise ChangeRefused("city", "active_enrollment_required",
                            f"{facts.employee_id} has no active enrollment in {facts.city}")
    competing = session.scalar(select(SiChange.workflow_id).where(
        SiChange.employee_id == facts.employee_id, SiChange.city == facts.city,
        SiChange.stage.in_(OPEN_STAGES), SiChange.workflow_id != workflow_id))
    if competing is not None:
        raise ChangeRefused("employee_id", "one_open_change_per_city",
                            f"change {competing} for {facts.employee_id} in {facts.city} is still open")
    return employee
