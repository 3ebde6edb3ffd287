"""Hostile uploads of transfer materials: a name that lies about the content, executables and
archives in a document's clothing, files over the limit (declared or streamed), images whose header
declares a decompression bomb, and file names built to escape a directory or fool a reader. Each is
refused with a 4xx that names the rule and stores nothing.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from domain.documents import MAX_IMAGE_PIXELS, DocumentRefused, sniff
from domain.roles import Role
from tests.badinput.conftest import EMPLOYEE, add_employees, waiting_transfer
from tests.domain.test_document_structure import MINIMAL_PDF

WORKFLOW_ID = f"transfer-{EMPLOYEE}-1"
URL = f"/transfers/{WORKFLOW_ID}/materials"
LIMIT = 5 * 1024 * 1024  # HRFLOW_MAX_UPLOAD_BYTES default

PDF = MINIMAL_PDF  # a genuine one: the hostile part of each test below is its name or size
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(120)
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40)  # also what a .docx or .jar is
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(120)
HTML = b"<!DOCTYPE html><html><body><script>fetch('/me')</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


def png(width: int, height: int) -> bytes:
    """A PNG header declaring ``width`` x ``height``: a few dozen bytes, however large the picture."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(bytes(1024))
    return (b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", len(idat)) + b"IDAT" + idat
            + struct.pack(">I", zlib.crc32(b"IDAT" + idat)) + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def jpeg(width: int, height: int, padding: bytes = b"") -> bytes:
    """A baseline JPEG header with its start-of-frame declaring ``width`` x ``height``; ``padding``
    goes between segments, where decoders skip it."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", height, width) + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    sos = b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    return b"\xff\xd8" + app0 + padding + sof + sos + bytes(64) + b"\xff\xd9"


@pytest.fixture
async def client(api: httpx.AsyncClient, session_factory) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a transfer of the employee's, Guiyang to Harbin, waiting for its materials."""
    add_employees(session_factory)
    waiting_transfer(session_factory, WORKFLOW_ID)
    yield api


def _me(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth(Role.EMPLOYEE, EMPLOYEE)


async def _upload(client: httpx.AsyncClient, headers: dict[str, str], content: bytes, name: str = "scan.pdf",
                  declared: str = "application/pdf") -> httpx.Response:
    return await client.post(f"{URL}/resident_id_card", files={"file": (name, content, declared)}, headers=headers)


def _multipart(disposition: bytes, content: bytes = PDF) -> tuple[bytes, dict[str, str]]:
    """A hand-made multipart body: raw bytes in the part header, as no well-behaved client sends them."""
    body = (b'--bnd\r\nContent-Disposition: form-data; name="file"; ' + disposition
            + b"\r\nContent-Type: application/pdf\r\n\r\n" + content + b"\r\n--bnd--\r\n")
    return body, {"content-type": "multipart/form-data; boundary=bnd"}


async def test_a_pdf_name_on_png_bytes_is_refused(client, auth, row_counts) -> None:
    """The bytes decide what a file is; a name that says otherwise is a lie HR would open."""
    before = row_counts()
    r = await _upload(client, _me(auth), png(800, 600), name="contract.pdf")
    assert r.status_code == 415, r.text
    assert r.json()["detail"][0]["rule"] == "extension_mismatch"
    assert row_counts() == before


@pytest.mark.parametrize("content,found", [
    (ELF, "application/x-executable"), (ZIP, "application/zip"), (PE, "application/x-msdownload"),
    (HTML, "not a recognised"), (SVG, "not a recognised"),
])
async def test_non_documents_named_pdf_are_refused_and_nothing_is_stored(client, auth, row_counts,
                                                                        content: bytes, found: str) -> None:
    before = row_counts()
    r = await _upload(client, _me(auth), content, name="id.pdf")
    assert r.status_code == 415
    assert r.json()["error"] == "unsupported_media_type"
    assert r.json()["detail"][0]["rule"] == "unsupported_type" and found in r.json()["detail"][0]["message"]
    assert row_counts() == before


async def test_oversized_upload_is_refused_even_streamed_without_a_length(client, auth, row_counts) -> None:
    before = row_counts()
    body, headers = _multipart(b'filename="big.pdf"', PDF + bytes(LIMIT))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start:start + 256 * 1024]

    r = await client.post(f"{URL}/resident_id_card", content=chunks(), headers=_me(auth) | headers)
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert row_counts() == before


@pytest.mark.parametrize("content,name", [
    (png(100_000, 100_000), "bomb.png"),
    (png(MAX_IMAGE_PIXELS + 1, 1), "strip.png"),
    (jpeg(60_000, 50_000), "bomb.jpg"),
    (jpeg(60_000, 50_000, padding=b"\x00" * 32 + b"\xff\xfe\x00\x04hi"), "padded.jpg"),  # junk, then a comment
])
async def test_images_declaring_a_decompression_bomb_are_refused(client, auth, row_counts,
                                                                 content: bytes, name: str) -> None:
    before = row_counts()
    r = await _upload(client, _me(auth), content, name=name, declared="image/png")
    assert r.status_code == 422, r.text
    [item] = r.json()["detail"]
    assert (item["field"], item["rule"]) == ("file", "image_pixels")
    assert f"at most {MAX_IMAGE_PIXELS:,}" in item["message"]
    assert row_counts() == before


@pytest.mark.parametrize("content", [png(8160, 6120), jpeg(4961, 7016), png(MAX_IMAGE_PIXELS, 1)])
def test_images_up_to_the_pixel_limit_are_documents(content: bytes) -> None:
    """A 50-megapixel photo and an A4 page at 600 dpi pass; the limit itself is allowed."""
    assert sniff(content) in ("image/png", "image/jpeg")


def test_the_pixel_rule_is_named() -> None:
    with pytest.raises(DocumentRefused) as refused:
        sniff(jpeg(65_535, 65_535))  # the largest frame a JPEG can declare
    assert refused.value.rule == "image_pixels"
    assert refused.value.message.startswith("the image declares 65535 x 65535 pixels (4,294,836,225)")


@pytest.mark.parametrize("disposition,rule", [
    (b'filename="../../etc/passwd"', "filename_path"),
    (b'filename="..\\\\..\\\\Windows\\\\win.ini"', "filename_path"),
    (b'filename="id\x00.pdf"', "filename_characters"),
    (b'filename="id\n.pdf"', "filename_characters"),
    (b'filename="' + "scan\u202egpj.pdf".encode() + b'"', "filename_characters"),  # right-to-left override
    (b'filename="' + "\u202d\u2066id\u200b.pdf".encode() + b'"', "filename_characters"),  # invisible format chars
    (b'filename="' + b"a" * 4000 + b'.pdf"', "filename_length"),
    (b'filename=".."', "filename_path"),
    (b'filename="id.pdf.exe"', "extension_mismatch"),
])
async def test_hostile_file_names_are_refused_and_nothing_is_stored(client, auth, row_counts,
                                                                   disposition: bytes, rule: str) -> None:
    """A name is shown to people and sent back in Content-Disposition: one that is a path, hides
    characters, runs long or lies about the content is refused, naming the rule."""
    before = row_counts()
    body, headers = _multipart(disposition)
    r = await client.post(f"{URL}/resident_id_card", content=body, headers=_me(auth) | headers)
    assert r.status_code in (415, 422), r.text
    assert r.json()["detail"][0]["rule"] == rule
    assert row_counts() == before


@pytest.mark.parametrize("disposition", [
    b'filename="id\r\n.pdf"',  # a line break inside the part header
    b'filename="id\r.pdf"',
    b'filename="' + b"a" * 100_000 + b'.pdf"',  # a part header no parser keeps
])
async def test_unparsable_part_headers_are_400_and_nothing_is_stored(client, auth, row_counts,
                                                                     disposition: bytes) -> None:
    before = row_counts()
    body, headers = _multipart(disposition)
    r = await client.post(f"{URL}/resident_id_card", content=body, headers=_me(auth) | headers)
    assert r.status_code == 400 and r.json()["error"] == "http_error"
    assert row_counts() == before
