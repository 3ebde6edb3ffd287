"""The audit trail: who did what to which case, when, from which request; tamper-evident.

Each row's SHA-256 covers its fields and the previous row's hash. Appends take a transaction-level
advisory lock so the chain has one order; the lock is released when the appending transaction
commits, so the audit row always commits together with the change it records. A trigger in the
database rejects UPDATE, DELETE and TRUNCATE; ``verify_chain`` catches what a superuser could
still do behind the trigger's back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from db.canonical import canonical_bytes, to_jsonable
from db.models import AuditEvent

GENESIS = "0" * 64
CHAIN_LOCK_KEY = 0x68726677  # "hrfw": one chain, one advisory lock


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    actor_role: str
    action: str
    workflow_id: str | None = None
    subject: str | None = None
    before: Any = None
    after: Any = None
    request_id: str | None = None
    on_behalf_of: str | None = None  # the delegator, when a delegate acted for her


def row_hash(event: AuditEvent) -> str:
    """SHA-256 over the row's content and its predecessor's hash (everything but id and hash)."""
    body = {
        "occurred_at": event.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": event.actor,
        "actor_role": event.actor_role,
        "action": event.action,
        "workflow_id": event.workflow_id,
        "subject": event.subject,
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
    }
    if event.on_behalf_of is not None:  # only then: rows from before delegations keep their hashes
        body["on_behalf_of"] = event.on_behalf_of
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def append(session: Session, entry: AuditEntry, *, at: dt.datetime | None = None) -> AuditEvent:
    """Add one chained row to the session (flushed, not committed)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    occurred_at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    said = asdict(entry) | {"before": to_jsonable(entry.before), "after": to_jsonable(entry.after)}
    event = AuditEvent(occurred_at=occurred_at, prev_hash=prev or GENESIS, **said)
    event.hash = row_hash(event)
    session.add(event)
    session.flush()
    return event


def append_many(session: Session, entries: list[AuditEntry], *, at: dt.datetime | None = None) -> None:
    """Add chained rows for a batch (an import) under one lock, one read of the head and one
    multi-row insert, instead of a round trip per row."""
    if not entries:
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    occurred_at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    rows = []
    for entry in entries:
        said = asdict(entry) | {"before": to_jsonable(entry.before), "after": to_jsonable(entry.after)}
        event = AuditEvent(occurred_at=occurred_at, prev_hash=prev, **said)
        prev = row_hash(event)
        rows.append(said | {"occurred_at": occurred_at, "prev_hash": event.prev_hash, "hash": prev})
    session.execute(insert(AuditEvent), rows)  # in id order: the chain's order


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows_checked: int
    first_broken_id: int | None = None
    reason: str | None = None
    head_hash: str = GENESIS  # record it outside the database to catch a rewrite of the whole chain


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Re-walk the whole chain in id order and name the first row that does not hold."""
    expected_prev = GENESIS
    checked = 0
    stmt = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch)
    for event in session.scalars(stmt):
        checked += 1
        if event.prev_hash != expected_prev:
            return ChainReport(
                False, checked, event.id, "prev_hash does not match the previous row's hash"
                " (a row before it was changed or deleted)"
            )
        if row_hash(event) != event.hash:
            return ChainReport(False, checked, event.id, "row content does not match its hash")
        expected_prev = event.hash
    return ChainReport(True, checked, head_hash=expected_prev)
