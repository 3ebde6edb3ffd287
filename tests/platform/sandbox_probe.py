"""Workflows for the sandbox-entry tests: one of every command whose payloads carry their own
serialization context (activity, local activity, child workflow, signal to another workflow).
Passed through the sandbox by the tests, as hrflow's own workflows are."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

TIMEOUT = timedelta(seconds=30)


@activity.defn
def echo(text: str) -> str:
    return text


@workflow.defn
class ContextsChild:
    def __init__(self) -> None:
        self.told: str | None = None

    @workflow.run
    async def run(self, text: str) -> str:
        await workflow.wait_condition(lambda: self.told is not None)
        return f"{text}/{self.told}"

    @workflow.signal
    def tell(self, text: str) -> None:
        self.told = text


@workflow.defn
class ContextsParent:
    @workflow.run
    async def run(self, text: str) -> str:
        regular = await workflow.execute_activity(echo, f"{text}:regular", start_to_close_timeout=TIMEOUT)
        local = await workflow.execute_local_activity(echo, f"{text}:local", start_to_close_timeout=TIMEOUT)
        child = await workflow.start_child_workflow(ContextsChild.run, f"{text}:child",
                                                    id=f"{workflow.info().workflow_id}-child")
        await child.signal(ContextsChild.tell, f"{text}:signal")
        return f"{regular}|{local}|{await child}"

