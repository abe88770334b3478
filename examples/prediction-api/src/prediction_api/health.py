"""Real dependency checks behind /health (and logged once at startup).

Each check runs in a thread under a hard time limit, so a dependency that accepts the TCP
connection and then says nothing cannot hang the endpoint the deploy gate and the load
balancer poll. Besides reachability the database check compares the schema revision with the
one this build needs: a release whose migrations are missing never reports healthy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from prediction_api.release import SCHEMA_REVISION

OK = "ok"
UNKNOWN = "unknown"


def describe(exc: BaseException) -> str:
    """One short line naming the failure (driver error, not SQLAlchemy's wrapper)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"error: {type(cause).__name__}: {lines[0] if lines else ''}"[:200]


def schema_status(current: str | None, required: str = SCHEMA_REVISION) -> str:
    """``ok`` when the database is at ``required`` or later (migrations are expand-only, so a
    newer schema still serves an older release: rollback stays possible)."""
    if current is None:
        return f"not migrated: this release needs schema {required}"
    try:
        if int(current) >= int(required):
            return OK
    except ValueError:
        return f"unknown schema revision {current!r}"
    return f"database at schema {current}, this release needs {required}"


def check_database(engine: Engine) -> tuple[str, str]:
    """(postgresql, schema) status: ``SELECT 1``, then the alembic revision."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SET LOCAL statement_timeout = 1500"))
            conn.execute(text("SELECT 1"))
            try:
                current = conn.scalar(text("SELECT version_num FROM alembic_version"))
            except ProgrammingError:
                current = None
    except Exception as exc:
        return describe(exc), UNKNOWN
    return OK, schema_status(current)


def check_redis(client: redis.Redis) -> str:
    """``PING`` (allowed by the app's ACL: @connection)."""
    try:
        client.ping()
    except Exception as exc:
        return describe(exc)
    return OK


async def _bounded(check: Callable[[], Any], timeout: float, on_timeout: Any) -> Any:
    try:
        return await asyncio.wait_for(asyncio.to_thread(check), timeout)
    except TimeoutError:
        return on_timeout


async def run_checks(engine: Engine, client: redis.Redis, timeout: float) -> dict[str, str]:
    """All checks concurrently; the whole call returns within about ``timeout`` seconds."""
    late = f"error: no answer within {timeout:g}s"
    (postgresql, schema), cache = await asyncio.gather(
        _bounded(lambda: check_database(engine), timeout, (late, UNKNOWN)),
        _bounded(lambda: check_redis(client), timeout, late),
    )
    return {"postgresql": postgresql, "redis": cache, "schema": schema}
