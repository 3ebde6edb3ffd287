"""A workflow that touches what the sandbox forbids; not passed through, so the sandbox checks it."""

from __future__ import annotations

import os

from temporalio import workflow


@workflow.defn
class ForbiddenCall:
    @workflow.run
    async def run(self) -> str:
        return os.getcwd()  # I/O from workflow code: the sandbox must refuse it
