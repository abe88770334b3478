"""1.0.0: teams, matches and predictions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
    )
    op.create_table(
        "matches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("home_team_id", sa.Integer, sa.ForeignKey("teams.id"), nullable=False),
        sa.Column("away_team_id", sa.Integer, sa.ForeignKey("teams.id"), nullable=False),
        sa.Column("kickoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("home_score", sa.Integer, nullable=True),
        sa.Column("away_score", sa.Integer, nullable=True),
        sa.CheckConstraint("home_team_id <> away_team_id", name="matches_distinct_teams"),
        sa.CheckConstraint(
            "(home_score IS NULL) = (away_score IS NULL)", name="matches_score_complete"
        ),
    )
    op.create_index("matches_kickoff", "matches", ["kickoff"])
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("match_id", sa.Integer, sa.ForeignKey("matches.id"), nullable=False),
        sa.Column("outcome", sa.String(4), nullable=False),
        sa.Column("home_win", sa.Float, nullable=False),
        sa.Column("draw", sa.Float, nullable=False),
        sa.Column("away_win", sa.Float, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("outcome IN ('home', 'draw', 'away')", name="predictions_outcome"),
    )
    op.create_index("predictions_match_created", "predictions", ["match_id", "created_at"])


def downgrade() -> None:
    """Drop the three tables (only for a deliberate reset: it loses data)."""
    op.drop_table("predictions")
    op.drop_table("matches")
    op.drop_table("teams")
