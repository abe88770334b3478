"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from prediction_api.models import Match, Prediction
from prediction_api.release import has_schema

TeamName = Field(min_length=1, max_length=100)


class TeamIn(BaseModel):
    """POST /teams."""

    name: str = TeamName


class TeamOut(BaseModel):
    """A team as the API returns it."""

    id: int
    name: str


class MatchIn(BaseModel):
    """POST /matches: teams by name (created if missing); a score only for a played match."""

    home_team: str = TeamName
    away_team: str = TeamName
    kickoff: datetime
    home_score: int | None = Field(default=None, ge=0)
    away_score: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> MatchIn:
        if self.home_team == self.away_team:
            raise ValueError("a team cannot play itself")
        if (self.home_score is None) != (self.away_score is None):
            raise ValueError("give both scores or neither")
        if self.kickoff.tzinfo is None:
            raise ValueError("kickoff needs a time zone (e.g. 2026-05-01T18:00:00Z)")
        return self


class MatchOut(BaseModel):
    """A match as the API returns it."""

    id: int
    home_team: str
    away_team: str
    kickoff: datetime
    home_score: int | None
    away_score: int | None

    @classmethod
    def of(cls, match: Match) -> MatchOut:
        """Serialise an ORM match."""
        return cls(
            id=match.id,
            home_team=match.home_team.name,
            away_team=match.away_team.name,
            kickoff=match.kickoff,
            home_score=match.home_score,
            away_score=match.away_score,
        )


class PredictionOut(BaseModel):
    """A stored prediction. ``confidence`` exists from 2.0.0 on (schema 0002); 1.0.0 omits it."""

    match_id: int
    outcome: Literal["home", "draw", "away"]
    home_win: float
    draw: float
    away_win: float
    created_at: datetime
    confidence: float | None = None

    @classmethod
    def of(cls, row: Prediction) -> PredictionOut:
        """Serialise an ORM prediction."""
        fields: dict[str, Any] = {
            "match_id": row.match_id,
            "outcome": row.outcome,
            "home_win": row.home_win,
            "draw": row.draw,
            "away_win": row.away_win,
            "created_at": row.created_at,
        }
        if has_schema("0002"):
            fields["confidence"] = row.confidence
        return cls.model_validate(fields)

    def public(self) -> dict[str, Any]:
        """The JSON body: fields this build does not have are left out, whatever the source
        (a cache entry written by another release may carry more)."""
        body = self.model_dump(mode="json")
        if not has_schema("0002"):
            body.pop("confidence")
        return body
