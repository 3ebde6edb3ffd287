"""A late return books the months she was away after the planned leave. Its own module (and so
its own time-skipping server): after the reconciliation test in test_maternity.py the shared
server would not skip time for it (seen once; to be understood)."""

from __future__ import annotations

import datetime as dt

from domain.roles import Role
from tests.processes.support import until
from tests.processes.test_maternity import HR, post, start_leave


async def test_a_late_return_books_the_months_she_was_away(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    wf, v = await start_leave(api, auth, temporal_env, emp)
    expected = dt.date.fromisoformat(v["expected_return"])
    await until(temporal_env, expected + dt.timedelta(days=40))
    back = expected + dt.timedelta(days=39)
    r = await post(api, auth, wf, "return", Role.HR_SPECIALIST, HR, {"date": back.isoformat()})
    assert r.status_code == 200, r.text
    # every payroll cut-off (the 25th, HRFLOW_PAYROLL_CUTOFF_DAY's default) she was away for, the
    # planned leave's five or six and the ones after it, up to the day she came back
    first = dt.date.fromisoformat(v["leave_start"])
    away = [first + dt.timedelta(days=n) for n in range((back - first).days + 1)]
    months = {f"{d:%Y-%m}" for d in away if d.day == 25}
    after = {f"{d:%Y-%m}" for d in away if d.day == 25 and d >= expected}
    assert len(after) >= 1
    assert set(r.json()["advances_booked"]) == months
