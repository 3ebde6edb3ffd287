"""Her personal columns sealed at rest, each under her own key (PIPL, issue 21).

``Employee.name``, ``resident_id_number``, ``email`` and ``mobile`` stay the attributes every caller
reads and writes, but none is a column any more: on flush the value is sealed into its ``*_sealed``
column (``PersonKeyring.seal``, bound to the field it belongs in) and, for the two that are looked
up, digested into its ``*_digest`` column (``db.blind_index``: ID numbers stay unique and are found
by number, logins are found by e-mail); on access it is opened again. Erasing her (destroying her
key) turns her name and number into ``ERASED`` and her contact into nothing, everywhere at once,
never into an error on a page.

The keyring and the blind-index key travel in ``Session.info`` (``db.session.make_session_factory``),
no globals: a session without them refuses to write a value, loudly, rather than store it plain.
A row written before the sealing (the ``*_plain`` columns, emptied by ``seal_plain_values``) still
reads without them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import ColumnElement, event, func, or_, select, update
from sqlalchemy.orm import Session, object_session, sessionmaker
from sqlalchemy.orm.attributes import flag_dirty
from sqlalchemy.orm.base import instance_state

from db import blind_index

if TYPE_CHECKING:
    from db.person_keys import PersonKeyring

ERASED = "（已删除）"
KEYRING = "hrflow.keyring"  # Session.info keys
BLIND_INDEX_KEY = "hrflow.blind_index_key"
_PENDING = "_sealed_pending"  # in the instance's __dict__: the fields set by the caller, to be sealed on flush
_KEYRING = "_sealed_keyring"  # ...the keyring of the session that loaded her, to open them when read


@dataclass(frozen=True)
class Field:
    """One sealed attribute and the columns behind it."""

    name: str  # the attribute; bound into each sealed value, so it opens only as this field
    sealed: str  # the attribute of the column holding the sealed text
    plain: str  # ...of the column holding a value written before the sealing
    digest_column: str | None = None  # ...of its blind index, for a field looked up
    digest: Callable[[bytes, str], str] | None = None  # how that index is computed
    nullable: bool = False  # None is a value (no e-mail); otherwise an emptied field reads ERASED

    @property
    def clear(self) -> str:
        return f"_sealed_{self.name}"  # in the instance's __dict__: the opened value


ID_NUMBER = Field("resident_id_number", "resident_id_sealed", "resident_id_plain", "resident_id_digest", blind_index.digest)
NAME = Field("name", "name_sealed", "name_plain")
EMAIL = Field("email", "email_sealed", "email_plain", "email_digest", blind_index.email_digest, nullable=True)
MOBILE = Field("mobile", "mobile_sealed", "mobile_plain", nullable=True)
FIELDS = {f.name: f for f in (ID_NUMBER, NAME, EMAIL, MOBILE)}


class SealingUnavailable(RuntimeError):
    """This session has no keyring or no blind-index key: it may not write a sealed value (nor open one)."""


def keyring_of(session: Session | None) -> PersonKeyring | None:
    return session.info.get(KEYRING) if session is not None else None


def require_keyring(session: Session | None, why: str) -> PersonKeyring:
    keyring = keyring_of(session)
    if keyring is None:
        raise SealingUnavailable(f"this session has no person keyring: it cannot {why}"
                                 " (build it with make_session_factory(engine, keyring=..., blind_index_key=...))")
    return keyring


def _blind_index_key(session: Session) -> bytes:
    key: bytes | None = session.info.get(BLIND_INDEX_KEY)
    if key is None:
        raise SealingUnavailable("this session has no blind-index key (HRFLOW_BLIND_INDEX_KEY):"
                                 " it cannot digest an ID number or an e-mail address")
    return key


def digest_of(session: Session, id_number: str) -> str:
    """The blind index of ``id_number`` under this session's key: what ``resident_id_digest`` is compared with."""
    return blind_index.digest(_blind_index_key(session), id_number)


def reveal(keyring: PersonKeyring | None, sealed: str | None, plain: str | None, field: Field = ID_NUMBER) -> str | None:
    """The value a row's two columns hold: opened, still plain (not yet sealed), or erased."""
    from db.person_keys import KeyDestroyed

    if sealed is None:
        return plain if plain is not None or field.nullable else ERASED
    if keyring is None:
        raise SealingUnavailable(f"this session has no person keyring: it cannot open a sealed {field.name}")
    try:
        return keyring.open(field.name, sealed)
    except KeyDestroyed:
        return None if field.nullable else ERASED


def open_row(session: Session, sealed: str | None, plain: str | None, field: Field = ID_NUMBER) -> str:
    """``reveal`` with the session's keyring, for a Core select of a field's two columns ("" for none)."""
    return reveal(keyring_of(session), sealed, plain, field) or ""


def sealed_values(session: Session, employee_id: str, values: Mapping[str, str | None]) -> dict[str, Any]:
    """The column values storing ``values`` (sealed fields by name) for ``employee_id``: for Core
    and bulk inserts as for the flush."""
    columns: dict[str, Any] = {}
    for name, value in values.items():
        field = FIELDS[name]
        columns[field.plain] = None
        if value is None:
            columns[field.sealed] = None
            if field.digest_column is not None:
                columns[field.digest_column] = None
            continue
        columns[field.sealed] = require_keyring(session, f"seal a {name}").seal(employee_id, name, value)
        if field.digest_column is not None and field.digest is not None:
            columns[field.digest_column] = field.digest(_blind_index_key(session), value)
    return columns


def erase(employee: Any) -> None:
    """Her sealed fields gone: no sealed text, no plain text; a number digest that is no number's."""
    for field in FIELDS.values():
        setattr(employee, field.sealed, None)
        setattr(employee, field.plain, None)
        employee.__dict__[field.clear] = None if field.nullable else ERASED
    employee.resident_id_digest = blind_index.erased_digest(employee.employee_id)
    employee.email_digest = None
    employee.__dict__.pop(_PENDING, None)


class Sealed:
    """The descriptor standing for a sealed attribute. In a query it refuses to be compared (a
    sealed value never equals a plain one): compare the digest (``id_number_in``, ``email_is``)."""

    def __init__(self, field: Field) -> None:
        self.field = field

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Sealed: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> Any: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        d, f = instance.__dict__, self.field
        if f.clear not in d:
            keyring = d.get(_KEYRING) or keyring_of(object_session(instance))
            d[f.clear] = reveal(keyring, getattr(instance, f.sealed), getattr(instance, f.plain), f)
        return d[f.clear]

    def __set__(self, instance: object, value: str | None) -> None:
        if not (isinstance(value, str) or (value is None and self.field.nullable)):
            raise TypeError(f"{self.field.name} must be a str, not {type(value).__name__}")
        instance.__dict__[self.field.clear] = value
        instance.__dict__.setdefault(_PENDING, set()).add(self.field.name)
        if instance_state(instance).key is not None:  # persistent: make the flush see her
            flag_dirty(instance)

    def _refuse(self, *_: object) -> Any:
        raise TypeError(f"{self.field.name} is sealed and cannot be queried: compare its digest"
                        " (db.sealed_fields.id_number_in, email_is)")

    __eq__ = __ne__ = in_ = _refuse
    __hash__ = object.__hash__


def _loaded(target: Any, context: Any) -> None:
    for field in FIELDS.values():
        target.__dict__.pop(field.clear, None)
    target.__dict__.pop(_PENDING, None)
    keyring = keyring_of(context.session)
    if keyring is not None:
        target.__dict__[_KEYRING] = keyring


def _refreshed(target: Any, context: Any, attrs: Iterable[str] | None) -> None:
    stored = {c for f in FIELDS.values() for c in (f.sealed, f.plain)}
    if attrs is None or stored & set(attrs):
        _loaded(target, context)


_SEALED_CLASSES: list[type] = []


def install(cls: type) -> None:
    """Seal ``cls``'s sealed fields on flush and open them on load (the ``Employee`` model calls this)."""
    event.listen(cls, "load", _loaded)
    event.listen(cls, "refresh", _refreshed)
    _SEALED_CLASSES.append(cls)


@event.listens_for(Session, "before_flush")
def _seal_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in [*session.new, *session.dirty]:
        if isinstance(obj, tuple(_SEALED_CLASSES)) and (pending := obj.__dict__.get(_PENDING)):
            values = {name: obj.__dict__[FIELDS[name].clear] for name in pending}
            for column, value in sealed_values(session, obj.employee_id, values).items():  # type: ignore[attr-defined]
                setattr(obj, column, value)
            del obj.__dict__[_PENDING]
            keyring = keyring_of(session)
            if keyring is not None:
                obj.__dict__[_KEYRING] = keyring


def seal_plain_values(session_factory: sessionmaker[Session], batch: int = 1000) -> int:
    """Seal every value still held plain (written before the sealing); the rows sealed. Idempotent:
    a sealed row has no plain value left. ``updated_at`` is kept: nothing of hers changed."""
    from db.models import Employee

    plain = [getattr(Employee, f.plain) for f in FIELDS.values()]
    sealed = [getattr(Employee, f.sealed) for f in FIELDS.values()]
    total = 0
    while True:
        with session_factory.begin() as s:
            rows = s.execute(select(Employee.employee_id, *plain, *sealed)
                             .where(or_(*(c.is_not(None) for c in plain)))
                             .order_by(Employee.employee_id).limit(batch).with_for_update()).all()
            for employee_id, *stored in rows:
                values: dict[str, Any] = {}
                for field, held, already in zip(FIELDS.values(), stored[:len(FIELDS)], stored[len(FIELDS):], strict=True):
                    if held is None:
                        continue
                    values |= {field.plain: None} if already is not None else sealed_values(s, employee_id, {field.name: held})
                s.execute(update(Employee).where(Employee.employee_id == employee_id)
                          .values(**values, updated_at=Employee.updated_at))
        total += len(rows)
        if len(rows) < batch:
            return total


def seal_plain_personal_data(session_factory: sessionmaker[Session]) -> int:
    """``hrflow migrate``'s backfill after an upgrade: her fields, then her documents; the rows sealed."""
    from db.materials import seal_plain_documents

    return seal_plain_values(session_factory) + seal_plain_documents(session_factory)


# The simulated agency's records from before it named people by pseudonym (``integrations.si_agency``):
# an ID number at the top (a submission; an allowance claim, with the child's birth date) or in a
# declaration's lines.
SIM_RECORD_HOLDS_ID_NUMBER = ("payload ? 'resident_id_number' OR payload ? 'birth_date'"
                              " OR jsonb_path_exists(payload, '$.lines[*].resident_id_number')")

# Is anything still held plain? (Without it, a migration needs no key.)
PLAIN_LEFT = ("SELECT EXISTS (SELECT 1 FROM employees WHERE resident_id_number IS NOT NULL OR name IS NOT NULL"
              " OR email IS NOT NULL OR mobile IS NOT NULL)"
              " OR EXISTS (SELECT 1 FROM transfer_materials WHERE sealed_with IS NULL AND size > 0)"
              f" OR EXISTS (SELECT 1 FROM sim_agency_requests WHERE {SIM_RECORD_HOLDS_ID_NUMBER})")


def id_number_in(session: Session, numbers: Iterable[str]) -> ColumnElement[bool]:
    """The criterion "her ID number is one of ``numbers``": by digest, and by the plain column for
    rows not sealed yet (between an upgrade and its backfill)."""
    from db.models import Employee

    numbers = list(numbers)
    plain = set(numbers) | {blind_index.normalise(n) for n in numbers}
    return or_(Employee.resident_id_digest.in_([digest_of(session, n) for n in numbers]),
               Employee.resident_id_plain.in_(plain))


def email_is(session: Session, email: str) -> ColumnElement[bool]:
    """The criterion "her e-mail address is ``email``", in any case: by digest, and by the plain
    column for rows not sealed yet."""
    from db.models import Employee

    return or_(Employee.email_digest == blind_index.email_digest(_blind_index_key(session), email),
               func.lower(Employee.email_plain) == blind_index.normalise_email(email))
