"""What is due today: the reminder sweep's queries, one per category, each reading only due rows.

Every query walks a partial index in key order (``(due, id)`` after a cursor), so a sweep costs in
proportion to what is due, never to the number of cases, and a batch picks up where the last one
stopped. Each result says whom to remind, with which template, and its *cadence*: reminders of a
date still ahead are sent once per date; overdue ones once per day, climbing the role's levels (a
task assigned to a person climbs her management chain instead, when the directory knows her).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.directory import person_of
from db.models import ApprovalTask, Case, CaseDeadline, Employee, Receivable, StaffMember, Transfer, TransferBranch
from db.organisation import managers_up
from domain.contracts import reminders as contract
from domain.policy.lapses import Lapse, lapses
from domain.roles import role_address

CHINA = dt.timezone(dt.timedelta(hours=8))

CATEGORIES = contract.CATEGORIES  # the sweep's contract; callers also read it here
POLICY_WATCH = "policy-watch"  # the standing case HR admins' lapse tasks belong to

# Maternity stages in which advances cannot be recovered yet (she is on leave): no finance nagging.
_NOT_YET_RECOVERABLE = ("applied", "approved", "on_leave", "return_overdue")
_ACTIVE_BRANCH = ("submitted", "accepted", "transferring")


@dataclass(frozen=True)
class SweepPolicy:
    due_within_days: int = 7
    approval_sla_days: int = 3
    escalation_days: int = 2
    receivable_followup_days: int = 7


@dataclass(frozen=True)
class Cursor:
    at: dt.datetime | dt.date  # the sort key of the last row read: a due instant, or a due day
    id: int


@dataclass(frozen=True)
class Reminder:
    category: str
    item_id: int
    cursor: Cursor
    workflow_id: str | None
    template: str
    cadence: str  # part of the dedupe key: "2026-11-23" (daily) or "due-2026-11-30" (once per date)
    recipients: list[tuple[str, str]]  # (kind, who): role, user, employee
    params: dict[str, Any] = field(default_factory=dict)


def due(session: Session, category: str, *, now: dt.datetime, policy: SweepPolicy, after: Cursor | None,
        limit: int) -> list[Reminder]:
    if category == "approval_overdue":
        return _approvals(session, now, policy, after, limit)
    if category in ("maternity_return", "departure_filing", "non_compete_proof"):
        return _deadlines(session, category, now, policy, after, limit)
    if category == "receivable_no_followup":
        return _receivables(session, now, policy, after, limit)
    if category == "transfer_step_overdue":
        return _transfer_steps(session, now, after, limit)
    if category == "policy_lapse":
        return [] if after is not None else policy_lapses(session, now)
    raise ValueError(f"unknown reminder category {category!r}")


def _after(key: Any, id_column: Any, after: Cursor | None) -> Any:
    return literal(True) if after is None else tuple_(key, id_column) > tuple_(literal(after.at), literal(after.id))


def _day(now: dt.datetime) -> str:
    return f"{now.astimezone(CHINA):%Y-%m-%d}"


def _days_late(now: dt.datetime, due_at: dt.datetime) -> int:
    return max((now - due_at).days, 0)


def _approvals(session: Session, now: dt.datetime, policy: SweepPolicy, after: Cursor | None,
               limit: int) -> list[Reminder]:
    sla = dt.timedelta(days=policy.approval_sla_days)
    due_key = func.coalesce(ApprovalTask.due_at, ApprovalTask.created_at + sla)
    top_level = (select(func.coalesce(func.max(StaffMember.level), 1))
                 .where(StaffMember.role == ApprovalTask.role, StaffMember.active)
                 .scalar_subquery())
    rows = session.execute(
        select(ApprovalTask.id, ApprovalTask.workflow_id, ApprovalTask.title, ApprovalTask.role,
               ApprovalTask.assignee, due_key.label("due"), top_level.label("top_level"))
        .where(ApprovalTask.status == "open",
               or_(ApprovalTask.due_at < now,
                   and_(ApprovalTask.due_at.is_(None), ApprovalTask.created_at < now - sla)),
               _after(due_key, ApprovalTask.id, after))
        .order_by(due_key, ApprovalTask.id).limit(limit)
    ).all()
    out = []
    for r in rows:
        late = _days_late(now, r.due)
        steps = 1 + late // policy.escalation_days
        level = min(steps, r.top_level)
        first = ("user", r.assignee) if r.assignee else ("role", r.role)
        above = _up_her_chain(session, r.assignee, now, steps - 1) if r.assignee and steps > 1 else None
        if above is not None:  # a person's task climbs her management chain
            level = steps if steps - 1 <= above[1] else above[1] + 1
            recipients = [first, above[0]]
        else:
            recipients = [first] if level == 1 else [first, ("role", role_address(r.role, level))]
        out.append(Reminder("approval_overdue", r.id, Cursor(r.due, r.id), r.workflow_id,
                            "reminder.approval_overdue", _day(now), recipients,
                            {"title": r.title, "due": f"{r.due.astimezone(CHINA):%Y-%m-%d}", "overdue_days": late,
                             "level": level, "role": r.role}))
    return out


def _up_her_chain(session: Session, user: str, now: dt.datetime, levels: int) -> tuple[tuple[str, str], int] | None:
    """Whom a person's overdue task reaches ``levels`` up her line (her manager first; the top of
    the chain when it is shorter): that manager's staff login if she has one, else the manager as
    an employee; and how many levels the chain has. None when the directory does not know her as an
    employee, or she has no manager: the task then climbs the role's levels."""
    listed = person_of(session, user)
    if listed is None or listed.employee_id is None:
        return None
    chain = managers_up(session, listed.employee_id, now.astimezone(CHINA).date(), levels)
    if not chain:
        return None
    boss = chain[-1]
    login = session.scalar(select(StaffMember.user_id).where(StaffMember.employee_id == boss, StaffMember.active)
                           .order_by(StaffMember.user_id).limit(1))
    return (("user", login) if login else ("employee", boss)), len(chain)


# Who hears of a dated obligation: while it is ahead (once per date), and once it is late (daily).
_DEADLINE_AUDIENCE: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "maternity_return": ([("employee", ""), ("role", "hr_specialist")],
                         [("role", "hr_specialist"), ("role", "hr_manager")]),
    "departure_filing": ([("role", "hr_specialist")], [("role", "hr_specialist"), ("role", "hr_manager")]),
    "non_compete_proof": ([("employee", "")], [("employee", ""), ("role", "hr_specialist")]),
}


def _deadlines(session: Session, kind: str, now: dt.datetime, policy: SweepPolicy, after: Cursor | None,
               limit: int) -> list[Reminder]:
    horizon = now + dt.timedelta(days=policy.due_within_days)
    rows = session.scalars(
        select(CaseDeadline)
        .where(CaseDeadline.status == "open", CaseDeadline.kind == kind, CaseDeadline.due_at < horizon,
               _after(CaseDeadline.due_at, CaseDeadline.id, after))
        .order_by(CaseDeadline.due_at, CaseDeadline.id).limit(limit)
    ).all()
    ahead, late = _DEADLINE_AUDIENCE[kind]
    out = []
    for d in rows:
        overdue = d.due_at < now
        due_day = f"{d.due_at.astimezone(CHINA):%Y-%m-%d}"
        recipients = [(k, who or d.employee_id) for k, who in (late if overdue else ahead)]
        out.append(Reminder(kind, d.id, Cursor(d.due_at, d.id), d.workflow_id,
                            f"reminder.{kind}_{'overdue' if overdue else 'due'}",
                            _day(now) if overdue else f"due-{due_day}", recipients,
                            {**(d.details or {}), "employee_id": d.employee_id, "due": due_day,
                             "overdue_days": _days_late(now, d.due_at)}))
    return out


def _receivables(session: Session, now: dt.datetime, policy: SweepPolicy, after: Cursor | None,
                 limit: int) -> list[Reminder]:
    last_touch = func.coalesce(Receivable.followed_up_at, Receivable.booked_at)
    cutoff = now - dt.timedelta(days=policy.receivable_followup_days)
    rows = session.execute(
        select(Receivable.id, Receivable.workflow_id, Receivable.employee_id, Receivable.kind, Receivable.month,
               (Receivable.amount - Receivable.settled).label("outstanding"), last_touch.label("touched"))
        .outerjoin(Case, Case.workflow_id == Receivable.workflow_id)
        .where(Receivable.status == "open", last_touch < cutoff,
               or_(Case.id.is_(None), Case.status != "open", Case.stage.not_in(_NOT_YET_RECOVERABLE)),
               _after(last_touch, Receivable.id, after))
        .order_by(last_touch, Receivable.id).limit(limit)
    ).all()
    return [Reminder("receivable_no_followup", r.id, Cursor(r.touched, r.id), r.workflow_id,
                     "reminder.receivable_no_followup", _day(now), [("role", "finance")],
                     {"employee_id": r.employee_id, "kind": r.kind, "month": r.month,
                      "outstanding": Decimal(r.outstanding), "idle_days": _days_late(now, r.touched)})
            for r in rows]


def _transfer_steps(session: Session, now: dt.datetime, after: Cursor | None, limit: int) -> list[Reminder]:
    today = now.astimezone(CHINA).date()
    since = None if after is None else Cursor(_as_day(after.at), after.id)
    rows = session.execute(
        select(TransferBranch.id, TransferBranch.workflow_id, TransferBranch.kind, TransferBranch.current_step,
               TransferBranch.step_due, Transfer.employee_id)
        .join(Transfer, Transfer.workflow_id == TransferBranch.workflow_id)
        .where(TransferBranch.status.in_(_ACTIVE_BRANCH), TransferBranch.step_due < today,
               _after(TransferBranch.step_due, TransferBranch.id, since))
        .order_by(TransferBranch.step_due, TransferBranch.id).limit(limit)
    ).all()
    return [Reminder("transfer_step_overdue", r.id, Cursor(dt.datetime.combine(r.step_due, dt.time(), CHINA), r.id),
                     r.workflow_id, "reminder.transfer_step_overdue", _day(now), [("role", "hr_specialist")],
                     {"employee_id": r.employee_id, "branch": r.kind, "step": r.current_step,
                      "due": f"{r.step_due:%Y-%m-%d}", "overdue_days": (today - r.step_due).days})
            for r in rows]


def _as_day(at: dt.datetime | dt.date) -> dt.date:
    return at.astimezone(CHINA).date() if isinstance(at, dt.datetime) else at


def insured_cities(session: Session) -> list[str]:
    """The cities where someone still employed is insured: the places whose figures matter."""
    return list(session.scalars(select(Employee.si_city).where(Employee.employment_status != "departed")
                                .distinct().order_by(Employee.si_city)))


def policy_lapses(session: Session, now: dt.datetime) -> list[Reminder]:
    """One reminder per missing or lapsing figure, to HR admins, once per lapse (the task it
    opens stays in their inbox until they enter the notice and close it)."""
    found = lapses(insured_cities(session), now.astimezone(CHINA).date())
    return [Reminder("policy_lapse", 0, Cursor(now, i), POLICY_WATCH, "reminder.policy_lapse", lapse.key,
                     [("role", "admin")], lapse_params(lapse))
            for i, lapse in enumerate(found)]


def lapse_params(lapse: Lapse) -> dict[str, Any]:
    return {"figure": lapse.figure, "place": lapse.place, "place_zh": lapse.place_zh,
            "missing_from": f"{lapse.missing_from:%Y-%m-%d}" if lapse.missing_from else None,
            "status": lapse.status, "title": lapse.title,
            "key": lapse.key}


def open_lapse_tasks(session: Session, found: list[Reminder], now: dt.datetime) -> int:
    """One by-hand task per lapse for HR admins on the standing policy-watch case (made on first
    use; it has no employee). A lapse keeps its task: closed by the admin who entered the notice,
    never reopened or closed by the sweep. Returns the tasks newly opened."""
    if not found:
        return 0
    session.execute(insert(Case).values(
        workflow_id=POLICY_WATCH, kind="policy_watch", employee_id=None, stage="watching", opened_at=now,
        summary="政策数据失效提醒：缴费基数、节假日安排 (policy figures about to lapse: bases, holiday arrangement)")
        .on_conflict_do_nothing(index_elements=[Case.workflow_id]))
    opened = 0
    for r in found:
        since = r.params["missing_from"]
        due = dt.datetime.combine(dt.date.fromisoformat(since), dt.time(9), CHINA) if since else now
        row = session.execute(insert(ApprovalTask).values(
            workflow_id=POLICY_WATCH, task_key=f"lapse-{r.params['key']}"[:100], title=r.params["title"][:200],
            role="admin", due_at=due, created_at=now, by_hand=True)
            .on_conflict_do_nothing(index_elements=[ApprovalTask.workflow_id, ApprovalTask.task_key])
            .returning(ApprovalTask.id)).first()
        opened += row is not None
    return opened
