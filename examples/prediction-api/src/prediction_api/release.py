"""What this build is: its version and the database schema revision its code needs.

The two constants are the only per-release difference in the source; ``build-release``
rewrites them (and leaves out migrations newer than SCHEMA_REVISION) to build 1.0.0, 2.0.0
and 3.0.0 from one tree. Features gate on the schema they need, never on the version string,
so a build is consistent with the migrations it ships.
"""

from __future__ import annotations

import os

VERSION = "2.0.0"
SCHEMA_REVISION = "0002"


def has_schema(revision: str) -> bool:
    """True when this build's schema includes ``revision`` (revisions are numbered 0001, ...)."""
    return int(SCHEMA_REVISION) >= int(revision)


def release_id() -> str:
    """The deploy tool's release id (RELEASE_ID, e.g. 2.0.0-20261123T1200), else the version."""
    return os.environ.get("RELEASE_ID") or VERSION
