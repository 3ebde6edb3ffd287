"""Comparing a given secret with the expected one without telling how much of a guess was right.

``hmac.compare_digest`` refuses ``str`` with characters outside ASCII (a ``TypeError``, so a posted
``é`` would be a 500); comparing the UTF-8 bytes answers ``False`` instead.
"""

from __future__ import annotations

import hmac


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
