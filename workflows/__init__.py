"""Temporal workflows: deterministic orchestration of each HR process.

Workflow modules import only ``domain`` and ``temporalio``; activity references come in through
``workflow.unsafe.imports_passed_through()``. No I/O, no clocks but ``workflow.now()``, no settings.
"""
