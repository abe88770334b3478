"""Helpers for the data scenario: hosts found by inventory group, so tests name roles, not hosts."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from fixtures import groups, host, vault
from helpers import (
    ephemeral_dir,
    project_dir,
    recap,
    run_playbook,
    scenario_dir,
)

__all__ = [
    "ephemeral_dir",
    "groups",
    "host",
    "project_dir",
    "recap",
    "run_playbook",
    "scenario_dir",
    "vault",
]

# Fixed in molecule.yml; host addresses matter to hba and firewall rules.
ADDRESSES = {
    "app1": "172.30.2.11",
    "db1": "172.30.2.21",
    "db2": "172.30.2.22",
    "cache1": "172.30.2.31",
    "cache2": "172.30.2.32",
}


DB = "footballprediction"
CA = "/etc/fpops/pki/ca.crt"


def psql(client, vault, address: str, user: str, sql: str, *, sslmode: str = "verify-full"):
    """Run SQL from a client host as one of the application roles, over TLS by default."""
    password = vault[f"vault_postgresql_{user}_password"]
    dsn = f"host={address} dbname={DB} user={user} sslmode={sslmode} sslrootcert={CA}"
    return client.run(
        f"PGPASSWORD={password} psql '{dsn} connect_timeout=5' -v ON_ERROR_STOP=1 -Atc \"{sql}\""
    )


def local_psql(host, sql: str, db: str = "postgres"):
    """Run SQL on a database host as the postgres superuser (peer authentication)."""
    return host.run(f'runuser -u postgres -- psql -d {db} -Atc "{sql}"')


def pytest_collection_modifyitems(items):
    """Tests that move the primary (failover, rejoin) run after every other test."""
    items.sort(key=lambda item: item.get_closest_marker("moves_primary") is not None)


def pytest_configure(config):
    config.addinivalue_line("markers", "moves_primary: changes which node is primary; runs last")
