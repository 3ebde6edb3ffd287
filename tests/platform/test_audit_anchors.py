"""Anchors outside the database catch what the database alone cannot: someone with the owner's
rights who rewrites rows, heads and seals alike, or cuts the newest rows and seals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, text

from activities.audit import AuditActivities
from db import audit
from db.audit_anchors import Anchor, DirectoryAnchors, anchor_newest
from db.models import AuditEvent
from domain.contracts.audit import SealRequest
from hrflow.cli import main as cli
from tests.platform.test_audit import _in_cases, _seal, _trigger_off


def _seal_and_anchor(session_factory, anchors: DirectoryAnchors) -> Anchor | None:
    _seal(session_factory)
    with session_factory() as s:
        return anchor_newest(s, anchors)


def _reseal_everything(session_factory) -> None:
    """Covering the tracks in full: drop every seal and seal the (altered) chains afresh, so the seal
    chain is consistent again from its genesis."""
    with _trigger_off(session_factory, "audit_seals") as s:
        s.execute(text("DELETE FROM audit_seals"))
        s.execute(text("SELECT setval(pg_get_serial_sequence('audit_seals', 'id'), 1, false)"))
        s.execute(text("UPDATE audit_chain_heads SET sealed_seq = 0"))
    _seal(session_factory)


def _verify(session_factory, anchors: DirectoryAnchors | None) -> audit.ChainReport:
    with session_factory() as s:
        return audit.verify_chain(s, anchors=anchors)


def test_each_seal_is_anchored_once_and_verifies(session_factory, tmp_path: Path) -> None:
    anchors = DirectoryAnchors(tmp_path)
    _in_cases(session_factory, ["wf-a", "wf-b"], 2)
    first = _seal_and_anchor(session_factory, anchors)
    with session_factory() as s:
        assert anchor_newest(s, anchors) is None  # the newest seal holds an anchor already
    _in_cases(session_factory, ["wf-b"], 1)
    second = _seal_and_anchor(session_factory, anchors)
    assert first is not None and second is not None and second.seal_id > first.seal_id
    assert [a.seal_id for a in anchors] == [first.seal_id, second.seal_id]
    report = _verify(session_factory, anchors)
    assert (report.ok, report.anchors_checked, report.head_hash) == (True, 2, second.hash)


def test_rows_heads_and_seals_rewritten_alike_are_caught_by_the_anchor(session_factory, tmp_path: Path) -> None:
    anchors = DirectoryAnchors(tmp_path)
    _in_cases(session_factory, ["wf-a", "wf-b"], 3)
    anchored = _seal_and_anchor(session_factory, anchors)
    with _trigger_off(session_factory) as s:  # from row 2 of wf-a onward, with fresh hashes
        rows = s.scalars(select(AuditEvent).where(AuditEvent.chain == "case:wf-a").order_by(AuditEvent.seq)).all()
        prev = rows[0].hash
        for row in rows[1:]:
            row.actor, row.prev_hash = "someone-else", prev
            row.hash = prev = audit.row_hash(row)
        s.flush()
        s.execute(text("UPDATE audit_chain_heads SET head_hash = :h WHERE chain = 'case:wf-a'"), {"h": prev})
    _reseal_everything(session_factory)
    assert _verify(session_factory, None).ok  # inside the database everything is consistent again
    report = _verify(session_factory, anchors)
    assert (report.ok, report.broken_chain) == (False, "anchors")
    assert anchored is not None and f"seal {anchored.seal_id} does not match its anchor" in str(report.reason)


def test_a_deleted_newest_row_is_caught_by_the_anchor(session_factory, tmp_path: Path) -> None:
    anchors = DirectoryAnchors(tmp_path)
    _in_cases(session_factory, ["wf-a"], 3)
    _seal_and_anchor(session_factory, anchors)
    with _trigger_off(session_factory) as s:
        s.execute(text("DELETE FROM audit_events WHERE chain = 'case:wf-a' AND seq = 3"))
        s.execute(text("UPDATE audit_chain_heads SET seq = 2, head_hash = (SELECT hash FROM audit_events"
                       " WHERE chain = 'case:wf-a' AND seq = 2) WHERE chain = 'case:wf-a'"))
    _reseal_everything(session_factory)
    assert _verify(session_factory, None).ok
    report = _verify(session_factory, anchors)
    assert (report.ok, report.broken_chain) == (False, "anchors")
    assert "rewritten" in str(report.reason)


def test_a_cut_newest_seal_is_caught_by_the_anchor(session_factory, tmp_path: Path) -> None:
    anchors = DirectoryAnchors(tmp_path)
    _in_cases(session_factory, ["wf-a"], 1)
    _seal_and_anchor(session_factory, anchors)
    _in_cases(session_factory, ["wf-a"], 1)
    newest = _seal_and_anchor(session_factory, anchors)
    assert newest is not None
    with _trigger_off(session_factory, "audit_seals") as s:
        s.execute(text("DELETE FROM audit_seals WHERE id = :id"), {"id": newest.seal_id})
    report = _verify(session_factory, anchors)
    assert (report.ok, report.broken_chain) == (False, "anchors")
    assert f"seal {newest.seal_id}" in str(report.reason) and "gone" in str(report.reason)


def test_a_damaged_anchor_file_is_named(session_factory, tmp_path: Path) -> None:
    anchors = DirectoryAnchors(tmp_path)
    _in_cases(session_factory, ["wf-a"], 1)
    _seal_and_anchor(session_factory, anchors)
    with anchors.path.open("a") as f:
        f.write("{not json\n")
    report = _verify(session_factory, anchors)
    assert (report.ok, report.broken_chain) == (False, "anchors")
    assert "line 2" in str(report.reason)


class _Outage(DirectoryAnchors):
    """An anchor share that is unreachable for its first ``failures`` writes."""

    def __init__(self, directory: Path, failures: int) -> None:
        super().__init__(directory)
        self.failures = failures

    def append(self, anchor: Anchor) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("anchor share unreachable")
        super().append(anchor)


def test_the_seal_activity_anchors_on_its_retry_after_an_unreachable_share(session_factory, tmp_path: Path) -> None:
    store = _Outage(tmp_path, failures=1)
    activities = AuditActivities(session_factory, store)
    _in_cases(session_factory, ["wf-a"], 2)
    at = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.UTC)
    with pytest.raises(OSError):
        activities.seal(SealRequest(at=at))  # the seal committed; its anchor did not
    retried = activities.seal(SealRequest(at=at))  # Temporal's retry: nothing to seal, the anchor is written
    assert retried.seal_id is None and retried.anchored_seal_id is not None
    assert [a.seal_id for a in DirectoryAnchors(tmp_path)] == [retried.anchored_seal_id]
    assert _verify(session_factory, DirectoryAnchors(tmp_path)).anchors_checked == 1


def test_cli_seals_anchors_and_verifies_against_the_anchors(session_factory, database_url, monkeypatch, capsys,
                                                            tmp_path: Path) -> None:
    monkeypatch.setenv("HRFLOW_DATABASE_URL", database_url)
    monkeypatch.setenv("HRFLOW_AUDIT_ANCHOR_DIR", str(tmp_path))
    _in_cases(session_factory, ["wf-a"], 2)
    assert cli(["audit", "seal"]) == 0
    assert cli(["audit", "verify"]) == 0
    assert '"anchors_checked": 1' in capsys.readouterr().out
    _reseal_everything(session_factory)  # a fresh seal: same heads, another time, another hash
    assert cli(["audit", "verify", "--anchors", str(tmp_path)]) == 1
    assert '"broken_chain": "anchors"' in capsys.readouterr().out
