"""2.0.0: predictions.confidence (nullable, so 1.0.0 keeps inserting without it).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column; no default, so PostgreSQL does not rewrite the table."""
    op.add_column("predictions", sa.Column("confidence", sa.Float, nullable=True))


def downgrade() -> None:
    """Drop the column (1.0.0 does not read it, so this is safe once 2.0.0 is gone)."""
    op.drop_column("predictions", "confidence")
