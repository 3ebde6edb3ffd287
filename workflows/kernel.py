"""What every workflow is built from: China time, refusals, and typed activity calls by name.

Workflow code imports only this, ``case_ops`` (the case's bookkeeping), ``domain`` and Temporal:
it never imports the activities layer, so it loads no database or network code, and each activity
is called by the name in ``domain.contracts`` with its request and result types checked.
Call only from workflow code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as StepTimeout
from typing_extensions import TypeIs

with workflow.unsafe.imports_passed_through():
    from domain.actors import Actor
    from domain.contracts import ActivityRef
    from domain.refusals import Refusal

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out")

# China has one time zone and no daylight saving: every statutory date is a day in it.
CHINA = dt.timezone(timedelta(hours=8))


def at(day: dt.date, hour: int) -> dt.datetime:
    """A moment on a calendar day in China time (a timer or a due time at a local hour)."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=CHINA)


def today() -> dt.date:
    """The workflow's calendar day in China (from workflow time, so replays agree)."""
    return workflow.now().astimezone(CHINA).date()


def refuse(kind: Refusal, message: str, **details: Any) -> ApplicationError:
    """A refusal of a message (validator or handler): non-retryable, its kind from the one table
    (``domain.refusals``), which decides the API's answer; ``details`` reach the caller's body.
    ``message`` is written "中文 (English)": the API answers the caller's half."""
    if details:
        return ApplicationError(message, details, type=kind.type_name, non_retryable=True)
    return ApplicationError(message, type=kind.type_name, non_retryable=True)


def not_the_subject(actor: Actor, employee_id: str) -> None:
    """The subject of a case never decides on it, whatever her role: the API says who she is from
    the staff directory, not from her token (``db.directory``)."""
    if actor.speaks_for(employee_id):
        raise refuse(Refusal.SELF_APPROVAL, f"您是本案的当事人（{employee_id}），不能对本案作出决定，请由其他同事办理"
                                            f" (you are the subject of this case ({employee_id}) and may not"
                                            " decide on it; a colleague must)")


def refused(error: BaseException | None, kind: Refusal) -> TypeIs[ApplicationError]:
    """Is this activity failure's cause a refusal of ``kind``? (Then it is an ``ApplicationError``:
    its ``message`` is the refusal's own text, without the type ``str()`` puts in front.)"""
    return isinstance(error, ApplicationError) and error.type == kind.type_name


@dataclass(frozen=True)
class StepOptions:
    """Timeouts and retries of an activity call (typed, instead of option dicts spread into calls)."""

    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy
    schedule_to_close_timeout: timedelta | None = None
    heartbeat_timeout: timedelta | None = None  # for steps that heartbeat while they wait on others

    def within(self, bound: timedelta) -> StepOptions:
        """The same step, given up after ``bound`` in all (retries included)."""
        return replace(self, schedule_to_close_timeout=bound)


def backoff(first: timedelta, longest: timedelta, *never: Refusal) -> RetryPolicy:
    """Retries with doubling waits, from ``first`` up to ``longest`` apart; the refusals ``never``
    (which no retry can fix) fail at once."""
    return RetryPolicy(initial_interval=first, backoff_coefficient=2.0, maximum_interval=longest,
                       non_retryable_error_types=[r.type_name for r in never])


# Database steps: quick (30 s per attempt), retried with backoff up to every 5 minutes for as long
# as it takes: a PostgreSQL outage must not fail a months-long case. Errors no retry can fix are
# non-retryable ``BusinessRuleViolation``s (activities.unit) and fail at once.
DB_STEP = StepOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=backoff(timedelta(seconds=1), timedelta(minutes=5), Refusal.BUSINESS_RULE_VIOLATION),
)

# Calls to an agency (social-insurance, housing-fund, the destination office): a slow service that
# may be down for a while is retried with backoff for three days; its business rejections (and the
# other refusals no retry can fix) fail at once and go back to HR.
AGENCY_CALL = StepOptions(
    start_to_close_timeout=timedelta(minutes=2),
    schedule_to_close_timeout=timedelta(days=3),
    heartbeat_timeout=timedelta(seconds=20),  # a dead worker's call is retried in seconds (activities.unit.heartbeating)
    retry_policy=backoff(timedelta(seconds=5), timedelta(minutes=30),
                         Refusal.AGENCY_REJECTED, Refusal.REVOCATION_REFUSED, Refusal.EMPLOYEE_MISSING,
                         Refusal.RECORDS_OUT_OF_STEP, Refusal.VALIDATION_FAILED),
)


# Bookkeeping (``ActivityRef.bookkeeping``) runs first as a local activity inside the workflow
# task: no activity task and no round trip through the server, one history event instead of three.
# A refusal (an error no retry can fix) reaches the caller as it always did: an ``ActivityError``
# whose cause is the refusal (a local activity's failure arrives bare, so it is wrapped here). If
# a few quick tries have not done it otherwise (PostgreSQL away), it runs again as a regular
# activity with the step's own options, which Temporal retries with backoff and the UI shows
# pending. The steps are idempotent (keyed by case and step), so a write that landed before its
# answer was lost is found, not repeated. Cases recorded before this patch keep their regular
# activities.
LOCAL_BOOKKEEPING = "local-bookkeeping"
LOCAL_TRIES = StepOptions(
    start_to_close_timeout=timedelta(seconds=10),
    schedule_to_close_timeout=timedelta(seconds=20),
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_attempts=3),
)


async def run(ref: ActivityRef[In, Out], arg: In, *, summary: str, options: StepOptions = DB_STEP) -> Out:
    """Run the activity ``ref`` names, with its request and result types as the contract says."""
    if ref.bookkeeping and workflow.patched(LOCAL_BOOKKEEPING):
        never = [*(options.retry_policy.non_retryable_error_types or ()), Refusal.BUSINESS_RULE_VIOLATION.type_name]
        try:
            done: Out = await workflow.execute_local_activity(
                ref.name, arg, result_type=ref.result, summary=summary,
                start_to_close_timeout=LOCAL_TRIES.start_to_close_timeout,
                schedule_to_close_timeout=LOCAL_TRIES.schedule_to_close_timeout,
                retry_policy=replace(LOCAL_TRIES.retry_policy, non_retryable_error_types=never))
            return done
        except ApplicationError as failure:
            if failure.non_retryable or failure.type in never:
                raise ActivityError(f"{ref.name} refused", scheduled_event_id=0, started_event_id=0, identity="",
                                    activity_type=ref.name, activity_id="",
                                    retry_state=RetryState.NON_RETRYABLE_FAILURE) from failure
        except StepTimeout:
            pass  # as a regular activity, below
    result: Out = await workflow.execute_activity(
        ref.name, arg, result_type=ref.result, summary=summary,
        start_to_close_timeout=options.start_to_close_timeout,
        schedule_to_close_timeout=options.schedule_to_close_timeout,
        heartbeat_timeout=options.heartbeat_timeout, retry_policy=options.retry_policy)
    return result
