"""Every workflow class the worker registers. Process issues append theirs here."""

from __future__ import annotations

ALL_WORKFLOWS: list[type] = []
