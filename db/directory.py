"""Who a staff login is as a person: the directory's word, never the token's.

A token names a login and a role. Whether that login is also an employee (and so the subject of
her own cases, which she may never decide on) is the directory's to say: the member's
``employee_id`` when an admin linked it, else the one employee whose e-mail is the member's own.
A login the directory does not list keeps what its token claims (a token minted by the CLI for a
machine or a test); a listed login's claim is never believed. A delegation lets one listed login
act for another for a while (``delegations_in_force``). A member placed in a unit works for the
people of that unit and the units under it (``api.scope``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Delegation, Employee, StaffMember
from db.sealed_fields import email_is


@dataclass(frozen=True)
class Listed:
    """A login the directory lists, the employee she is (None: not an employee), and whether it is
    still in use (a member who left, or was taken off, signs in no more)."""

    employee_id: str | None
    active: bool = True
    unit_code: str | None = None  # whose people she works for (None: the whole company)


def person_of(session: Session, user: str) -> Listed | None:
    """The directory's entry for ``user``, or None when it does not list her."""
    # its columns, not the entity: every request asks this, the API's most frequent read
    member = session.execute(select(StaffMember.employee_id, StaffMember.active, StaffMember.unit_code,
                                    StaffMember.email).where(StaffMember.user_id == user)).first()
    if member is None:
        return None
    if member.employee_id is not None:
        return Listed(member.employee_id, member.active, member.unit_code)
    if member.email:
        same_mail = session.scalars(select(Employee.employee_id)
                                    .where(email_is(session, member.email)).limit(2)).all()
        if len(same_mail) == 1:
            return Listed(same_mail[0], member.active, member.unit_code)
    return Listed(None, member.active, member.unit_code)


def delegations_in_force(session: Session, delegator: str, delegate: str, at: dt.datetime) -> list[Delegation]:
    """The delegations by which ``delegate`` may act for ``delegator`` at ``at``, latest first."""
    return list(session.scalars(select(Delegation).where(
        Delegation.delegator == delegator, Delegation.delegate == delegate, Delegation.revoked_at.is_(None),
        Delegation.starts_at <= at, Delegation.ends_at > at).order_by(Delegation.id.desc())))
