"""Every recorded history replays against the current workflow code.

Cases run for months: a change to a workflow's command sequence that is not behind
``workflow.patched`` breaks the cases already running. Record new histories with
``HRFLOW_RECORD_HISTORIES=1 python3 run.py test tests/processes`` and commit them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from hrflow.codec import data_converter
from hrflow.sandbox import workflow_runner
from workflows.registry import ALL_WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").rglob("*.json"))


def _history(path: Path) -> WorkflowHistory:
    id_file = path.with_suffix(".id")
    workflow_id = id_file.read_text().strip() if id_file.exists() else f"{path.parent.name}-{path.stem}"
    return WorkflowHistory.from_json(workflow_id, path.read_text())


def test_every_workflow_has_recorded_histories() -> None:
    recorded = {path.parent.name for path in HISTORIES}
    expected = {"si_change": "SocialInsuranceChangeWorkflow", "maternity": "MaternityLeaveWorkflow",
                "offboarding": "OffboardingWorkflow", "non_compete": "NonCompeteWorkflow",
                "transfer": "CrossProvinceTransferWorkflow", "reminder_sweep": "ReminderSweepWorkflow",
                "monthly_report": "MonthlyReportWorkflow", "audit_seal": "AuditSealWorkflow",
                "base_adjustment": "BaseAdjustmentWorkflow", "base_adjustment_part": "BaseAdjustmentPartWorkflow"}
    registered = {cls.__name__ for cls in ALL_WORKFLOWS}
    assert set(expected.values()) <= registered
    assert set(expected) <= recorded


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_history_replays(path: Path, codec) -> None:
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=data_converter(codec))
    result = await replayer.replay_workflow(_history(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


async def test_every_history_replays_in_the_sandbox_the_worker_runs(codec) -> None:
    """As above, with the runner the worker ships (hrflow's packages passed through, entered the
    lean way, ``hrflow.sandbox``) instead of the full sandbox."""
    async def histories() -> AsyncIterator[WorkflowHistory]:
        for path in HISTORIES:
            yield _history(path)

    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=data_converter(codec), workflow_runner=workflow_runner())
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    assert results.replay_failures == {}


# (patch, history recorded before it, history recorded after it)
PATCHES = [
    ("void-certificate-on-withdrawal", "offboarding/withdrawn_after_last_day_steps",
     "offboarding/withdrawn_certificate_voided"),
    ("track-deadlines", "maternity/beijing_single_birth", "maternity/beijing_single_birth_deadlines_tracked"),
    ("track-deadlines", "offboarding/filing_missed", "offboarding/filing_missed_deadlines_tracked"),
    ("track-deadlines", "non_compete/missing_proof_follow_up", "non_compete/missing_proof_follow_up_deadlines_tracked"),
    ("messages-after-open", "si_change/enrollment_lifecycle", "si_change/approved_in_the_first_moment"),
    ("messages-after-open", "maternity/beijing_single_birth", "maternity/approved_in_the_first_moment"),
    ("messages-after-open", "offboarding/filing_missed", "offboarding/signed_off_in_the_first_moment"),
    ("messages-after-open", "transfer/guiyang_to_harbin", "transfer/cancelled_in_the_first_moment"),
    ("messages-after-open", "non_compete/violation_month_3", "non_compete/violation_in_the_first_moment"),
    ("ledger-claims", "offboarding/maternity_advance_deducted", "offboarding/payroll_in_notice_then_final_pay"),
    ("employment-events", "offboarding/securities_case", "offboarding/payroll_in_notice_then_final_pay"),
    ("tasks-close-by-decision", "maternity/departure_write_off", "maternity/resigned_during_leave_told_by_offboarding"),
    ("tasks-close-by-decision", "transfer/destination_refused", "transfer/destination_refused_named"),
    ("policy-lapse-watch", "reminder_sweep/paged_batches", "reminder_sweep/lapse_watch"),
    ("policy-gap-tasks", "maternity/beijing_single_birth", "maternity/national_floor_hebei"),
    ("calendar-replan", "offboarding/filing_missed", "offboarding/filings_replanned"),
    ("calendar-replan", "transfer/guiyang_to_harbin", "transfer/step_replanned"),
    ("revocation-failure-by-hand", "si_change/enrollment_lifecycle", "si_change/revocation_failed_done_by_hand"),
    ("repin-records-stage", "si_change/enrollment_lifecycle", "si_change/repin_voids_approval_recorded"),
    ("undo-tasks-stay-open", "maternity/beijing_single_birth", "maternity/failed_undo_stays_open"),
    ("close-with-stage", "si_change/enrollment_lifecycle", "si_change/enrollment_lifecycle_closed_with_stage"),
    ("close-with-stage", "si_change/back_payment_confirmation", "si_change/back_payment_rejected_closed_with_stage"),
    ("close-with-stage", "maternity/beijing_single_birth", "maternity/beijing_single_birth_closed_with_stage"),
    *(("local-bookkeeping", before, f"{before}_local_bookkeeping") for before in (
        "si_change/enrollment_lifecycle", "maternity/beijing_single_birth", "offboarding/filing_missed",
        "transfer/guiyang_to_harbin", "non_compete/violation_month_3", "monthly_report/seeded_november")),
]


@pytest.mark.parametrize(("patch", "before", "after"), PATCHES, ids=[f"{p[0]}:{p[1]}" for p in PATCHES])
async def test_patch_replays_histories_from_before_and_after_it(patch: str, before: str, after: str, codec) -> None:
    """A change added behind ``workflow.patched`` after a history was recorded: the old history has
    no marker and still replays (running cases keep going); the new one carries the marker and
    replays too."""
    root = Path(__file__).parent / "histories"
    old, new = root / f"{before}.json", root / f"{after}.json"
    marker = '"markerName": "core_patch"'  # the patch id itself is in an (encrypted) payload
    assert marker not in old.read_text()
    assert marker in new.read_text()
    for path in (old, new):
        await test_history_replays(path, codec)
