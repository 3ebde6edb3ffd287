"""Uploaded documents: what a file really is, and whether a transfer's set of materials is complete.

The kind is judged by the bytes (magic numbers via ``filetype``), never by the name or the client's
Content-Type: both are whatever the uploader says. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

import filetype

from domain.policy.models import Material

ACCEPTED = ("application/pdf", "image/jpeg", "image/png")


class DocumentRefused(ValueError):
    """The content is not something we keep; ``rule`` is machine-readable, ``message`` says what was found."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.message = rule, message


def sniff(content: bytes) -> str:
    """The MIME type of ``content`` if it is a PDF, JPEG or PNG; otherwise ``DocumentRefused``."""
    if not content:
        raise DocumentRefused("empty_file", "the file is empty")
    kind = filetype.guess(content)
    if kind is None:
        raise DocumentRefused("unsupported_type", "the content is not a recognised document type"
                                                  " (plain text or unknown binary); send a PDF, JPEG or PNG")
    if kind.mime not in ACCEPTED:
        raise DocumentRefused("unsupported_type", f"the content is {kind.mime} (.{kind.extension});"
                                                  " send a PDF, JPEG or PNG")
    return kind.mime


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
