"""Anchors: the audit seals' hashes, kept outside the database.

A seal proves the case chains it folded; nothing inside the database proves the seals, since whoever
can switch the triggers off can rewrite rows, heads and seals alike with fresh, consistent hashes.
So each seal's hash is also written somewhere that database access does not reach (a directory on
another machine: an NFS share, a WORM mount, an object store's file gateway), and ``verify_chain``
compares the seals with those anchors: a rewritten seal no longer matches its anchor, and a cut one
is anchored but gone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AuditSeal

ANCHOR_FILE = "audit-anchors.jsonl"


@dataclass(frozen=True)
class Anchor:
    seal_id: int
    sealed_at: dt.datetime
    hash: str
    anchored_at: dt.datetime


class AnchorStore(Protocol):
    """Where anchors are kept: appended, never rewritten, read back in order."""

    def append(self, anchor: Anchor) -> None: ...

    def newest(self) -> Anchor | None: ...

    def __iter__(self) -> Iterator[Anchor]: ...


class BadAnchor(Exception):
    """An anchor line cannot be read: the anchor store itself was damaged."""


class DirectoryAnchors:
    """One JSON line per anchored seal in ``<directory>/audit-anchors.jsonl``, each written with a
    single append and synced to disk before the seal counts as anchored."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / ANCHOR_FILE

    def append(self, anchor: Anchor) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"seal_id": anchor.seal_id, "sealed_at": anchor.sealed_at.isoformat(),
                           "hash": anchor.hash, "anchored_at": anchor.anchored_at.isoformat()}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def newest(self) -> Anchor | None:
        if not self.path.exists():
            return None
        with self.path.open("rb") as f:
            f.seek(max(f.seek(0, os.SEEK_END) - 4096, 0))
            lines = f.read().splitlines()
        return _parse(lines[-1].decode(), -1) if lines else None

    def __iter__(self) -> Iterator[Anchor]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                yield _parse(line, number)


def _parse(line: str, number: int) -> Anchor:
    try:
        raw = json.loads(line)
        return Anchor(seal_id=int(raw["seal_id"]), sealed_at=dt.datetime.fromisoformat(raw["sealed_at"]),
                      hash=str(raw["hash"]), anchored_at=dt.datetime.fromisoformat(raw["anchored_at"]))
    except (ValueError, KeyError, TypeError) as exc:
        where = "the last line" if number < 0 else f"line {number}"
        raise BadAnchor(f"{ANCHOR_FILE} {where} is not an anchor ({exc})") from None


def anchor_newest(session: Session, store: AnchorStore, *, at: dt.datetime | None = None) -> Anchor | None:
    """Anchor the newest seal unless it is anchored already: run after every seal, and again on a
    retry, so a seal whose anchoring failed is anchored by the next try (or the next seal's)."""
    newest = session.execute(select(AuditSeal.id, AuditSeal.sealed_at, AuditSeal.hash)
                             .order_by(AuditSeal.id.desc()).limit(1)).first()
    if newest is None:
        return None
    last = store.newest()
    if last is not None and last.seal_id >= newest.id:
        return None
    anchor = Anchor(seal_id=newest.id, sealed_at=newest.sealed_at, hash=newest.hash,
                    anchored_at=(at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC))
    store.append(anchor)
    return anchor


@dataclass(frozen=True)
class AnchorCheck:
    checked: int
    last_anchored_at: dt.datetime | None
    problem: str | None = None  # why the seals disagree with the anchors
    seal_id: int | None = None


def check_anchors(session: Session, anchors: Iterable[Anchor], *, batch: int = 1000) -> AnchorCheck:
    """Every anchored seal must still be in the database with the hash it had when it was anchored."""
    checked, last_at = 0, None
    it = iter(anchors)
    while chunk := list(islice(it, batch)):
        stored = dict(session.execute(select(AuditSeal.id, AuditSeal.hash)
                                      .where(AuditSeal.id.in_([a.seal_id for a in chunk]))).all())
        for anchor in chunk:
            held = stored.get(anchor.seal_id)
            if held is None:
                return AnchorCheck(checked, last_at, f"seal {anchor.seal_id}, anchored at"
                                   f" {anchor.anchored_at.isoformat()}, is gone from the database (the seals were cut)",
                                   anchor.seal_id)
            if held != anchor.hash:
                return AnchorCheck(checked, last_at, f"seal {anchor.seal_id} does not match its anchor of"
                                   f" {anchor.anchored_at.isoformat()} (the seals were rewritten)", anchor.seal_id)
            checked, last_at = checked + 1, anchor.anchored_at
    return AnchorCheck(checked, last_at)
