"""Transfer materials: judged by content, bounded in size, named only for display, superseded on
re-upload, audited by hash, visible to the employee herself and HR only, and the workflow told."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from temporalio import workflow
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from api.app import create_app
from api.routes import transfer_materials
from db.materials import document_bytes, seal_plain_documents
from db.models import AuditEvent, Transfer, TransferMaterial
from db.person_keys import destroy
from db.sealed_fields import KEYRING
from domain.documents import DocumentRefused, check_completeness, check_filename, sniff
from domain.policy.models import Material
from domain.roles import Role
from tests.domain.test_document_structure import JPEG, MINIMAL_PDF, PNG, pdf_of_size
from tests.processes.support import add_employee

CHINA = dt.timezone(dt.timedelta(hours=8))
PDF = MINIMAL_PDF  # genuine files: uploads are judged by their structure (tests/domain/test_document_structure.py)
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(120)
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(120)
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40)
ALL_CODES = ["contribution_certificate", "housing_fund_transfer_application", "insurance_certificate",
             "resident_id_card", "transfer_application"]


# ---------------------------------------------------------------- pure parts
@pytest.mark.parametrize("content,mime", [(PDF, "application/pdf"), (JPEG, "image/jpeg"), (PNG, "image/png")])
def test_sniff_accepts_documents_by_content(content: bytes, mime: str) -> None:
    assert sniff(content) == mime


@pytest.mark.parametrize("content,found", [
    (ELF, "application/x-executable"), (PE, "application/x-msdownload"), (ZIP, "application/zip"),
    (b"just some text, named scan.pdf", "not a recognised"), (b"", "empty"),
])
def test_sniff_refuses_everything_else_naming_it(content: bytes, found: str) -> None:
    with pytest.raises(DocumentRefused) as refused:
        sniff(content)
    assert found in refused.value.message


def _material(code: str, required: bool = True) -> Material:
    return Material(code=code, zh=code, en=code, provided_by="employee", required=required, verified=True)


def test_completeness_counts_required_materials_once() -> None:
    reqs = [_material("id_card"), _material("letter"), _material("id_card"), _material("photo", required=False)]
    assert check_completeness(reqs, []) == (["id_card", "letter"], [])
    assert check_completeness(reqs, ["letter", "id_card", "diploma", "letter"]) == ([], ["diploma"])


@pytest.mark.parametrize("raw,rule", [
    ("../../etc/passwd.pdf", "filename_path"),
    ("C:\\Users\\wang\\身份证.pdf", "filename_path"),
    ("scan\u202egpj.pdf", "filename_characters"),  # a right-to-left override disguising the name
    ("id\n.pdf", "filename_characters"),
    ("..", "filename_path"),
    ("", "filename_missing"),
    (None, "filename_missing"),
    ("a" * 300 + ".pdf", "filename_length"),
    ("id.pdf.exe", "extension_mismatch"),
    ("photo.png", "extension_mismatch"),
])
def test_only_plain_names_that_agree_with_the_content_are_kept(raw: str | None, rule: str) -> None:
    with pytest.raises(DocumentRefused) as refused:
        check_filename(raw, "application/pdf")
    assert refused.value.rule == rule
    assert check_filename("身份证 v1.2.PDF", "application/pdf") == "身份证 v1.2.PDF"
    assert check_filename("scan", "image/png") == "scan"  # no extension: nothing to disagree with


# ---------------------------------------------------------------- the API
@pytest.fixture
def settings(settings):
    """The API keeps no person key: a destroyed one reads destroyed at once (the erasure waits out the ttl)."""
    return settings.model_copy(update={"person_key_cache_seconds": 0})


@pytest.fixture
async def client(settings, engine, temporal_env: WorkflowEnvironment, codec) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine, temporal=temporal_env.client, codec=codec)
    if not any(getattr(r, "path", "").startswith(transfer_materials.PREFIX) for r in app.routes):
        app.include_router(transfer_materials.router)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                   base_url="http://hrflow.test") as c:
        yield c


@pytest.fixture
def transfer(session_factory) -> dict[str, str]:
    """Guizhou (Guiyang) -> Heilongjiang (Harbin): pension, medical and housing fund."""
    emp = f"E{uuid.uuid4().hex[:8].upper()}"
    add_employee(session_factory, emp, resident_id_number="520102199001010020", name="李娜",
                 province="Guizhou", city="Guiyang", department="R&D")
    add_employee(session_factory, emp + "X", resident_id_number="110105194912310032", name="张伟",
                 province="Guizhou", city="Guiyang")
    workflow_id = f"transfer-{emp}-{uuid.uuid4().hex[:6]}"
    created = dt.datetime(2026, 11, 23, 9, 30, tzinfo=CHINA)
    with session_factory.begin() as s:
        s.add(Transfer(workflow_id=workflow_id, employee_id=emp, department="R&D", origin_province="Guizhou",
                       origin_city="Guiyang", destination_province="Heilongjiang", destination_city="Harbin",
                       types=["pension", "medical", "housing_fund"], reason="moved to the Harbin office",
                       applicant=emp, stage="collecting_materials", created_at=created, updated_at=created))
    return {"workflow_id": workflow_id, "employee": emp, "other": emp + "X"}


def _url(t: dict[str, str], code: str | None = None) -> str:
    base = f"/transfers/{t['workflow_id']}/materials"
    return base if code is None else f"{base}/{code}"


def _me(auth, t: dict[str, str]) -> dict[str, str]:
    return auth(Role.EMPLOYEE, t["employee"])


async def _upload(client: httpx.AsyncClient, headers: dict[str, str], t: dict[str, str], code: str,
                  content: bytes, name: str = "scan.pdf", declared: str = "application/pdf") -> httpx.Response:
    return await client.post(_url(t, code), files={"file": (name, content, declared)}, headers=headers)


def _stored(session_factory, workflow_id: str) -> list[TransferMaterial]:
    with session_factory() as s:
        return list(s.scalars(select(TransferMaterial).where(TransferMaterial.workflow_id == workflow_id)
                              .order_by(TransferMaterial.id)))


async def test_pdf_accepted_with_hash_and_missing_named(client, auth, transfer, session_factory) -> None:
    r = await _upload(client, _me(auth, transfer), transfer, "resident_id_card", PDF)
    assert r.status_code == 201, r.text
    body = r.json()
    m = body["material"]
    assert (m["code"], m["content_type"], m["size"], m["current"]) == ("resident_id_card", "application/pdf",
                                                                         len(PDF), True)
    assert m["sha256"] == hashlib.sha256(PDF).hexdigest() and m["uploaded_by"] == transfer["employee"]
    assert "content" not in m
    # in the pinned policy's order: housing fund, medical, pension
    assert body["missing"] == ["housing_fund_transfer_application", "insurance_certificate",
                               "contribution_certificate", "transfer_application"]
    assert body["complete"] is False
    [row] = _stored(session_factory, transfer["workflow_id"])
    # at rest, sealed under her key and bound to its hash; opened, the bytes as sent
    assert row.sealed_with == f"person:{transfer['employee']}:1" and PDF not in row.content and b"%PDF" not in row.content
    with session_factory() as s:
        assert document_bytes(s, row) == PDF


async def test_missing_document_named_until_the_set_is_complete(client, auth, transfer) -> None:
    hr = auth(Role.HR_SPECIALIST, "hr.li")
    for code in ["contribution_certificate", "resident_id_card", "transfer_application"]:
        assert (await _upload(client, hr, transfer, code, PDF)).status_code == 201
    listed = (await client.get(_url(transfer), headers=_me(auth, transfer))).json()
    # the pension form does not stand in for the housing-fund one: each document has its own slot
    assert listed["missing"] == ["housing_fund_transfer_application", "insurance_certificate"]
    assert listed["complete"] is False
    assert [i["code"] for i in listed["items"]] == ["contribution_certificate", "resident_id_card",
                                                    "transfer_application"]
    need = {q["code"]: q["kinds"] for q in listed["requirements"]}
    assert sorted(need) == ALL_CODES
    assert need["resident_id_card"] == ["housing_fund", "medical", "pension"]  # one ID card serves all three
    assert need["transfer_application"] == ["pension"]
    assert need["housing_fund_transfer_application"] == ["housing_fund"]
    r = await _upload(client, hr, transfer, "insurance_certificate", PNG, name="cert.png", declared="image/png")
    assert r.status_code == 201 and r.json()["complete"] is False
    r = await _upload(client, hr, transfer, "housing_fund_transfer_application", PDF)
    assert r.status_code == 201 and r.json()["missing"] == [] and r.json()["complete"] is True


async def test_the_bytes_decide_the_type_and_a_lying_name_is_refused(client, auth, transfer,
                                                                     session_factory) -> None:
    me = _me(auth, transfer)
    r = await _upload(client, me, transfer, "resident_id_card", JPEG, name="x.jpg", declared="application/pdf")
    assert r.status_code == 201
    m = r.json()["material"]
    assert (m["filename"], m["content_type"]) == ("x.jpg", "image/jpeg")  # the declared type is not believed
    got = await client.get(f"{_url(transfer)}/{m['id']}/content", headers=me)
    assert got.status_code == 200 and got.content == JPEG
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["content-disposition"].startswith('attachment; filename="x.jpg"')
    assert got.headers["x-content-type-options"] == "nosniff"
    lying = await _upload(client, me, transfer, "resident_id_card", JPEG, name="x.pdf")
    assert lying.status_code == 415 and lying.json()["detail"][0]["rule"] == "extension_mismatch"
    assert len(_stored(session_factory, transfer["workflow_id"])) == 1


@pytest.mark.parametrize("content,kind", [(ELF, "application/x-executable"), (PE, "application/x-msdownload"),
                                          (ZIP, "application/zip"), (b"#!/bin/sh\nrm -rf /\n", "recognised"),
                                          (b"", "empty")])
async def test_non_documents_refused_415_and_nothing_stored(client, auth, transfer, session_factory,
                                                            content: bytes, kind: str) -> None:
    r = await _upload(client, _me(auth, transfer), transfer, "resident_id_card", content, name="id.pdf")
    assert r.status_code == 415
    assert r.json()["error"] == "unsupported_media_type" and kind in r.json()["detail"][0]["message"]
    assert _stored(session_factory, transfer["workflow_id"]) == []
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.workflow_id == transfer["workflow_id"])) == 0


@pytest.mark.parametrize("size", [6_000_000, 5 * 1024 * 1024 + 1])
async def test_oversized_files_refused_413_and_nothing_stored(client, auth, transfer, session_factory,
                                                              size: int) -> None:
    """6 MB is stopped at the door; one byte over the limit (inside the multipart allowance) by the route."""
    r = await _upload(client, _me(auth, transfer), transfer, "resident_id_card", PDF + bytes(size - len(PDF)))
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert _stored(session_factory, transfer["workflow_id"]) == []


async def test_an_oversized_file_to_a_transfer_not_hers_is_404_not_413(client, auth, transfer,
                                                                       session_factory) -> None:
    """The size is judged last: an outsider learns nothing from a 413 about a transfer she cannot see."""
    too_big = PDF + bytes(5 * 1024 * 1024 + 1 - len(PDF))
    other = auth(Role.EMPLOYEE, transfer["other"])
    assert (await _upload(client, other, transfer, "resident_id_card", too_big)).status_code == 404
    missing = {**transfer, "workflow_id": "transfer-nobody"}
    assert (await _upload(client, _me(auth, transfer), missing, "resident_id_card", too_big)).status_code == 404
    r = await _upload(client, _me(auth, transfer), transfer, "no_such_material", too_big)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "code"
    assert _stored(session_factory, transfer["workflow_id"]) == []


async def test_exactly_the_limit_is_accepted(client, auth, transfer) -> None:
    limit = 5 * 1024 * 1024
    r = await _upload(client, _me(auth, transfer), transfer, "resident_id_card", pdf_of_size(limit))
    assert r.status_code == 201 and r.json()["material"]["size"] == 5 * 1024 * 1024


async def test_only_the_employee_herself_and_hr(client, auth, transfer) -> None:
    r = await _upload(client, _me(auth, transfer), transfer, "resident_id_card", PDF)
    material_id = r.json()["material"]["id"]
    other = auth(Role.EMPLOYEE, transfer["other"])
    assert (await _upload(client, other, transfer, "resident_id_card", PDF)).status_code == 404
    assert (await client.get(_url(transfer), headers=other)).status_code == 404
    assert (await client.get(f"{_url(transfer)}/{material_id}/content", headers=other)).status_code == 404
    assert (await client.get(_url(transfer), headers=auth(Role.FINANCE))).status_code == 403
    assert (await client.get(_url(transfer), headers=auth(Role.HR_MANAGER))).status_code == 200
    missing = {**transfer, "workflow_id": "transfer-nobody"}
    assert (await client.get(_url(missing), headers=auth(Role.HR_MANAGER))).status_code == 404
    assert (await client.get(f"{_url(transfer)}/{material_id + 999}/content",
                             headers=auth(Role.HR_MANAGER))).status_code == 404


async def test_unknown_code_refused(client, auth, transfer, session_factory) -> None:
    r = await _upload(client, _me(auth, transfer), transfer, "marriage_certificate", PDF)
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "code" and "resident_id_card" in r.json()["detail"][0]["message"]
    assert (await _upload(client, _me(auth, transfer), transfer, "Bad-Code", PDF)).status_code == 422
    assert _stored(session_factory, transfer["workflow_id"]) == []


async def test_reupload_supersedes_and_keeps_the_earlier_one(client, auth, transfer, session_factory) -> None:
    me = _me(auth, transfer)
    first = (await _upload(client, me, transfer, "resident_id_card", PDF, name="blurry.pdf")).json()["material"]
    second = (await _upload(client, me, transfer, "resident_id_card", PNG, name="sharp.png")).json()["material"]
    listed = (await client.get(_url(transfer), headers=me)).json()["items"]
    assert [(i["id"], i["filename"]) for i in listed] == [(second["id"], "sharp.png")]
    rows = _stored(session_factory, transfer["workflow_id"])
    assert [(r.id, r.current) for r in rows] == [(first["id"], False), (second["id"], True)]
    old = await client.get(f"{_url(transfer)}/{first['id']}/content", headers=auth(Role.HR_SPECIALIST))
    assert old.content == PDF


async def test_hostile_file_names_are_refused_and_nothing_is_stored(client, auth, transfer,
                                                                   session_factory) -> None:
    me = _me(auth, transfer)
    r = await _upload(client, me | {"Accept-Language": "en"}, transfer, "resident_id_card", PDF,
                      name="../../etc/passwd.pdf")
    assert r.status_code == 422 and r.json()["detail"][0] == {
        "field": "file.filename", "rule": "filename_path", "label": "file name of file",
        "message": "send a plain file name, not a path"}
    # Raw control characters in the multipart header, as a hand-made client could send them.
    boundary = "hrflowboundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="passwd\x1b[2J\x7f\t.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n").encode() + PDF + f"\r\n--{boundary}--\r\n".encode()
    r = await client.post(_url(transfer, "transfer_application"), content=body,
                          headers={**me, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "filename_characters", r.text
    assert _stored(session_factory, transfer["workflow_id"]) == []


async def test_a_closed_transfer_takes_no_more_uploads(client, auth, transfer, session_factory) -> None:
    with session_factory.begin() as s:
        s.get(Transfer, transfer["workflow_id"]).stage = "abandoned"
    r = await _upload(client, _me(auth, transfer), transfer, "resident_id_card", PDF, name="id.pdf")
    assert r.status_code == 409 and r.json()["error"] == "transfer_closed"
    assert _stored(session_factory, transfer["workflow_id"]) == []


async def test_audit_row_has_the_hash_not_the_bytes(client, auth, transfer, session_factory) -> None:
    r = await _upload(client, _me(auth, transfer), transfer, "resident_id_card", JPEG, name="id.jpg",
                      declared="image/jpeg")
    with session_factory() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.workflow_id == transfer["workflow_id"]))
    assert (event.action, event.actor, event.actor_role, event.subject) == (
        "transfer.material_uploaded", transfer["employee"], "employee", transfer["employee"])
    assert event.after == {"material_id": r.json()["material"]["id"], "code": "resident_id_card",
                           "sha256": hashlib.sha256(JPEG).hexdigest(), "size": len(JPEG),
                           "content_type": "image/jpeg", "filename": "id.jpg"}


# ---------------------------------------------------------------- telling the workflow
@workflow.defn(sandboxed=False)
class MaterialsListener:
    """Stands in for the transfer workflow: counts ``materials_changed`` signals."""

    def __init__(self) -> None:
        self.changes = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.changes >= 1)
        return self.changes

    @workflow.signal(name="materials_changed")
    def materials_changed(self) -> None:
        self.changes += 1


async def test_upload_signals_a_running_workflow(client, auth, transfer, temporal_env: WorkflowEnvironment) -> None:
    queue = f"materials-{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_env.client, task_queue=queue, workflows=[MaterialsListener],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await temporal_env.client.start_workflow(MaterialsListener.run, id=transfer["workflow_id"],
                                                          task_queue=queue)
        assert (await _upload(client, _me(auth, transfer), transfer, "resident_id_card", PDF)).status_code == 201
        assert await asyncio.wait_for(handle.result(), 30) == 1


class _FailingHandle:
    def __init__(self, status: RPCStatusCode) -> None:
        self.status = status

    async def signal(self, name: str, *args: Any) -> None:
        raise RPCError("boom", self.status, b"")


class _FakeTemporal:
    def __init__(self, status: RPCStatusCode) -> None:
        self.status = status

    def get_workflow_handle(self, workflow_id: str) -> _FailingHandle:
        return _FailingHandle(self.status)


async def test_notify_skips_only_a_missing_workflow() -> None:
    assert await transfer_materials.notify_workflow(_FakeTemporal(RPCStatusCode.NOT_FOUND), "w") is False
    with pytest.raises(RPCError):
        await transfer_materials.notify_workflow(_FakeTemporal(RPCStatusCode.UNAVAILABLE), "w")


# ---------------------------------------------------------------- sealed under her key
async def test_after_her_erasure_her_documents_are_gone_and_a_colleague_s_stay(client, auth, transfer,
                                                                               session_factory) -> None:
    me = _me(auth, transfer)
    mine = (await _upload(client, me, transfer, "resident_id_card", PDF)).json()["material"]
    other_id = f"transfer-{transfer['other']}-x"
    with session_factory.begin() as s:
        s.add(Transfer(workflow_id=other_id, employee_id=transfer["other"], department="R&D", origin_province="Guizhou",
                       origin_city="Guiyang", destination_province="Heilongjiang", destination_city="Harbin",
                       types=["pension"], reason="moved", applicant=transfer["other"], stage="collecting_materials",
                       created_at=dt.datetime(2026, 11, 23, tzinfo=CHINA), updated_at=dt.datetime(2026, 11, 23, tzinfo=CHINA)))
    theirs = (await client.post(f"/transfers/{other_id}/materials/resident_id_card", files={"file": ("a.pdf", PDF, "application/pdf")},
                                headers=auth(Role.EMPLOYEE, transfer["other"]))).json()["material"]
    with session_factory.begin() as s:
        destroy(s, transfer["employee"], by="erasure-test")
    session_factory.kw["info"][KEYRING].forget()  # the test's cache learns it at once (the API's keeps no key)
    hr = auth(Role.HR_SPECIALIST)
    gone = await client.get(f"{_url(transfer)}/{mine['id']}/content", headers=hr)
    assert gone.status_code == 410 and gone.json()["error"] == "erased", gone.text
    kept = await client.get(f"/transfers/{other_id}/materials/{theirs['id']}/content", headers=hr)
    assert kept.status_code == 200 and kept.content == PDF


async def test_a_document_uploaded_before_the_sealing_is_sealed_by_the_backfill(client, auth, transfer,
                                                                                session_factory) -> None:
    with session_factory.begin() as s:  # as a release before the sealing stored it
        s.add(TransferMaterial(workflow_id=transfer["workflow_id"], code="resident_id_card", filename="old.pdf",
                               content_type="application/pdf", size=len(PDF), sha256=hashlib.sha256(PDF).hexdigest(),
                               content=PDF, uploaded_by=transfer["employee"], current=True))
    [row] = _stored(session_factory, transfer["workflow_id"])
    got = await client.get(f"{_url(transfer)}/{row.id}/content", headers=auth(Role.HR_SPECIALIST))
    assert got.status_code == 200 and got.content == PDF  # read as it is, before
    assert seal_plain_documents(session_factory) == 1
    [row] = _stored(session_factory, transfer["workflow_id"])
    assert row.sealed_with is not None and b"%PDF" not in row.content
    got = await client.get(f"{_url(transfer)}/{row.id}/content", headers=auth(Role.HR_SPECIALIST))
    assert got.status_code == 200 and got.content == PDF  # and after
    assert seal_plain_documents(session_factory) == 0
