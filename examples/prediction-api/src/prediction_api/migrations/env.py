"""Alembic environment: connects as the migration role (MIGRATION_PGUSER/MIGRATION_PGPASSWORD,
falling back to PGUSER/PGPASSWORD); host, database and TLS come from libpq's variables."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import text

from prediction_api.db import make_engine

# Fail instead of queueing behind a long transaction of the running app: ALTER TABLE needs an
# exclusive lock, and everything that queues behind a waiting ALTER would stall with it.
LOCK_TIMEOUT = "5s"


def run_migrations_online() -> None:
    """Run the pending migrations, each in its own transaction."""
    engine = make_engine(
        user=os.environ.get("MIGRATION_PGUSER") or os.environ.get("PGUSER"),
        password=os.environ.get("MIGRATION_PGPASSWORD") or os.environ.get("PGPASSWORD"),
    )
    with engine.connect() as connection:
        connection.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
        connection.commit()
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: run against the database")
run_migrations_online()
