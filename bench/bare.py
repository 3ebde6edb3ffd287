"""The baselines: a bare workflow that repeats a real case's shape with no-op activities, and a
trivial workflow whose update does nothing.

``plan_of`` reads a finished real case's history (every run, and its child workflows) and turns
it into steps: activities scheduled by the same workflow task become one parallel group, each
accepted update or received signal becomes a message step, a child workflow a child step with its
own plan, a continue-as-new a ``can`` step; a local activity (hrflow's bookkeeping) is one
regular no-op activity of its own, run after the one before as the real case ran it. ``BareWorkflow`` runs those steps with a no-op
activity; its driver sends the same messages in the same order. So the bare case has the same
number of activities, messages (kind by kind), children and runs as the real one, and nothing
else: no database, no agency, no policy snapshot, small payloads. The real-to-bare ratio is the
cost of hrflow's own work on top of Temporal's.

Only temporalio and the standard library here: the module is loaded into the workflow sandbox.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

NOOP_TIMEOUT = timedelta(seconds=30)


@activity.defn(name="bench_noop")
def noop(n: int) -> int:
    """A plain ``def`` like hrflow's database activities, so it runs on the same thread pool."""
    return n


@dataclass
class BareInput:
    steps: list[dict[str, Any]]
    pos: int = 0  # where this run starts (after a continue-as-new)
    messages_done: int = 0  # messages applied by earlier runs


@workflow.defn(name="BenchBare")
class BareWorkflow:
    @workflow.init
    def __init__(self, inp: BareInput) -> None:
        self.arrived: set[int] = set()
        self.done = inp.messages_done  # messages 0 .. done - 1 are applied

    @workflow.run
    async def run(self, inp: BareInput) -> int:
        steps = inp.steps
        ordinals = [sum(1 for s in steps[:i] if s["op"] == "msg") for i in range(len(steps))]
        for i in range(inp.pos, len(steps)):
            step = steps[i]
            op = step["op"]
            if op == "acts":
                await asyncio.gather(*(workflow.execute_activity(noop, j, start_to_close_timeout=NOOP_TIMEOUT)
                                       for j in range(step["n"])))
            elif op == "msg":
                m = ordinals[i]
                if m >= self.done:  # not applied early, before a continue-as-new (below)
                    await workflow.wait_condition(lambda m=m: m in self.arrived)
                    self.done = m + 1
            elif op == "child":
                await workflow.execute_child_workflow(BareWorkflow.run, BareInput(steps=step["plan"]),
                                                      id=f"{workflow.info().workflow_id}-child-{i}")
            elif op == "can":
                # The driver sends each message as soon as the one before is answered, so one may
                # arrive before the continue-as-new its real case saw first; a run cannot end with
                # its handler waiting, so it is applied here and its step in the next run skipped.
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() or self._early())
                if self._early():
                    self.done = max(self.arrived) + 1
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(BareInput(steps=steps, pos=i + 1, messages_done=self.done))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.done

    def _early(self) -> bool:
        return any(m >= self.done for m in self.arrived)

    @workflow.update
    async def message(self, m: int) -> int:
        """Like hrflow's updates, it answers once the workflow has applied it."""
        self.arrived.add(m)
        await workflow.wait_condition(lambda: self.done > m)
        return m

    @workflow.signal
    def signal_message(self, m: int) -> None:
        self.arrived.add(m)


@workflow.defn(name="BenchTrivial")
class TrivialWorkflow:
    """Waits until told to stop. ``ping`` does nothing: the floor of an update's latency; ``write``
    runs one local activity that inserts one row (``bench_write``, in ``bench.worker``): the one
    durable write a decision cannot avoid."""

    def __init__(self) -> None:
        self.stop = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.stop)

    @workflow.update
    def ping(self, n: int) -> int:
        return n

    @workflow.update
    async def write(self, n: int) -> int:
        written: int = await workflow.execute_local_activity("bench_write", n, result_type=int,
                                                             start_to_close_timeout=NOOP_TIMEOUT)
        return written

    @workflow.signal
    def finish(self) -> None:
        self.stop = True


# ---------------------------------------------------------------- plans from histories
@dataclass
class Shape:
    """A case's shape: its steps and what its histories hold."""

    steps: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


async def histories(client: Any, workflow_id: str) -> list[Any]:
    """Every run's history of a workflow id, oldest first (following continue-as-new back)."""
    run_id: str | None = (await client.get_workflow_handle(workflow_id).describe()).run_id
    found = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        found.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    return list(reversed(found))


async def shape_of(client: Any, workflow_id: str) -> Shape:
    from temporalio.api.enums.v1 import EventType as E

    shape = Shape(steps=[])
    runs = await histories(client, workflow_id)
    for r, history in enumerate(runs):
        if r:
            shape.steps.append({"op": "can"})
            shape.add("continue_as_new")
        shape.add("runs")
        shape.add("events", len(history.events))
        shape.counts["max_events_per_run"] = max(shape.counts.get("max_events_per_run", 0), len(history.events))
        for event in history.events:
            t = event.event_type
            if t == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                shape.add("activities")
                # scheduled by the same workflow task: they run in parallel
                wft = event.activity_task_scheduled_event_attributes.workflow_task_completed_event_id
                last = shape.steps[-1] if shape.steps else {}
                if last.get("op") == "acts" and last.get("run") == r and last.get("wft") == wft:
                    last["n"] += 1
                else:
                    shape.steps.append({"op": "acts", "n": 1, "run": r, "wft": wft})
            elif t == E.EVENT_TYPE_MARKER_RECORDED and \
                    event.marker_recorded_event_attributes.marker_name == "core_local_activity":
                # hrflow's bookkeeping as a local activity: the bare runs it as a regular no-op, one
                # after the other as the real workflow ran them
                shape.add("activities")
                shape.add("local_activities")
                shape.steps.append({"op": "acts", "n": 1, "run": r, "wft": -1})
            elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                shape.add("updates")
                shape.steps.append({"op": "msg", "kind": "update"})
            elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                shape.add("signals")
                shape.steps.append({"op": "msg", "kind": "signal"})
            elif t == E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                child_id = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
                child = await shape_of(client, child_id)
                shape.add("children")
                for key, n in child.counts.items():
                    if key != "max_events_per_run":
                        shape.add(f"child_{key}", n)
                shape.steps.append({"op": "child", "plan": child.steps})
            elif t == E.EVENT_TYPE_TIMER_STARTED:
                shape.add("timers")
            elif t == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                shape.add("workflow_tasks")
    return shape


def messages(steps: list[dict[str, Any]]) -> list[str]:
    """The kinds of the top-level messages, in order (children get none from the driver)."""
    return [s["kind"] for s in steps if s["op"] == "msg"]


async def drive_bare(client: Any, workflow_id: str, steps: list[dict[str, Any]], task_queue: str) -> None:
    """Start a bare case and send its messages one after the other, as a person would."""
    handle = await client.start_workflow(BareWorkflow.run, BareInput(steps=steps), id=workflow_id,
                                         task_queue=task_queue)
    for m, kind in enumerate(messages(steps)):
        if kind == "update":
            await handle.execute_update(BareWorkflow.message, m)
        else:
            await handle.signal(BareWorkflow.signal_message, m)
    await handle.result()
