"""In-app notifications: ``GET /me/notifications`` and marking them read; the delivery trail of a
notification for operators.

A person sees what was addressed to them as a user, as an employee, and to their role at their
level in the staff directory (level 1 unless the directory says otherwise). Each is rendered in
their language. A role's notification is read per person.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from api.auth import Authenticated, Principal, require
from api.errors import ApiError, responses
from api.routes import resource_router
from api.transactions import transact
from db.models import Delivery, DeliveryAttempt, Employee, Notification, NotificationRead, StaffMember
from domain import notices
from domain.roles import Role, role_address

router = resource_router(tags=["notifications"])


class NotificationOut(BaseModel):
    id: int
    template: str
    subject: str
    body: str
    workflow_id: str | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    unread: int
    next_cursor: int | None


class Marked(BaseModel):
    marked: int


def _mine(session: Session, principal: Principal) -> tuple[ColumnElement[bool], str]:
    """Which notifications are the caller's, and the language to show them in."""
    member = session.get(StaffMember, principal.user)
    language = member.language if member else "zh"
    clauses = [and_(Notification.recipient_kind == "user", Notification.recipient == principal.user)]
    if principal.employee_id:
        clauses.append(and_(Notification.recipient_kind == "employee",
                            Notification.recipient == principal.employee_id))
        if member is None and (emp := session.get(Employee, principal.employee_id)) is not None:
            language = emp.language
    if principal.role is not Role.EMPLOYEE:
        level = member.level if member is not None and member.active else 1
        clauses.append(and_(Notification.recipient_kind == "role",
                            Notification.recipient == role_address(principal.role.value, level)))
    return or_(*clauses), language


@router.get("/me/notifications", response_model=NotificationPage, responses=responses(401),
            summary="我的通知 (My notifications)")
async def my_notifications(
    request: Request, principal: Authenticated,
    unread_only: bool = False,
    cursor: Annotated[int | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> NotificationPage:
    """发给调用者的站内通知：发给她这个用户、她这名员工，以及她在员工目录中所在级别的角色的通知，用她的语言呈现，
    新的在前，分页，并答未读数；unread_only=true 只列未读。任何登录用户可调用。

    The in-app notifications addressed to the caller as a user, as an employee, and to her role at
    her level in the staff directory, in her language, newest first, a page at a time, with the
    unread count; ``unread_only=true`` lists only unread ones. Any signed-in user."""
    def work(session: Session) -> NotificationPage:
        mine, language = _mine(session, principal)
        read = (select(NotificationRead.read_at)
                .where(NotificationRead.notification_id == Notification.id, NotificationRead.user_id == principal.user)
                .scalar_subquery())
        stmt = select(Notification, read.label("read_at")).where(mine).order_by(Notification.id.desc()).limit(limit + 1)
        if unread_only:
            stmt = stmt.where(read.is_(None))
        if cursor is not None:
            stmt = stmt.where(Notification.id < cursor)
        rows = session.execute(stmt).all()
        page, more = rows[:limit], len(rows) > limit
        unread = session.scalar(select(func.count()).select_from(Notification).where(mine, read.is_(None))) or 0
        items = []
        for n, read_at in page:
            said = notices.render(n.template, n.params or {}, language, workflow_id=n.workflow_id)
            items.append(NotificationOut(id=n.id, template=n.template, subject=said.subject, body=said.body,
                                         workflow_id=n.workflow_id, created_at=n.created_at, read_at=read_at))
        return NotificationPage(items=items, unread=unread, next_cursor=page[-1][0].id if more else None)

    return await transact(request, work)


@router.post("/me/notifications/{notification_id}/read", response_model=Marked, responses=responses(401, 404),
             summary="标记一条通知为已读 (Mark one notification read)")
async def mark_read(notification_id: int, request: Request, principal: Authenticated) -> Marked:
    """把她的一条通知标为已读（发给角色的通知按人分别记已读）；已读过的答 marked=0。任何登录用户可调用；
    不是发给她的通知答 404。

    Mark one of her notifications read (a role's notification is read per person); one already read
    answers ``marked``: 0. Any signed-in user; a notification not addressed to her is 404."""
    def work(session: Session) -> Marked:
        mine, _ = _mine(session, principal)
        if session.scalar(select(Notification.id).where(Notification.id == notification_id, mine)) is None:
            raise ApiError(404, "not_found", f"没有发给您的通知 {notification_id} (no notification {notification_id} for you)")
        done = session.execute(insert(NotificationRead).values(
            notification_id=notification_id, user_id=principal.user, read_at=dt.datetime.now(dt.UTC))
            .on_conflict_do_nothing().returning(NotificationRead.notification_id)).first()
        return Marked(marked=int(done is not None))

    return await transact(request, work)


@router.post("/me/notifications/read-all", response_model=Marked, responses=responses(401),
             summary="全部标为已读 (Mark all read)")
async def mark_all_read(request: Request, principal: Authenticated) -> Marked:
    """把她所有未读的通知标为已读，答标记了多少条。任何登录用户可调用。

    Mark every unread notification of hers read; the answer counts them. Any signed-in user."""
    def work(session: Session) -> Marked:
        mine, _ = _mine(session, principal)
        user_type = NotificationRead.user_id.type
        unread = select(Notification.id, cast(literal(principal.user, user_type), user_type), func.now()).where(mine)
        done = session.execute(insert(NotificationRead).from_select(["notification_id", "user_id", "read_at"], unread)
                               .on_conflict_do_nothing().returning(NotificationRead.notification_id)).all()
        return Marked(marked=len(done))

    return await transact(request, work)


class AttemptOut(BaseModel):
    attempt: int
    at: dt.datetime
    outcome: str
    detail: str | None


class DeliveryOut(BaseModel):
    id: int
    channel: str
    address: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str | None
    tries: list[AttemptOut]


class NotificationTrail(BaseModel):
    id: int
    template: str
    recipient_kind: str
    recipient: str
    workflow_id: str | None
    status: str
    created_at: dt.datetime
    deliveries: list[DeliveryOut]


@router.get("/notifications/{notification_id}", response_model=NotificationTrail, responses=responses(401, 403, 404),
            summary="通知的投递记录 (Where a notification went)")
async def trail(notification_id: int, request: Request,
                _: Annotated[Principal, Depends(require(Role.ADMIN))]) -> NotificationTrail:
    """给值班运维看：一条通知经哪个渠道（邮件，或企业微信、钉钉群机器人的 webhook）发往何处，
    每次尝试的结果和对方服务器的回答。仅管理员可调用；通知不存在答 404。

    For the operator on call: where a notification went and over which channel (e-mail, or a WeCom
    or DingTalk group robot's webhook), each try and what the server said. Admins only; no such
    notification is 404."""
    def work(session: Session) -> NotificationTrail:
        n = session.get(Notification, notification_id)
        if n is None:
            raise ApiError(404, "not_found", f"没有通知 {notification_id} (no notification {notification_id})")
        deliveries: list[Any] = list(session.scalars(select(Delivery).where(Delivery.notification_id == n.id)
                                                     .order_by(Delivery.id)))
        tries: dict[int, list[AttemptOut]] = {d.id: [] for d in deliveries}
        for a in session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(list(tries)))
                                 .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.attempt)):
            tries[a.delivery_id].append(AttemptOut(attempt=a.attempt, at=a.at, outcome=a.outcome, detail=a.detail))
        return NotificationTrail(
            id=n.id, template=n.template, recipient_kind=n.recipient_kind, recipient=n.recipient,
            workflow_id=n.workflow_id, status=n.status, created_at=n.created_at,
            deliveries=[DeliveryOut(id=d.id, channel=d.channel, address=d.address, status=d.status, attempts=d.attempts,
                                    next_attempt_at=d.next_attempt_at, sent_at=d.sent_at, last_error=d.last_error,
                                    tries=tries[d.id]) for d in deliveries])

    return await transact(request, work)
