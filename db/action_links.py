"""E-mailed decision links: issued once per delivery, opened by their text, used once.

A link's text is ``<id>.<mac>``, the mac an HMAC-SHA256 of the id and the person under the
deployment's secret, so a retried delivery carries the same link and a guessed or altered one
matches no row. Using a link is a claim (``used_at`` set where it was empty), made before the
decision is sent and given back if the decision was refused, so two clicks decide once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.delivery import backoff
from db.models import ActionLink, ApprovalTask, Case, Delivery, SiChange
from domain.constant_time import same
from domain.link_decisions import LinkChoice, choices_for


@dataclass(frozen=True)
class OpenLink:
    id: int
    workflow_id: str
    task_key: str
    person: str
    kind: str
    expires_at: dt.datetime
    used_at: dt.datetime | None
    used_choice: str | None
    task_open: bool
    choices: tuple[LinkChoice, ...]
    back_payment: bool  # its total must be typed on the case page: the link decides nothing


def _mac(secret: str, link_id: int, person: str) -> str:
    return hmac.new(secret.encode(), f"action-link:{link_id}:{person}".encode(), hashlib.sha256).hexdigest()[:40]


@dataclass(frozen=True)
class Issued:
    id: int
    text: str  # what the link's address ends with
    choices: tuple[LinkChoice, ...]


def issue(session: Session, *, secret: str, delivery_id: int, workflow_id: str, task_key: str, person: str,
          now: dt.datetime, lifetime: dt.timedelta) -> Issued | None:
    """The link of this delivery (the same one when the delivery is tried again); None when the
    task is not decided by link."""
    kind = session.scalar(select(Case.kind).where(Case.workflow_id == workflow_id))
    choices = choices_for(kind, task_key) if kind is not None else ()
    if not choices or _back_payment(session, workflow_id):
        return None
    session.execute(insert(ActionLink).values(
        delivery_id=delivery_id, workflow_id=workflow_id, task_key=task_key, person=person, created_at=now,
        expires_at=now + lifetime).on_conflict_do_nothing(index_elements=[ActionLink.delivery_id]))
    link = session.scalars(select(ActionLink).where(ActionLink.delivery_id == delivery_id)).one()
    return Issued(link.id, f"{link.id}.{_mac(secret, link.id, link.person)}", choices)


def _back_payment(session: Session, workflow_id: str) -> bool:
    """A back-payment's approval needs its total typed on the case page: no link, no card button."""
    return session.scalar(select(SiChange.kind).where(SiChange.workflow_id == workflow_id)) == "back_payment"


def find(session: Session, *, secret: str, text: str) -> OpenLink | None:
    """The link its text names, if the text is genuine (whatever its state: the page says which)."""
    raw_id, _, mac = text.partition(".")
    if not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 18 or not mac:
        return None
    link = session.get(ActionLink, int(raw_id))
    if link is None or not same(mac, _mac(secret, link.id, link.person)):
        return None
    return _open(session, link)


def card_link(session: Session, link_id: int) -> OpenLink | None:
    """The link behind a card's ``task_id``: the platform's signed callback names it, no mac needed."""
    link = session.get(ActionLink, link_id)
    return _open(session, link) if link is not None else None


def _open(session: Session, link: ActionLink) -> OpenLink:
    kind = session.scalar(select(Case.kind).where(Case.workflow_id == link.workflow_id)) or ""
    task = session.scalars(select(ApprovalTask).where(ApprovalTask.workflow_id == link.workflow_id,
                                                      ApprovalTask.task_key == link.task_key)).one_or_none()
    return OpenLink(id=link.id, workflow_id=link.workflow_id, task_key=link.task_key, person=link.person, kind=kind,
                    expires_at=link.expires_at, used_at=link.used_at, used_choice=link.used_choice,
                    task_open=task is not None and task.status == "open", choices=choices_for(kind, link.task_key),
                    back_payment=_back_payment(session, link.workflow_id))


def claim(session: Session, link_id: int, choice: str, *, now: dt.datetime) -> bool:
    """Take the link for one decision; False when it is used or has expired."""
    return session.execute(
        update(ActionLink).where(ActionLink.id == link_id, ActionLink.used_at.is_(None), ActionLink.expires_at > now)
        .values(used_at=now, used_choice=choice).returning(ActionLink.id)).first() is not None


def settle(session: Session, link_id: int, *, decided: bool, outcome: str) -> None:
    """After the decision: kept used when it was made, given back when it was refused."""
    values = {"outcome": outcome} if decided else {"used_at": None, "used_choice": None, "outcome": outcome}
    session.execute(update(ActionLink).where(ActionLink.id == link_id).values(**values))


@dataclass(frozen=True)
class ImItem:
    """A card or to-do an IM holds for a link whose task has closed: to be closed there too."""

    link_id: int
    channel: str
    person: str
    im_ref: str
    decision: str | None  # the task's: approved, rejected, cancelled ...


def remember(session: Session, link_id: int, im_ref: str) -> None:
    session.execute(update(ActionLink).where(ActionLink.id == link_id).values(im_ref=im_ref[:100]))


IM_CLOSE_TRIES = 8


def closed_elsewhere(session: Session, *, now: dt.datetime, limit: int = 50) -> list[ImItem]:
    """Links with an IM card or to-do still open there whose task is no longer open here, due now."""
    rows = session.execute(
        select(ActionLink.id, Delivery.channel, ActionLink.person, ActionLink.im_ref, ApprovalTask.decision)
        .join(Delivery, Delivery.id == ActionLink.delivery_id)
        .join(ApprovalTask, (ApprovalTask.workflow_id == ActionLink.workflow_id)
              & (ApprovalTask.task_key == ActionLink.task_key))
        .where(ActionLink.im_ref.is_not(None), ActionLink.im_closed_at.is_(None), ApprovalTask.status != "open",
               or_(ActionLink.im_next_try_at.is_(None), ActionLink.im_next_try_at <= now))
        .order_by(ActionLink.im_next_try_at.nulls_first(), ActionLink.id).limit(limit)).all()
    return [ImItem(r[0], r[1], r[2], str(r[3]), r[4]) for r in rows]


def im_closed(session: Session, link_id: int, *, now: dt.datetime) -> None:
    session.execute(update(ActionLink).where(ActionLink.id == link_id).values(im_closed_at=now))


def im_close_failed(session: Session, link_id: int, *, now: dt.datetime) -> bool:
    """A close the IM refused: tried again later (30 s, 1 min, 2 min ...), given up after eight
    tries (True then)."""
    tries = session.execute(update(ActionLink).where(ActionLink.id == link_id)
                            .values(im_close_attempts=ActionLink.im_close_attempts + 1)
                            .returning(ActionLink.im_close_attempts)).scalar_one()
    session.execute(update(ActionLink).where(ActionLink.id == link_id).values(im_next_try_at=now + backoff(tries)))
    if tries >= IM_CLOSE_TRIES:
        im_closed(session, link_id, now=now)
        return True
    return False
