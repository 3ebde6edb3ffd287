"""Receivables may be reversed: a month booked while she was, in fact, back at work.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD = "status IN ('open', 'settled', 'written_off')"
NEW = "status IN ('open', 'settled', 'written_off', 'reversed')"


def _statuses(condition: str) -> None:
    op.drop_constraint(op.f("ck_receivables_status_known"), "receivables", type_="check")
    op.create_check_constraint(op.f("ck_receivables_status_known"), "receivables", condition)


def upgrade() -> None:
    _statuses(NEW)


def downgrade() -> None:
    reversed_rows = op.get_bind().execute(sa.text("SELECT count(*) FROM receivables WHERE status = 'reversed'"))
    if reversed_rows.scalar():
        raise RuntimeError("receivables have been reversed; revision 0005 cannot hold that status")
    _statuses(OLD)
