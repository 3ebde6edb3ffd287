"""Column types more than one table uses, so the same quantity is stored the same way everywhere."""

from __future__ import annotations

import sqlalchemy as sa

Money = sa.Numeric(12, 2)  # yuan, to the fen
