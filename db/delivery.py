"""Delivering the outbox: plan each notification's deliveries, claim the due ones, record each try.

- *Plan*: a pending notification becomes one delivery per address: the e-mail of each person it
  reaches (a user, an employee, every active member of a role at the addressed level), her WeCom
  or Feishu when they are configured, and the role's group robot, if one is configured. In-app reading needs no delivery row.
- *Claim*: due deliveries are taken with ``FOR UPDATE SKIP LOCKED`` and leased (status
  ``sending``), so two relays never send the same row; a relay that dies mid-send leaves a lease
  that expires and the row is tried again (with the same Message-ID, so mail servers can drop
  the copy).
- *Record*: every try is a ``delivery_attempts`` row; a failure backs off exponentially, and a
  permanent failure or the last attempt marks the delivery ``failed`` for an operator to see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import Delivery, DeliveryAttempt, Employee, Notification, StaffMember
from domain.roles import parse_role_address

LEASE = dt.timedelta(minutes=5)
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_WAIT = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Address:
    channel: str  # email, webhook
    address: str  # an e-mail address, or "role:<role>" for the role's group robot
    language: str
    person: str | None = None  # whose address it is: a staff login or an employee number


@dataclass(frozen=True)
class Due:
    """A claimed delivery with what it must say."""

    id: int
    attempt: int
    channel: str
    address: str
    language: str
    notification_id: int
    template: str
    params: dict[str, Any]
    workflow_id: str | None
    person: str | None = None


def addresses(session: Session, n: Notification, robots: set[str], *, ims: tuple[str, ...] = (),
              sms: bool = False) -> list[Address]:
    """Where ``n`` goes: each person's e-mail, her account on each configured IM (``wecom``,
    ``feishu``: its user id is her login or employee number), the role's group robot, and, with
    ``sms``, a text to an employee whom neither e-mail nor an IM reaches but her mobile does."""
    people: list[tuple[str, str | None, str]] = []  # person, e-mail, language
    robot = None
    if n.recipient_kind == "employee":
        emp = session.get(Employee, n.recipient)
        people = [(emp.employee_id, emp.email, emp.language)] if emp is not None else []
        if sms and emp is not None and emp.mobile and not emp.email and not ims:
            return [Address("sms", emp.mobile, emp.language, emp.employee_id)]
    elif n.recipient_kind == "user":
        member = session.get(StaffMember, n.recipient)
        people = [(member.user_id, member.email, member.language)] if member is not None and member.active else []
    else:
        role, level = parse_role_address(n.recipient)
        robot = f"role:{role}" if role in robots else None
        people = [(m.user_id, m.email, m.language) for m in session.scalars(
            select(StaffMember).where(StaffMember.role == role, StaffMember.level == level, StaffMember.active)
            .order_by(StaffMember.user_id))]
    found = [Address("email", email, lang, person) for person, email, lang in people if email]
    for im in ims:
        found += [Address(im, person, lang, person) for person, _, lang in people]
    if robot:
        found.append(Address("webhook", robot, "zh"))
    return found


def plan(session: Session, *, now: dt.datetime, robots: set[str], ims: tuple[str, ...] = (), sms: bool = False,
         limit: int = 200) -> int:
    """Turn up to ``limit`` pending notifications into deliveries; returns deliveries created."""
    pending = session.scalars(select(Notification).where(Notification.status == "pending")
                              .order_by(Notification.created_at, Notification.id).limit(limit)
                              .with_for_update(skip_locked=True)).all()
    created = 0
    for n in pending:
        for a in addresses(session, n, robots, ims=ims, sms=sms):
            created += session.execute(
                insert(Delivery).values(notification_id=n.id, channel=a.channel, address=a.address,
                                        language=a.language, person=a.person, next_attempt_at=now)
                .on_conflict_do_nothing().returning(Delivery.id)).first() is not None
        n.status = "planned"
    return created


def claim(session: Session, *, now: dt.datetime, limit: int = 50) -> list[Due]:
    """Lease up to ``limit`` due deliveries to this relay (commit before sending)."""
    due_ids = (select(Delivery.id).where(Delivery.status.in_(("pending", "sending")), Delivery.next_attempt_at <= now)
               .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit).with_for_update(skip_locked=True))
    leased = session.execute(
        update(Delivery).where(Delivery.id.in_(due_ids.scalar_subquery()))
        .values(status="sending", attempts=Delivery.attempts + 1, next_attempt_at=now + LEASE)
        .returning(Delivery.id, Delivery.attempts, Delivery.channel, Delivery.address, Delivery.language,
                   Delivery.notification_id, Delivery.person)).all()
    notes = {n.id: n for n in session.scalars(select(Notification).where(
        Notification.id.in_([r.notification_id for r in leased])))}
    return [Due(r.id, r.attempts, r.channel, r.address, r.language, r.notification_id,
                notes[r.notification_id].template, notes[r.notification_id].params or {},
                notes[r.notification_id].workflow_id, r.person) for r in sorted(leased, key=lambda r: r.id)]


SMS_LIMITS = ((dt.timedelta(minutes=1), 1), (dt.timedelta(hours=1), 5), (dt.timedelta(days=1), 10))


def sms_turn(session: Session, due: Due, now: dt.datetime) -> dt.datetime | None:
    """When the text ``due`` may go, if not now: at most one a minute, five an hour and ten a day to
    a number (the carriers' usual limits). Relays take their turns one at a time per number (an
    advisory lock), and a text that may go is stamped ``sent_at`` at once, so a parallel relay
    counts it while it is being sent."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"sms:{due.address}"})
    for window, most in SMS_LIMITS:
        sent = session.scalars(select(Delivery.sent_at).where(
            Delivery.channel == "sms", Delivery.address == due.address, Delivery.id != due.id,
            Delivery.status.in_(("sent", "sending")), Delivery.sent_at > now - window)
            .order_by(Delivery.sent_at.desc()).limit(most)).all()
        if len(sent) >= most and sent[-1] is not None:
            return sent[-1] + window
    session.execute(update(Delivery).where(Delivery.id == due.id).values(sent_at=now))
    return None


def defer(session: Session, due: Due, until: dt.datetime) -> None:
    """Put a claimed delivery back until ``until`` without counting the try (a limit, not a failure)."""
    session.execute(update(Delivery).where(Delivery.id == due.id, Delivery.status == "sending")
                    .values(status="pending", attempts=Delivery.attempts - 1, next_attempt_at=until))


def backoff(attempt: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, ... at most an hour between tries."""
    wait: dt.timedelta = FIRST_RETRY * 2 ** (attempt - 1)  # ``2 ** int`` is typed Any: a negative power is a float
    return min(wait, LONGEST_WAIT)


def record(session: Session, due: Due, *, now: dt.datetime, error: str | None, permanent: bool,
           max_attempts: int) -> str:
    """Store the try's outcome; returns the delivery's new status."""
    values: dict[str, dt.datetime | str | None]
    if error is None:
        status, values = "sent", {"sent_at": now, "last_error": None}
    elif permanent or due.attempt >= max_attempts:
        status, values = "failed", {"last_error": error}
    else:
        status, values = "pending", {"last_error": error, "next_attempt_at": now + backoff(due.attempt)}
    session.execute(update(Delivery).where(Delivery.id == due.id, Delivery.status == "sending")
                    .values(status=status, **values))
    session.execute(insert(DeliveryAttempt).values(delivery_id=due.id, attempt=due.attempt, at=now,
                                                   outcome="sent" if error is None else "error", detail=error)
                    .on_conflict_do_nothing())
    return status
