"""The simulated agency's look-ups by index: a person's accepted requests in a city, and the
revocation of an acceptance (``integrations.si_agency``). Its records now name a person by her
pseudonym (``payload ->> 'person'``); ``hrflow migrate``'s backfill rewrites the older ones.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sim_agency_requests_person_city", "sim_agency_requests",
                    [sa.text("(payload ->> 'person')"), sa.text("(payload ->> 'city')")],
                    postgresql_where=sa.text("operation = 'submit' AND outcome = 'accepted'"))
    op.create_index("ix_sim_agency_requests_revoked", "sim_agency_requests", [sa.text("(payload ->> 'acceptance_no')")],
                    postgresql_where=sa.text("operation = 'revoke' AND outcome = 'accepted'"))


def downgrade() -> None:
    op.drop_index("ix_sim_agency_requests_revoked", table_name="sim_agency_requests")
    op.drop_index("ix_sim_agency_requests_person_city", table_name="sim_agency_requests")
