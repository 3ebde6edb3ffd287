"""The worker's sandbox entered the lean way (``hrflow.sandbox``) behaves as the SDK's: every
payload is bound to the same serialization context, results are the same, and what the sandbox
forbids is still refused."""

from __future__ import annotations

import collections
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Self

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import CommandType
from temporalio.client import Client, WorkflowFailureError
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.converter._extstore import StorageDriverStoreContext
from temporalio.worker import Worker, WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError, SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import _runner as sdk_runner

from hrflow.sandbox import LeanEntryRunner, _Entry, entry_supported, workflow_runner
from tests.platform.sandbox_forbidden import ForbiddenCall
from tests.platform.sandbox_probe import ContextsChild, ContextsParent, echo


class RecordingCodec(PayloadCodec, WithSerializationContext):
    """Passes payloads through unchanged, noting the context each one was bound to, as hrflow's
    encryption codec binds each ciphertext to its case."""

    def __init__(self, seen: list[tuple[str, SerializationContext | None]],
                 context: SerializationContext | None = None) -> None:
        self.seen, self.context = seen, context

    def with_context(self, context: SerializationContext) -> Self:
        return type(self)(self.seen, context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.extend(("encode", self.context) for _ in payloads)
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.extend(("decode", self.context) for _ in payloads)
        return list(payloads)


async def _run(env_client: Client, runner: SandboxedWorkflowRunner, workflow_id: str, queue: str,
               ) -> tuple[str, collections.Counter[tuple[str, Any]]]:
    """Run the parent once under ``runner``; what it returned and which contexts the payloads
    were bound to, the client's and the worker's."""
    seen: list[tuple[str, SerializationContext | None]] = []
    config = env_client.config()
    config["data_converter"] = DataConverter(payload_codec=RecordingCodec(seen))
    client = Client(**config)
    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(client, task_queue=queue, workflows=[ContextsParent, ContextsChild], activities=[echo],
                          activity_executor=pool, workflow_runner=runner):
            result = await client.execute_workflow(ContextsParent.run, "x", id=workflow_id, task_queue=queue)
    return result, collections.Counter(seen)


class _Compared(_Entry):
    """The lean instance, also asking the SDK's own way for every context it is asked for."""

    answers: ClassVar[list[tuple[str, CommandInfo | None, Any, Any]]] = []

    def get_serialization_context(self, command_info: CommandInfo | None) -> SerializationContext | None:
        ours = super().get_serialization_context(command_info)
        self.answers.append(("codec", command_info, ours, sdk_runner._Instance.get_serialization_context(self, command_info)))
        return ours

    def get_external_store_context(self, command_info: CommandInfo | None) -> StorageDriverStoreContext:
        ours = super().get_external_store_context(command_info)
        self.answers.append(("store", command_info, ours,
                             sdk_runner._Instance.get_external_store_context(self, command_info)))
        return ours


class _ComparedRunner(LeanEntryRunner):
    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Compared(det, self.runner_class, self.restrictions)


def _sdk_runner() -> SandboxedWorkflowRunner:
    return workflow_runner("tests.platform.sandbox_probe", lean_entry=False)


def test_the_installed_sdk_is_entered_the_lean_way() -> None:
    """A canary for SDK upgrades: when the SDK's instance changes shape, hrflow falls back to the
    plain runner (slower, still correct) and this fails, so that ``hrflow.sandbox`` is reviewed."""
    assert entry_supported()
    assert type(workflow_runner()) is LeanEntryRunner
    assert type(_sdk_runner()) is SandboxedWorkflowRunner


async def test_every_payload_is_bound_to_the_context_the_sdk_binds_it_to(temporal_env) -> None:
    workflow_id, queue = f"contexts-{uuid.uuid4().hex[:8]}", f"sandbox-{uuid.uuid4().hex[:8]}"
    sdk_result, sdk_seen = await _run(temporal_env.client, _sdk_runner(), workflow_id, queue)
    lean_result, lean_seen = await _run(temporal_env.client, workflow_runner("tests.platform.sandbox_probe"),
                                        workflow_id, queue)

    assert lean_result == sdk_result == "x:regular|x:local|x:child/x:signal"
    assert lean_seen == sdk_seen
    # not one context for everything: the oracle itself tells the commands apart
    contexts = {context for _, context in lean_seen}
    activity_contexts = [c for c in contexts if isinstance(c, ActivitySerializationContext)]
    assert {c.is_local for c in activity_contexts} == {True, False}
    assert {c.workflow_id for c in contexts if isinstance(c, WorkflowSerializationContext)} == {
        workflow_id, f"{workflow_id}-child"}


async def test_every_context_read_directly_is_the_one_the_sdk_reads_through_the_sandbox(temporal_env) -> None:
    """The oracle is the SDK's own code, asked on the same instance at the same moment."""
    _Compared.answers.clear()
    runner = _ComparedRunner(restrictions=workflow_runner("tests.platform.sandbox_probe").restrictions)
    result, _ = await _run(temporal_env.client, runner, f"compared-{uuid.uuid4().hex[:8]}",
                           f"sandbox-{uuid.uuid4().hex[:8]}")
    assert result == "x:regular|x:local|x:child/x:signal"
    mismatches = [(kind, info, ours, sdks) for kind, info, ours, sdks in _Compared.answers if ours != sdks]
    assert mismatches == []
    asked = {(kind, info.command_type) for kind, info, _, _ in _Compared.answers if info is not None}
    for command in (CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK, CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION,
                    CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION):
        assert {("codec", command), ("store", command)} <= asked


async def test_the_lean_entry_still_refuses_what_the_sandbox_forbids(temporal_env) -> None:
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_env.client, task_queue=queue, workflows=[ForbiddenCall],
                      workflow_runner=workflow_runner(), workflow_failure_exception_types=[RestrictedWorkflowAccessError]):
        with pytest.raises(WorkflowFailureError) as failed:
            await temporal_env.client.execute_workflow(ForbiddenCall.run, id=f"forbidden-{uuid.uuid4().hex[:8]}",
                                                       task_queue=queue)
    assert "getcwd" in str(failed.value.cause)
