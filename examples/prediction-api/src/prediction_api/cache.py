"""Redis access within the ACL the platform gives user ``app``: keys ``fp:*`` only, no
@dangerous commands (so no KEYS, SCAN-based cleanup, INFO, CONFIG or FLUSH*)."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from prediction_api.schemas import PredictionOut

PREFIX = "fp:"
STATS_KEY = f"{PREFIX}stats"


def prediction_key(match_id: int) -> str:
    """Where a match's current prediction is cached."""
    return f"{PREFIX}prediction:{match_id}"


def make_redis(url: str, timeout: float) -> redis.Redis:
    """A client whose every operation gives up after ``timeout`` seconds (one quick retry for
    a pooled connection the server closed), so a dead Redis slows requests down boundedly."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )


def store_prediction(client: redis.Redis, prediction: PredictionOut, ttl: int) -> None:
    """Cache a prediction for ``ttl`` seconds."""
    client.set(prediction_key(prediction.match_id), prediction.model_dump_json(), ex=ttl)


def cached_prediction(client: redis.Redis, match_id: int) -> PredictionOut | None:
    """The cached prediction of a match, if any."""
    raw = client.get(prediction_key(match_id))
    if raw is None:
        return None
    return PredictionOut.model_validate_json(raw)
