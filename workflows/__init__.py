"""Temporal workflows: deterministic orchestration of each HR process.

Workflow modules import only ``domain``, ``workflows`` and ``temporalio`` (``tests/test_layers.py``
checks every import). They call activities by name through ``workflows.kernel`` with the request
and result types of ``domain.contracts``. No I/O, no clocks but ``workflow.now()``, no settings.
"""
