"""Uploads are judged by their structure, not by their header alone: a ZIP bomb behind ``%PDF-``, a
picture or PDF that is also an archive (a polyglot), a file cut short, damaged or with bytes after
its end is refused with a rule of its own; genuine PDFs, PNGs and JPEGs (hand-built and written by
pypdf and Pillow) pass. Every evil file is built here, from a genuine one, so each test shows the
one thing its check catches."""

from __future__ import annotations

import io
import re
import struct
import tracemalloc
import zipfile
import zlib

import pypdf
import pytest
from PIL import Image

from api.i18n import bilingual, chinese
from domain.documents import MAX_IMAGE_PIXELS, DocumentRefused, sniff


# ---------------------------------------------------------------- genuine files
def pdf_of(*objects: bytes, version: bytes = b"1.7", tail: bytes = b"\n", padding: int = 0) -> bytes:
    """A PDF written by hand: ``objects`` numbered from 1 (the first is the catalog), a
    cross-reference table with their true offsets, the trailer, startxref and %%EOF; ``padding``
    bytes of comment after the header."""
    comment = b"%" + b"x" * (padding - 2) + b"\n" if padding else b""
    out = bytearray(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n" + comment)
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF" % (len(objects) + 1, xref)
    return bytes(out) + tail


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
ONE_PAGE = (CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
MINIMAL_PDF = pdf_of(*ONE_PAGE)


def pdf_of_size(size: int) -> bytes:
    """A genuine one-page PDF of exactly ``size`` bytes (for the upload limit): a long comment."""
    padding = size - len(MINIMAL_PDF)
    while len(pdf := pdf_of(*ONE_PAGE, padding=padding)) != size:  # the offsets may gain a digit
        padding += size - len(pdf)
    return pdf


def written_pdf(**encryption: str) -> bytes:
    """An A4 blank page as pypdf writes it (encrypted when ``encryption`` names passwords)."""
    writer = pypdf.PdfWriter()
    writer.add_blank_page(595, 842)
    if encryption:
        writer.encrypt(**encryption, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of(*chunks: bytes, width: int = 2, height: int = 2) -> bytes:
    """A genuine RGB PNG, hand-built: IHDR, ``chunks`` (ancillary ones, say), IDAT, IEND."""
    rows = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + b"".join(chunks) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = png_of()


def pillow(kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, kind, **options)
    return out.getvalue()


JPEG = pillow("JPEG")


def zip_of(size: int = 1000, name: str = "a.bin") -> bytes:
    """A real ZIP archive: one zero-filled member of ``size`` bytes, deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, bytes(size))
    return out.getvalue()


BOMB_SIZE = 200 * 1024 * 1024
ZIP_BOMB = zip_of(BOMB_SIZE, "disk.img")  # 200 MiB of zeros in about 200 KB


def rule_of(content: bytes) -> str:
    with pytest.raises(DocumentRefused) as refused:
        sniff(content)
    return refused.value.rule


def test_the_genuine_samples_are_what_they_claim() -> None:
    """The builders make real files (so a refusal below is the evil part's doing)."""
    assert len(pypdf.PdfReader(io.BytesIO(MINIMAL_PDF), strict=True).pages) == 1
    for picture in (PNG, JPEG):
        Image.open(io.BytesIO(picture)).load()
    bomb = zipfile.ZipFile(io.BytesIO(ZIP_BOMB))
    assert bomb.infolist()[0].file_size == BOMB_SIZE and len(ZIP_BOMB) < BOMB_SIZE // 500


@pytest.mark.parametrize("content,mime", [
    (MINIMAL_PDF, "application/pdf"),
    (pdf_of(*ONE_PAGE, version=b"2.0"), "application/pdf"),
    (pdf_of(*ONE_PAGE, tail=b"\r\n \n\t"), "application/pdf"),  # whitespace after %%EOF is allowed
    (pdf_of_size(5 * 1024 * 1024), "application/pdf"),
    (written_pdf(), "application/pdf"),
    (written_pdf(user_password="", owner_password="hr-archive"), "application/pdf"),  # opens without one
    (PNG, "image/png"),
    (png_of(chunk(b"tEXt", b"Comment\x00PK\x03\x04 is how a ZIP member starts")), "image/png"),
    (pillow("PNG"), "image/png"),
    (JPEG, "image/jpeg"),
    (pillow("JPEG", progressive=True), "image/jpeg"),  # several scans, tables between them
    (pillow("JPEG", exif=Image.Exif()), "image/jpeg"),
], ids=["hand-written-pdf", "pdf-2.0", "pdf-trailing-whitespace", "pdf-5-mib", "pypdf", "owner-password-only", "png",
        "png-text-naming-a-zip", "pillow-png", "jpeg", "progressive-jpeg", "jpeg-with-exif"])
def test_genuine_documents_are_accepted(content: bytes, mime: str) -> None:
    assert sniff(content) == mime


# ---------------------------------------------------------------- archives, wherever they hide
def test_a_zip_bomb_behind_a_pdf_header_is_refused() -> None:
    with pytest.raises(DocumentRefused) as refused:
        sniff(b"%PDF-1.7\n" + ZIP_BOMB)
    assert refused.value.rule == "embedded_archive"
    assert "ZIP" in refused.value.message and "byte 9" in refused.value.message


@pytest.mark.parametrize("content", [
    MINIMAL_PDF + ZIP_BOMB, written_pdf() + zip_of(), PNG + zip_of(), JPEG + zip_of(),
    # inside the structure, where no trailing-data rule looks: a PNG's private chunk, a JPEG comment,
    # an uncompressed PDF stream
    png_of(chunk(b"zzZp", zip_of())),
    JPEG[:2] + b"\xff\xfe" + struct.pack(">H", len(zip_of()) + 2) + zip_of() + JPEG[2:],
    pdf_of(*ONE_PAGE, b"<< /Length %d >>\nstream\n%s\nendstream" % (len(zip_of()), zip_of())),
], ids=["pdf+bomb", "pdf+zip", "png+zip", "jpeg+zip", "zip-in-png-chunk", "zip-in-jpeg-comment", "zip-in-pdf-stream"])
def test_a_document_that_is_also_a_zip_is_refused(content: bytes) -> None:
    assert rule_of(content) == "embedded_archive"


def test_a_zip_far_from_the_end_is_found_by_its_local_header() -> None:
    """``is_zipfile`` looks only at the last 64 KiB; a member's local header counts anywhere."""
    hidden = png_of(chunk(b"zzZp", zip_of()), chunk(b"zzZq", bytes(100_000)))
    assert not zipfile.is_zipfile(io.BytesIO(hidden))
    assert rule_of(hidden) == "embedded_archive"


def test_a_zip_whose_local_headers_are_mangled_is_found_by_its_directory() -> None:
    """A reader that goes by the central directory (Python's, Info-ZIP's) still lists its members."""
    mangled = zip_of().replace(b"PK\x03\x04", b"PK\x00\x00")
    assert zipfile.ZipFile(io.BytesIO(mangled)).namelist() == ["a.bin"]
    assert rule_of(png_of(chunk(b"zzZp", mangled))) == "embedded_archive"


@pytest.mark.parametrize("signature", [b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00", b"7z\xbc\xaf\x27\x1c"],
                         ids=["rar4", "rar5", "7z"])
def test_other_archive_signatures_are_refused(signature: bytes) -> None:
    assert rule_of(png_of(chunk(b"zzZp", signature + bytes(64)))) == "embedded_archive"


# ---------------------------------------------------------------- PDF
def _without_startxref(pdf: bytes) -> bytes:
    return re.sub(rb"startxref\s+\d+\s+", b"", pdf)


@pytest.mark.parametrize("content,rule", [
    (b"%PDF-3.0" + MINIMAL_PDF[8:], "pdf_header"),
    (b"%PDF-1.7\n" + bytes(range(256)) * 8, "pdf_eof"),  # a bare header
    (MINIMAL_PDF.rstrip()[:-len(b"%%EOF")], "pdf_eof"),
    (MINIMAL_PDF[:len(MINIMAL_PDF) // 2], "pdf_eof"),  # cut short
    (MINIMAL_PDF + b"<script>alert(1)</script>\n", "pdf_eof"),  # bytes after %%EOF
    (MINIMAL_PDF + b" " * 1100, "pdf_eof"),  # whitespace, but %%EOF no longer in the last KiB
    (_without_startxref(MINIMAL_PDF), "pdf_startxref"),
    (_without_startxref(written_pdf()), "pdf_startxref"),
    (re.sub(rb"startxref\s+\d+", b"startxref\n99999999", MINIMAL_PDF), "pdf_startxref"),  # past the end
    (b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\nstartxref\n9\n%%EOF\n", "pdf_unreadable"),
    (pdf_of(b"<< /Type /Catalog >>"), "pdf_unreadable"),  # no page tree
    (pdf_of(CATALOG, b"<< /Type /Pages /Kids [] /Count 0 >>"), "pdf_no_pages"),
    (pdf_of(CATALOG, b"<< /Type /Pages /Kids [] /Count 3 >>"), "pdf_no_pages"),  # the tree, not its /Count
    (written_pdf(user_password="123456", owner_password="hr"), "pdf_encrypted"),
])
def test_a_pdf_that_is_not_whole_is_refused_naming_the_rule(content: bytes, rule: str) -> None:
    assert rule_of(content) == rule


def test_a_flate_bomb_inside_a_pdf_is_never_inflated() -> None:
    """A page whose content stream inflates to 256 MiB is read without touching the stream."""
    deflate = zlib.compressobj(9)
    bomb = b"".join(deflate.compress(bytes(1 << 20)) for _ in range(256)) + deflate.flush()
    content = pdf_of(CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
                     b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(bomb), bomb))
    tracemalloc.start()
    try:
        assert sniff(content) == "application/pdf"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000, f"{peak:,} bytes allocated: the stream was inflated"


def test_a_flate_bomb_in_the_cross_reference_stream_is_cut_off() -> None:
    """The one kind of stream pypdf must inflate to find the pages (200 MiB here) stops at
    ``PDF_INFLATE_LIMIT`` (20 MB; pypdf's own default is 75 MB)."""
    deflate = zlib.compressobj(9)
    bomb = b"".join(deflate.compress(bytes(1 << 20)) for _ in range(200)) + deflate.flush()
    head = b"%PDF-1.7\n1 0 obj\n" + CATALOG + b"\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    content = (head + b"3 0 obj\n<< /Type /XRef /Size 4 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>\n"
               b"stream\n%s\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % (len(bomb), bomb, len(head)))
    tracemalloc.start()
    try:
        assert rule_of(content) == "pdf_unreadable"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64_000_000, f"{peak:,} bytes allocated for a {len(content):,}-byte file"


# ---------------------------------------------------------------- PNG
def _bad_crc(png: bytes) -> bytes:
    at = png.index(b"IDAT") + 4 + int.from_bytes(png[png.index(b"IDAT") - 4:png.index(b"IDAT")], "big")
    return png[:at] + bytes([png[at] ^ 0xFF]) + png[at + 1:]


IDAT_AT = PNG.index(b"IDAT") - 4


@pytest.mark.parametrize("content,rule", [
    (PNG + b"\x00" * 16, "png_trailing_data"),
    (PNG + b"<?php system($_GET['c']); ?>", "png_trailing_data"),
    (PNG + chunk(b"IEND", b""), "png_trailing_data"),  # even a second, well-formed end
    (_bad_crc(PNG), "png_crc"),
    (PNG[:IDAT_AT + 10], "png_truncated"),  # cut inside IDAT
    (PNG[:-12], "png_truncated"),  # no IEND
    (PNG[:8] + chunk(b"tEXt", b"a\x00b") + PNG[8:], "png_first_chunk"),
    (PNG[:IDAT_AT] + chunk(b"ZZZZ", b"?") + PNG[IDAT_AT:], "png_chunk_unknown"),  # critical, unknown
    (PNG[:IDAT_AT] + b"\x00\x00\x00\x04\x00\x01\x02\x03" + bytes(8) + PNG[IDAT_AT:], "png_chunk_type"),
    (PNG[:IDAT_AT] + chunk(b"IEND", b""), "png_no_image_data"),
    (b"\x89PNG\r\n\x1a\x00" + PNG[8:], "png_signature"),
], ids=["zeros-after-iend", "script-after-iend", "second-iend", "bad-crc", "cut-in-idat", "no-iend", "ihdr-not-first",
        "unknown-critical-chunk", "not-a-chunk-type", "no-idat", "signature"])
def test_a_png_that_is_not_whole_is_refused_naming_the_rule(content: bytes, rule: str) -> None:
    assert rule_of(content) == rule


def test_the_pixel_limit_still_holds_for_a_well_formed_png() -> None:
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    assert rule_of(bomb + chunk(b"IDAT", zlib.compress(bytes(1024))) + chunk(b"IEND", b"")) == "image_pixels"
    assert 100_000 * 100_000 > MAX_IMAGE_PIXELS


# ---------------------------------------------------------------- JPEG
SOS_AT = JPEG.index(b"\xff\xda")
APP0_END = 4 + int.from_bytes(JPEG[4:6], "big")  # after SOI and the JFIF segment


@pytest.mark.parametrize("content,rule", [
    (JPEG[:-2], "jpeg_truncated"),  # no FFD9
    (JPEG[:SOS_AT + 20], "jpeg_truncated"),  # cut inside the scan
    (JPEG[:4] + b"\xff\xff", "jpeg_truncated"),  # a segment longer than the file
    (JPEG + b"\x00", "jpeg_trailing_data"),
    (JPEG + JPEG, "jpeg_trailing_data"),  # a second picture after the end
    (JPEG[:APP0_END] + b"hidden" + JPEG[APP0_END:], "jpeg_segments"),  # bytes between segments
    (JPEG[:2] + b"\xff\xe1\x00\x01" + JPEG[2:], "jpeg_segments"),  # a length shorter than itself
    (JPEG[:APP0_END] + b"\xff\xd8" + JPEG[APP0_END:], "jpeg_segments"),  # a second start of image
    (b"\xff\xd8" + JPEG[SOS_AT:], "jpeg_no_frame"),  # a scan with no frame header before it
    (b"\xff\xd8\xff\xfe\x00\x04hi\xff\xd9", "jpeg_no_scan"),
], ids=["no-eoi", "cut-in-scan", "segment-past-end", "byte-after-eoi", "two-pictures", "junk-between-segments",
        "short-length", "second-soi", "no-frame", "no-scan"])
def test_a_jpeg_that_is_not_whole_is_refused_naming_the_rule(content: bytes, rule: str) -> None:
    assert rule_of(content) == rule


def test_a_scan_with_stuffed_bytes_and_restart_markers_is_walked_to_its_end() -> None:
    """FF00 and RSTn inside the entropy-coded data are not the end of the scan."""
    with_restarts = pillow("JPEG", restart_marker_blocks=1)
    assert b"\xff\xd0" in with_restarts[SOS_AT:]
    assert sniff(with_restarts) == "image/jpeg"
    assert rule_of(with_restarts + b"\xff\xd0") == "jpeg_trailing_data"


# ---------------------------------------------------------------- the words
@pytest.mark.parametrize("content", [
    b"%PDF-1.7\n" + ZIP_BOMB, b"%PDF-3.0" + MINIMAL_PDF[8:], MINIMAL_PDF[:-6], _without_startxref(MINIMAL_PDF),
    pdf_of(b"<< /Type /Catalog >>"), pdf_of(CATALOG, b"<< /Type /Pages /Kids [] /Count 0 >>"),
    written_pdf(user_password="1", owner_password="2"), PNG + b"x", _bad_crc(PNG), PNG[:-12],
    JPEG[:-2], JPEG + b"x", JPEG[:APP0_END] + b"x" + JPEG[APP0_END:],
    b"\xff\xd8" + JPEG[SOS_AT:],
])
def test_each_refusal_is_written_in_chinese_and_english(content: bytes) -> None:
    """Written "中文 (English)", as the API splits it to answer the reader's half."""
    with pytest.raises(DocumentRefused) as refused:
        sniff(content)
    both = bilingual(refused.value.message)
    assert both is not None, refused.value.message
    assert chinese(both.zh) and not chinese(both.en)
