"""证据包 Evidence bundles: a case's audit trail as a signed file an arbitrator or auditor can check.

``GET /cases/{workflow_id}/evidence`` answers a ZIP: the case with its tasks (``case.json``), every
audit entry of the case with its chain hash (``audit.json``), the state of the whole audit chain at
export (``chain.json``), and ``manifest.json`` naming each file with its SHA-256, who exported it
and when, signed with Ed25519 (``manifest.sig``). ``GET /evidence/public-key`` gives the key that
verifies it, so the bundle can be checked offline, away from hrflow, long after the export. The key
is derived from the deployment's JWT secret (HKDF), so it is stable without another secret to keep.
Every export is itself an audit entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from typing import Annotated, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import scope
from api.auth import Principal, require
from api.deps import RequestId
from api.errors import ApiError, responses
from api.routes import resource_router
from api.transactions import transact
from db import audit
from db.canonical import to_jsonable
from db.models import ApprovalTask, AuditEvent, Case
from domain.roles import Role

router = resource_router(tags=["evidence"])
Exporter = Annotated[Principal, Depends(require(Role.COMPLIANCE, Role.ADMIN, Role.HR_MANAGER))]


def signing_key(jwt_secret: str) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"hrflow-evidence", info=b"ed25519 signing key v1")
    return Ed25519PrivateKey.from_private_bytes(seed.derive(jwt_secret.encode()))


def public_key_pem(jwt_secret: str) -> str:
    return signing_key(jwt_secret).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _json(value: Any) -> bytes:
    return json.dumps(to_jsonable(value), ensure_ascii=False, indent=2, sort_keys=True).encode()


@router.get("/evidence/public-key", response_class=Response, responses={200: {"content": {"text/plain": {}}}},
            summary="证据包验签公钥 (The evidence bundles' public key)")
async def public_key(request: Request) -> Response:
    """证据包验签公钥（PEM）。\n\nThe Ed25519 public key (PEM) that verifies every evidence bundle's manifest."""
    return Response(public_key_pem(request.app.state.jwt_secret), media_type="text/plain; charset=utf-8")


@router.get("/cases/{workflow_id}/evidence", response_class=Response,
            responses={200: {"content": {"application/zip": {}}}, **responses(401, 403, 404)},
            summary="导出案件证据包 (Export a case's evidence bundle)")
async def evidence(workflow_id: str, request: Request, principal: Exporter, request_id: RequestId) -> Response:
    """导出案件证据包（合规、管理员、人事经理）：案件、任务、全部审计记录及链校验结果，清单经 Ed25519 签名。

    Export a case's evidence bundle (compliance, admin, HR manager): the case, its tasks, every audit
    entry with its chain hash and the chain's verification, in a ZIP whose manifest is signed."""
    exported_at = dt.datetime.now(dt.UTC)

    def work(session: Session) -> dict[str, bytes]:
        case = session.scalar(select(Case).where(Case.workflow_id == workflow_id))
        if case is None or not scope.covers(session, principal, case.employee_id):
            raise ApiError(404, "not_found", f"找不到案件 {workflow_id} (no case {workflow_id})")
        tasks = session.scalars(select(ApprovalTask).where(ApprovalTask.workflow_id == workflow_id)
                                .order_by(ApprovalTask.id))
        events = session.scalars(select(AuditEvent).where(AuditEvent.workflow_id == workflow_id)
                                 .order_by(AuditEvent.id))
        chain = audit.verify_case(session, workflow_id)
        files = {
            "case.json": _json({c.key: getattr(case, c.key) for c in Case.__table__.columns} | {
                "tasks": [{c.key: getattr(t, c.key) for c in ApprovalTask.__table__.columns} for t in tasks]}),
            "audit.json": _json([{c.key: getattr(e, c.key) for c in AuditEvent.__table__.columns} for e in events]),
            "chain.json": _json(chain.__dict__),
        }
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="case.evidence_exported",
            workflow_id=workflow_id, subject=case.employee_id, request_id=request_id,
            after={"files": {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}}),
            at=exported_at)
        return files

    files = await transact(request, work)
    manifest = _json({"workflow_id": workflow_id, "exported_at": exported_at, "exported_by": principal.user,
                      "exported_by_role": principal.role.value, "signature": "Ed25519 over manifest.json",
                      "files": {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}})
    signature = signing_key(request.app.state.jwt_secret).sign(manifest)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, body in files.items():
            bundle.writestr(name, body)
        bundle.writestr("manifest.json", manifest)
        bundle.writestr("manifest.sig", signature.hex())
    name = f"evidence-{workflow_id}-{exported_at:%Y%m%dT%H%M%SZ}.zip"
    return Response(buffer.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
