"""Pure HR domain rules: roles, actors, refusals, privacy masking, identity checks, the policy
catalogue, calendars, and the contracts between workflows and activities (``domain.contracts``).

Nothing here does I/O beyond reading the packaged policy files at load time, and nothing here
imports from ``db``, ``activities``, ``workflows``, ``api`` or ``hrflow``. That keeps every module
safe to import inside the Temporal workflow sandbox and trivial to unit-test.
"""
