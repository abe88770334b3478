"""Patroni fails over by itself: the leader killed under write load through the endpoint, and the
leader cut off the network. No operator acts; the old leader comes back as a replica."""

import itertools
import time
import uuid

import pytest
from conftest import (
    MEMBERS,
    SERVICE,
    endpoint_dsn,
    healthy,
    leader,
    members,
    project_dir,
    psql,
    recap,
    run_playbook,
    wait_for,
)

# One connection per INSERT through the endpoint, as a web request would; a line per commit the
# server acknowledged: "<n> <epoch seconds>".
WRITER = """#!/bin/bash
# writer.sh SECONDS DSN TABLE
end=$((SECONDS + $1)); n=0
while [ $SECONDS -lt $end ]; do
    n=$((n + 1))
    if timeout 5 psql "$2 connect_timeout=2" -v ON_ERROR_STOP=1 -qAtc \\
        "INSERT INTO $3 VALUES ($n)" >/dev/null 2>&1; then
        echo "$n $(date +%s.%N)"
    else
        sleep 0.1
    fi
done
"""


WRITER_PATH = "/usr/local/bin/fpops-test-writer"


def start_writer(client, seconds: int, dsn: str, table: str, out: str) -> None:
    """The writer as a transient unit: it outlives the exec that starts it (a `nohup ... &`
    does not survive the end of `docker exec`)."""
    started = client.run(
        f"systemd-run --collect --quiet --unit=fpops-writer-{table} "
        f"-p StandardOutput=file:{out} {WRITER_PATH} {seconds} '{dsn}' {table}"
    )
    assert started.rc == 0, started.stderr


def stop_writer(client, table: str) -> None:
    """End a writer before its SECONDS (its unit stops; every line it printed is in the file)."""
    client.run(f"systemctl stop fpops-writer-{table}")


@pytest.fixture(scope="module")
def client(host, groups):
    node = host(groups["app"][0])
    node.run(f"cat > {WRITER_PATH} <<'EOF'\n{WRITER}EOF\nchmod +x {WRITER_PATH}")
    return node


def new_table(client, vault) -> str:
    name = f"w_{uuid.uuid4().hex[:8]}"
    created = psql(client, endpoint_dsn(vault, "migrator"), f"CREATE TABLE {name} (n int)")
    assert created.rc == 0, created.stderr
    return name


def wait_rejoined(host, old: str, client, vault) -> None:
    """The old leader is back as a streaming replica, with no one's help but Patroni's.

    The application keeps writing meanwhile (a row through the endpoint per poll): a member
    pg_rewind resynced ends its recovery only at a WAL position the leader reports but, on an
    idle cluster just after a segment switch (archive_timeout), has not yet written, so it
    stays "starting" until the next write. Live traffic is what a real cluster has."""
    dsn = endpoint_dsn(vault, "migrator")
    psql(client, dsn, "CREATE TABLE IF NOT EXISTS rejoin_traffic (at timestamptz)")

    def rejoined() -> bool:
        psql(client, dsn, "INSERT INTO rejoin_traffic VALUES (now())")
        return healthy(host) and any(m["Member"] == old for m in members(host))

    assert wait_for(rejoined, 120, 2), members(host)


def acknowledged_and_lost(client, dsn: str, table: str) -> tuple[list[float], set[int]]:
    """The writer's acknowledgement times, and the acknowledged rows the table does not have."""
    acked = [
        line.split() for line in client.file(f"/tmp/{table}.acked").content_string.splitlines()
    ]
    present = psql(client, dsn, f"SELECT n FROM {table}")
    assert present.rc == 0, present.stderr
    lost = {int(n) for n, _ in acked} - {int(n) for n in present.stdout.split()}
    return sorted(float(t) for _, t in acked), lost


def test_killing_the_leader_under_load_loses_no_acknowledged_write(host, client, vault):
    assert wait_for(lambda: healthy(host), 60), members(host)
    old = leader(host)
    table = new_table(client, vault)
    dsn = endpoint_dsn(vault, "app_rw")
    start_writer(client, 45, dsn, table, f"/tmp/{table}.acked")
    time.sleep(8)
    killed_at = time.time()
    # SIGKILL to every process of the unit: Patroni and PostgreSQL die at once.
    kill = host(old).run(f"systemctl kill --kill-whom=all --signal=KILL {SERVICE}")
    assert kill.rc == 0
    new = wait_for(lambda: (name := leader(host)) and name != old and name, 60)
    assert new, members(host)
    time.sleep(max(0.0, 45 - 8 + 5 - (time.time() - killed_at)))
    acked, lost = acknowledged_and_lost(client, dsn, table)
    # The write gap: the longest pause between two acknowledgements around the kill (a commit in
    # flight may still be acknowledged just after the signal).
    times = [t for t in acked if t > killed_at - 2]
    assert times and times[-1] > killed_at + 5, "no write accepted through the endpoint after"
    gap = max(b - a for a, b in itertools.pairwise(times))
    print(f"kill -9 of {old}: {new} leads; write gap {gap:.1f} s; ")
    print(f"acknowledged {len(acked)}, lost {len(lost)}")
    assert lost == set(), sorted(lost)[:20]
    assert gap < 60

    # Patroni's unit does not restart itself (Debian: Restart=no): an operator, or a reboot, starts
    # it; it then rejoins as a replica (pg_rewind) without being told anything.
    assert host(old).run(f"systemctl reset-failed {SERVICE}; systemctl start {SERVICE}").rc == 0
    wait_rejoined(host, old, client, vault)
    roles = {m["Member"]: m["Role"] for m in members(host)}
    assert roles[old] in ("Replica", "Sync Standby")


# Everything but loopback dropped, both ways, ahead of the host's own firewall table.
PARTITION = " && ".join(
    [
        "nft add table inet fpops_partition",
        "nft add chain inet fpops_partition in "
        "'{ type filter hook input priority -300; policy drop; }'",
        "nft add chain inet fpops_partition out "
        "'{ type filter hook output priority -300; policy drop; }'",
        "nft add rule inet fpops_partition in iif lo accept",
        "nft add rule inet fpops_partition out oif lo accept",
    ]
)


def acknowledged_by(host, name: str, table: str, n: int) -> bool:
    """Whether `name` commits a write through its own local port within 3 s."""
    sql = f"INSERT INTO {table} VALUES ({n})"
    out = host(name).run(
        f'timeout 3 runuser -u postgres -- psql -d footballprediction -qAtc "{sql}"'
    )
    return out.rc == 0


def test_a_partitioned_leader_demotes_itself_and_never_two_accept_writes(host, client, vault):
    assert wait_for(lambda: healthy(host), 60), members(host)
    old = leader(host)
    table = new_table(client, vault)
    others = [name for name in MEMBERS if name != old]
    assert host(old).run(PARTITION).rc == 0
    try:
        samples = []
        deadline = time.monotonic() + 50
        n = 0
        while time.monotonic() < deadline:
            n += 1
            writers = [name for name in MEMBERS if acknowledged_by(host, name, table, n)]
            samples.append(writers)
            assert len(writers) <= 1, f"two members accepted writes at once: {samples}"
            time.sleep(1)
        new = leader(host, others[0]) or leader(host, others[1])
        assert new in others, samples
        # The last sample: the new leader takes writes, the cut-off one (demoted, or still
        # shutting down with its standbys out of reach) takes none.
        assert samples[-1] == [new], samples
        print(f"partition of {old}: {new} leads; writers per second: {samples}")
    finally:
        host(old).run("nft delete table inet fpops_partition")
    wait_rejoined(host, old, client, vault)


def test_fpops_failover_is_a_switchover_that_loses_nothing(host, client, vault):
    assert wait_for(lambda: healthy(host), 90), members(host)
    old = leader(host)
    sync = next(m["Member"] for m in members(host) if m["Role"] == "Sync Standby")
    failover = project_dir() / "playbooks" / "failover.yml"
    refused = run_playbook(failover, "-e", f"postgresql_failover_to={old}")
    assert refused.returncode != 0 and "already leads" in refused.stdout, refused.stdout[-2000:]
    assert leader(host) == old

    table = new_table(client, vault)
    dsn = endpoint_dsn(vault, "app_rw")
    # Writes from 5 s before the playbook to 5 s after it, however long it takes under load (a
    # fixed 40 s writer ended before a 60 s playbook once, on a machine running six suites).
    start_writer(client, 600, dsn, table, f"/tmp/{table}.acked")
    time.sleep(5)
    started = time.time()
    out = run_playbook(failover, "-e", f"postgresql_failover_to={sync}")
    took = time.time() - started
    time.sleep(5)
    stop_writer(client, table)
    assert out.returncode == 0, out.stdout[-3000:]
    assert leader(host) == sync, members(host)
    times, lost = acknowledged_and_lost(client, dsn, table)
    around = [t for t in times if t > started - 1]
    gap = max(b - a for a, b in itertools.pairwise(around))
    print(f"switchover {old} -> {sync}: playbook {took:.0f} s, write gap {gap:.1f} s, ")
    print(f"acknowledged {len(times)}, lost {len(lost)}")
    assert lost == set(), sorted(lost)[:20]
    assert around[-1] > started + took, "no write accepted through the endpoint after"
    wait_rejoined(host, old, client, vault)


def test_site_after_the_failovers_changes_nothing(host):
    out = run_playbook(project_dir() / "playbooks" / "site.yml")
    assert out.returncode == 0, out.stdout[-3000:]
    changed = {name: c["changed"] for name, c in recap(out.stdout).items() if c["changed"]}
    assert changed == {}, out.stdout[-3000:]
    assert healthy(host), members(host)
