"""One activity, one transaction; errors that no retry can fix fail the activity at once.

A constraint violation, a value too long for its column or a float where money belongs will not
heal by waiting, so they become non-retryable ``BusinessRuleViolation``s the workflow sees
immediately. Everything else (PostgreSQL down, a lock timeout) is retried by Temporal. An agency's
business rejection is a refusal too (``agency_refusals``), and every activity writes its audit
entry one way (``append_audit``, ``audit_once``).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import audit
from db.models import Employee
from db.sealed_fields import open_row
from db.session import unit_of_work
from domain.actors import Actor
from domain.refusals import Refusal
from integrations.si_agency import AgencyRejected, AgencySubmission, SocialInsuranceAgency


@contextmanager
def db_step(factory: sessionmaker[Session]) -> Iterator[Session]:
    try:
        with unit_of_work(factory) as session:
            yield session
    except (IntegrityError, DataError) as exc:
        raise ApplicationError(f"{type(exc).__name__}: {str(exc.orig).splitlines()[0]}",
                               type=Refusal.BUSINESS_RULE_VIOLATION.type_name, non_retryable=True) from None
    except TypeError as exc:
        raise ApplicationError(str(exc), type=Refusal.BUSINESS_RULE_VIOLATION.type_name, non_retryable=True) from None


# How often a call to an outside office reports that its worker is alive (its step's heartbeat
# timeout, ``kernel.AGENCY_CALL``, is a few of these).
HEARTBEAT_EVERY_S = 5.0


@contextmanager
def heartbeating(every: float = HEARTBEAT_EVERY_S) -> Iterator[None]:
    """While a slow outside call blocks this activity's thread, a companion thread heartbeats: a
    worker that dies mid-call is noticed at the heartbeat timeout, not minutes later at the end of
    the start-to-close timeout. Outside an activity (a direct call in a test) it does nothing."""
    if not activity.in_activity():
        yield
        return
    stop, context = threading.Event(), contextvars.copy_context()

    def beat() -> None:
        while not stop.wait(every):
            try:
                context.run(activity.heartbeat)
            except (RuntimeError, TimeoutError):  # the worker is shutting down: its call ends with it
                return

    companion = threading.Thread(target=beat, name="heartbeat", daemon=True)
    companion.start()
    try:
        yield
    finally:
        stop.set()
        companion.join()


@contextmanager
def agency_refusals(refused: str, *, kind: Refusal = Refusal.AGENCY_REJECTED, details: bool = False) -> Iterator[None]:
    """An agency's business rejection inside: the refusal ``kind`` the workflow sees at once (no retry
    changes the agency's mind), ``"{refused}: {its reason}"``, with its code and reason as details
    when ``details``. The call heartbeats meanwhile (``heartbeating``)."""
    try:
        with heartbeating():
            yield
    except AgencyRejected as exc:
        extra = ({"code": exc.code, "reason": exc.reason},) if details else ()
        raise ApplicationError(f"{refused}: {exc.reason}", *extra, type=kind.type_name, non_retryable=True) from None


def append_audit(session: Session, actor: Actor, action: str, *, workflow_id: str | None, at: dt.datetime,
                 subject: str | None = None, before: Any = None, after: Any = None) -> None:
    """The audit entry of what an activity did, by ``actor`` (her login, role and request)."""
    audit.append(session, _entry(actor, action, workflow_id, subject, before, after), at=at)


def audit_once(session: Session, step: str, actor: Actor, action: str, *, workflow_id: str, at: dt.datetime,
               subject: str | None = None, before: Any = None, after: Any = None) -> None:
    """The audit entry of the case's ``step``, written once (the step's claim and the entry are one
    statement): a retry after the commit finds the step claimed and writes nothing."""
    audit.append_once(session, _entry(actor, action, workflow_id, subject, before, after), step=step, at=at)


def _entry(actor: Actor, action: str, workflow_id: str | None, subject: str | None, before: Any,
           after: Any) -> audit.AuditEntry:
    return audit.AuditEntry(actor=actor.user, actor_role=actor.role, action=action, workflow_id=workflow_id,
                            subject=subject, before=before, after=after, request_id=actor.request_id,
                            on_behalf_of=actor.on_behalf_of)


class DbActivities:
    """A group of activities on the database, each one transaction from the session factory."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory


class AgencyActivities(DbActivities):
    """A group of activities that also file with the social-insurance agency (or an office it fronts)."""

    def __init__(self, session_factory: sessionmaker[Session], agency: SocialInsuranceAgency) -> None:
        super().__init__(session_factory)
        self._agency = agency

    def _resident_id(self, employee_id: str) -> str:
        """Her resident ID number as the agency needs it ("" when none is on record: the agency refuses)."""
        with self._sessions() as session:
            row = session.execute(select(Employee.resident_id_sealed, Employee.resident_id_plain)
                                  .where(Employee.employee_id == employee_id)).first()
            return open_row(session, *row) if row is not None else ""

    def _file(self, refused: str, *, reference: str, employee_id: str, city: str, kind: str,
              effective_month: str) -> str:
        """A filing for her without a base or months (the housing fund, a transfer branch): the
        office's receipt number; its rejection is the refusal ``"{refused}: {reason}"``."""
        id_number = self._resident_id(employee_id)
        with agency_refusals(refused):
            receipt = self._agency.submit(AgencySubmission(
                reference=reference, employee_id=employee_id, resident_id_number=id_number, city=city, kind=kind,
                base=None, months=[], effective_month=effective_month))
        return receipt.number
