"""How a person proves who she is to the web app: one interface, a development method today.

``SignInMethod`` is all the pages know: the people it may offer (for a chooser) and the identity a
completed sign-in vouches for. ``DevSignIn`` (``HRFLOW_DEV_SIGN_IN=true``, which ``hrflow dev``
sets) offers everyone in the staff directory and every registered employee, and signs in as the one
chosen, after looking her up again: a posted role is never believed. Single sign-on (``api.web.sso``)
looks the login its provider vouches for up the same way (``directory_identity``).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from api.transactions import transact
from api.web.session import Identity
from db.models import Employee, StaffMember
from domain.roles import Role


class SignInMethod(Protocol):
    async def people(self, request: Request) -> list[Identity]: ...

    async def complete(self, request: Request, choice: str) -> Identity | None: ...


def _key(who: Identity) -> str:
    return f"{who.role.value}:{who.user}"


class DevSignIn:
    """Sign in as anyone registered: for a development machine and its demo company only."""

    async def people(self, request: Request) -> list[Identity]:
        def work(session: Session) -> list[Identity]:
            staff = [Identity(user=m.user_id, role=Role(m.role), employee_id=m.employee_id,
                              display_name=m.display_name, unit_code=m.unit_code)
                     for m in session.scalars(select(StaffMember).where(StaffMember.active)
                                              .order_by(StaffMember.role, StaffMember.level, StaffMember.user_id))]
            employees = [Identity(user=e.employee_id, role=Role.EMPLOYEE, employee_id=e.employee_id,
                                  display_name=f"{e.name}（{e.department}）")
                         for e in session.scalars(select(Employee).where(Employee.employment_status != "departed")
                                                  .order_by(Employee.employee_id).limit(200))]
            return staff + employees

        return await transact(request, work)

    async def complete(self, request: Request, choice: str) -> Identity | None:
        """The person chosen, as the directory has her now: a posted role is never believed."""
        role, _, user = choice.partition(":")
        who = await transact(request, lambda session: directory_identity(session, user))
        return who if who is not None and who.role.value == role else None


def directory_identity(session: Session, login: str) -> Identity | None:
    """Who ``login`` is in hrflow's directory now: an active staff login (a line manager who signs
    may have the employee role), else the number of an employee who has not left; None otherwise."""
    m = session.get(StaffMember, login)
    if m is not None:
        return None if not m.active else Identity(
            user=m.user_id, role=Role(m.role), employee_id=m.employee_id, display_name=m.display_name,
            unit_code=m.unit_code)
    e = session.get(Employee, login)
    return None if e is None or e.employment_status == "departed" else Identity(
        user=e.employee_id, role=Role.EMPLOYEE, employee_id=e.employee_id, display_name=e.name)


class NoSignIn:
    """No method configured: nobody can sign in to the pages (the API's tokens still work)."""

    async def people(self, request: Request) -> list[Identity]:
        return []

    async def complete(self, request: Request, choice: str) -> Identity | None:
        return None


def method_for(dev: bool) -> SignInMethod:
    return DevSignIn() if dev else NoSignIn()


choice_key = _key
