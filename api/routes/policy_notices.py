"""``/policy/notices``: admins keep the policy catalogue current, four eyes on every figure.

One admin enters a notice (a city's contribution base, its rates, housing-fund rates, a year's
holiday arrangement, a province's maternity leave rule) with its source and dates; a second,
different admin approves it, or rejects it with a reason; the maker may withdraw it before a
decision. Every step is audited. Approved notices form the catalogue's operator layer
(``NoticeLayerProvider``, installed at start-up by the API, the worker and ``hrflow policy``), so
the next case started in that place pins the new figures without a restart.

Overlapping approved notices of one scope are refused; to replace one, enter a new notice with
``supersedes`` starting after it (``domain.policy.notices``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal, require
from api.bodies import Body
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.routes import resource_router
from api.transactions import transact
from db import audit
from db.models import Case, PolicyNotice, TransferMaterial
from db.policy_notices import approved_records, record_of
from domain.calendar_change import SIGNAL as CALENDAR_SIGNAL
from domain.calendar_change import CalendarChanged
from domain.policy.catalogue import load_catalogue
from domain.policy.errors import NoticeRefused
from domain.policy.notices import (
    FIGURES_HELP,
    NoticeIn,
    NoticeKind,
    NoticeRecord,
    NoticeSource,
    build_rule,
    check_no_overlap,
    check_notice,
)
from domain.roles import Role

log = logging.getLogger("hrflow.policy_notices")
router = resource_router(prefix="/policy/notices", tags=["policy notices"])
NOTICE_LOCK_KEY = 0x68726E74  # "hrnt": entries and approvals of notices take turns
NoticeId = Annotated[int, Path(ge=1, le=2**62)]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Reader = Annotated[Principal, Depends(require(Role.ADMIN, Role.HR_MANAGER, Role.COMPLIANCE))]


# ---------------------------------------------------------------- shapes


class NoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: NoticeKind
    state: str
    region: str
    city: str | None
    scope: str
    effective_from: dt.date
    effective_to: dt.date | None
    figures: dict[str, Any]
    source: NoticeSource
    supersedes: int | None
    rule: dict[str, Any] | None = Field(description="the catalogue rule it becomes (holiday arrangements: none)")
    entered_by: str
    entered_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str | None
    cases_replanned: int | None = Field(
        default=None, description="an approved holiday arrangement: running cases told to plan their dates again")


class NoticePage(BaseModel):
    items: list[NoticeOut]


class RejectIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "上限与通知原文不符：原文为 36,921 元"}]})

    reason: str = Field(min_length=1, max_length=2000)


def present(row: PolicyNotice) -> NoticeOut:
    return NoticeOut(
        id=row.id, kind=row.kind, state=row.state, region=row.region, city=row.city, scope=row.scope,  # type: ignore[arg-type]
        effective_from=row.effective_from, effective_to=row.effective_to, figures=row.figures,
        source=NoticeSource(name=row.source_name, url=row.source_url, document_number=row.document_number,
                            material_id=row.source_material_id),
        supersedes=row.supersedes, rule=row.rule, entered_by=row.entered_by, entered_at=row.entered_at,
        decided_by=row.decided_by, decided_at=row.decided_at, reason=row.reason)


def _money(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def _refused(exc: NoticeRefused, status: int = 422) -> ApiError:
    return ApiError(status, "validation_failed" if status == 422 else "overlaps_approved_notice", exc.violations)


def _audit(session: Session, principal: Principal, request_id: str, action: str, row: PolicyNotice,
           before: Any = None) -> None:
    audit.append(session, audit.AuditEntry(
        actor=principal.user, actor_role=principal.role.value, action=action, subject=f"policy-notice-{row.id}",
        request_id=request_id, before=before,
        after={"state": row.state, "kind": row.kind, "scope": row.scope, "effective_from": row.effective_from,
               "effective_to": row.effective_to, "figures": row.figures, "source_name": row.source_name,
               "document_number": row.document_number, "reason": row.reason}))


def _layer_changed(request: Request) -> None:
    provider = getattr(request.app.state, "policy_layer", None)
    if provider is not None:
        provider.invalidate()


# ---------------------------------------------------------------- routes

# What ``enter_notice``'s documentation shows: ``NoticeIn`` is the catalogue's model, one for every kind.
NOTICE_EXAMPLES = {
    "contribution_base": {"summary": "城市缴费基数上下限 (a city's contribution base)", "value": {
        "kind": "contribution_base", "city": "上海", "effective_from": "2027-07-01", "effective_to": "2028-06-30",
        "source": {"name": "关于调整 2027 年度本市职工社会保险缴费基数上下限的通知",
                   "url": "https://rsj.sh.gov.cn/", "document_number": "沪人社规〔2027〕8号"},
        "figures": {"floor": "7460", "ceiling": "37302", "average_wage": "12434"}}},
    "housing_fund": {"summary": "住房公积金比例 (housing-fund rates)", "value": {
        "kind": "housing_fund", "city": "北京", "effective_from": "2027-07-01",
        "source": {"name": "北京住房公积金管理中心关于 2027 住房公积金年度缴存有关问题的通知"},
        "figures": {"min_rate": "0.05", "max_rate": "0.12", "base_floor": "2540", "base_ceiling": "36348"}}},
}


@router.post("", status_code=201, response_model=NoticeOut, responses=responses(400, 401, 403, 422),
             summary="录入政策通知 (Enter a policy notice)",
             openapi_extra={"requestBody": {"content": {"application/json": {"examples": NOTICE_EXAMPLES}}}},
             description="管理员（经办人）录入一份政策通知：缴费基数、缴费比例、住房公积金比例、某年节假日安排或某省产假规定，"
                         "附来源和有效期。检查后存为 entered 状态，须另一位管理员批准才生效。地区不认识、日期或数字超出范围、"
                         "下限高于上限、引用的上传文件不存在，答 422；与同一范围已批准的通知重叠也答 422（要替换旧通知，"
                         "录入一份 supersedes 指向它、从其后开始的新通知）。仅管理员可调用。\n\n"
                         "An admin (the maker) enters a policy notice: a contribution base, contribution rates,"
                         " housing-fund rates, a year's holiday arrangement or a province's maternity leave rule, with"
                         " its source and dates. Checked and stored as ``entered``; it takes effect once a second admin"
                         " approves it. An unknown place, dates or figures out of range, a floor above its ceiling,"
                         " or an uploaded copy that does not exist is 422; so is an overlap with an approved notice"
                         " of the same scope (to replace one, enter a notice that ``supersedes`` it, starting after"
                         " it). Admins only.\n\n`figures` by kind:\n\n" + FIGURES_HELP)
async def enter_notice(body: NoticeIn, request: Request, request_id: RequestId, principal: Admin) -> NoticeOut:
    """Check and store a notice in state ``entered``; it takes effect once another admin approves it."""
    def work(session: Session) -> NoticeOut:
        try:
            checked = check_notice(body, load_catalogue())
        except NoticeRefused as exc:
            raise _refused(exc) from None
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": NOTICE_LOCK_KEY})
        try:
            check_no_overlap(checked, approved_records(session, checked.scope))
        except NoticeRefused as exc:
            raise _refused(exc) from None
        material = body.source.material_id
        if material is not None and session.scalar(select(TransferMaterial.id).where(TransferMaterial.id == material)) is None:
            raise ApiError(422, "validation_failed", [{
                "field": "source.material_id", "rule": "material_exists",
                "message": f"没有编号为 {material} 的上传文件 (no uploaded document {material})"}])
        new_id = int(session.scalar(text("SELECT nextval(pg_get_serial_sequence('policy_notices', 'id'))")))
        now = dt.datetime.now(dt.UTC)
        source = body.source.model_dump()
        record = NoticeRecord(id=new_id, kind=checked.kind, region=checked.region, city=checked.city,
                              scope=checked.scope, effective_from=checked.effective_from,
                              effective_to=checked.effective_to, figures=checked.figures, source=source,
                              entered_by=principal.user, entered_at=now, supersedes=checked.supersedes)
        rule = None if checked.kind == "holiday_arrangement" else build_rule(record).model_dump(mode="json")
        f = checked.figures
        row = PolicyNotice(
            id=new_id, kind=checked.kind, region=checked.region, city=checked.city, scope=checked.scope,
            effective_from=checked.effective_from, effective_to=checked.effective_to,
            floor=_money(f.get("floor")), ceiling=_money(f.get("ceiling")),
            average_wage=_money(f.get("average_wage")), minimum_wage=_money(f.get("minimum_wage")), figures=f, rule=rule, source_name=source["name"],
            source_url=source["url"], document_number=source["document_number"], source_material_id=material,
            supersedes=checked.supersedes, state="entered", entered_by=principal.user, entered_at=now)
        session.add(row)
        session.flush()
        _audit(session, principal, request_id, "policy_notice.entered", row)
        return present(row)

    return await transact(request, work)


@router.get("", response_model=NoticePage, responses=responses(401, 403), summary="政策通知列表 (List policy notices)")
async def list_notices(request: Request, _: Reader,
                       state: Annotated[str | None, Query(pattern="^(entered|approved|rejected|withdrawn)$")] = None,
                       kind: NoticeKind | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100) -> NoticePage:
    """政策通知，新的在前，可按状态和种类筛选：state=entered 即等待第二位管理员审批的。管理员、人事经理和合规可调用。

    Policy notices, newest first, optionally of one state and kind: ``state=entered`` lists those
    waiting for a second admin. Admins, HR managers and compliance."""
    def work(session: Session) -> NoticePage:
        stmt = select(PolicyNotice).order_by(PolicyNotice.id.desc()).limit(limit)
        if state is not None:
            stmt = stmt.where(PolicyNotice.state == state)
        if kind is not None:
            stmt = stmt.where(PolicyNotice.kind == kind)
        return NoticePage(items=[present(r) for r in session.scalars(stmt)])

    return await transact(request, work)


@router.get("/{notice_id}", response_model=NoticeOut, responses=responses(401, 403, 404),
            summary="查看政策通知 (Read a policy notice)")
async def get_notice(notice_id: NoticeId, request: Request, _: Reader) -> NoticeOut:
    """一份政策通知：数字、来源、状态、谁录入谁决定，以及它成为的目录规则。管理员、人事经理和合规可调用；不存在答 404。

    One policy notice: figures, source, state, who entered and who decided it, and the catalogue rule
    it becomes. Admins, HR managers and compliance; no such notice is 404."""
    def work(session: Session) -> NoticeOut:
        return present(_row(session, notice_id, lock=False))

    return await transact(request, work)


def _row(session: Session, notice_id: int, *, lock: bool = True) -> PolicyNotice:
    row = session.get(PolicyNotice, notice_id, with_for_update=lock)
    if row is None:
        raise ApiError(404, "not_found", f"没有编号为 {notice_id} 的通知 (no policy notice {notice_id})")
    return row


def _open(row: PolicyNotice) -> None:
    if row.state != "entered":
        raise ApiError(409, "notice_decided", f"通知 #{row.id} 已是 {row.state} 状态，不能再处理；如需更改请录入新通知"
                       f" (notice #{row.id} is already {row.state}; enter a new notice instead)")


# Cases whose statutory dates are planned on the working-day calendar while they run.
REPLANNED_KINDS = ("offboarding", "transfer")
_SIGNALS_AT_ONCE = 16


async def _tell_running_cases(temporal: Client, workflow_ids: list[str], change: CalendarChanged) -> int:
    """Signal each running case to plan its dates on the new arrangement; a case that has ended
    meanwhile is skipped. The approval is committed already: a failure is logged, never raised."""
    gate = asyncio.Semaphore(_SIGNALS_AT_ONCE)

    async def tell(workflow_id: str) -> bool:
        async with gate:
            try:
                await temporal.get_workflow_handle(workflow_id).signal(CALENDAR_SIGNAL, change)
                return True
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    log.warning("calendar change not delivered to %s: %s", workflow_id, exc)
                return False

    return sum(await asyncio.gather(*(tell(w) for w in workflow_ids)))


@router.post("/{notice_id}/approve", response_model=NoticeOut, responses=responses(401, 403, 404, 409),
             summary="批准政策通知 (Approve a policy notice)")
async def approve_notice(notice_id: NoticeId, request: Request, request_id: RequestId, principal: Admin,
                         temporal: TemporalDep) -> NoticeOut:
    """审核人：另一位管理员批准，录入人不能批准自己的通知（403）。批准后即成为目录的一部分，
    此后开始的案件无需重启就用新数字；节假日安排还会通知所有进行中的离职和跨省转移案件，重新计算该年的法定日期（答复的
    cases_replanned）。通知已决定答 409，与已批准的通知重叠也答 409，不存在答 404。

    The checker: a second admin approves it; its maker cannot (403). From then on it is the
    catalogue's: the next case started there pins the new figures without a restart. A holiday
    arrangement is also announced to every running offboarding and transfer, which plan their
    statutory dates in that year again (``cases_replanned``). A notice already decided, or one that
    overlaps an approved notice, is 409; no such notice 404."""
    running: list[str] = []

    def work(session: Session) -> NoticeOut:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": NOTICE_LOCK_KEY})
        row = _row(session, notice_id)
        _open(row)
        if row.entered_by == principal.user:
            raise ApiError(403, "maker_checker", f"录入人不能审批自己录入的通知 #{row.id}，须由另一位管理员审批"
                           f" ({principal.user} entered notice #{row.id} and cannot approve it: a second admin must)")
        try:
            check_no_overlap(record_of(row), approved_records(session, row.scope), own_id=row.id)
        except NoticeRefused as exc:
            raise _refused(exc, 409) from None
        row.state, row.decided_by, row.decided_at = "approved", principal.user, dt.datetime.now(dt.UTC)
        session.flush()
        _audit(session, principal, request_id, "policy_notice.approved", row, before={"state": "entered"})
        if row.kind == "holiday_arrangement":
            running.extend(session.scalars(select(Case.workflow_id).where(
                Case.status == "open", Case.kind.in_(REPLANNED_KINDS)).order_by(Case.id)))
        return present(row)

    out = await transact(request, work)
    _layer_changed(request)
    if out.kind == "holiday_arrangement":
        change = CalendarChanged(year=int(out.figures["year"]), notice_id=out.id, by=principal.user)
        out.cases_replanned = await _tell_running_cases(temporal, running, change)
    return out


@router.post("/{notice_id}/reject", response_model=NoticeOut, responses=responses(400, 401, 403, 404, 409, 422),
             summary="驳回政策通知 (Reject a policy notice)")
async def reject_notice(notice_id: NoticeId, body: RejectIn, request: Request, request_id: RequestId,
                        principal: Admin) -> NoticeOut:
    """另一位管理员说明理由驳回；录入人不能驳回自己的通知，而是撤回（403）。理由为空答 422，通知已决定答 409，不存在答
    404。

    A second admin refuses it, saying why; its maker withdraws it instead (403). No reason is 422, a
    notice already decided 409, no such notice 404."""
    def work(session: Session) -> NoticeOut:
        row = _row(session, notice_id)
        _open(row)
        if row.entered_by == principal.user:
            raise ApiError(403, "maker_checker", f"录入人不能驳回自己的通知 #{row.id}，可撤回 (POST .../withdraw)"
                           f" (the maker of notice #{row.id} withdraws it instead of rejecting it)")
        reason = body.reason.strip()
        if not reason:
            raise ApiError(422, "validation_failed", [{"field": "reason", "rule": "reason_required",
                                                       "message": "驳回须说明理由 (a rejection needs a reason)"}])
        row.state, row.decided_by, row.decided_at, row.reason = (
            "rejected", principal.user, dt.datetime.now(dt.UTC), reason)
        session.flush()
        _audit(session, principal, request_id, "policy_notice.rejected", row, before={"state": "entered"})
        return present(row)

    return await transact(request, work)


@router.post("/{notice_id}/withdraw", response_model=NoticeOut, responses=responses(401, 403, 404, 409),
             summary="撤回政策通知 (Withdraw a policy notice)")
async def withdraw_notice(notice_id: NoticeId, request: Request, request_id: RequestId, principal: Admin) -> NoticeOut:
    """录入人在有人决定之前撤回自己的通知；其他管理员答 403，通知已决定答 409，不存在答 404。

    Its maker takes it back before anyone decided on it; any other admin is 403, a notice already
    decided 409, no such notice 404."""
    def work(session: Session) -> NoticeOut:
        row = _row(session, notice_id)
        _open(row)
        if row.entered_by != principal.user:
            raise ApiError(403, "not_the_maker", f"只有录入人 {row.entered_by} 能撤回通知 #{row.id}"
                           f" (only {row.entered_by}, who entered notice #{row.id}, may withdraw it)")
        row.state, row.decided_by, row.decided_at = "withdrawn", principal.user, dt.datetime.now(dt.UTC)
        session.flush()
        _audit(session, principal, request_id, "policy_notice.withdrawn", row, before={"state": "entered"})
        return present(row)

    return await transact(request, work)
