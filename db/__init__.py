"""Persistence: SQLAlchemy models, sessions, Alembic migrations, the audit trail, idempotent steps.

May import ``domain``. Never imports ``workflows``, ``activities`` or ``api``. Activities and the API
use it; workflows never do (they reach the database only through activities).
"""
