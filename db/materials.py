"""Transfer materials in PostgreSQL: the bytes, their SHA-256 and sniffed type, who uploaded them.

The bytes (an ID card's scan, a household register) are sealed under the employee's own key
(``PersonKeyring.seal_bytes``, bound to their SHA-256 so they cannot be swapped between rows):
her erasure makes them unreadable with everything else of hers.

Nothing touches the file system, so the uploader's file name can never become a path; it is kept
only as display text, and only a plain name that agrees with the content is accepted. A new upload for a requirement supersedes the earlier one (``current``
false) instead of deleting it, so HR can still see what was sent before.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer, sessionmaker

from db.models import Transfer, TransferMaterial
from db.person_keys import KeyDestroyed
from db.sealed_fields import require_keyring
from domain.documents import check_filename, sniff


def _field(sha256: str) -> str:
    return f"document:{sha256}"


def store(session: Session, transfer: Transfer, code: str, filename: str | None, content: bytes,
          uploader: str) -> TransferMaterial:
    """Keep one upload as the current material for ``code`` (flushed, not committed).

    The caller holds the lock on ``transfer``'s row (``FOR UPDATE``), so two uploads of the same
    code cannot both stay current. Raises ``DocumentRefused`` before writing anything if the
    content is not a PDF, JPEG or PNG, or its name is not a plain file name that agrees with it.
    """
    content_type = sniff(content)
    name = check_filename(filename, content_type)
    keyring = require_keyring(session, "seal an uploaded document")
    sha256 = hashlib.sha256(content).hexdigest()
    kid, sealed = keyring.seal_bytes(transfer.employee_id, _field(sha256), content)
    session.execute(
        update(TransferMaterial)
        .where(TransferMaterial.workflow_id == transfer.workflow_id, TransferMaterial.code == code,
               TransferMaterial.current.is_(True))
        .values(current=False)
        .execution_options(synchronize_session=False))  # no earlier version is loaded in this session
    material = TransferMaterial(
        workflow_id=transfer.workflow_id, code=code, filename=name, content_type=content_type,
        size=len(content), sha256=sha256, content=sealed, sealed_with=kid, uploaded_by=uploader, current=True)
    session.add(material)
    session.flush()  # PostgreSQL returns uploaded_at with the INSERT
    return material


def current_codes(session: Session, workflow_id: str) -> list[str]:
    """The codes with a current upload: what a completeness check needs, nothing more."""
    return list(session.scalars(select(TransferMaterial.code).where(
        TransferMaterial.workflow_id == workflow_id, TransferMaterial.current.is_(True))))


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


def document_bytes(session: Session, material: TransferMaterial) -> bytes | None:
    """The document as uploaded, opened under her key; None once she was erased."""
    if material.sealed_with is None:
        return material.content or None  # written before the sealing, or emptied by her erasure
    keyring = require_keyring(session, "open an uploaded document")
    try:
        return keyring.open_bytes(_field(material.sha256), material.sealed_with, material.content)
    except KeyDestroyed:
        return None


def seal_plain_documents(session_factory: sessionmaker[Session], batch: int = 50) -> int:
    """Seal every document uploaded before the sealing, under its employee's key; the number sealed.
    Idempotent: a sealed row names its key."""
    total = 0
    while True:
        with session_factory.begin() as s:
            keyring = require_keyring(s, "seal uploaded documents")
            rows = s.execute(select(TransferMaterial, Transfer.employee_id)
                             .join(Transfer, Transfer.workflow_id == TransferMaterial.workflow_id)
                             .where(TransferMaterial.sealed_with.is_(None), TransferMaterial.size > 0)
                             .order_by(TransferMaterial.id).limit(batch)
                             .with_for_update(of=TransferMaterial)).all()
            for material, employee_id in rows:
                material.sealed_with, material.content = keyring.seal_bytes(
                    employee_id, _field(material.sha256), material.content)
        total += len(rows)
        if len(rows) < batch:
            return total
