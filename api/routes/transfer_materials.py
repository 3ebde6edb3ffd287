"""Transfer materials: upload one document per requirement, list what is there and what is missing,
download what was sent.

The requirement codes come from the policy pinned for the transfer's route and types (re-derived
from the ``transfers`` row, dated by its creation day in China time), so nothing new is stored
about them. The employee sees only her own transfer (404 otherwise, like a transfer that does not
exist); HR sees all. The upload commits before the workflow is told, so the workflow never looks
for a material that is not yet visible.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Path, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal, require
from api.body_limit import read_upload
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.routes import resource_router
from api.transactions import transact
from db import access_log, audit
from db.materials import current_codes, current_materials, document_bytes, material_content, store
from db.models import Transfer, TransferMaterial
from domain.documents import DocumentRefused, check_completeness
from domain.policy import PolicyError, pin_transfer
from domain.policy.models import Material
from domain.roles import HR, Role
from workflows.transfer import ABANDONED, CANCELLED, COMPLETED, PARTLY_REJECTED

router = resource_router(tags=["transfer materials"])
PREFIX = "/transfers/{workflow_id}/materials"
SIGNAL = "materials_changed"
CHINA = dt.timezone(dt.timedelta(hours=8))

HrOrSelf = Annotated[Principal, Depends(require(Role.HR_SPECIALIST, Role.HR_MANAGER, Role.EMPLOYEE))]
WorkflowId = Annotated[str, Path(max_length=200)]
Code = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,60}$")]


class MaterialOut(BaseModel):
    id: int
    code: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: dt.datetime
    current: bool


class RequirementOut(BaseModel):
    code: str
    zh: str
    en: str
    required: bool
    provided_by: str
    kinds: list[str]


class UploadOut(BaseModel):
    material: MaterialOut
    missing: list[str]
    complete: bool


class MaterialsOut(BaseModel):
    workflow_id: str
    requirements: list[RequirementOut]
    items: list[MaterialOut]
    missing: list[str]
    complete: bool


async def notify_workflow(temporal: Client, workflow_id: str) -> bool:
    """Signal ``materials_changed`` (no argument); the workflow re-reads the set itself.

    False when there is no such running workflow (RPC NOT_FOUND: not started, or already closed);
    every other failure propagates (the upload is already committed, a retry stores it again).
    """
    try:
        await temporal.get_workflow_handle(workflow_id).signal(SIGNAL)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


def _visible(session: Session, principal: Principal, workflow_id: str, *, lock: bool = False) -> Transfer:
    transfer = session.get(Transfer, workflow_id, with_for_update=lock)
    if transfer is None or (principal.role not in HR and not principal.is_self(transfer.employee_id)):
        raise ApiError(404, "not_found", f"没有您可查看的转移 {workflow_id} (no transfer {workflow_id} visible to you)")
    return transfer


def _requirements(transfer: Transfer) -> dict[str, list[Material]]:
    """Insurance type -> its materials, from the policy pinned on the transfer's creation day."""
    on = transfer.created_at.astimezone(CHINA).date()
    try:
        pinned = pin_transfer(transfer.origin_province, transfer.destination_province, transfer.types, on=on)
    except PolicyError as exc:
        raise ApiError(422, "validation_failed", [exc.detail()]) from None
    return {kind: list(req.materials) for kind, req in pinned.requirements.items()}


def _flat(by_kind: dict[str, list[Material]]) -> list[Material]:
    return [m for materials in by_kind.values() for m in materials]


def _requirement_list(by_kind: dict[str, list[Material]]) -> list[RequirementOut]:
    """One entry per code: an ID card two types ask for is uploaded once."""
    seen: dict[str, RequirementOut] = {}
    for kind, materials in by_kind.items():
        for m in materials:
            entry = seen.setdefault(m.code, RequirementOut(code=m.code, zh=m.zh, en=m.en, required=m.required,
                                                           provided_by=str(m.provided_by), kinds=[]))
            entry.kinds.append(kind)
    return list(seen.values())


def _out(row: TransferMaterial) -> MaterialOut:
    return MaterialOut.model_validate(row, from_attributes=True)


def _missing(session: Session, workflow_id: str, materials: list[Material]) -> list[str]:
    missing, _ = check_completeness(materials, current_codes(session, workflow_id))
    return missing


# A transfer in one of these stages takes no more documents (they would never be reviewed).
CLOSED_STAGES = (COMPLETED, PARTLY_REJECTED, ABANDONED, CANCELLED)


def _open_for_upload(session: Session, principal: Principal, workflow_id: str, code: str, *,
                     lock: bool = False) -> tuple[Transfer, list[Material]]:
    """The transfer (its row locked with ``lock``), if she may upload ``code`` to it now, and its materials."""
    transfer = _visible(session, principal, workflow_id, lock=lock)
    if transfer.stage in CLOSED_STAGES:
        raise ApiError(409, "transfer_closed", f"{workflow_id} 当前阶段为 {transfer.stage}，不能再上传材料 ({workflow_id} is {transfer.stage}: nothing more can be uploaded)")
    materials = _flat(_requirements(transfer))
    if code not in {m.code for m in materials}:
        known = ", ".join(sorted({m.code for m in materials}))
        raise ApiError(422, "validation_failed", [{"field": "code", "rule": "known_material",
                                                   "message": f"{code} is not a material of this transfer;"
                                                              f" one of {known}"}])
    return transfer, materials


def _keep(session: Session, principal: Principal, workflow_id: str, code: str, filename: str | None,
          content: bytes, request_id: str) -> UploadOut:
    """Store the upload with its audit row (the checks again: the case may have moved on while the
    bytes arrived)."""
    transfer, materials = _open_for_upload(session, principal, workflow_id, code, lock=True)
    try:
        material = store(session, transfer, code, filename, content, principal.user)
    except DocumentRefused as exc:
        # Not a document (or a name lying about which one): 415. A PNG or JPEG too big to decode, or a
        # name that is not a plain file name: the right type with a wrong detail, 422.
        status, error = ((415, "unsupported_media_type") if exc.rule in ("unsupported_type", "empty_file",
                                                                         "extension_mismatch")
                         else (422, "validation_failed"))
        field = "file.filename" if exc.rule.startswith("filename") else "file"
        raise ApiError(status, error, [{"field": field, "rule": exc.rule, "message": exc.message}]) from None
    audit.append(session, audit.AuditEntry(
        actor=principal.user, actor_role=principal.role.value, action="transfer.material_uploaded",
        workflow_id=workflow_id, subject=transfer.employee_id, request_id=request_id,
        after={"material_id": material.id, "code": code, "sha256": material.sha256, "size": material.size,
               "content_type": material.content_type, "filename": material.filename}))
    missing = _missing(session, workflow_id, materials)
    return UploadOut(material=_out(material), missing=missing, complete=not missing)


@router.post(PREFIX + "/{code}", status_code=201, response_model=UploadOut,
             responses=responses(400, 401, 403, 404, 409, 413, 415, 422, 503), summary="上传转移材料 (Upload a material)")
async def upload(workflow_id: WorkflowId, code: Code, file: UploadFile, request: Request,
                 temporal: TemporalDep, request_id: RequestId, principal: HrOrSelf) -> UploadOut:
    """为一项材料要求上传一份文件（PDF、JPEG 或 PNG，按内容而非文件名判断），新的一份取代以前的；答复说明还缺哪些。
    提交后通知转移流程重新核对材料。员工本人或人事专员、人事经理可调用，员工只能传自己的转移（别人的答 404）。code
    不是本次转移要求的材料答 422，文件过大答 413，不是 PDF 或图片、或与文件名不符答 415，转移已结束答 409。

    Upload the document for one requirement (a PDF, JPEG or PNG, judged by its content, not its
    name); a new upload supersedes the earlier one, and the answer says what is still missing. Once
    stored, the transfer is told to check its materials again. She or an HR specialist or manager;
    an employee only to her own transfer (anyone else's is 404). A ``code`` this transfer does not
    need is 422, a file over the limit 413, one that is not a PDF or image or does not match its name
    415, a transfer that has ended 409."""
    try:
        content = await read_upload(file, request.app.state.settings.max_upload_bytes)
    except ApiError as too_large:  # answered after the checks: nobody learns of a transfer not hers
        await transact(request, lambda s: _open_for_upload(s, principal, workflow_id, code))
        raise too_large from None
    result = await transact(request, lambda s: _keep(s, principal, workflow_id, code, file.filename, content,
                                                     request_id))
    await notify_workflow(temporal, workflow_id)
    return result


@router.get(PREFIX, response_model=MaterialsOut, responses=responses(401, 403, 404),
            summary="转移材料清单 (Materials of a transfer)")
async def list_materials(workflow_id: WorkflowId, request: Request, principal: HrOrSelf) -> MaterialsOut:
    """本次转移要求哪些材料（按其路线和险种、以立案当天的政策为准）、已上传了哪些（当前版本）、还缺哪些。
    员工本人或人事专员、人事经理可调用；员工看别人的转移答 404。

    What the transfer needs (by its route and types, under the policy of the day it was filed), what
    is uploaded (current versions) and what is still missing. She or an HR specialist or manager; an
    employee looking at anyone else's transfer gets 404."""
    def work(session: Session) -> MaterialsOut:
        transfer = _visible(session, principal, workflow_id)
        by_kind = _requirements(transfer)
        missing = _missing(session, workflow_id, _flat(by_kind))
        return MaterialsOut(workflow_id=workflow_id, requirements=_requirement_list(by_kind),
                            items=[_out(m) for m in current_materials(session, workflow_id)],
                            missing=missing, complete=not missing)

    return await transact(request, work)


@router.get(PREFIX + "/{material_id}/content", response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}},
                       **responses(401, 403, 404, 410)}, summary="下载材料 (Download a material)")
async def download(workflow_id: WorkflowId, material_id: int, request: Request, principal: HrOrSelf,
                   request_id: RequestId) -> Response:
    """下载已上传的文件：原样的字节，以附件形式、按其实际类型返回，浏览器不会直接打开它。员工本人或人事专员、
    人事经理可调用；员工看别人的转移、或该转移没有这份材料，答 404。他人下载记入个人信息访问记录，查阅目的为该转移案件。

    The stored bytes as an attachment, typed by what they are (never rendered inline). She or an HR
    specialist or manager; someone else's transfer for an employee, or no such material in the
    transfer, is 404. A download by anyone but her is kept in the personal data access log, its
    purpose the transfer."""
    def work(session: Session) -> Response:
        transfer = _visible(session, principal, workflow_id)
        row = material_content(session, workflow_id, material_id)
        if row is None:
            raise ApiError(404, "not_found", f"转移 {workflow_id} 中没有材料 {material_id} (no material {material_id} in transfer {workflow_id})")
        content = document_bytes(session, row)
        if content is None:
            raise ApiError(410, "erased", f"材料 {material_id} 已随员工的个人信息删除而删除"
                           f" (material {material_id} was erased with the employee's personal data)")
        access_log.record(session, principal, transfer.employee_id, "document", purpose=workflow_id,
                          detail=f"{row.id} {row.code} {row.filename}", request_id=request_id)
        return Response(content, media_type=row.content_type, headers=_download_headers(row.filename))

    return await transact(request, work)


def _download_headers(filename: str) -> dict[str, Any]:
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
    return {"Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
