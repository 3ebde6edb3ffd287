"""A person's data as one ZIP (PIPL art. 45): ``index.html`` to read, ``data.json`` to process,
``documents/`` with her files. What is in it and what is not is ``db.personal_data``'s docstring.

The values are full, unmasked: it is her data, for her. The rows are read, the access log's
``export`` row and the audit entry ``employee.exported`` written, and the files made, in one
transaction, so no export leaves unrecorded; the ZIP is packed after it commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from api import scope
from api.auth import Authenticated, Principal, require
from api.deps import RequestId
from api.errors import ApiError, responses
from api.i18n import name_label
from api.routes import resource_router
from api.transactions import transact
from db import access_log, audit
from db.personal_data import Document, PersonalData, collect
from domain.roles import Role

router = resource_router(tags=["privacy"])
CHINA = dt.timezone(dt.timedelta(hours=8))
EXPORTERS = (Role.COMPLIANCE, Role.HR_MANAGER)  # besides herself: the web app offers the export to them
Exporter = Annotated[Principal, Depends(require(*EXPORTERS))]
EmployeeNumber = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,32}$", examples=["E1001"])]
ZIP: dict[int | str, dict[str, Any]] = {200: {"content": {"application/zip": {}}, "description": "index.html, data.json and documents/"}}

# The page's sections, in its order: the table, its heading in Chinese and in English.
SECTIONS = (
    ("cases", "案件", "Cases"), ("approval_tasks", "审批任务", "Approval tasks"),
    ("case_deadlines", "案件期限", "Deadlines of her cases"), ("clearance_items", "离职交接事项", "Clearance items"),
    ("receivables", "垫付款（应收）", "Receivables"), ("settlements", "扣回与结算", "Settlements"),
    ("receivable_claims", "台账明细", "Ledger lines"), ("non_compete_payments", "竞业限制补偿", "Non-compete payments"),
    ("si_changes", "社保变更", "Social-insurance changes"), ("si_enrollments", "社保参保记录", "Enrollments"),
    ("transfers", "跨省转移", "Transfers"), ("transfer_branches", "转移各险种进度", "Transfer branches"),
    ("transfer_reviews", "转移审核", "Transfer reviews"), ("transfer_materials", "文件", "Documents"),
    ("base_adjustment_wages", "基数调整所用工资", "Wages for base adjustments"),
    ("base_adjustment_lines", "基数调整明细", "Base adjustment lines"),
    ("employment_events", "雇佣事件", "Employment events"), ("manager_assignments", "直属上级", "Line managers"),
    ("staff_members", "人员名录登记", "Staff directory entry"),
    ("employee_records", "部门记录（争议、借款、资产等）", "Departments' records"),
    ("notifications", "通知", "Notifications"), ("deliveries", "通知发送记录", "Deliveries of notifications"),
    ("audit_events", "审计记录", "Audit events"), ("personal_data_access", "个人信息访问记录", "Who saw her data"),
)

# Column names the page says in words where the API's field catalogue (``api/field_labels.yaml``)
# has none, or names them for a request rather than for a stored row.
COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("序号", "id"), "at": ("时间", "at"), "actor": ("操作人", "by"), "actor_role": ("操作人角色", "role"),
    "action": ("操作", "action"), "before": ("变更前", "before"), "after": ("变更后", "after"),
    "occurred_at": ("发生时间", "occurred at"), "request_id": ("请求编号", "request id"),
    "on_behalf_of": ("代为办理的委托人", "on behalf of"), "chain": ("哈希链", "chain"), "seq": ("链内序号", "place in chain"),
    "hash": ("哈希", "hash"), "prev_hash": ("前一条的哈希", "previous hash"), "created_at": ("创建时间", "created at"),
    "updated_at": ("更新时间", "updated at"), "opened_at": ("发起时间", "opened at"), "closed_at": ("结束时间", "closed at"),
    "next_due_at": ("下一期限", "next due"), "due_at": ("期限", "due"), "decided_at": ("决定时间", "decided at"),
    "summary": ("摘要", "summary"), "task_key": ("任务代码", "task"), "assignee": ("经办人", "assignee"),
    "by_hand": ("线下办理", "by hand"), "si_status": ("社保状态", "social-insurance status"),
    "employment_status": ("任职状态", "employment"), "leaving_on": ("最后工作日", "last day"),
    "booked_at": ("记账时间", "booked at"), "followed_up_at": ("跟进时间", "followed up at"),
    "settled": ("已扣回或核销", "settled"), "reversed": ("已冲销", "reversed"), "method": ("方式", "method"),
    "settlement_id": ("结算编号", "settlement"), "reversal": ("冲销", "reversal"), "voids": ("作废的结算", "voids"),
    "confirmed_by": ("确认人", "confirmed by"), "agreement_id": ("竞业限制协议", "agreement"), "paid_at": ("支付时间", "paid at"),
    "recorded_by": ("登记人", "recorded by"), "details": ("详情", "details"), "detail": ("详情", "detail"),
    "what": ("查阅内容", "what"), "purpose": ("查阅目的（案件）", "purpose (case)"),
    "owner_role": ("负责角色", "owner role"), "owner_user": ("负责人", "owner"), "signed_by": ("签字人", "signed by"),
    "signed_at": ("签字时间", "signed at"), "applicant": ("申请人", "applicant"), "completed_at": ("完成时间", "completed at"),
    "origin_province": ("转出省份", "origin province"), "destination_province": ("转入省份", "destination province"),
    "current_step": ("当前步骤", "current step"), "step_due": ("步骤期限", "step due"), "started_at": ("开始时间", "started at"),
    "file": ("文件", "file"), "content_type": ("文件类型", "type"), "size": ("大小（字节）", "size (bytes)"),
    "sha256": ("SHA-256", "SHA-256"), "uploaded_by": ("上传人", "uploaded by"), "uploaded_at": ("上传时间", "uploaded at"),
    "current": ("当前版本", "current"), "batch_id": ("批次", "batch"), "row_number": ("文件行号", "row"),
    "old_base": ("原基数", "old base"), "new_base": ("新基数", "new base"), "flags": ("标记", "flags"),
    "round": ("申报轮次", "round"), "page": ("申报页", "page"), "monthly_employee": ("个人月缴", "employee monthly"),
    "monthly_employer": ("单位月缴", "employer monthly"), "cost": ("各险种费用", "cost per insurance"),
    "back_pay_months": ("补缴月份", "back-paid months"), "back_pay_employee": ("个人补缴", "employee back-pay"),
    "back_pay_employer": ("单位补缴", "employer back-pay"), "advanced_by": ("垫付案件", "advanced by"),
    "since_month": ("起始月份", "since"), "until_month": ("截止月份", "until"), "opened_by": ("办理案件", "opened by"),
    "closed_by": ("终止案件", "closed by"), "event_id": ("事件编号", "event"), "told": ("已通知的案件", "cases told"),
    "ref": ("事项", "item"), "dedupe_key": ("通知编号", "notice key"), "recipient_kind": ("收件人类型", "recipient kind"),
    "recipient": ("收件人", "recipient"), "template": ("通知模板", "template"), "params": ("通知参数", "parameters"),
    "read_at": ("阅读时间", "read at"), "channel": ("渠道", "channel"), "address": ("地址", "address"),
    "attempts": ("发送次数", "attempts"), "next_attempt_at": ("下次发送", "next attempt"), "sent_at": ("发送时间", "sent at"),
    "last_error": ("最近一次错误", "last error"),
}


def _china(value: Any) -> Any:
    """An instant as people in China read it (data.json keeps ISO with its offset); anything else as it is."""
    if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
        try:
            at = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if at.tzinfo is not None:
            return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    return value


def _zh(key: str) -> str:
    return COLUMNS[key][0] if key in COLUMNS else name_label(key, "zh")


def _en(key: str) -> str:
    return COLUMNS[key][1] if key in COLUMNS else name_label(key, "en")


_env = Environment(loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
                   autoescape=select_autoescape(default=True), undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)
_env.filters["china"] = _china
_env.filters["tojson"] = lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True)  # readable Chinese, escaped by the page


@dataclass(frozen=True)
class Section:
    key: str
    zh: str
    en: str
    rows: list[dict[str, Any]]
    columns: list[str]


def document_path(doc: Document) -> str:
    """Where a file sits in the ZIP: its id keeps two uploads of one name apart."""
    name = "".join(c if c.isprintable() and c not in '/\\:*?"<>|' else "_" for c in doc.filename) or "file"
    return f"documents/{doc.id}-{name}"


def files_of(data: PersonalData, *, exported_at: dt.datetime, by: Principal) -> dict[str, bytes]:
    """index.html, data.json and the documents, by their names in the ZIP."""
    paths = {d.id: document_path(d) for d in data.documents}
    for row in data.tables["transfer_materials"]:
        row["file"] = paths[row["id"]]
    meta = {"exported_at": exported_at.astimezone(CHINA).isoformat(timespec="seconds"), "exported_by": by.user,
            "exported_by_role": by.role.value}
    document = {"format": "hrflow personal data export, version 1", **meta, "employee": data.employee,
                "tables": data.tables}
    sections = []
    for key, zh, en in SECTIONS:
        rows = data.tables[key]
        columns = list(dict.fromkeys(c for r in rows for c in r)) if rows else []
        if "file" in columns:
            columns.remove("file")
            columns.insert(0, "file")
        sections.append(Section(key, zh, en, rows, columns))
    page = _env.get_template("personal_export.html").render(
        employee=data.employee, sections=sections, zh=_zh, en=_en, **meta | {"exported_at": f"{exported_at.astimezone(CHINA):%Y-%m-%d %H:%M}"})
    files = {"index.html": page.encode(), "data.json": json.dumps(document, ensure_ascii=False, indent=2).encode()}
    files.update({paths[d.id]: d.content for d in data.documents})
    return files


async def export(request: Request, principal: Principal, employee_id: str, request_id: str) -> Response:
    exported_at = dt.datetime.now(dt.UTC)

    def work(session: Session) -> dict[str, bytes]:
        allowed = principal.is_self(employee_id) or scope.covers(session, principal, employee_id)
        data = collect(session, employee_id) if allowed else None
        if data is None:
            raise ApiError(404, "not_found", f"没有您可导出的员工 {employee_id} (no employee {employee_id} you may export)")
        files = files_of(data, exported_at=exported_at, by=principal)
        access_log.record(session, principal, employee_id, access_log.EXPORT, request_id=request_id,
                          detail=f"{len(files)} files, {len(data.documents)} documents")
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="employee.exported", subject=employee_id,
            request_id=request_id, on_behalf_of=principal.on_behalf_of,
            after={"self": principal.is_self(employee_id),
                   "files": {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}}),
            at=exported_at)
        return files

    files = await transact(request, work)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, body in files.items():
            bundle.writestr(name, body)
    stamp = f"{exported_at:%Y%m%dT%H%M%SZ}"
    fallback, named = f"personal-data-{employee_id}-{stamp}.zip", f"个人信息-{employee_id}-{stamp}.zip"
    return Response(buffer.getvalue(), media_type="application/zip", headers={
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(named)}",
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@router.get("/employees/{employee_id}/export", response_class=Response, responses={**ZIP, **responses(401, 403, 404)},
            summary="导出员工个人信息 (Export an employee's personal data)")
async def export_employee(employee_id: EmployeeNumber, request: Request, principal: Exporter,
                          request_id: RequestId) -> Response:
    """导出一名员工在 hrflow 中的全部个人信息（《个人信息保护法》第四十五条）：ZIP 内含可阅读的 index.html、
    机器可读的 data.json（金额为精确到分的字符串，日期为 ISO 格式）和 documents/ 下她上传的文件；内容不打码。
    仅合规和人事经理可调用（员工本人用 GET /me/export），其他角色答 403；没有此员工、或不在您负责的单位答 404。
    每次导出都记入个人信息访问记录并审计（employee.exported）。

    Everything hrflow holds about one employee (PIPL art. 45), as a ZIP: a readable ``index.html``,
    a machine-readable ``data.json`` (money as strings to the fen, ISO dates) and her files under
    ``documents/``; nothing masked. Compliance and HR managers only (she herself uses
    ``GET /me/export``), anyone else 403; no such employee, or one outside your unit, 404. Every
    export is kept in the personal data access log and audited (``employee.exported``)."""
    return await export(request, principal, employee_id, request_id)


@router.get("/me/export", response_class=Response, responses={**ZIP, **responses(401, 404)},
            summary="导出我的个人信息 (Export my personal data)")
async def export_mine(request: Request, principal: Authenticated, request_id: RequestId) -> Response:
    """导出 hrflow 中关于我本人的全部个人信息（《个人信息保护法》第四十五条），内容与 GET /employees/{employee_id}/export
    相同。任何有员工档案的登录用户可调用，只能导出自己的；没有员工档案答 404。导出记入个人信息访问记录并审计。

    Everything hrflow holds about me (PIPL art. 45), the same ZIP as
    ``GET /employees/{employee_id}/export``. Anyone signed in who has an employee record, for her own
    only; no employee record is 404. The export is kept in the access log and audited."""
    if principal.employee_id is None:
        raise ApiError(404, "not_found", "您没有员工档案，没有可导出的个人信息 (you have no employee record to export)")
    return await export(request, principal, principal.employee_id, request_id)
