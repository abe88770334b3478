"""Database operations shared by the API and the Celery worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prediction_api.models import Match, Prediction, Team
from prediction_api.predictor import Forecast, Result, predict
from prediction_api.release import has_schema


def get_or_create_team(session: Session, name: str) -> Team:
    """The team called ``name``, created if missing (a concurrent insert is tolerated)."""
    team = session.scalar(select(Team).where(Team.name == name))
    if team is not None:
        return team
    try:
        with session.begin_nested():
            team = Team(name=name)
            session.add(team)
        return team
    except IntegrityError:
        return session.scalars(select(Team).where(Team.name == name)).one()


def history(session: Session, team_id: int, before: datetime) -> list[Result]:
    """The team's finished matches that kicked off before ``before``, from its point of view."""
    rows = session.scalars(
        select(Match).where(
            or_(Match.home_team_id == team_id, Match.away_team_id == team_id),
            Match.home_score.is_not(None),
            Match.away_score.is_not(None),
            Match.kickoff < before,
        )
    )
    results: list[Result] = []
    for m in rows:
        home, away = m.home_score or 0, m.away_score or 0
        results.append((home, away) if m.home_team_id == team_id else (away, home))
    return results


def forecast(session: Session, match: Match) -> Forecast:
    """Forecast ``match`` from both teams' history before its kickoff."""
    return predict(
        history(session, match.home_team_id, match.kickoff),
        history(session, match.away_team_id, match.kickoff),
    )


def latest_prediction(session: Session, match_id: int) -> Prediction | None:
    """The current (newest) stored prediction of a match."""
    return session.scalar(
        select(Prediction)
        .where(Prediction.match_id == match_id)
        .order_by(Prediction.created_at.desc(), Prediction.id.desc())
        .limit(1)
    )


def save_prediction(session: Session, match: Match, result: Forecast) -> Prediction:
    """Store a forecast as the match's current prediction."""
    fields: dict[str, Any] = {
        "match_id": match.id,
        "outcome": result.outcome,
        "home_win": result.home_win,
        "draw": result.draw,
        "away_win": result.away_win,
    }
    if has_schema("0002"):
        fields["confidence"] = result.confidence
    row = Prediction(**fields)
    session.add(row)
    session.flush()
    session.refresh(row)
    return row


def same_forecast(row: Prediction | None, result: Forecast) -> bool:
    """True when ``row`` already says what ``result`` says (so nothing needs storing)."""
    return row is not None and (row.outcome, row.home_win, row.draw, row.away_win) == (
        result.outcome,
        result.home_win,
        result.draw,
        result.away_win,
    )


def upcoming_matches(session: Session, now: datetime) -> list[Match]:
    """Matches not yet played, soonest first."""
    return list(
        session.scalars(
            select(Match)
            .where(Match.kickoff > now, Match.home_score.is_(None))
            .order_by(Match.kickoff)
        )
    )
