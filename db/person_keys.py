"""Per-person keys (envelope encryption): each employee's personal data is encrypted under a data
key of her own, and only that key is encrypted under the master keys (``HRFLOW_CODEC_KEYS``).

Erasing her is destroying her key: every workflow payload and sealed column written under it
becomes unreadable at once, in Temporal's histories as in PostgreSQL, while the rows, the histories
and the audit chain's hashes stay as they are. Other employees' data is untouched: their keys are
their own.

A key id names its owner and version, ``person:E1001:1``; it travels in a payload's metadata (as the
master key's id does) and opens a sealed value, so any process holding the master keys and this
table can decrypt without knowing beforehand whose data it holds.

Keys are cached in each process for ``ttl`` seconds: a destroyed key stops working everywhere
within that time (the erasure process waits it out before it reports the erasure done).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from db.models import Case, Employee, PersonKey

PREFIX = "person"
SEALED_PREFIX = "p1"  # a sealed column value: p1:<key id>:<base64 nonce + ciphertext>
NONCE_BYTES = 12
# The prefixes of the workflow ids that name one employee: ``<prefix>-<employee id>-<rest>``. Not
# the erasure case's: it must stay readable after it destroyed her key, and holds nothing but her number.
CASE_PREFIXES = ("si-change", "transfer", "offboarding", "resignation", "maternity-leave", "non-compete")


class KeyDestroyed(Exception):
    """Her key was destroyed: what it encrypted is erased."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"{key_id} was destroyed (the person's data is erased)")
        self.key_id = key_id


class UnknownPersonKey(Exception):
    """A key id this database does not hold (another installation's data, or a typo)."""


def key_id(employee_id: str, version: int) -> str:
    return f"{PREFIX}:{employee_id}:{version}"


def owner_of(key: str) -> tuple[str, int] | None:
    """The employee and version a person key id names, or None for a master key's id."""
    prefix, sep, rest = key.partition(":")
    if prefix != PREFIX or not sep:
        return None
    employee_id, _, version = rest.rpartition(":")
    return (employee_id, int(version)) if employee_id and version.isdigit() else None


@dataclass(frozen=True)
class _Cached:
    key: bytes | None  # None: destroyed
    until: float


class PersonKeyring:
    """Her data key, made on first use, unwrapped once per ``ttl`` and kept in memory meanwhile."""

    def __init__(self, session_factory: sessionmaker[Session], master_active: str, master_keys: Mapping[str, bytes],
                 *, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        if master_active not in master_keys:
            raise ValueError(f"active master key {master_active!r} is not among the keys")
        self._sessions = session_factory
        self._active = master_active
        self._masters = {k: AESGCM(v) for k, v in master_keys.items()}
        self._ttl = ttl
        self._clock = clock
        self._keys: dict[str, _Cached] = {}
        self._current: dict[str, tuple[str, float]] = {}  # employee -> (her current key id, until)
        self._subjects: dict[str, str | None] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- keys
    def current(self, employee_id: str) -> tuple[str, bytes]:
        """Her current key (id and bytes), made now if she has none."""
        now = self._clock()
        with self._lock:
            known = self._current.get(employee_id)
        if known and known[1] > now:
            return known[0], self.key(known[0])
        with self._sessions.begin() as s:
            row = s.scalars(select(PersonKey).where(PersonKey.employee_id == employee_id)
                            .order_by(PersonKey.version.desc()).limit(1)).first()
            if row is None or row.wrapped is None:
                version = 1 if row is None else row.version + 1  # a rehired person after erasure: a new key
                s.execute(insert(PersonKey).values(employee_id=employee_id, version=version,
                                                   wrapped=self._wrap(employee_id, version, os.urandom(32)),
                                                   wrapped_with=self._active).on_conflict_do_nothing())
                row = s.get(PersonKey, (employee_id, version), populate_existing=True)
                assert row is not None
        kid = key_id(employee_id, row.version)
        with self._lock:
            self._current[employee_id] = (kid, now + self._ttl)
        return kid, self.key(kid)

    def key(self, kid: str) -> bytes:
        """The data key ``kid`` names; ``KeyDestroyed`` once her erasure destroyed it."""
        held = self.held_key(kid)
        if held is not None:
            return held
        cached = _Cached(self._load(kid), self._clock() + self._ttl)
        with self._lock:
            self._keys[kid] = cached
        if cached.key is None:
            raise KeyDestroyed(kid)
        return cached.key

    def held_key(self, kid: str) -> bytes | None:
        """Without touching the database: the data key ``kid`` while this process holds it, None
        when ``key`` must ask; ``KeyDestroyed`` once it is known destroyed. The codec decodes most
        payloads with it, on the event loop, instead of a thread hop per payload."""
        with self._lock:
            cached = self._keys.get(kid)
        if cached is None or cached.until <= self._clock():
            return None
        if cached.key is None:
            raise KeyDestroyed(kid)
        return cached.key

    def _load(self, kid: str) -> bytes | None:
        owner = owner_of(kid)
        if owner is None:
            raise UnknownPersonKey(f"{kid!r} is not a person key id")
        with self._sessions() as s:
            row = s.get(PersonKey, owner)
        if row is None:
            raise UnknownPersonKey(f"no key {kid} in this database")
        if row.wrapped is None:
            return None
        master = self._masters.get(row.wrapped_with)
        if master is None:
            raise UnknownPersonKey(f"{kid} is wrapped with master key {row.wrapped_with!r}, not configured here")
        nonce, sealed = row.wrapped[:NONCE_BYTES], row.wrapped[NONCE_BYTES:]
        return master.decrypt(nonce, sealed, kid.encode())

    def _wrap(self, employee_id: str, version: int, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._masters[self._active].encrypt(nonce, key, key_id(employee_id, version).encode())

    def cached(self, workflow_id: str) -> tuple[str, bytes] | None | bool:
        """Without touching the database: the key for ``workflow_id``'s payloads when it is cached,
        None when its case is known to be no one's, False when the database must be asked."""
        now = self._clock()
        with self._lock:
            if workflow_id not in self._subjects:
                return False
            subject = self._subjects[workflow_id]
            if subject is None:
                return None
            current = self._current.get(subject)
            held = self._keys.get(current[0]) if current and current[1] > now else None
        if current is None or held is None or held.key is None or held.until <= now:
            return False
        return current[0], held.key

    def erased(self, employee_id: str) -> bool:
        """Was a key of hers destroyed? (Then what it encrypted, her earlier cases, is erased.)"""
        with self._sessions() as s:
            return bool(s.scalar(select(func.count()).select_from(PersonKey).where(
                PersonKey.employee_id == employee_id, PersonKey.destroyed_at.is_not(None))))

    def forget(self) -> None:
        """Drop the cache (a test, or an operator who cannot wait out the ttl after an erasure)."""
        with self._lock:
            self._keys.clear()
            self._current.clear()

    # ---------------------------------------------------------------- whose case
    def subject_of(self, workflow_id: str) -> str | None:
        """The employee a case's workflow id names (``si-change-E1001-3``), or None for a case that
        is not one person's (a batch, a sweep, a report): those stay under the master key. The
        cases table says when it knows; otherwise the longest existing employee number the id
        starts with after its prefix (numbers may hold hyphens)."""
        with self._lock:
            if workflow_id in self._subjects:
                return self._subjects[workflow_id]
        subject = self._find_subject(workflow_id)
        with self._lock:
            if len(self._subjects) > 100_000:
                self._subjects.clear()
            self._subjects[workflow_id] = subject
        return subject

    def _find_subject(self, workflow_id: str) -> str | None:
        prefix = next((p for p in CASE_PREFIXES if workflow_id.startswith(p + "-")), None)
        if prefix is None:
            return None
        rest = workflow_id[len(prefix) + 1:]
        candidates = [rest[:i] for i, ch in enumerate(rest) if ch == "-"] + [rest]
        with self._sessions() as s:
            recorded = s.scalar(select(Case.employee_id).where(Case.workflow_id == workflow_id))
            if recorded:
                return recorded
            found = s.scalars(select(Employee.employee_id).where(Employee.employee_id.in_(candidates))).all()
        return max(found, key=len) if found else None

    # ---------------------------------------------------------------- sealed columns
    def seal(self, employee_id: str, field: str, value: str) -> str:
        """``value`` encrypted under her key, bound to the column it belongs in."""
        kid, blob = self.seal_bytes(employee_id, field, value.encode())
        return f"{SEALED_PREFIX}:{kid}:{base64.b64encode(blob).decode()}"

    def open(self, field: str, sealed: str) -> str:
        """The value ``seal`` sealed; ``KeyDestroyed`` after her erasure."""
        prefix, _, rest = sealed.partition(":")
        kid, _, blob = rest.rpartition(":")
        if prefix != SEALED_PREFIX or not kid:
            raise ValueError(f"{field} is not a sealed value")
        return self.open_bytes(field, kid, base64.b64decode(blob)).decode()

    def seal_bytes(self, employee_id: str, field: str, data: bytes) -> tuple[str, bytes]:
        """``data`` (a document) encrypted under her key, bound to ``field``: the key id and the nonce and ciphertext."""
        kid, key = self.current(employee_id)
        nonce = os.urandom(NONCE_BYTES)
        return kid, nonce + AESGCM(key).encrypt(nonce, data, f"{field}|{kid}".encode())

    def open_bytes(self, field: str, kid: str, blob: bytes) -> bytes:
        """What ``seal_bytes`` sealed under ``kid``; ``KeyDestroyed`` after her erasure."""
        try:
            return AESGCM(self.key(kid)).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], f"{field}|{kid}".encode())
        except InvalidTag:
            raise ValueError(f"{field} does not open under {kid}: altered, or moved from another column") from None


def destroy(session: Session, employee_id: str, *, by: str) -> int:
    """Destroy every key of hers (the erasure itself), in the caller's transaction; the number destroyed."""
    result = session.execute(
        update(PersonKey).where(PersonKey.employee_id == employee_id, PersonKey.destroyed_at.is_(None))
        .values(wrapped=None, destroyed_at=func.now(), destroyed_by=by))
    return int(result.rowcount)  # type: ignore[attr-defined]
