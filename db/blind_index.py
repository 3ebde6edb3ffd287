"""The blind index of sealed values looked up (resident ID numbers, e-mail addresses): a keyed
digest that finds a value stored only sealed (``db.sealed_fields``) and keeps ID numbers unique,
without the value itself.

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


def normalise_email(email: str) -> str:
    """An address as it is compared: no surrounding blanks, any case."""
    return email.strip().lower()


def digest(key: bytes, id_number: str) -> str:
    """The number's blind index under ``key``: the same number always gives the same digest."""
    return _hmac(key, normalise(id_number).encode())


def email_digest(key: bytes, email: str) -> str:
    """An address's blind index under ``key``, in a domain of its own (never an ID number's)."""
    return _hmac(key, b"email|" + normalise_email(email).encode())


def _hmac(key: bytes, message: bytes) -> str:
    if len(key) < 32:
        raise ValueError("the blind-index key must be at least 32 bytes")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def erased_digest(employee_id: str) -> str:
    """What stands in an erased employee's digest: unique per employee (the column stays unique),
    never the digest of any number (it is not hex), and derived from nothing of hers but her number."""
    return (ERASED_PREFIX + hashlib.sha256(employee_id.encode()).hexdigest())[:DIGEST_LENGTH]
