"""Engines and units of work. One unit of work commits once; helpers below it only flush.

Activities run each in one ``unit_of_work`` so the change, its audit row and its step marker
commit together or not at all.

Every wait is bounded (``Limits``): a statement waits for a lock at most ``lock_timeout``, runs at
most ``statement_timeout``, and a session left idle inside a transaction is ended by the server
after ``idle_in_transaction_session_timeout``; a caller waits for a pooled connection at most
``pool_timeout``. Each failure rolls the transaction back whole and is told apart from a bad
statement by ``database_busy``, so the API can answer 503 and the worker retries the activity.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from db.person_keys import PersonKeyring


@dataclass(frozen=True)
class Limits:
    """How long any database wait may last (``HRFLOW_DATABASE_*`` settings)."""

    lock_timeout_ms: int = 5_000
    statement_timeout_ms: int = 30_000
    idle_in_transaction_timeout_ms: int = 60_000
    pool_timeout_seconds: float = 10.0

    def server_options(self) -> str:
        """libpq ``options``: the session settings each new connection starts with."""
        return (f"-c lock_timeout={self.lock_timeout_ms} -c statement_timeout={self.statement_timeout_ms}"
                f" -c idle_in_transaction_session_timeout={self.idle_in_transaction_timeout_ms}")


def make_engine(url: str, *, pool_size: int = 10, limits: Limits = Limits(), name: str = "hrflow",
                pre_ping: bool = True) -> Engine:
    """``name`` is the connections' ``application_name``: ``pg_stat_activity`` shows which process
    (``hrflow-api``, ``hrflow-worker``) holds a session. ``pre_ping=False`` spares a round trip per
    checkout where a failed attempt is retried anyway (the worker's steps): a connection that died
    fails its attempt, SQLAlchemy discards the pool's connections, and the retry gets a fresh one."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,  # pool_size is the real ceiling per process
        pool_timeout=limits.pool_timeout_seconds,
        pool_pre_ping=pre_ping,
        connect_args={"connect_timeout": 5, "application_name": name, "options": limits.server_options()},
    )


def make_session_factory(engine: Engine, *, keyring: PersonKeyring | None = None,
                         blind_index_key: bytes | None = None) -> sessionmaker[Session]:
    """Sessions that seal and open personal data (``db.sealed_fields``) with ``keyring`` and
    ``blind_index_key``; without them a session may read legacy plain rows but writes no sealed value."""
    from db.sealed_fields import BLIND_INDEX_KEY, KEYRING

    info: dict[str, Any] = {}
    if keyring is not None:
        info[KEYRING] = keyring
    if blind_index_key is not None:
        info[BLIND_INDEX_KEY] = blind_index_key
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit on success, roll back on any exception."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


# SQLSTATEs of a database that is not there: class 08 (connection exceptions), 57P01-57P03
# (shut down by an administrator or a crash, cannot accept connections while starting or stopping)
# and 53300 (too many connections).
_GONE_STATES = ("08", "57P01", "57P02", "57P03", "53300")


def database_unreachable(exc: BaseException) -> bool:
    """Is this the database being away (retry later) rather than a bad statement? Judged by the
    error's class and SQLSTATE, not its wording: libpq 14+ says "connection to server ...
    failed", not the "could not connect" of older versions."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code: str | None = getattr(exc.orig, "pgcode", None)
    if code:
        return code.startswith(_GONE_STATES)
    # No SQLSTATE at all: libpq could not connect, or lost the connection, before the server answered.
    return isinstance(exc, (OperationalError, InterfaceError))


# SQLSTATEs of a wait that ran out: 55P03 lock_not_available (lock_timeout), 57014 query_canceled
# (statement_timeout), 25P03 idle_in_transaction_session_timeout; and 40P01 deadlock_detected (two
# transactions took two audit chains in opposite orders: one was rolled back and may run again).
_BUSY_STATES = ("55P03", "57014", "25P03", "40P01")


def database_busy(exc: BaseException) -> bool:
    """Did a bounded wait run out (a lock, a statement, a pooled connection)? The transaction was
    rolled back whole; the same request may be sent again shortly."""
    if isinstance(exc, PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "pgcode", None) in _BUSY_STATES
