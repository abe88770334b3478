"""Helpers for the backup scenario: the hosts, SQL on the primary, pgBackRest on the repository."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from fixtures import groups, host, vault
from helpers import project_dir, recap, run_playbook
from helpers import run_project_playbook as playbook

__all__ = ["groups", "host", "playbook", "project_dir", "recap", "run_playbook", "vault"]

STANZA = "main"


def sql(db, statement: str) -> str:
    """One statement as postgres in the application database, unaligned output."""
    quoted = statement.replace("'", "'\\''")
    return db.check_output(f"sudo -u postgres psql -XAtq -d footballprediction -c '{quoted}'")


def scratch_sql(repo, statement: str) -> str:
    """One statement in the scratch instance (restore_scratch.yml) on the repository host."""
    quoted = statement.replace("'", "'\\''")
    return repo.check_output(
        "sudo -u pgbackrest psql -XAtq -h /run/fpops-drill -p 5499 -U postgres"
        f" -d footballprediction -c '{quoted}'"
    )


def info(repo, number: int = 1) -> dict:
    """`pgbackrest info` of the stanza in repository NUMBER (2: S3), as the repository account."""
    out = repo.check_output(
        f"sudo -u pgbackrest pgbackrest --stanza={STANZA} --repo={number} --output=json info"
    )
    return json.loads(out)[0]


@pytest.fixture(scope="session")
def primary(host):
    return host("bk-db1")


@pytest.fixture(scope="session")
def replica(host):
    return host("bk-db2")


@pytest.fixture(scope="session")
def repo(host):
    return host("bk-backup1")


@pytest.fixture(scope="session")
def cache(host):
    return host("bk-cache1")
