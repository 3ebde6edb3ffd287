"""The service shell. Platform modules (``settings``, ``codec``, ``temporal``, ``logs``) are what the
API and the worker stand on: they import ``domain``, ``db`` and ``workflows`` (search attributes)
only. The entry points (the ``hrflow`` command, ``hrflow dev`` and the stack start-up, schedules,
the outbox relay, the SMTP sink) assemble everything and may import anything.
"""
