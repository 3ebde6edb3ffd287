"""Temporal activities: every side effect a workflow asks for (database writes, agencies, mail).

Each activity is idempotent, keyed by the workflow id and a step name, and does one unit of work in
one transaction. May import ``domain``, ``db`` and ``integrations``; never ``api`` or ``workflows``.
"""
