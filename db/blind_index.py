"""The blind index of resident ID numbers: a keyed digest that finds and keeps unique a number
stored only sealed (``db.sealed_ids``), without the number itself.

An HMAC-SHA256 under its own key (``HRFLOW_BLIND_INDEX_KEY``), not under the master keys: rotating
those never changes a digest, and without this key a digest cannot be tested against the mere
billion or so valid ID numbers (a plain hash could be, in minutes).
"""

from __future__ import annotations

import hashlib
import hmac

DIGEST_LENGTH = 64  # hex of SHA-256: the column's width
ERASED_PREFIX = "erased:"


def normalise(id_number: str) -> str:
    """The form digested: no surrounding blanks, a check character ``x`` written ``X``."""
    return id_number.strip().upper()


def digest(key: bytes, id_number: str) -> str:
    """The number's blind index under ``key``: the same number always gives the same digest."""
    if len(key) < 32:
        raise ValueError("the blind-index key must be at least 32 bytes")
    return hmac.new(key, normalise(id_number).encode(), hashlib.sha256).hexdigest()


def erased_digest(employee_id: str) -> str:
    """What stands in an erased employee's digest: unique per employee (the column stays unique),
    never the digest of any number (it is not hex), and derived from nothing of hers but her number."""
    return (ERASED_PREFIX + hashlib.sha256(employee_id.encode()).hexdigest())[:DIGEST_LENGTH]
