"""A call to an outside office heartbeats while it blocks (``activities.unit.heartbeating``): the
server then tells a live slow call from a dead worker's, and only the dead one waits for a retry."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.unit import heartbeating

CALL_S = 2.5  # longer than the heartbeat timeout below, well inside start-to-close


@activity.defn(name="test.call_that_heartbeats")
def call_that_heartbeats(seconds: float) -> str:
    with heartbeating(every=0.2):
        time.sleep(seconds)
    return "answered"


@activity.defn(name="test.silent_call")
def silent_call(seconds: float) -> str:
    time.sleep(seconds)
    return "answered"


@workflow.defn(sandboxed=False)
class OneCall:
    @workflow.run
    async def run(self, activity_name: str) -> str:
        result: str = await workflow.execute_activity(
            activity_name, CALL_S, start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=1), retry_policy=RetryPolicy(maximum_attempts=1))
        return result


async def _run(env: WorkflowEnvironment, activity_name: str) -> str:
    queue = f"heartbeat-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(2) as threads:
        async with Worker(env.client, task_queue=queue, workflows=[OneCall], workflow_runner=UnsandboxedWorkflowRunner(),
                          activities=[call_that_heartbeats, silent_call], activity_executor=threads):
            result: str = await env.client.execute_workflow(OneCall.run, activity_name, id=queue, task_queue=queue)
            return result


async def test_a_slow_call_that_heartbeats_outlives_its_heartbeat_timeout(temporal_env: WorkflowEnvironment) -> None:
    assert await _run(temporal_env, "test.call_that_heartbeats") == "answered"


async def test_a_silent_call_is_given_up_at_its_heartbeat_timeout(temporal_env: WorkflowEnvironment) -> None:
    with pytest.raises(WorkflowFailureError) as failed:
        await _run(temporal_env, "test.silent_call")
    cause = failed.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, TimeoutError)
    assert cause.cause.type == TimeoutType.HEARTBEAT


def test_outside_an_activity_it_does_nothing() -> None:
    with heartbeating(every=0.01):
        time.sleep(0.05)  # no activity context: no thread, no error
