"""Uploaded documents: what a file really is, and whether a transfer's set of materials is complete.

The kind is judged by the bytes (magic numbers via ``filetype``), never by the name or the client's
Content-Type: both are whatever the uploader says. A name that disagrees with the bytes (a PNG called
``contract.pdf``, an ``id.pdf.exe``) is refused, and so is a name that is not a plain file name (a
path, control or invisible characters such as a right-to-left override, more than 255 characters):
HR opens these files, and a name that lies about them is how a file fools a reader. An image's pixel count is read from its header
(PNG ``IHDR``, JPEG start-of-frame): a few kilobytes can declare a picture that takes gigabytes to
decode, and whoever opens it later (a viewer, a thumbnailer, an OCR job) would pay for it. Pure: no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import filetype

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
    """The MIME type of ``content`` if it is a PDF, or a JPEG or PNG of at most ``MAX_IMAGE_PIXELS``;
    otherwise ``DocumentRefused``."""
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
