"""One activity, one transaction; errors that no retry can fix fail the activity at once.

A constraint violation, a value too long for its column or a float where money belongs will not
heal by waiting, so they become non-retryable ``BusinessRuleViolation``s the workflow sees
immediately. Everything else (PostgreSQL down, a lock timeout) is retried by Temporal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError

from db.session import unit_of_work


@contextmanager
def db_step(factory: sessionmaker[Session]) -> Iterator[Session]:
    try:
        with unit_of_work(factory) as session:
            yield session
    except (IntegrityError, DataError) as exc:
        raise ApplicationError(f"{type(exc).__name__}: {str(exc.orig).splitlines()[0]}",
                               type="BusinessRuleViolation", non_retryable=True) from None
    except TypeError as exc:
        raise ApplicationError(str(exc), type="BusinessRuleViolation", non_retryable=True) from None
