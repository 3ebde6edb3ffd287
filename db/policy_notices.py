"""The catalogue's operator layer read from PostgreSQL: the approved policy notices, rebuilt only
when an approval changed them. Installed at start-up by the API, the worker and ``hrflow policy``
(``domain.policy.notices.install``); the domain never reads the database itself.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db.models import PolicyNotice
from domain.policy.catalogue import OperatorLayer
from domain.policy.notices import NoticeLayer, NoticeRecord, build_layer

log = logging.getLogger("hrflow.policy_notices")


def record_of(row: PolicyNotice) -> NoticeRecord:
    return NoticeRecord(
        id=row.id, kind=row.kind, region=row.region, city=row.city, scope=row.scope,
        effective_from=row.effective_from, effective_to=row.effective_to, figures=row.figures,
        source={"name": row.source_name, "url": row.source_url, "document_number": row.document_number,
                "material_id": row.source_material_id},
        entered_by=row.entered_by, entered_at=row.entered_at,
        approved_by=row.decided_by if row.state == "approved" else None,
        approved_at=row.decided_at if row.state == "approved" else None, supersedes=row.supersedes)


class NoticeLayerProvider:
    """The approved notices as a ``NoticeLayer``, cheap to ask: at most every ``min_interval``
    seconds it reads one row (count and latest approval) and rebuilds only when that changed.
    ``invalidate`` makes the next question read again (this process's own approvals). It has its
    own engine (one connection): it is asked from inside request threads that already hold a
    pooled connection, and must never wait for the pool they share."""

    def __init__(self, engine: Engine, *, min_interval: float = 2.0, described: str = "database") -> None:
        self._engine, self._min_interval, self._described = engine, min_interval, described
        self._lock = threading.Lock()
        self._version: str | None = None
        self._layer = NoticeLayer(layer=OperatorLayer(version="none", described=described))
        self._checked = float("-inf")

    def invalidate(self) -> None:
        self._checked = float("-inf")

    def __call__(self) -> NoticeLayer:
        if time.monotonic() - self._checked < self._min_interval:
            return self._layer
        with self._lock:
            if time.monotonic() - self._checked < self._min_interval:
                return self._layer
            try:
                self._refresh()
            except DBAPIError:
                if self._version is None:
                    raise
                log.warning("policy notices: database not answering; keeping operator layer %s", self._version)
            self._checked = time.monotonic()
            return self._layer

    def _refresh(self) -> None:
        with Session(self._engine) as session:
            count, latest = session.execute(
                select(func.count(), func.max(PolicyNotice.decided_at)).where(PolicyNotice.state == "approved")).one()
            version = f"{count}:{latest.isoformat() if latest else '-'}"
            if version == self._version:
                return
            records = approved_records(session)
        self._layer = build_layer(records, version, f"{self._described}: {count} approved notice(s)")
        self._version = version


def approved_records(session: Session, scope: str | None = None) -> list[NoticeRecord]:
    """The approved notices (of one scope, when given), oldest first."""
    stmt = select(PolicyNotice).where(PolicyNotice.state == "approved").order_by(PolicyNotice.id)
    if scope is not None:
        stmt = stmt.where(PolicyNotice.scope == scope)
    return [record_of(r) for r in session.scalars(stmt)]
