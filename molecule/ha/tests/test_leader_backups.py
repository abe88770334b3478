"""Backups follow Patroni's leader: the timers on every member act only where it leads, also after a
switchover; the restore drill finds the leader; restore.yml restores in place through Patroni.

Runs after test_failover.py (file order): the leader has moved several times by then.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import (
    ADDRESSES,
    MEMBERS,
    direct_dsn,
    endpoint_dsn,
    healthy,
    leader,
    members,
    project_dir,
    psql,
    run_playbook,
    wait_for,
)

STANZA = "main"
METRICS = "/var/lib/prometheus/node-exporter"
PLAYBOOKS = project_dir() / "playbooks"


@pytest.fixture(scope="module")
def repo(host, groups):
    return host(groups["backup"][0])


def backups(repo) -> list[dict]:
    out = repo.check_output(
        f"runuser -u pgbackrest -- pgbackrest --stanza={STANZA} --output=json info"
    )
    return json.loads(out)[0]["backup"]


def last_success(node, kind: str) -> float:
    """The member's fpops_backup_last_success_timestamp_seconds for `kind`, 0 without one."""
    metrics = node.file(f"{METRICS}/fpops_backup_{STANZA}_{kind}.prom")
    if not metrics.exists:
        return 0.0
    for line in metrics.content_string.splitlines():
        if line.startswith("fpops_backup_last_success_timestamp_seconds{"):
            return float(line.split()[-1])
    return 0.0


def run_timers_everywhere(host, kind: str) -> dict[str, float]:
    """Start each member's fpops-pgbackrest@KIND service as its timer would; what each recorded."""
    for name in MEMBERS:
        host(name).check_output(f"systemctl start fpops-pgbackrest@{kind}.service")
    return {name: last_success(host(name), kind) for name in MEMBERS}


def test_the_leader_archives_and_replicas_fetch_from_the_repository(host, repo):
    assert wait_for(lambda: healthy(host), 90), members(host)
    lead = leader(host)
    before = backups(repo)
    repo.check_output(f"runuser -u pgbackrest -- pgbackrest --stanza={STANZA} check")
    node = host(lead)
    show = "runuser -u postgres -- psql -XAtqc"
    assert node.check_output(f"{show} 'SHOW archive_mode'") == "on"
    assert int(node.check_output(f"{show} 'SELECT archived_count FROM pg_stat_archiver'")) > 0
    for name in MEMBERS:
        if name != lead:
            restore_command = host(name).check_output(f"{show} 'SHOW restore_command'")
            assert "archive-get" in restore_command, (name, restore_command)
    # The stanza was made by site.yml with a first full backup or none; either way it is usable.
    assert isinstance(before, list)


def test_scheduled_backups_run_on_the_leader_and_follow_a_switchover(host, repo):
    started = time.time()
    first = leader(host)
    recorded = run_timers_everywhere(host, "full")
    assert recorded[first] > started, recorded
    assert all(recorded[m] < started for m in MEMBERS if m != first), recorded
    count = len(backups(repo))

    # A planned switchover to the synchronous standby, then the next scheduled run.
    sync = next(m["Member"] for m in members(host) if m["Role"] == "Sync Standby")
    out = run_playbook(PLAYBOOKS / "failover.yml", "-e", f"postgresql_failover_to={sync}")
    assert out.returncode == 0, out.stdout[-3000:]
    assert wait_for(lambda: healthy(host) and leader(host) == sync, 120, 2), members(host)
    switched = time.time()
    recorded = run_timers_everywhere(host, "incr")
    assert recorded[sync] > switched, recorded
    assert all(recorded[m] < switched for m in MEMBERS if m != sync), recorded
    journal = host(first).check_output(
        "journalctl -u fpops-pgbackrest@incr.service -o cat --no-pager"
    )
    assert "not the primary" in journal
    after = backups(repo)
    assert len(after) == count + 1 and after[-1]["type"] == "incr", after[-1]
    print(f"scheduled full on {first}, incr on {sync} after the switchover")


def test_the_restore_drill_finds_the_leader_and_passes(host, groups, vault, repo):
    # Rows the drill must find again in the restored copy.
    client = host(groups["app"][0])
    migrator = endpoint_dsn(vault, "migrator")
    made = psql(
        client,
        migrator,
        "CREATE TABLE IF NOT EXISTS drill_probe (n int PRIMARY KEY, note text);"
        " INSERT INTO drill_probe SELECT g, md5(g::text) FROM generate_series(1, 2000) g"
        " ON CONFLICT DO NOTHING",
    )
    assert made.rc == 0, made.stderr
    out = run_playbook(PLAYBOOKS / "drill.yml")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "restore drill passed" in out.stdout, out.stdout[-3000:]
    result = json.loads(repo.file("/var/lib/pgbackrest/drill-last.json").content_string)
    assert result["success"], result
    assert result["tables"]["public.drill_probe"] == {"rows": 2000, "matches": True}, result
    print(f"drill: RTO {result['rto_seconds']} s, {len(result['tables'])} tables")


def test_restore_in_place_goes_back_to_a_restore_point_through_patroni(host, groups, vault):
    client = host(groups["app"][0])
    migrator = endpoint_dsn(vault, "migrator")
    setup = "CREATE TABLE IF NOT EXISTS restore_probe (n int PRIMARY KEY)"
    assert psql(client, migrator, setup).rc == 0
    assert psql(client, migrator, "GRANT SELECT ON restore_probe TO app_ro").rc == 0
    kept = psql(client, migrator, "INSERT INTO restore_probe SELECT generate_series(1, 500)")
    assert kept.rc == 0, kept.stderr
    point = f"ha-restore-{int(time.time())}"
    made = run_playbook(PLAYBOOKS / "restore_point.yml", "-e", f"restore_point={point}")
    assert made.returncode == 0, made.stdout[-3000:]
    lost = psql(client, migrator, "INSERT INTO restore_probe SELECT generate_series(501, 600)")
    assert lost.rc == 0, lost.stderr

    started = time.time()
    out = run_playbook(
        PLAYBOOKS / "restore.yml",
        "-e",
        f"restore_confirm={STANZA}",
        "-e",
        f"restore_name={point}",
        "-e",
        "restore_full_backup_after=false",
    )
    took = time.time() - started
    assert out.returncode == 0, out.stdout[-3000:]
    # Patroni formed the cluster again: one leader, both others streaming from it.
    assert wait_for(lambda: healthy(host), 180, 3), members(host)
    count = "SELECT count(*), max(n) FROM restore_probe"
    through_endpoint = psql(client, endpoint_dsn(vault, "app_rw"), count)
    assert through_endpoint.stdout.strip() == "500|500", through_endpoint.stdout
    for name in MEMBERS:
        row = psql(client, direct_dsn(vault, ADDRESSES[name], "app_ro"), count)
        assert row.stdout.strip() == "500|500", (name, row.stdout, row.stderr)
    wrote = psql(client, migrator, "INSERT INTO restore_probe VALUES (501)")
    assert wrote.rc == 0, wrote.stderr
    print(f"restore in place to {point} through Patroni: {took:.0f} s, leader {leader(host)}")
