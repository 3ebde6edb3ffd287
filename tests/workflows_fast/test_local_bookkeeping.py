"""Bookkeeping runs as a local activity; when its quick tries fail it runs again as a regular
activity, and a refusal reaches the workflow at once as an ``ActivityError`` with the refusal as
its cause, as every caller expects, without being tried again."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from domain.contracts import ActivityRef
    from domain.refusals import Refusal

from workflows import kernel


class Step(BaseModel):
    failures: int = 0  # how many tries fail with a database outage before one succeeds
    refuse: bool = False


STEP: ActivityRef[Step, str] = ActivityRef("test.bookkeeping", str, bookkeeping=True)
tries: Counter[str] = Counter()


@activity.defn(name="test.bookkeeping")
def bookkeeping(step: Step) -> str:
    run = activity.info().workflow_id
    tries[run] += 1
    if step.refuse:
        raise ApplicationError("约束冲突 (constraint violated)", type=Refusal.BUSINESS_RULE_VIOLATION.type_name,
                               non_retryable=True)
    if tries[run] <= step.failures:
        raise ApplicationError("database unavailable: connection refused", type="DatabaseUnavailable")
    return "local" if activity.info().is_local else "regular"


@workflow.defn(name="TestBookkeeping")
class BookkeepingWorkflow:
    @workflow.run
    async def run(self, step: Step) -> str:
        try:
            return await kernel.run(STEP, step, summary="write the case's row")
        except ActivityError as err:
            return f"refused: {getattr(err.cause, 'type', None)}"


async def _run(env: WorkflowEnvironment, step: Step) -> tuple[str, Counter[int], int]:
    queue, wf = f"bk-{uuid.uuid4().hex[:6]}", f"bookkeeping-{uuid.uuid4().hex[:6]}"
    async with Worker(env.client, task_queue=queue, workflows=[BookkeepingWorkflow], activities=[bookkeeping],
                      activity_executor=ThreadPoolExecutor(2)):
        result = await env.client.execute_workflow(BookkeepingWorkflow.run, step, id=wf, task_queue=queue)
    history = await env.client.get_workflow_handle(wf).fetch_history()
    return result, Counter(e.event_type for e in history.events), tries[wf]


async def test_a_step_that_succeeds_is_one_marker_and_no_activity_task(temporal_env) -> None:
    result, events, calls = await _run(temporal_env, Step())
    assert (result, calls) == ("local", 1)
    assert events[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED] == 0
    assert events[EventType.EVENT_TYPE_MARKER_RECORDED] == 2  # the patch, the local activity


async def test_an_outage_past_the_quick_tries_becomes_a_regular_activity(temporal_env) -> None:
    result, events, calls = await _run(temporal_env, Step(failures=4))  # three local tries, then one regular fails
    assert (result, calls) == ("regular", 5)
    assert events[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED] == 1


async def test_a_refusal_reaches_the_workflow_as_an_activity_error(temporal_env) -> None:
    result, events, calls = await _run(temporal_env, Step(refuse=True))
    assert (result, calls) == (f"refused: {Refusal.BUSINESS_RULE_VIOLATION.type_name}", 1)
    assert events[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED] == 0
