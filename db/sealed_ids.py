"""Resident ID numbers sealed at rest, each under its employee's own key (PIPL, issue 21).

``Employee.resident_id_number`` stays the attribute every caller reads and writes, but it is no
longer a column: on flush the value is sealed into ``resident_id_sealed`` (``PersonKeyring.seal``)
and digested into ``resident_id_digest`` (``db.blind_index``, which keeps numbers unique and finds
them); on access it is opened again. Erasing her (destroying her key) turns the number into
``ERASED`` everywhere at once, never into an error on a page.

The keyring and the blind-index key travel in ``Session.info`` (``db.session.make_session_factory``),
no globals: a session without them refuses to write a number, loudly, rather than store it plain.
A row written before the sealing (``resident_id_plain``, emptied by ``seal_plain_id_numbers``)
still reads without them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import ColumnElement, event, or_, select, update
from sqlalchemy.orm import Session, object_session, sessionmaker
from sqlalchemy.orm.attributes import flag_dirty
from sqlalchemy.orm.base import instance_state

from db.blind_index import digest, erased_digest, normalise

if TYPE_CHECKING:
    from db.person_keys import PersonKeyring

FIELD = "resident_id_number"  # bound into each sealed value: it opens only as this column
ERASED = "（已删除）"
KEYRING = "hrflow.keyring"  # Session.info keys
BLIND_INDEX_KEY = "hrflow.blind_index_key"
_CLEAR = "_resident_id_clear"  # in the instance's __dict__: the opened number
_PENDING = "_resident_id_pending"  # ...set by the caller, to be sealed on flush
_KEYRING = "_resident_id_keyring"  # ...the keyring of the session that loaded her, to open it when read


class SealingUnavailable(RuntimeError):
    """This session has no keyring or no blind-index key: it may not write an ID number (nor open a sealed one)."""


def keyring_of(session: Session | None) -> PersonKeyring | None:
    return session.info.get(KEYRING) if session is not None else None


def _require(session: Session) -> tuple[PersonKeyring, bytes]:
    keyring, key = session.info.get(KEYRING), session.info.get(BLIND_INDEX_KEY)
    if keyring is None or key is None:
        missing = "a person keyring" if keyring is None else "HRFLOW_BLIND_INDEX_KEY"
        raise SealingUnavailable(f"this session has no {missing}: it cannot seal a resident ID number"
                                 " (build it with make_session_factory(engine, keyring=..., blind_index_key=...))")
    return keyring, key


def digest_of(session: Session, id_number: str) -> str:
    """The blind index of ``id_number`` under this session's key: what ``resident_id_digest`` is compared with."""
    key = session.info.get(BLIND_INDEX_KEY)
    if key is None:
        raise SealingUnavailable("this session has no blind-index key (HRFLOW_BLIND_INDEX_KEY): it cannot look up an ID number")
    return digest(key, id_number)


def reveal(keyring: PersonKeyring | None, sealed: str | None, plain: str | None) -> str:
    """The number a row's two columns hold: opened, still plain (not yet sealed), or ``ERASED``."""
    from db.person_keys import KeyDestroyed

    if sealed is None:
        return plain if plain is not None else ERASED
    if keyring is None:
        raise SealingUnavailable("this session has no person keyring: it cannot open a sealed resident ID number")
    try:
        return keyring.open(FIELD, sealed)
    except KeyDestroyed:
        return ERASED


def open_row(session: Session, sealed: str | None, plain: str | None) -> str:
    """``reveal`` with the session's keyring: for a Core select of the two columns."""
    return reveal(keyring_of(session), sealed, plain)


def sealed_values(session: Session, employee_id: str, id_number: str) -> dict[str, Any]:
    """The column values storing ``id_number`` for ``employee_id``: for Core and bulk inserts."""
    keyring, key = _require(session)
    return {"resident_id_sealed": keyring.seal(employee_id, FIELD, id_number),
            "resident_id_digest": digest(key, id_number), "resident_id_plain": None}


def erase(employee: Any) -> None:
    """Her number gone: no sealed text, no plain text, a digest that is no number's."""
    employee.resident_id_sealed = employee.resident_id_plain = None
    employee.resident_id_digest = erased_digest(employee.employee_id)
    employee.__dict__[_CLEAR] = ERASED
    employee.__dict__.pop(_PENDING, None)


class SealedIdNumber:
    """The descriptor standing for ``Employee.resident_id_number``. In a query it refuses to be
    compared (a sealed value never equals a number): compare ``resident_id_digest`` with ``digest_of``."""

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> SealedIdNumber: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> str: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> SealedIdNumber | str:
        if instance is None:
            return self
        d = instance.__dict__
        if _CLEAR not in d:
            keyring = d.get(_KEYRING) or keyring_of(object_session(instance))
            row: Any = instance
            d[_CLEAR] = reveal(keyring, row.resident_id_sealed, row.resident_id_plain)
        value: str = d[_CLEAR]
        return value

    def __set__(self, instance: object, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"resident_id_number must be a str, not {type(value).__name__}")
        instance.__dict__[_CLEAR] = value
        instance.__dict__[_PENDING] = True
        if instance_state(instance).key is not None:  # persistent: make the flush see her
            flag_dirty(instance)

    def _refuse(self, *_: object) -> Any:
        raise TypeError("resident_id_number is sealed and cannot be queried: compare Employee.resident_id_digest"
                        " with db.sealed_ids.digest_of(session, number)")

    __eq__ = __ne__ = in_ = _refuse
    __hash__ = object.__hash__


def _loaded(target: Any, context: Any) -> None:
    target.__dict__.pop(_CLEAR, None)
    target.__dict__.pop(_PENDING, None)
    keyring = keyring_of(context.session)
    if keyring is not None:
        target.__dict__[_KEYRING] = keyring


def _refreshed(target: Any, context: Any, attrs: Iterable[str] | None) -> None:
    if attrs is None or {"resident_id_sealed", "resident_id_plain"} & set(attrs):
        _loaded(target, context)


_SEALED_CLASSES: list[type] = []


def install(cls: type) -> None:
    """Seal ``cls``'s ``resident_id_number`` on flush and open it on load (the ``Employee`` model calls this)."""
    event.listen(cls, "load", _loaded)
    event.listen(cls, "refresh", _refreshed)
    _SEALED_CLASSES.append(cls)


@event.listens_for(Session, "before_flush")
def _seal_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in [*session.new, *session.dirty]:
        if isinstance(obj, tuple(_SEALED_CLASSES)) and obj.__dict__.get(_PENDING):
            for column, value in sealed_values(session, obj.employee_id, obj.__dict__[_CLEAR]).items():  # type: ignore[attr-defined]
                setattr(obj, column, value)
            del obj.__dict__[_PENDING]
            keyring = keyring_of(session)
            if keyring is not None:
                obj.__dict__[_KEYRING] = keyring


def seal_plain_id_numbers(session_factory: sessionmaker[Session], batch: int = 1000) -> int:
    """Seal every row still holding its number plain (written before the sealing); the number
    sealed. Idempotent: a sealed row has no plain value left. ``updated_at`` is kept: nothing of
    hers changed."""
    from db.models import Employee

    total = 0
    while True:
        with session_factory.begin() as s:
            rows = s.execute(select(Employee.employee_id, Employee.resident_id_plain, Employee.resident_id_sealed)
                             .where(Employee.resident_id_plain.is_not(None))
                             .order_by(Employee.employee_id).limit(batch).with_for_update()).all()
            for employee_id, plain, sealed in rows:
                assert plain is not None
                values = {"resident_id_plain": None} if sealed is not None else sealed_values(s, employee_id, plain)
                s.execute(update(Employee).where(Employee.employee_id == employee_id)
                          .values(**values, updated_at=Employee.updated_at))
        total += len(rows)
        if len(rows) < batch:
            return total


def id_number_in(session: Session, numbers: Iterable[str]) -> ColumnElement[bool]:
    """The criterion "her ID number is one of ``numbers``": by digest, and by the plain column for
    rows not sealed yet (between an upgrade and its backfill)."""
    from db.models import Employee

    numbers = list(numbers)
    plain = {n for n in numbers} | {normalise(n) for n in numbers}
    return or_(Employee.resident_id_digest.in_([digest_of(session, n) for n in numbers]),
               Employee.resident_id_plain.in_(plain))
