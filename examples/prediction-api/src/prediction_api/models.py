"""ORM mapping of the tables the migrations create (migrations stay the schema's authority)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from prediction_api.release import has_schema


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class Team(Base):
    """A club; its name is unique and is how clients refer to it."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Match(Base):
    """A fixture; the score stays NULL until the match is played."""

    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    home_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    away_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    kickoff: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    home_score: Mapped[int | None]
    away_score: Mapped[int | None]

    home_team: Mapped[Team] = relationship(foreign_keys=[home_team_id], lazy="joined")
    away_team: Mapped[Team] = relationship(foreign_keys=[away_team_id], lazy="joined")


class Prediction(Base):
    """One computed forecast for a match; the newest row is the current one."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"))
    outcome: Mapped[str] = mapped_column(String(4))
    home_win: Mapped[float] = mapped_column(Float)
    draw: Mapped[float] = mapped_column(Float)
    away_win: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    # 2.0.0 (migration 0002): how much match history backs the forecast. Mapped only when the
    # build ships that migration, so 1.0.0 neither reads nor writes the column.
    if has_schema("0002"):
        confidence: Mapped[float | None] = mapped_column(Float)
