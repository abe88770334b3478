"""A deterministic forecast from the two teams' finished matches (points per game, smoothed).

Deliberately simple and pure: the same history always yields the same numbers, so tests and
recomputations are reproducible and a stored prediction is only rewritten when history changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# A finished match from one team's point of view: (goals for, goals against).
Result = tuple[int, int]

# Smoothing: every team starts as if it had played PRIOR_GAMES at a league-average rate.
PRIOR_GAMES = 3
PRIOR_POINTS_PER_GAME = 1.35
HOME_ADVANTAGE = 0.25  # in points per game
MAX_DRAW = 0.30  # draw probability of two equal teams
CONFIDENCE_GAMES = 10  # history length at which confidence reaches 0.5


@dataclass(frozen=True)
class Forecast:
    """Probabilities of the three outcomes (summing to 1), the likeliest one and a confidence."""

    outcome: str
    home_win: float
    draw: float
    away_win: float
    confidence: float


def points_per_game(results: Sequence[Result]) -> float:
    """Smoothed points per game: 3 for a win, 1 for a draw."""
    points = sum(
        3 if scored > conceded else 1 if scored == conceded else 0 for scored, conceded in results
    )
    prior = PRIOR_GAMES * PRIOR_POINTS_PER_GAME
    return (points + prior) / (len(results) + PRIOR_GAMES)


def predict(home: Sequence[Result], away: Sequence[Result]) -> Forecast:
    """Forecast a match from each side's finished matches."""
    diff = points_per_game(home) - points_per_game(away) + HOME_ADVANTAGE
    draw = round(MAX_DRAW * math.exp(-abs(diff)), 4)
    home_win = round((1 - draw) / (1 + math.exp(-1.5 * diff)), 4)
    away_win = round(1 - draw - home_win, 4)
    ranked = sorted((("home", home_win), ("draw", draw), ("away", away_win)), key=lambda kv: -kv[1])
    games = len(home) + len(away)
    return Forecast(
        outcome=ranked[0][0],
        home_win=home_win,
        draw=draw,
        away_win=away_win,
        confidence=round(games / (games + CONFIDENCE_GAMES), 4),
    )
