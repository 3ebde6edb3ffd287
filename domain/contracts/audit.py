"""Sealing the audit chains: the heads that moved since the last seal, folded into the next one."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from domain.contracts import ActivityRef


class SealRequest(BaseModel):
    at: dt.datetime  # the seal's time, from the workflow


class SealResult(BaseModel):
    seal_id: int | None  # None: no chain moved since the last seal, so no seal was written
    chains: int = 0
    hash: str | None = None
    anchored_seal_id: int | None = None  # the seal this run anchored outside the database, if any


SEAL_AUDIT: ActivityRef[SealRequest, SealResult] = ActivityRef("audit.seal", SealResult)
