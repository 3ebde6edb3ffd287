"""Engines and units of work. One unit of work commits once; helpers below it only flush.

Activities run each in one ``unit_of_work`` so the change, its audit row and its step marker
commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,  # pool_size is the real ceiling per process
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5, "application_name": "hrflow"},
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


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
    code = getattr(exc.orig, "pgcode", None)
    if code:
        return code.startswith(_GONE_STATES)
    # No SQLSTATE at all: libpq could not connect, or lost the connection, before the server answered.
    return isinstance(exc, (OperationalError, InterfaceError))
