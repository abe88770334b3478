"""pgBackRest: the repository, WAL archiving, on-demand and scheduled backups, bad input.

The tests run in file order (a backup exists once the on-demand one ran).
"""

from __future__ import annotations

import time

from conftest import STANZA, info, playbook, recap, sql
from helpers import rotate_logs

METRICS = "/var/lib/prometheus/node-exporter"


def test_stanza_exists_encrypted(repo):
    stanza = info(repo)
    assert stanza["name"] == STANZA
    assert stanza["cipher"] == "aes-256-cbc"
    # The repository and its configuration (it holds the passphrase) are the account's only.
    assert repo.file("/var/lib/pgbackrest/repo").mode == 0o750
    assert repo.file("/var/lib/pgbackrest/repo").user == "pgbackrest"
    conf = repo.file("/etc/pgbackrest/pgbackrest.conf")
    assert conf.mode == 0o640 and conf.group == "pgbackrest"


def test_primary_archives_wal_to_the_repository(primary, repo):
    assert sql(primary, "SHOW archive_mode") == "on"
    before = int(sql(primary, "SELECT archived_count FROM pg_stat_archiver"))
    # Something to archive: a switch on an empty segment does nothing.
    sql(primary, "CREATE TABLE IF NOT EXISTS archive_probe (at timestamptz)")
    sql(primary, "INSERT INTO archive_probe VALUES (now())")
    sql(primary, "SELECT pg_switch_wal()")
    repo.check_output(f"sudo -u pgbackrest pgbackrest --stanza={STANZA} check")
    assert int(sql(primary, "SELECT archived_count FROM pg_stat_archiver")) > before


def test_ssh_keys_are_restricted_to_the_other_side(primary, replica, repo):
    keys = repo.file("/var/lib/pgbackrest/.ssh/authorized_keys").content_string
    assert 'restrict,from="172.30.6.21" ssh-ed25519' in keys
    assert 'restrict,from="172.30.6.22" ssh-ed25519' in keys
    for db in (primary, replica):
        mine = db.file("/var/lib/postgresql/.ssh/authorized_keys").content_string
        assert 'restrict,from="172.30.6.51" ssh-ed25519' in mine
        assert mine.count("ssh-ed25519") == 1


def test_on_demand_full_backup_says_its_label(primary, repo):
    sql(primary, "CREATE TABLE IF NOT EXISTS backup_probe (id int PRIMARY KEY, note text)")
    sql(
        primary,
        "INSERT INTO backup_probe SELECT g, md5(g::text) FROM generate_series(1, 1000) g"
        " ON CONFLICT DO NOTHING",
    )
    out = playbook("backup.yml", "-e", "backup_type=full")
    assert out.returncode == 0, out.stdout[-3000:]
    backups = info(repo)["backup"]
    assert backups[-1]["type"] == "full"
    assert f"backup {backups[-1]['label']} (full)" in out.stdout


def test_logs_rotate_on_the_repository_and_database_hosts(primary, repo):
    """/etc/logrotate.d/pgbackrest (pgbackrest_log_retention_days) on both sides: the whole
    logrotate configuration parses without error, a forced rotation keeps the old lines in .1,
    and the primary's asynchronous archiver writes its next lines to the emptied file."""
    for host in (primary, repo):
        assert "rotate 30" in host.file("/etc/logrotate.d/pgbackrest").content_string
        rotate_logs(host, "pgbackrest")
    assert repo.file(f"/var/log/pgbackrest/{STANZA}-backup.log.1").exists
    log = f"/var/log/pgbackrest/{STANZA}-archive-push-async.log"
    assert primary.file(f"{log}.1").exists
    sql(
        primary,
        "INSERT INTO backup_probe VALUES (1000001, 'after rotation') ON CONFLICT DO NOTHING",
    )
    sql(primary, "SELECT pg_switch_wal()")
    deadline = time.monotonic() + 30
    while primary.file(log).size == 0 and time.monotonic() < deadline:
        time.sleep(1)
    assert primary.file(log).size > 0, "the archiver wrote nothing after the rotation"


def test_timers_act_only_on_the_primary(primary, replica):
    for db in (primary, replica):
        for kind in ("full", "incr", "check"):
            timer = db.service(f"fpops-pgbackrest-{kind}.timer")
            assert timer.is_enabled and timer.is_running, (db, kind)
    replica.check_output("systemctl start fpops-pgbackrest@incr.service")
    assert "not the primary" in replica.check_output(
        "journalctl -u fpops-pgbackrest@incr.service -o cat --no-pager"
    )
    assert not replica.file(f"{METRICS}/fpops_backup_{STANZA}_incr.prom").exists
    primary.check_output("systemctl start fpops-pgbackrest@incr.service")
    metrics = primary.file(f"{METRICS}/fpops_backup_{STANZA}_incr.prom").content_string
    labels = f'{{stanza="{STANZA}",type="incr",repo="1"}}'
    assert f"fpops_backup_last_success_timestamp_seconds{labels}" in metrics
    assert f"fpops_backup_last_size_bytes{labels}" in metrics


def test_missing_passphrase_stops_before_any_change():
    out = playbook("site.yml", "-e", "vault_pgbackrest_cipher_pass=")
    assert out.returncode != 0
    assert "vault_pgbackrest_cipher_pass" in out.stdout
    assert all(c["changed"] == 0 for c in recap(out.stdout).values()), out.stdout[-2000:]


def test_bad_backup_type_is_refused():
    out = playbook("backup.yml", "-e", "backup_type=weekly")
    assert out.returncode != 0
    assert "backup_type weekly is not one of full, diff, incr" in out.stdout
