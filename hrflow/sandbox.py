"""The workflow sandbox hrflow runs in: the SDK's, with hrflow's pure packages passed through and a
cheaper way in.

The SDK's sandboxed instance enters the sandbox by ``exec`` of a small source string with the
sandbox's importer swapped in: once per activation, and once more for every payload sequence the
worker encodes or decodes, only to ask the workflow for that payload's serialization context (the
case, or the activity it goes to, which hrflow's codec binds each ciphertext to). With the codec
that was a fifth of the worker's CPU (``bench/RESULTS.md``). ``_Entry`` keeps the SDK's semantics
and drops the repeated work:

- the entry code is compiled once per source, not on every call; what runs inside the sandbox,
  with which importer and restrictions, is unchanged;
- a payload's serialization context (and its external-storage context, which the SDK asks for
  too) is read from the sandboxed instance directly: that read looks up the instance's pending
  commands and builds a frozen dataclass, imports nothing and calls nothing restricted, so
  swapping the importer in for it protects nothing.

Both hook the SDK's private ``_Instance``; ``entry_supported`` checks the shape they rely on
(temporalio 1.35), and ``workflow_runner`` falls back to the SDK's plain runner when it changes.
"""

from __future__ import annotations

import functools
import inspect
import threading
from types import CodeType
from typing import Any

import temporalio.workflow
from temporalio.converter import SerializationContext
from temporalio.converter._extstore import StorageDriverStoreContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox import _runner as sdk_runner

# hrflow's own deterministic packages: the workflow code and the domain rules it computes with
# (no I/O, no clock, no randomness: the tests run them under the full sandbox, which would refuse
# those). Passed through, they load once per process instead of once per workflow run, which was
# two thirds of a cached case's memory (926 vs 318 KB) and a quarter of the worker's time; every
# other module keeps the sandbox's checks.
PURE_PACKAGES = ("workflows", "domain")


@functools.lru_cache(maxsize=64)
def _compiled(source: str) -> CodeType:
    return compile(source, "<temporal-sandbox>", "exec")


def entry_supported() -> bool:
    """Whether the SDK's sandboxed instance still has the shape ``_Entry`` overrides:
    ``_run_code(self, code, **extra_globals)``, ``get_serialization_context(self, command_info)``
    and ``get_external_store_context(self, command_info)``."""
    def names(attr: str) -> list[str] | None:
        fn = getattr(sdk_runner._Instance, attr, None)
        return None if fn is None else list(inspect.signature(fn).parameters)
    return (names("_run_code") == ["self", "code", "extra_globals"]
            and names("get_serialization_context") == ["self", "command_info"]
            and names("get_external_store_context") == ["self", "command_info"])


class _Entry(sdk_runner._Instance):
    """The SDK's sandboxed instance, entered with code compiled once; its payloads' contexts read
    directly."""

    def _run_code(self, code: str, **extra_globals: Any) -> None:
        for k, v in extra_globals.items():
            self.globals_and_locals[k] = v
        try:
            temporalio.workflow.unsafe._set_in_sandbox(True)
            self._current_thread_id = threading.get_ident()
            exec(_compiled(code), self.globals_and_locals, self.globals_and_locals)  # noqa: S102 - the SDK's own entry code
        finally:
            temporalio.workflow.unsafe._set_in_sandbox(False)
            self._current_thread_id = None
            for k in extra_globals:
                self.globals_and_locals.pop(k, None)

    @property
    def _in_sandbox(self) -> Any:
        """The SDK's object inside the sandbox that holds the workflow instance (made in ``__init__``)."""
        return self.globals_and_locals["__temporal_in_sandbox"]

    def get_serialization_context(self, command_info: CommandInfo | None) -> SerializationContext | None:
        """The payload's context, read from the instance's pending commands directly: that read
        imports nothing and calls nothing restricted, so the importer is not swapped in for it."""
        context: SerializationContext | None = self._in_sandbox.get_serialization_context(command_info)
        return context

    def get_external_store_context(self, command_info: CommandInfo | None) -> StorageDriverStoreContext:
        """Where a payload would be stored externally, read the same way: the SDK asks for it for
        every payload sequence it encodes, whether external storage is configured or not."""
        context: StorageDriverStoreContext = self._in_sandbox.get_external_store_context(command_info)
        return context


class LeanEntryRunner(SandboxedWorkflowRunner):
    """The SDK's sandbox runner, its instances entered the cheaper way (``_Entry``)."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Entry(det, self.runner_class, self.restrictions)


def workflow_runner(*also_pure: str, lean_entry: bool = True) -> SandboxedWorkflowRunner:
    """The sandbox with hrflow's pure packages passed through, and ``also_pure`` (a benchmark's
    own workflows, so that its baseline is run as hrflow's are); entered the cheaper way
    (``lean_entry``) unless told otherwise or the SDK's instance has changed shape."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PURE_PACKAGES, *also_pure)
    lean = lean_entry and entry_supported()
    return (LeanEntryRunner if lean else SandboxedWorkflowRunner)(restrictions=restrictions)
