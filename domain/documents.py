"""Uploaded documents: what a file really is, and whether a transfer's set of materials is complete.

The kind is judged by the bytes (magic numbers via ``filetype``), never by the name or the client's
Content-Type: both are whatever the uploader says. A name that disagrees with the bytes (a PNG called
``contract.pdf``, an ``id.pdf.exe``) is refused, and so is a name that is not a plain file name (a
path, control or invisible characters such as a right-to-left override, more than 255 characters):
HR opens these files, and a name that lies about them is how a file fools a reader. An image's pixel count is read from its header
(PNG ``IHDR``, JPEG start-of-frame): a few kilobytes can declare a picture that takes gigabytes to
decode, and whoever opens it later (a viewer, a thumbnailer, an OCR job) would pay for it.

A header is only where a file starts. After the sniff the whole file is walked as its kind is built
(a PDF's trailer and page tree, a PNG's chunks with their CRCs, a JPEG's segments to its end-of-image
marker), and nothing may follow its end: a ZIP bomb behind ``%PDF-`` or a photo that is also an
archive (a polyglot) passes every header check, and an archive reader opens it for what it also is.
The PDF's streams stay compressed (only the cross-reference data pypdf needs to find the pages is
read), so a Flate bomb inside one is never inflated here. Pure: no I/O.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable

import filetype
import pypdf

from domain.policy.models import Material

ACCEPTED = ("application/pdf", "image/jpeg", "image/png")
# Room for an A4 page scanned at 600 dpi (35 million pixels) or a 50-megapixel phone photo (8160 x 6120);
# decoded, that is at most 200 MB of RGBA.
MAX_IMAGE_PIXELS = 50_000_000
MAX_FILENAME = 255
EXTENSIONS = {"application/pdf": ("pdf",), "image/jpeg": ("jpg", "jpeg", "jpe"), "image/png": ("png",)}


class DocumentRefused(ValueError):
    """The content is not something we keep; ``rule`` is machine-readable, ``message`` says what was found."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.message = rule, message


def sniff(content: bytes) -> str:
    """The MIME type of ``content`` if it is a PDF, or a JPEG or PNG of at most ``MAX_IMAGE_PIXELS``,
    built as its kind is and holding no archive; otherwise ``DocumentRefused``."""
    if not content:
        raise DocumentRefused("empty_file", "the file is empty")
    kind = filetype.guess(content)
    if kind is None:
        raise DocumentRefused("unsupported_type", "the content is not a recognised document type"
                                                  " (plain text or unknown binary); send a PDF, JPEG or PNG")
    if kind.mime not in ACCEPTED:
        raise DocumentRefused("unsupported_type", f"the content is {kind.mime} (.{kind.extension});"
                                                  " send a PDF, JPEG or PNG")
    mime: str = kind.mime  # filetype has no type hints
    if mime == "image/png":
        _check_pixels(png_size(content))
    elif mime == "image/jpeg":
        _check_pixels(jpeg_size(content))
    check_structure(content, mime)
    return mime


def check_filename(filename: str | None, mime: str) -> str:
    """The uploader's file name if it is a plain name whose extension (if any) fits ``mime``;
    otherwise ``DocumentRefused`` naming the rule."""
    name = filename or ""
    if not name.strip():
        raise DocumentRefused("filename_missing", "the file has no name")
    if len(name) > MAX_FILENAME:
        raise DocumentRefused("filename_length", f"the name has {len(name)} characters; at most {MAX_FILENAME}")
    hidden = sorted({f"U+{ord(ch):04X}" for ch in name if unicodedata.category(ch).startswith("C")})
    if hidden:
        raise DocumentRefused("filename_characters", "the name contains control or invisible characters"
                                                     f" ({', '.join(hidden[:5])})")
    if "/" in name or "\\" in name or name.strip(" .") == "":
        raise DocumentRefused("filename_path", "send a plain file name, not a path")
    stem, dot, extension = name.rpartition(".")
    if dot and stem.strip(".") and extension.lower() not in EXTENSIONS[mime]:
        raise DocumentRefused("extension_mismatch", f"the name says .{extension} but the content is {mime}"
                                                    f" (.{EXTENSIONS[mime][0]})")
    return name


def _check_pixels(size: tuple[int, int] | None) -> None:
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        width, height = size
        raise DocumentRefused("image_pixels", f"the image declares {width} x {height} pixels ({width * height:,});"
                                              f" at most {MAX_IMAGE_PIXELS:,} are accepted")


def png_size(content: bytes) -> tuple[int, int] | None:
    """(width, height) from the IHDR chunk, which must come first; ``None`` without one (no decoder
    reads such a file, so it declares nothing)."""
    if len(content) < 24 or content[12:16] != b"IHDR":
        return None
    return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")


# Start-of-frame markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn have no length


def jpeg_size(content: bytes) -> tuple[int, int] | None:
    """(width, height) from the first start-of-frame segment before the scan; ``None`` without one.

    Bytes between segments are skipped up to the next 0xFF, as libjpeg does, so padding cannot hide
    a frame header from this check that a decoder would still find.
    """
    i, end = 2, len(content)
    while i < end:
        if content[i] != 0xFF:
            i += 1
            continue
        while i < end and content[i] == 0xFF:  # fill bytes
            i += 1
        if i >= end:
            return None
        marker, i = content[i], i + 1
        if marker in _STANDALONE or marker == 0x00:
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header came first
            return None
        if i + 2 > end:
            return None
        length = int.from_bytes(content[i:i + 2], "big")
        if marker in _SOF:
            if i + 7 > end:
                return None
            return int.from_bytes(content[i + 5:i + 7], "big"), int.from_bytes(content[i + 3:i + 5], "big")
        i += length
    return None


# ------------------------------------------------------------------ structure
def check_structure(content: bytes, mime: str) -> None:
    """``DocumentRefused`` unless ``content`` (sniffed as ``mime``) holds no archive and is whole: the
    header says what a file claims to be, the structure whether it is only that."""
    refuse_archives(content)
    {"application/pdf": check_pdf, "image/png": check_png, "image/jpeg": check_jpeg}[mime](content)


_STRUCTURE = "文件结构不完整："
_INCOMPLETE = "the file's structure is incomplete: "
# RAR 4 and 5, 7-Zip: signatures long enough (7 or 6 bytes) that compressed data holds them by chance
# about once in 10^14 bytes.
_ARCHIVE_SIGNATURES = ((b"Rar!\x1a\x07\x00", "RAR"), (b"Rar!\x1a\x07\x01\x00", "RAR"), (b"7z\xbc\xaf\x27\x1c", "7z"))
_ZIP_LOCAL = b"PK\x03\x04"
_ZIP_METHODS = frozenset({0, 8, 9, 12, 14, 93, 95, 98, 99})  # stored, deflate(64), bzip2, LZMA, zstd, xz, PPMd, AES


def refuse_archives(content: bytes) -> None:
    """``embedded_archive`` when ``content`` is also an archive: a ZIP end-of-central-directory record
    that opens, a ZIP member's local header anywhere, or a RAR or 7z signature."""
    found = _zip_at(content)
    for signature, name in _ARCHIVE_SIGNATURES:
        at = content.find(signature)
        if at >= 0 and (found is None or at < found[0]):
            found = at, name
    if found is not None:
        at, name = found
        raise DocumentRefused("embedded_archive", f"文件中还藏有 {name} 压缩包（第 {at:,} 字节起），不予接收；请上传原始文件"
                                                  f" (the file also holds a {name} archive at byte {at:,};"
                                                  " a document with an archive inside is not accepted)")


def _zip_at(content: bytes) -> tuple[int, str] | None:
    """Where a ZIP is in ``content``. ``is_zipfile`` finds an end record in the last 64 KiB (where a
    ZIP reader looks, so a polyglot puts it there); it counts when its directory lists a member, as
    four random bytes would not. A member's local header is also how a reader that scans (7-Zip,
    a repair tool) finds one, and it is checked field by field for the same reason."""
    at = content.find(_ZIP_LOCAL)
    while at >= 0:
        if _plausible_local_header(content, at):
            return at, "ZIP"
        at = content.find(_ZIP_LOCAL, at + 1)
    stream = io.BytesIO(content)
    if zipfile.is_zipfile(stream):
        try:
            with zipfile.ZipFile(stream) as archive:  # reads the central directory; nothing is inflated
                if archive.infolist():
                    return content.rfind(b"PK\x05\x06"), "ZIP"
        except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
            return None
    return None


def _plausible_local_header(content: bytes, at: int) -> bool:
    """A ZIP local file header at ``at``: a known version and method and a name that fits in the file."""
    if at + 30 > len(content):
        return False
    version, _, method = struct.unpack_from("<HHH", content, at + 4)
    name_length, extra_length = struct.unpack_from("<HH", content, at + 26)
    return ((version & 0xFF) <= 63 and method in _ZIP_METHODS and 0 < name_length <= 4096
            and at + 30 + name_length + extra_length <= len(content))


# PDF: the header, then the trailer a reader starts from, then the page tree.
_PDF_HEADERS = (b"%PDF-1.", b"%PDF-2.")
PDF_TAIL = 1024  # the trailer's startxref and %%EOF must be within the last KiB
_PDF_WHITESPACE = b" \t\r\n\x0c"
_STARTXREF = re.compile(rb"startxref\s+(\d{1,20})\s+%%EOF\Z")
# The cross-reference and object streams pypdf inflates to find the pages: far more than a 5 MB file's
# structure needs, far less than a bomb.
PDF_INFLATE_LIMIT = 20_000_000


def check_pdf(content: bytes) -> None:
    """A PDF that starts with its version, ends with its trailer and has a page tree that pypdf reads."""
    if not content.startswith(_PDF_HEADERS):
        raise DocumentRefused("pdf_header", f"{_STRUCTURE}PDF 文件须以 %PDF-1. 或 %PDF-2. 开头"
                                            f" ({_INCOMPLETE}a PDF begins with %PDF-1. or %PDF-2.)")
    _check_pdf_trailer(content)
    _check_pdf_pages(content)


def _check_pdf_trailer(content: bytes) -> None:
    """``startxref``, an offset inside the file and ``%%EOF`` end the file, followed by whitespace at
    most: that is where every reader starts, and bytes after it are what a reader never shows."""
    tail = content[-PDF_TAIL:].rstrip(_PDF_WHITESPACE)
    if not tail.endswith(b"%%EOF"):
        raise DocumentRefused("pdf_eof", f"{_STRUCTURE}PDF 文件末尾没有结束标记 %%EOF，可能没有传完，或其后还有其他数据"
                                         f" ({_INCOMPLETE}the PDF does not end with %%EOF: it is cut short"
                                         " or other data follows it)")
    found = _STARTXREF.search(tail)
    if found is None or int(found.group(1)) >= len(content):
        raise DocumentRefused("pdf_startxref", f"{_STRUCTURE}PDF 文件末尾缺少 startxref 及交叉引用表的位置"
                                               f" ({_INCOMPLETE}no startxref with the offset of the"
                                               " cross-reference table before %%EOF)")


def _check_pdf_pages(content: bytes) -> None:
    """The cross-reference data, trailer and page tree parse, with at least one page. Any exception
    of the parser is a refusal: on hostile input it may raise anything, and a file it cannot read is
    one HR cannot count on either."""
    try:
        with pypdf.apply_configuration(zlib_maximum_output_length=PDF_INFLATE_LIMIT,
                                       lzw_maximum_output_length=PDF_INFLATE_LIMIT,
                                       run_length_maximum_output_length=PDF_INFLATE_LIMIT,
                                       brotli_maximum_output_length=PDF_INFLATE_LIMIT):
            reader = pypdf.PdfReader(io.BytesIO(content))
            _check_pdf_opens(reader)
            pages = len(reader.pages)  # walks the page tree; no page's content is read
    except DocumentRefused:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a parser of hostile bytes raises is a refusal
        raise DocumentRefused("pdf_unreadable", f"{_STRUCTURE}无法读取该 PDF 的交叉引用表或页面树（{type(exc).__name__}）"
                                                f" ({_INCOMPLETE}the PDF's cross-reference table or page tree"
                                                f" cannot be read: {type(exc).__name__})") from None
    if pages < 1:
        raise DocumentRefused("pdf_no_pages", "PDF 文件没有任何页面 (the PDF has no pages)")


def _check_pdf_opens(reader: pypdf.PdfReader) -> None:
    """A PDF that needs a password to open is refused: HR could not read it, nor could this check see
    its pages. One restricted only by an owner password opens in every viewer (with the empty user
    password, as here) and is kept."""
    if not reader.is_encrypted:
        return
    try:
        opened = reader.decrypt("") != pypdf.PasswordType.NOT_DECRYPTED
    except Exception:  # noqa: BLE001 - an encryption pypdf does not support is one we cannot open either
        opened = False
    if not opened:
        raise DocumentRefused("pdf_encrypted", "PDF 文件已加密，须输入密码才能打开；请上传未加密的文件"
                                               " (the PDF is encrypted and needs a password to open;"
                                               " send it without one)")


# PNG: the signature, then chunks (length, type, data, CRC) from IHDR to IEND.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_PNG_MAX_CHUNK = 2**31 - 1


def check_png(content: bytes) -> None:
    """Every chunk whole with a matching CRC, IHDR first, image data before IEND, nothing after IEND,
    and no critical chunk a decoder does not know (it must refuse the file, so no viewer shows it)."""
    if not content.startswith(_PNG_SIGNATURE):
        raise DocumentRefused("png_signature", f"{_STRUCTURE}PNG 文件的签名不完整"
                                               f" ({_INCOMPLETE}the PNG signature is not whole)")
    at, first, has_data = len(_PNG_SIGNATURE), True, False
    while True:
        name, data_at, length = _png_chunk(content, at)
        if first and (name != b"IHDR" or length != 13):
            raise DocumentRefused("png_first_chunk", f"{_STRUCTURE}PNG 文件的第一个数据块须为 IHDR"
                                                     f" ({_INCOMPLETE}a PNG begins with its IHDR chunk)")
        if not name[0] & 0x20 and name not in _PNG_CRITICAL:
            shown = name.decode("ascii")
            raise DocumentRefused("png_chunk_unknown", f"PNG 文件含有无法识别的关键数据块 {shown}，看图软件无法显示它"
                                                       f" (the PNG holds an unknown critical chunk {shown};"
                                                       " no viewer can show it)")
        first, has_data, at = False, has_data or name == b"IDAT", data_at + length + 4
        if name == b"IEND":
            break
    if not has_data:
        raise DocumentRefused("png_no_image_data", "PNG 文件中没有图像数据块 IDAT (the PNG holds no image data,"
                                                   " no IDAT chunk)")
    if at != len(content):
        raise DocumentRefused("png_trailing_data", f"PNG 文件在结束块 IEND 之后还有 {len(content) - at:,} 字节的其他数据，"
                                                   f"不予接收 (the PNG has {len(content) - at:,} bytes of other"
                                                   " data after its IEND chunk)")


def _png_chunk(content: bytes, at: int) -> tuple[bytes, int, int]:
    """(type, where its data starts, data length) of the chunk at ``at``, whole and with its CRC checked."""
    if at + 8 > len(content):
        raise _png_truncated(at)
    length = int.from_bytes(content[at:at + 4], "big")
    name = content[at + 4:at + 8]
    if not all(65 <= c <= 90 or 97 <= c <= 122 for c in name) or length > _PNG_MAX_CHUNK:
        raise DocumentRefused("png_chunk_type", f"{_STRUCTURE}PNG 文件第 {at:,} 字节处不是数据块"
                                                f" ({_INCOMPLETE}byte {at:,} of the PNG does not start a chunk)")
    end = at + 8 + length
    if end + 4 > len(content):
        raise _png_truncated(at)
    if zlib.crc32(content[at + 4:end]) != int.from_bytes(content[end:end + 4], "big"):
        shown = name.decode("ascii")
        raise DocumentRefused("png_crc", f"文件已损坏：PNG 数据块 {shown}（第 {at:,} 字节起）的校验值不符"
                                         f" (the file is damaged: the CRC of the PNG chunk {shown} at byte {at:,}"
                                         " does not match)")
    return name, at + 8, length


def _png_truncated(at: int) -> DocumentRefused:
    return DocumentRefused("png_truncated", f"{_STRUCTURE}PNG 文件在第 {at:,} 字节处中断，没有结束块 IEND，可能没有传完"
                                            f" ({_INCOMPLETE}the PNG is cut short at byte {at:,},"
                                            " before its IEND chunk)")


# JPEG: segments (marker, length, data) from SOI; each scan's entropy-coded data runs to the next marker.
_EOI, _SOS = 0xD9, 0xDA


def check_jpeg(content: bytes) -> None:
    """Segments one after another from SOI, a frame header before the first scan, each scan's data
    to the next marker, and the end-of-image marker FFD9 as the file's last two bytes."""
    if not content.startswith(b"\xff\xd8"):
        raise _jpeg_broken(0)
    at, framed, scanned, end = 2, False, False, len(content)
    while True:
        marker, at = _jpeg_marker(content, at)
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            continue
        if at + 2 > end:
            raise _jpeg_truncated()
        if marker in (0x00, 0xD8):  # a stuffed zero or a second SOI is no segment
            raise _jpeg_broken(at - 2)
        segment_end = at + int.from_bytes(content[at:at + 2], "big")  # < 2 lands on the length: not a marker
        if segment_end > end:
            raise _jpeg_truncated()
        framed = framed or marker in _SOF
        if marker == _SOS:
            if not framed:
                raise DocumentRefused("jpeg_no_frame", f"{_STRUCTURE}JPEG 文件的图像数据之前没有帧头"
                                                       f" ({_INCOMPLETE}the JPEG's scan comes before any frame header)")
            scanned, segment_end = True, _scan_end(content, segment_end)
        at = segment_end
    if not scanned:
        raise DocumentRefused("jpeg_no_scan", "JPEG 文件中没有图像数据 (the JPEG holds no image data, no start of scan)")
    if at != end:
        raise DocumentRefused("jpeg_trailing_data", f"JPEG 文件在结束标记 FFD9 之后还有 {end - at:,} 字节的其他数据"
                                                    "（如手机的动态照片），不予接收；请导出为普通图片后上传"
                                                    f" (the JPEG has {end - at:,} bytes of other data after its"
                                                    " end-of-image marker, as a phone's motion photo does;"
                                                    " export it as a plain picture)")


def _jpeg_marker(content: bytes, at: int) -> tuple[int, int]:
    """(the marker at ``at``, where its segment starts): 0xFF, fill bytes, the code. Anything else
    between segments is refused: a decoder skips it, so it is a place to hide bytes."""
    if at >= len(content):
        raise _jpeg_truncated()
    if content[at] != 0xFF:
        raise _jpeg_broken(at)
    while at < len(content) and content[at] == 0xFF:
        at += 1
    if at >= len(content):
        raise _jpeg_truncated()
    return content[at], at + 1


def _scan_end(content: bytes, at: int) -> int:
    """Where the entropy-coded data from ``at`` ends: the first 0xFF that is neither a stuffed 0xFF00
    nor a restart marker."""
    while True:
        at = content.find(b"\xff", at)
        if at < 0 or at + 1 >= len(content):
            raise _jpeg_truncated()
        following = content[at + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            at += 2
        elif following == 0xFF:
            at += 1
        else:
            return at


def _jpeg_broken(at: int) -> DocumentRefused:
    return DocumentRefused("jpeg_segments", f"{_STRUCTURE}JPEG 文件第 {at:,} 字节处不是有效的段"
                                           f" ({_INCOMPLETE}byte {at:,} of the JPEG does not start a valid segment)")


def _jpeg_truncated() -> DocumentRefused:
    return DocumentRefused("jpeg_truncated", f"{_STRUCTURE}JPEG 文件没有结束标记 FFD9，可能没有传完"
                                             f" ({_INCOMPLETE}the JPEG ends without its end-of-image marker FFD9;"
                                             " it may be cut short)")


def check_completeness(requirements: Iterable[Material], uploaded_codes: Iterable[str]
                       ) -> tuple[list[str], list[str]]:
    """(required codes not yet uploaded, uploaded codes the requirements do not name), each in order.

    A code listed twice (two insurance types needing the same ID card) counts once: one upload
    serves every type that asks for it.
    """
    materials = list(requirements)
    uploaded = list(dict.fromkeys(uploaded_codes))
    known = {m.code for m in materials}
    missing = list(dict.fromkeys(m.code for m in materials if m.required and m.code not in set(uploaded)))
    unknown = [code for code in uploaded if code not in known]
    return missing, unknown
