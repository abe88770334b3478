"""``prediction-api-migrate``: run or inspect the migrations packaged in this release.

    prediction-api-migrate upgrade head      apply pending migrations (as MIGRATION_PGUSER)
    prediction-api-migrate downgrade 0001    revert to a revision (loses the newer columns)
    prediction-api-migrate current           the database's revision ("none" if unmigrated)
    prediction-api-migrate heads             this release's head revision (no database needed)

Output of ``current`` and ``heads`` is the bare revision, so a deploy can compare them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from prediction_api.db import make_engine
from prediction_api.health import describe


def alembic_config() -> Config:
    """Alembic configuration without an ini file: the scripts are package data."""
    cfg = Config()
    cfg.set_main_option("script_location", "prediction_api:migrations")
    return cfg


def heads() -> list[str]:
    """Head revisions of the packaged migrations (exactly one: the chain is linear)."""
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())


def current() -> str | None:
    """The revision the database is at, read as the migration role."""
    engine = make_engine(
        user=os.environ.get("MIGRATION_PGUSER") or os.environ.get("PGUSER"),
        password=os.environ.get("MIGRATION_PGPASSWORD") or os.environ.get("PGPASSWORD"),
    )
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = argparse.ArgumentParser(
        prog="prediction-api-migrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("upgrade").add_argument("revision", nargs="?", default="head")
    sub.add_parser("downgrade").add_argument("revision")
    sub.add_parser("current")
    sub.add_parser("heads")
    args = parser.parse_args(argv)
    if args.action in {"upgrade", "downgrade"}:
        logging.basicConfig(level=logging.INFO, format="%(message)s")  # what ran, on stderr
    try:
        if args.action == "heads":
            print("\n".join(heads()))
        elif args.action == "current":
            print(current() or "none")
        elif args.action == "upgrade":
            command.upgrade(alembic_config(), args.revision)
        else:
            command.downgrade(alembic_config(), args.revision)
    except Exception as exc:
        print(f"prediction-api-migrate {args.action}: {describe(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
