"""Transfer materials in PostgreSQL: the bytes, their SHA-256 and sniffed type, who uploaded them.

Nothing touches the file system, so the uploader's file name can never become a path; it is kept
only as display text, and only a plain name that agrees with the content is accepted. A new upload for a requirement supersedes the earlier one (``current``
false) instead of deleting it, so HR can still see what was sent before.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer

from db.models import Transfer, TransferMaterial
from domain.documents import check_filename, sniff


def store(session: Session, workflow_id: str, code: str, filename: str | None, content: bytes,
          uploader: str) -> TransferMaterial:
    """Keep one upload as the current material for ``code`` (flushed, not committed).

    Raises ``DocumentRefused`` before writing anything if the content is not a PDF, JPEG or PNG, or
    its name is not a plain file name that agrees with the content.
    The transfer row is locked so two uploads of the same code cannot both stay current.
    """
    content_type = sniff(content)
    name = check_filename(filename, content_type)
    session.execute(select(Transfer.workflow_id).where(Transfer.workflow_id == workflow_id).with_for_update())
    session.execute(
        update(TransferMaterial)
        .where(TransferMaterial.workflow_id == workflow_id, TransferMaterial.code == code,
               TransferMaterial.current.is_(True))
        .values(current=False))
    material = TransferMaterial(
        workflow_id=workflow_id, code=code, filename=name, content_type=content_type,
        size=len(content), sha256=hashlib.sha256(content).hexdigest(), content=content, uploaded_by=uploader,
        current=True)
    session.add(material)
    session.flush()  # PostgreSQL returns uploaded_at with the INSERT
    return material


def current_materials(session: Session, workflow_id: str) -> list[TransferMaterial]:
    """The current upload per code, without the bytes (touching ``content`` raises)."""
    return list(session.scalars(
        select(TransferMaterial)
        .where(TransferMaterial.workflow_id == workflow_id, TransferMaterial.current.is_(True))
        .options(defer(TransferMaterial.content, raiseload=True))
        .order_by(TransferMaterial.code, TransferMaterial.id)))


def material_content(session: Session, workflow_id: str, material_id: int) -> TransferMaterial | None:
    """One upload of this transfer (current or superseded) with its bytes; ``None`` if not this transfer's."""
    return session.scalar(select(TransferMaterial).where(
        TransferMaterial.id == material_id, TransferMaterial.workflow_id == workflow_id))
