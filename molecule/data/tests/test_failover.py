"""failover.yml promotes the replica and fences the old primary; rejoin.yml rebuilds it."""

import re
import threading
import time
import uuid

import pytest
from conftest import ADDRESSES, ephemeral_dir, local_psql, project_dir, psql, recap, run_playbook

pytestmark = pytest.mark.moves_primary

FAILOVER = project_dir() / "playbooks" / "failover.yml"
REJOIN = project_dir() / "playbooks" / "rejoin.yml"
SERVICE = "postgresql@15-main"


@pytest.fixture(scope="module")
def cluster(groups, host, vault):
    old, new = groups["db_primary"][0], groups["db_replica"][0]
    client = host(groups["app"][0])
    table = f"f_{uuid.uuid4().hex[:8]}"
    created = psql(client, vault, ADDRESSES[old], "migrator", f"CREATE TABLE {table} (note text)")
    assert created.rc == 0, created.stderr
    return {"old": old, "new": new, "client": client, "table": table, "results": {}}


def in_recovery(node) -> str:
    return local_psql(node, "SELECT pg_is_in_recovery()").stdout.strip()


def test_failover_refuses_a_lagging_replica_and_changes_nothing(cluster, host):
    # Any lag is too much with a negative limit: the refusal path, with the real replica.
    out = run_playbook(FAILOVER, "-e", "postgresql_failover_max_lag_bytes=-1")
    assert out.returncode != 0
    assert "Refusing to fail over" in out.stdout
    assert all(counts["changed"] == 0 for counts in recap(out.stdout).values())
    assert in_recovery(host(cluster["old"])) == "f"
    assert in_recovery(host(cluster["new"])) == "t"


def test_failover_without_the_old_primarys_last_wal_restores_the_old_primary(cluster, host, vault):
    # Replay paused on the replica: the old primary's shutdown checkpoint cannot be replayed in
    # time, so nothing may be promoted and the old primary must serve again.
    new, old = host(cluster["new"]), host(cluster["old"])
    assert local_psql(new, "SELECT pg_wal_replay_pause()").rc == 0
    try:
        insert = f"INSERT INTO {cluster['table']} VALUES ('before-refused-failover')"
        assert psql(cluster["client"], vault, ADDRESSES[cluster["old"]], "app_rw", insert).rc == 0
        out = run_playbook(FAILOVER, "-e", "postgresql_failover_wal_wait_seconds=3")
    finally:
        local_psql(new, "SELECT pg_wal_replay_resume()")
    assert out.returncode != 0
    assert "nothing was promoted" in out.stdout, out.stdout[-3000:]
    assert in_recovery(new) == "t"
    assert in_recovery(old) == "f"
    assert old.run(f"systemctl is-enabled {SERVICE}").stdout.strip() != "masked"
    assert not old.file("/var/lib/postgresql/.fpops-fenced-15-main").exists
    insert = f"INSERT INTO {cluster['table']} VALUES ('after-refused-failover')"
    assert psql(cluster["client"], vault, ADDRESSES[cluster["old"]], "app_rw", insert).rc == 0
    assert not (ephemeral_dir() / "inventory" / ".state" / "postgresql_primary").exists()


LOAD_SCRIPT = """#!/bin/bash
# load.sh SECONDS SESSIONS DSN TABLE: autocommit INSERTs; psql prints a tag per acknowledged commit.
feed() {
    end=$((SECONDS + $1))
    while [ $SECONDS -lt $end ]; do echo "INSERT INTO $2 VALUES ('load');"; done
}
for i in $(seq "$2"); do
    (feed "$1" "$4" | psql "$3" -v ON_ERROR_STOP=1 2>/dev/null | grep -c '^INSERT 0 1') &
done
wait
"""


def write_load(cluster, vault, seconds: int, sessions: int = 2) -> list[int]:
    """Sessions writing to the old primary; returns the commits each saw acknowledged."""
    client = cluster["client"]
    client.run(f"cat > /tmp/load.sh <<'EOF'\n{LOAD_SCRIPT}EOF")
    password = vault["vault_postgresql_app_rw_password"]
    dsn = (
        f"host={ADDRESSES[cluster['old']]} dbname=footballprediction user=app_rw "
        "sslmode=verify-full sslrootcert=/etc/fpops/pki/ca.crt"
    )
    out = client.run(
        f"PGPASSWORD={password} bash /tmp/load.sh {seconds} {sessions} '{dsn}' {cluster['table']}"
    )
    return [int(n) for n in out.stdout.split()]


def test_failover_under_write_load(cluster, host, vault):
    note = uuid.uuid4().hex
    insert = f"INSERT INTO {cluster['table']} VALUES ('{note}')"
    assert psql(cluster["client"], vault, ADDRESSES[cluster["old"]], "app_rw", insert).rc == 0
    acknowledged: list[int] = []
    load = threading.Thread(target=lambda: acknowledged.extend(write_load(cluster, vault, 20)))
    load.start()
    time.sleep(3)
    started = time.monotonic()
    out = run_playbook(FAILOVER)
    elapsed = time.monotonic() - started
    load.join()
    assert out.returncode == 0, out.stdout[-3000:]
    reported = re.search(r"FAILOVER_SECONDS=([0-9.]+)", out.stdout)
    assert reported, out.stdout[-2000:]
    count = f"SELECT count(*) FROM {cluster['table']} WHERE note = 'load'"
    found = int(psql(cluster["client"], vault, ADDRESSES[cluster["new"]], "app_ro", count).stdout)
    print(
        f"failover: {reported.group(1)} s to first write (playbook {elapsed:.1f} s); "
        f"{sum(acknowledged)} commits acknowledged by the old primary, {found} on the new one"
    )
    assert len(acknowledged) == 2 and sum(acknowledged) > 0
    # Every commit the old primary acknowledged is on the new one (a commit in flight when the
    # old primary stopped may be there without having been acknowledged).
    assert found >= sum(acknowledged)
    select = f"SELECT count(*) FROM {cluster['table']} WHERE note = '{note}'"
    survived = psql(cluster["client"], vault, ADDRESSES[cluster["new"]], "app_ro", select)
    assert survived.stdout.strip() == "1"


def test_new_primary_accepts_writes(cluster, vault):
    insert = f"INSERT INTO {cluster['table']} VALUES ('after-failover')"
    out = psql(cluster["client"], vault, ADDRESSES[cluster["new"]], "app_rw", insert)
    assert out.rc == 0, out.stderr


def test_old_primary_is_stopped_and_fenced(cluster, host):
    old = host(cluster["old"])
    assert not old.service(SERVICE).is_running
    assert old.run(f"systemctl is-enabled {SERVICE}").stdout.strip() == "masked"
    assert old.file("/var/lib/postgresql/.fpops-fenced-15-main").exists


def test_platform_points_at_the_new_primary(cluster):
    env = cluster["client"].file("/etc/fpops/postgresql.env").content_string
    assert f"PGHOST={ADDRESSES[cluster['new']]}\n" in env
    state = ephemeral_dir() / "inventory" / ".state" / "postgresql_primary"
    assert state.read_text().strip() == cluster["new"]


def test_rejoin_makes_the_old_primary_a_replica_of_the_new(cluster, host, vault):
    out = run_playbook(REJOIN)
    assert out.returncode == 0, out.stdout[-3000:]
    assert in_recovery(host(cluster["old"])) == "t"
    note = uuid.uuid4().hex
    insert = f"INSERT INTO {cluster['table']} VALUES ('{note}')"
    assert psql(cluster["client"], vault, ADDRESSES[cluster["new"]], "app_rw", insert).rc == 0
    select = f"SELECT count(*) FROM {cluster['table']} WHERE note = '{note}'"
    deadline = time.monotonic() + 5
    seen = ""
    while time.monotonic() < deadline and seen != "1":
        seen = psql(
            cluster["client"], vault, ADDRESSES[cluster["old"]], "app_ro", select
        ).stdout.strip()
        time.sleep(0.2)
    assert seen == "1"
