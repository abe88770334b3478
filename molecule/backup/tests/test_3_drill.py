"""drill.yml: the latest backup restored into a scratch instance on the repository host, its
tables compared with the primary's; success with an RTO figure, failure on a corrupted file."""

from __future__ import annotations

from conftest import STANZA, info, playbook, scratch_sql, sql

METRICS = f"/var/lib/prometheus/node-exporter/fpops_restore_drill_{STANZA}.prom"


def metric(repo, name: str) -> float:
    for line in repo.file(METRICS).content_string.splitlines():
        if line.startswith(f'{name}{{stanza="{STANZA}"}} '):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in {METRICS}")


def test_drill_timer_is_enabled(repo):
    timer = repo.service("fpops-restore-drill.timer")
    assert timer.is_enabled and timer.is_running


def test_drill_restores_the_latest_backup_and_matches_the_primary(primary, repo):
    out = playbook("drill.yml")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "restore drill passed" in out.stdout
    assert f"backup {info(repo)['backup'][-1]['label']} restored" in out.stdout
    assert metric(repo, "fpops_restore_drill_success") == 1
    assert metric(repo, "fpops_restore_drill_rto_seconds") > 0
    # The scratch instance is gone and never listened on the network.
    assert not repo.file("/var/lib/pgbackrest/drill").exists
    assert not repo.socket("tcp://0.0.0.0:5499").is_listening


def test_drill_fails_on_a_corrupted_repository_file(repo):
    label = info(repo)["backup"][-1]["label"]
    # pg_control is in every backup, full or not: the drill's restore always reads this copy.
    control = f"/var/lib/pgbackrest/repo/backup/{STANZA}/{label}/pg_data/global/pg_control.zst"
    repo.check_output(f"cp -p {control} /root/pg_control.saved")
    try:
        repo.check_output(
            f"printf 'corrupted by the test' | dd of={control} bs=1 seek=40 conv=notrunc"
        )
        out = playbook("drill.yml")
        assert out.returncode != 0
        assert "restore drill FAILED" in out.stdout, out.stdout[-3000:]
        assert metric(repo, "fpops_restore_drill_success") == 0
        assert metric(repo, "fpops_restore_drill_last_success_timestamp_seconds") > 0
    finally:
        repo.check_output(f"cp -p /root/pg_control.saved {control}")


def test_scratch_restore_leaves_an_instance_to_inspect_and_the_primary_alone(primary, repo):
    before = sql(primary, "SELECT pg_postmaster_start_time()")
    out = playbook("restore_scratch.yml")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "scratch instance of the latest archived WAL ready in" in out.stdout
    assert scratch_sql(repo, "SELECT count(*) FROM pitr") == sql(
        primary, "SELECT count(*) FROM pitr"
    )
    assert sql(primary, "SELECT pg_postmaster_start_time()") == before
    out = playbook("restore_scratch.yml", "-e", "restore_scratch_remove=true")
    assert out.returncode == 0 and "scratch instance removed" in out.stdout, out.stdout[-2000:]
    assert not repo.file("/var/lib/pgbackrest/drill").exists
