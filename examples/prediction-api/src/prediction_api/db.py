"""SQLAlchemy engine and sessions on psycopg 3, configured by libpq's environment variables.

The URL names no host, database or user: libpq takes them (and TLS: PGSSLMODE=verify-full,
PGSSLROOTCERT) from the environment. Only a user/password override is passed explicitly, for
migrations, which run as a different role (migrator) than the app (app_rw).
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from prediction_api.release import release_id

# libpq's connect_timeout is whole seconds and 2 is its smallest useful value.
CONNECT_TIMEOUT = 2


def make_engine(user: str | None = None, password: str | None = None) -> Engine:
    """An engine whose connections fail fast when PostgreSQL is unreachable."""
    connect_args: dict[str, Any] = {}
    if "PGCONNECT_TIMEOUT" not in os.environ:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    if "PGAPPNAME" not in os.environ:
        connect_args["application_name"] = f"prediction-api {release_id()}"
    if user:
        connect_args["user"] = user
    if password:
        connect_args["password"] = password
    return create_engine(
        "postgresql+psycopg://",
        connect_args=connect_args,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=5,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (they are serialised afterwards)."""
    return sessionmaker(engine, expire_on_commit=False)
