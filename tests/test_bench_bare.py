"""The throughput benchmark's bare twin finishes when a message arrives before the continue-as-new
its real case saw first (the driver sends each message as soon as the one before is answered).

It used to wait for ever: the run could not continue as new while the early update's handler
waited, and the handler waited for the next run. That hung a full benchmark run of non_compete
with two worker processes, whose real case had received its update after its continue-as-new.
"""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.client import WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.bare import BareInput, BareWorkflow

# the first run's one activity, a continue-as-new, then the update the driver sends, then one more activity
PLAN = [{"op": "acts", "n": 1}, {"op": "can"}, {"op": "msg", "kind": "update"}, {"op": "acts", "n": 1}]


async def test_an_update_that_arrives_before_the_continue_as_new_is_applied(temporal_env: WorkflowEnvironment) -> None:
    gate = asyncio.Event()
    calls: list[int] = []

    @activity.defn(name="bench_noop")
    async def held_noop(n: int) -> int:
        """The first run's activity is held until the update has been accepted in that run."""
        calls.append(n)
        await gate.wait()
        return n

    queue = f"bare-{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_env.client, task_queue=queue, workflows=[BareWorkflow], activities=[held_noop]):
        handle = await temporal_env.client.start_workflow(
            BareWorkflow.run, BareInput(steps=PLAN), id=f"bare-early-{queue}", task_queue=queue)
        update = await handle.start_update(BareWorkflow.message, 0, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        first_run = (await handle.describe()).run_id
        gate.set()
        assert await asyncio.wait_for(update.result(), timeout=30) == 0
        assert await asyncio.wait_for(handle.result(), timeout=30) == 1  # one message applied, not two
    assert len(calls) == 2  # both activities ran: the second run skipped only the message it had
    assert (await handle.describe()).run_id != first_run  # and it did continue as new
