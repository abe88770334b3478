"""Configuration from the environment only (12-factor); read once per process or app start.

PostgreSQL is configured by libpq's own variables (PGHOST, PGPORT, PGDATABASE, PGUSER,
PGPASSWORD, PGSSLMODE, PGSSLROOTCERT, ...), which psycopg reads itself: nothing here parses
them, so every libpq option the platform writes works unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from prediction_api.release import release_id


class ConfigError(RuntimeError):
    """A required setting is missing or malformed: the process should not start."""


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """The service's settings; the defaults suit a production host."""

    redis_url: str
    release: str
    # Seconds a computed prediction stays in Redis (fp:prediction:<match_id>).
    prediction_ttl: int
    # Upper bound for each dependency check of /health and for Redis socket operations: a
    # dead dependency must not hang the health check the deploy gate and the balancer poll.
    check_timeout: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; raise ConfigError naming the variable that is wrong."""
        env = os.environ if env is None else env
        redis_url = env.get("REDIS_URL", "")
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL must be set to a redis://, rediss:// or unix:// URL")
        return cls(
            redis_url=redis_url,
            release=release_id(),
            prediction_ttl=int(_number(env, "PREDICTION_CACHE_TTL", 300)),
        )
