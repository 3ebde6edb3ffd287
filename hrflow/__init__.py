"""The service shell: settings, the ``hrflow`` command, the embedded dev stack, the Temporal
connection and the payload codec. Imported by ``api``, ``worker`` and the CLI; imports ``domain``
and ``db``, never ``workflows`` at module import time except where the worker is assembled.
"""
