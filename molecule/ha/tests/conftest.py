"""Helpers for the ha scenario: Patroni's members, the endpoint on the app host, direct psql."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from fixtures import groups, host, vault
from helpers import ephemeral_dir, project_dir, recap, run_playbook, wait_for

__all__ = [
    "ephemeral_dir",
    "groups",
    "host",
    "project_dir",
    "recap",
    "run_playbook",
    "vault",
    "wait_for",
]

# Fixed in molecule.yml; host addresses matter to hba and firewall rules.
ADDRESSES = {
    "ha-app1": "172.30.3.11",
    "ha-db1": "172.30.3.21",
    "ha-db2": "172.30.3.22",
    "ha-db3": "172.30.3.23",
}
MEMBERS = ["ha-db1", "ha-db2", "ha-db3"]
DB = "footballprediction"
CA = "/etc/fpops/pki/ca.crt"
PATRONI_CONFIG = "/etc/patroni/15-main.yml"
SERVICE = "patroni@15-main"


def endpoint_dsn(vault, user: str, database: str = DB) -> str:
    """libpq DSN (with the password) for the app host's PgBouncer, as the application uses it."""
    password = vault[f"vault_postgresql_{user}_password"]
    return (
        f"host=127.0.0.1 port=6432 dbname={database} user={user} password={password} "
        f"sslmode=verify-full sslrootcert={CA}"
    )


def direct_dsn(vault, address: str, user: str) -> str:
    """libpq DSN straight to one member's PostgreSQL (TLS, verified)."""
    password = vault[f"vault_postgresql_{user}_password"]
    return (
        f"host={address} dbname={DB} user={user} password={password} "
        f"sslmode=verify-full sslrootcert={CA}"
    )


def psql(client, dsn: str, sql: str):
    """Run SQL with psql on a host, stopping at the first error."""
    command = f"timeout 20 psql '{dsn} connect_timeout=5' -v ON_ERROR_STOP=1 -Atc \"{sql}\""
    return client.run(command)


def members(host, via: str = "") -> list[dict]:
    """Patroni's view of the cluster (patronictl list), from `via` or the first member answering."""
    for name in [via] if via else MEMBERS:
        out = host(name).run(f"runuser -u postgres -- patronictl -c {PATRONI_CONFIG} list -f json")
        if out.rc == 0:
            return json.loads(out.stdout)
    return []


def leader(host, via: str = "") -> str:
    """The member Patroni calls Leader, or '' when there is none."""
    return next((m["Member"] for m in members(host, via) if m["Role"] == "Leader"), "")


def healthy(host, expected: int = 3) -> bool:
    """One leader, a synchronous standby, every other member a replica with no lag, and all on the
    leader's timeline (a replica left on an older one has diverged and streams nothing)."""
    state = members(host)
    replicas = [m for m in state if m["Role"] in ("Replica", "Sync Standby")]
    return (
        len(state) == expected
        and sum(m["Role"] == "Leader" for m in state) == 1
        and sum(m["Role"] == "Sync Standby" for m in state) == 1
        and len(replicas) == expected - 1
        and all(m["State"] in ("running", "streaming") for m in state)
        and all(m.get("Lag in MB", 0) in (0, "") for m in replicas)
        and len({m.get("TL") for m in state}) == 1
    )
