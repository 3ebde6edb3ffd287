"""Hostile uploads that pass every header check, through the API: a ZIP bomb behind ``%PDF-``,
polyglots, files cut short. Each is 422 naming the structure rule, in the reader's language, and
stores nothing; a genuine file sent the same way is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import func, select

from db.models import TransferMaterial
from domain.roles import Role
from tests.badinput.conftest import EMPLOYEE, add_employees, waiting_transfer
from tests.domain.test_document_structure import JPEG, MINIMAL_PDF, PNG, ZIP_BOMB, written_pdf, zip_of

WORKFLOW_ID = f"transfer-{EMPLOYEE}-structure"
URL = f"/transfers/{WORKFLOW_ID}/materials/resident_id_card"


@pytest.fixture
async def client(api: httpx.AsyncClient, session_factory) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a transfer of the employee's, Guiyang to Harbin, waiting for its materials."""
    add_employees(session_factory)
    waiting_transfer(session_factory, WORKFLOW_ID)
    yield api


def _me(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth(Role.EMPLOYEE, EMPLOYEE)


def _materials(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(TransferMaterial).where(
            TransferMaterial.workflow_id == WORKFLOW_ID)) or 0


async def test_a_zip_bomb_behind_a_pdf_header_is_422_and_nothing_is_stored(client, auth, row_counts,
                                                                          session_factory) -> None:
    before = row_counts()
    r = await client.post(URL, files={"file": ("身份证.pdf", b"%PDF-1.7\n" + ZIP_BOMB, "application/pdf")},
                          headers=_me(auth))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_failed"
    [item] = r.json()["detail"]
    assert (item["field"], item["rule"]) == ("file", "embedded_archive")
    assert item["message"].startswith("文件中还藏有 ZIP 压缩包") and "(" not in item["message"]  # her half only
    assert row_counts() == before and _materials(session_factory) == 0


async def test_the_refusal_is_in_english_when_she_asks(client, auth) -> None:
    r = await client.post(URL, files={"file": ("id.pdf", b"%PDF-1.7\n" + ZIP_BOMB, "application/pdf")},
                          headers=_me(auth) | {"Accept-Language": "en"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["message"] == ("the file also holds a ZIP archive at byte 9;"
                                                " a document with an archive inside is not accepted")


@pytest.mark.parametrize("content,name,rule", [
    (written_pdf() + zip_of(), "id.pdf", "embedded_archive"),
    (PNG + zip_of(), "id.png", "embedded_archive"),
    (JPEG + zip_of(), "id.jpg", "embedded_archive"),
    (PNG + b"junk", "id.png", "png_trailing_data"),
    (JPEG[:-2], "id.jpg", "jpeg_truncated"),
    (MINIMAL_PDF.rstrip()[:-len(b"%%EOF")], "id.pdf", "pdf_eof"),
    (MINIMAL_PDF.replace(b"startxref", b"startxrex"), "id.pdf", "pdf_startxref"),
], ids=["pdf+zip", "png+zip", "jpeg+zip", "png-junk", "jpeg-no-eoi", "pdf-no-eof", "pdf-no-startxref"])
async def test_malformed_documents_are_422_naming_the_rule(client, auth, row_counts, content: bytes, name: str,
                                                           rule: str) -> None:
    before = row_counts()
    r = await client.post(URL, files={"file": (name, content, "application/octet-stream")}, headers=_me(auth))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["rule"] == rule
    assert row_counts() == before


@pytest.mark.parametrize("content,name", [(MINIMAL_PDF, "id.pdf"), (written_pdf(), "id.pdf"), (PNG, "id.png"),
                                          (JPEG, "id.jpg")])
async def test_the_same_documents_whole_are_kept(client, auth, session_factory, content: bytes, name: str) -> None:
    r = await client.post(URL, files={"file": (name, content, "application/octet-stream")}, headers=_me(auth))
    assert r.status_code == 201, r.text
    assert r.json()["material"]["size"] == len(content) and _materials(session_factory) == 1
