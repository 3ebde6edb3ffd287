"""The audit trail: who did what to which case, when, from which request; tamper-evident.

Every case has a hash chain of its own (``case:<workflow id>``); an entry outside a case chains
with its subject's (``subject:<employee number>``, say), and the rest on ``system``. A row's
SHA-256 covers its fields, its chain and place in it, and its predecessor's hash. Appending locks
only the chain's head row, so two cases never wait for each other, and the head commits with the
change the row records. A Temporal Schedule folds the heads that moved into one global chain of
seals (``seal``), one row per interval: rewriting a case's sealed rows, or deleting them, breaks a
seal, and each seal's hash, anchored outside the database (``db.audit_anchors``), catches a
rewrite or a cut of the seals.
Triggers reject UPDATE, DELETE and TRUNCATE on events and seals; ``verify_chain`` re-walks both.
Rows written before per-case chains (chain NULL) stay one chain in id order, sealed as ``legacy``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from db.audit_anchors import Anchor, BadAnchor, check_anchors
from db.canonical import canonical_bytes, to_jsonable
from db.models import AuditChainHead, AuditEvent, AuditSeal
from db.steps import claim_step

GENESIS = "0" * 64
LEGACY = "legacy"  # the chain of rows from before per-case chains, as seals name it
SEAL_LOCK_KEY = 0x68727365  # "hrse": seals are appended one at a time
BATCH = 1000  # entries per statement when a batch (an import) is appended


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

    @property
    def chain(self) -> str:
        return chain_of(self.workflow_id, self.subject)


def chain_of(workflow_id: str | None, subject: str | None = None) -> str:
    """The chain an entry goes on: its case's, else its subject's, else the system's."""
    if workflow_id:
        return f"case:{workflow_id}"
    return f"subject:{subject}" if subject else "system"


def _value(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def row_hash(row: AuditEvent | Mapping[str, Any]) -> str:
    """SHA-256 over the row's content and its predecessor's hash (everything but id and hash)."""
    return hashlib.sha256(canonical_bytes(_hash_body(row))).hexdigest()


def _hash_body(row: AuditEvent | Mapping[str, Any]) -> dict[str, Any]:
    body = {name: _value(row, name) for name in (
        "actor", "actor_role", "action", "workflow_id", "subject", "before", "after", "request_id", "prev_hash")}
    body["occurred_at"] = _value(row, "occurred_at").astimezone(dt.UTC).isoformat(timespec="microseconds")
    if _value(row, "on_behalf_of") is not None:  # only then: rows from before delegations keep their hashes
        body["on_behalf_of"] = _value(row, "on_behalf_of")
    if _value(row, "chain") is not None:  # only then: rows from before per-case chains keep theirs
        body["chain"], body["seq"] = _value(row, "chain"), _value(row, "seq")
    return body


def append(session: Session, entry: AuditEntry, *, at: dt.datetime | None = None) -> None:
    """Add one chained row in the session's transaction, locking only its chain's head.

    One call of ``hrflow_audit_append`` (``_APPEND_ONE``): it locks the head (creating it for the
    chain's first row), hashes the row in PostgreSQL by ``row_hash``'s recipe (the row's canonical
    bytes with the head's hash and the next place spliced in), inserts it and moves the head. Only
    a first row that raced another first row of its chain goes the batch's way."""
    _append_one(session, entry, at, None)


def append_once(session: Session, entry: AuditEntry, *, step: str, at: dt.datetime | None = None) -> bool:
    """``append``, in the same statement as the claim of the case's ``step`` (``db.steps``): False,
    and nothing written, when an earlier try of the step claimed it."""
    assert entry.workflow_id is not None, "a step is a case's"
    return _append_one(session, entry, at, step)


def _append_one(session: Session, entry: AuditEntry, at: dt.datetime | None, step: str | None) -> bool:
    occurred_at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    row = _fields(entry, occurred_at)
    pieces = _hash_pieces(row)
    if pieces is not None:
        params = row | {"before": json.dumps(row["before"]), "after": json.dumps(row["after"]),
                        "genesis": GENESIS, "p1": pieces[0], "p2": pieces[1], "p3": pieces[2], "step": step}
        written, claimed = session.execute(_APPEND_ONE, params).one()
        if not claimed:
            return False
        if written == 1:
            return True
    elif step is not None and not claim_step(session, entry.workflow_id or "", step).first_time:
        return False
    append_many(session, [entry], at=occurred_at)
    return True


def _fields(entry: AuditEntry, occurred_at: dt.datetime) -> dict[str, Any]:
    # vars, not asdict: asdict deep-copies before and after, a fifth of an append's Python
    return vars(entry) | {"before": to_jsonable(entry.before), "after": to_jsonable(entry.after),
                          "occurred_at": occurred_at, "chain": entry.chain}


def _hash_pieces(row: dict[str, Any]) -> tuple[bytes, bytes, bytes] | None:
    """The row's canonical bytes in three pieces, around where its predecessor's hash and its place
    in the chain go (sorted keys put ``prev_hash`` before ``seq``); None if a marker is not found
    exactly once (then Python hashes it)."""
    prev_mark, seq_mark = uuid.uuid4().hex, uuid.uuid4().hex
    data = canonical_bytes(_hash_body(row | {"prev_hash": prev_mark, "seq": seq_mark}))
    prev_at, seq_at = prev_mark.encode(), f'"{seq_mark}"'.encode()  # seq's digits take its quotes' place too
    if data.count(prev_at) != 1 or data.count(seq_at) != 1:
        return None
    head, rest = data.split(prev_at)
    middle, tail = rest.split(seq_at)
    return head, middle, tail


def append_many(session: Session, entries: list[AuditEntry], *, at: dt.datetime | None = None) -> None:
    """Add chained rows for a batch, in the entries' order: lock the heads of the chains they
    extend (in chain order, so two batches cannot deadlock), then insert the rows and move the
    heads, a thousand to a statement."""
    if not entries:
        return
    occurred_at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    chains = sorted({e.chain for e in entries})
    heads: dict[str, tuple[int, str]] = {}
    for start in range(0, len(chains), BATCH):
        heads |= _lock_heads(session, chains[start:start + BATCH])
    rows = []
    for entry in entries:
        seq, prev = heads[entry.chain]
        row = _fields(entry, occurred_at) | {"seq": seq + 1, "prev_hash": prev}
        row["hash"] = row_hash(row)
        heads[entry.chain] = (seq + 1, row["hash"])
        rows.append(row)
    moved = [(chain, seq, h) for chain, (seq, h) in heads.items()]
    for start in range(0, max(len(rows), len(moved)), BATCH):
        _write(session, rows[start:start + BATCH], moved[start:start + BATCH])


# The hot path: two statements of fixed text, each entry's fields passed as arrays, so they are
# compiled once per process (a VALUES list built per call, Core or ORM, is compiled per call, which
# cost more CPU than the rest of an append).
_COLUMNS = ("occurred_at", "actor", "actor_role", "action", "workflow_id", "subject", "before", "after",
            "request_id", "on_behalf_of", "chain", "seq", "prev_hash", "hash")
_TYPES = {"occurred_at": "timestamptz", "seq": "bigint"}  # every other column's array is text
_LOCK_HEADS = sa.text(
    "INSERT INTO audit_chain_heads (chain, seq, head_hash, sealed_seq)"
    " SELECT c, 0, :genesis, 0 FROM unnest(CAST(:chains AS text[])) WITH ORDINALITY AS t(c, n) ORDER BY n"
    " ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain"  # takes the row lock
    " RETURNING chain, seq, head_hash")
_WRITE = sa.text(
    "WITH written AS (INSERT INTO audit_events (" + ", ".join(_COLUMNS) + ")"
    " SELECT " + ", ".join(f"{c}::jsonb" if c in ("before", "after") else c for c in _COLUMNS)
    + " FROM unnest(" + ", ".join(f"CAST(:{c} AS {_TYPES.get(c, 'text')}[])" for c in _COLUMNS) + ")"
    " WITH ORDINALITY AS t(" + ", ".join(_COLUMNS) + ", n) ORDER BY n)"
    " UPDATE audit_chain_heads h SET seq = m.seq, head_hash = m.head_hash"
    " FROM unnest(CAST(:moved_chain AS text[]), CAST(:moved_seq AS bigint[]), CAST(:moved_hash AS text[]))"
    " AS m(chain, seq, head_hash) WHERE h.chain = m.chain")


# One row, in one call of a server-side function (migration 0027, whose plans PostgreSQL keeps):
# lock the chain's head (or, for its first row, create it), hash the row by row_hash's recipe,
# insert it and move the head. A chain's first row racing another first row of the same chain
# inserts nothing there (the head exists by then) and is appended the batch's way. Given a step,
# it first claims the case's step (as ``db.steps.claim_step`` does) and does the rest only if that
# claim is new. It answers the rows written and whether the step was claimed (true without one).
_APPEND_ONE = sa.text(
    "SELECT rows_written, step_claimed FROM hrflow_audit_append(:chain, :genesis, :p1, :p2, :p3,"
    " CAST(:occurred_at AS timestamptz), :actor, :actor_role, :action, :workflow_id, :subject,"
    " CAST(:before AS jsonb), CAST(:after AS jsonb), :request_id, :on_behalf_of, :step)")


def _lock_heads(session: Session, chains: list[str]) -> dict[str, tuple[int, str]]:
    """Each chain's (seq, hash), its head row locked in chain order (created at seq 0 for a new chain): one statement."""
    return {c: (seq, h) for c, seq, h in session.execute(_LOCK_HEADS, {"genesis": GENESIS, "chains": chains})}


def _write(session: Session, rows: list[dict[str, Any]], moved: list[tuple[str, int, str]]) -> None:
    """Insert the rows and move the heads in one statement (the insert as a CTE of the update)."""
    params: dict[str, Any] = {c: [r[c] for r in rows] for c in _COLUMNS}
    for c in ("before", "after"):  # as the JSONB type stores them: None is JSON null
        params[c] = [json.dumps(v) for v in params[c]]
    params["moved_chain"], params["moved_seq"], params["moved_hash"] = (
        [m[0] for m in moved], [m[1] for m in moved], [m[2] for m in moved])
    session.execute(_WRITE, params)


def seal_hash(sealed_at: dt.datetime, heads: Mapping[str, Any], prev_hash: str) -> str:
    body = {"sealed_at": sealed_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "heads": dict(heads), "prev_hash": prev_hash}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


@dataclass(frozen=True)
class Sealed:
    id: int
    chains: int  # heads folded into this seal
    hash: str


def seal(session: Session, *, at: dt.datetime | None = None) -> Sealed | None:
    """Fold every head that moved since the last seal into the next seal; None when none moved.
    Reads only the moved heads (a partial index), locked in chain order as appends lock them."""
    session.execute(select(sa.func.pg_advisory_xact_lock(SEAL_LOCK_KEY)))
    moved = session.execute(
        select(AuditChainHead.chain, AuditChainHead.seq, AuditChainHead.head_hash)
        .where(AuditChainHead.seq > AuditChainHead.sealed_seq).order_by(AuditChainHead.chain).with_for_update()
    ).all()
    last = session.execute(select(AuditSeal.id, AuditSeal.hash).order_by(AuditSeal.id.desc()).limit(1)).first()
    heads: dict[str, list[Any]] = {chain: [seq, h] for chain, seq, h in moved}
    if last is None:
        legacy = _legacy_head(session)
        if legacy is not None:
            heads[LEGACY] = list(legacy)
    if not heads:
        return None
    if moved:
        session.execute(update(AuditChainHead).where(AuditChainHead.chain.in_([m.chain for m in moved]))
                        .values(sealed_seq=AuditChainHead.seq))
    sealed_at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    prev = last.hash if last else GENESIS
    digest = seal_hash(sealed_at, heads, prev)
    new_id = session.execute(insert(AuditSeal).values(sealed_at=sealed_at, heads=heads, prev_hash=prev, hash=digest)
                             .returning(AuditSeal.id)).scalar_one()
    return Sealed(id=new_id, chains=len(heads), hash=digest)


def _legacy_head(session: Session) -> tuple[int, str] | None:
    count = session.scalar(select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.chain.is_(None)))
    if not count:
        return None
    last = session.execute(select(AuditEvent.hash).where(AuditEvent.chain.is_(None))
                           .order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    return count, last


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows_checked: int
    first_broken_id: int | None = None
    reason: str | None = None
    head_hash: str = GENESIS  # the newest seal's: record it outside the database to catch a rewrite
    broken_chain: str | None = None
    chains_checked: int = 0
    seals_checked: int = 0
    last_sealed_at: dt.datetime | None = None
    unsealed_rows: int = 0  # rows newer than the last seal: their chain protects them, no seal yet
    anchors_checked: int = 0  # seals compared with their anchors outside the database
    last_anchored_at: dt.datetime | None = None


class _Broken(Exception):
    def __init__(self, reason: str, chain: str, row_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.chain, self.row_id = reason, chain, row_id


def verify_chain(session: Session, *, batch: int = 5000, anchors: Iterable[Anchor] | None = None) -> ChainReport:
    """Re-walk the seals (against their ``anchors`` outside the database, when given), then every
    chain in order, and name the first thing that does not hold: a row whose content or link is
    wrong, a gap, a sealed row gone, a head that is not the last row, a seal unlike its anchor."""
    tally = {"rows": 0, "chains": 0, "unsealed": 0}
    anchored: tuple[int, dt.datetime | None] = (0, None)
    try:
        sealed, seals, last_hash, last_at = _walk_seals(session, batch)
        if anchors is not None:
            anchored = _check_anchors(session, anchors)
        _walk_legacy(session, batch, sealed.pop(LEGACY, None), tally)
        heads = {h.chain: (h.seq, h.head_hash) for h in session.execute(select(
            AuditChainHead.chain, AuditChainHead.seq, AuditChainHead.head_hash)).yield_per(batch)}
        _walk_chains(session, batch, sealed, heads, tally)
    except _Broken as broken:
        return ChainReport(False, tally["rows"], broken.row_id, broken.reason, broken_chain=broken.chain,
                           chains_checked=tally["chains"])
    return ChainReport(True, tally["rows"], head_hash=last_hash, chains_checked=tally["chains"],
                       seals_checked=seals, last_sealed_at=last_at, unsealed_rows=tally["unsealed"],
                       anchors_checked=anchored[0], last_anchored_at=anchored[1])


def _check_anchors(session: Session, anchors: Iterable[Anchor]) -> tuple[int, dt.datetime | None]:
    try:
        check = check_anchors(session, anchors)
    except BadAnchor as exc:
        raise _Broken(str(exc), "anchors") from None
    if check.problem is not None:
        raise _Broken(check.problem, "anchors")
    return check.checked, check.last_anchored_at


def verify_case(session: Session, workflow_id: str, anchors: Iterable[Anchor] | None = None) -> ChainReport:
    """Re-walk one case's chain against its head and the newest seal that holds it (found by the
    seals' index), and check that seal's own hash: what an evidence package proves, in the time
    one case takes. ``head_hash`` is that seal's, to compare with the seal chain kept outside."""
    chain = chain_of(workflow_id)
    newest = session.scalars(select(AuditSeal).where(AuditSeal.heads.has_key(chain))
                             .order_by(AuditSeal.id.desc()).limit(1)).first()
    tally = {"rows": 0, "chains": 0, "unsealed": 0}
    try:
        if newest is not None and seal_hash(newest.sealed_at, newest.heads, newest.prev_hash) != newest.hash:
            raise _Broken(f"seal {newest.id}: content does not match its hash", "seals")
        anchored: tuple[int, dt.datetime | None] = (0, None)
        if newest is not None and anchors is not None:
            anchored = _check_anchors(session, (a for a in anchors if a.seal_id == newest.id))
        sealed = tuple(newest.heads[chain]) if newest is not None else None
        events = session.scalars(select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq))
        last = _walk_one(chain, iter(events), sealed, tally)
        head = session.execute(select(AuditChainHead.seq, AuditChainHead.head_hash)
                               .where(AuditChainHead.chain == chain)).first()
        _check_head(chain, (head.seq, head.head_hash) if head else None, last)
    except _Broken as broken:
        return ChainReport(False, tally["rows"], broken.row_id, broken.reason, broken_chain=broken.chain)
    return ChainReport(True, tally["rows"], head_hash=newest.hash if newest else GENESIS,
                       chains_checked=1 if tally["rows"] else 0, seals_checked=1 if newest else 0,
                       last_sealed_at=newest.sealed_at if newest else None, unsealed_rows=tally["unsealed"],
                       anchors_checked=anchored[0], last_anchored_at=anchored[1])


def _walk_seals(session: Session, batch: int) -> tuple[dict[str, tuple[int, str]], int, str, dt.datetime | None]:
    """The seals in order: each links to the one before, hashes to itself, and never seals a chain
    shorter than an earlier seal did. Returns the newest sealed (seq, hash) of each chain."""
    sealed: dict[str, tuple[int, str]] = {}
    prev, count, last_at = GENESIS, 0, None
    for s in session.scalars(select(AuditSeal).order_by(AuditSeal.id).execution_options(yield_per=batch)):
        count += 1
        if s.prev_hash != prev:
            raise _Broken(f"seal {s.id}: prev_hash does not match the previous seal (a seal was changed or deleted)",
                          "seals")
        if seal_hash(s.sealed_at, s.heads, s.prev_hash) != s.hash:
            raise _Broken(f"seal {s.id}: content does not match its hash", "seals")
        for chain, (seq, h) in s.heads.items():
            if chain in sealed and seq < sealed[chain][0]:
                raise _Broken(f"seal {s.id} seals {chain} at {seq}, an earlier seal at {sealed[chain][0]}", "seals")
            sealed[chain] = (seq, h)
        prev, last_at = s.hash, s.sealed_at
    return sealed, count, prev, last_at


def _walk_legacy(session: Session, batch: int, sealed: tuple[int, str] | None, tally: dict[str, int]) -> None:
    """The rows from before per-case chains: one chain in id order, numbered by their place."""
    stmt = select(AuditEvent).where(AuditEvent.chain.is_(None)).order_by(AuditEvent.id)
    if _walk_one(LEGACY, iter(session.scalars(stmt.execution_options(yield_per=batch))), sealed, tally)[0]:
        tally["chains"] += 1


def _check_row(event: AuditEvent, expected_prev: str, chain: str) -> None:
    if event.prev_hash != expected_prev:
        raise _Broken("prev_hash does not match the previous row's hash (a row before it was changed or deleted)",
                      chain, event.id)
    if row_hash(event) != event.hash:
        raise _Broken("row content does not match its hash", chain, event.id)


def _walk_chains(session: Session, batch: int, sealed: dict[str, tuple[int, str]],
                 heads: dict[str, tuple[int, str]], tally: dict[str, int]) -> None:
    stmt = select(AuditEvent).where(AuditEvent.chain.is_not(None)).order_by(AuditEvent.chain, AuditEvent.seq)
    seen: set[str] = set()
    for chain, events in groupby(session.scalars(stmt.execution_options(yield_per=batch)), key=lambda e: e.chain):
        assert chain is not None
        seen.add(chain)
        tally["chains"] += 1
        _check_head(chain, heads.get(chain), _walk_one(chain, events, sealed.get(chain), tally))
    for chain in (sealed.keys() | heads.keys()) - seen:
        if heads.get(chain, (0,))[0] or chain in sealed:
            raise _Broken("the chain has a head or a seal but no rows (its rows were deleted)", chain)


def _check_head(chain: str, head: tuple[int, str] | None, last: tuple[int, str]) -> None:
    if (head or (0, GENESIS)) != last:
        raise _Broken(f"the chain's head says {head}, its last row is {last[0]}"
                      " (rows were deleted, or the head was changed)", chain)


def _walk_one(chain: str, events: Iterator[AuditEvent], sealed: tuple[int, str] | None,
              tally: dict[str, int]) -> tuple[int, str]:
    """One chain in order (legacy rows carry no seq: their place is their number); its last (seq, hash)."""
    expected_prev, seq = GENESIS, 0
    for event in events:
        tally["rows"] += 1
        seq += 1
        if event.seq is not None and event.seq != seq:
            raise _Broken(f"row {seq} of the chain is missing (the next row is {event.seq})", chain, event.id)
        _check_row(event, expected_prev, chain)
        if sealed is not None and seq == sealed[0] and event.hash != sealed[1]:
            raise _Broken(f"row {seq} of the chain is not the row its seal holds (the chain was rewritten)",
                          chain, event.id)
        if event.seq is not None and (sealed is None or seq > sealed[0]):  # legacy rows are counted apart
            tally["unsealed"] += 1
        expected_prev = event.hash
    if sealed is not None and seq < sealed[0]:
        raise _Broken(f"the chain ends at row {seq}, sealed at row {sealed[0]} (rows were deleted)", chain)
    return seq, expected_prev
