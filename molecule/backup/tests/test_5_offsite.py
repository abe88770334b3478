"""The optional S3 repository (repo2, on prepare.yml's moto server): WAL reaches it from the
primary, backups go to it on demand and with the scheduled full one, and a backup there restores."""

from __future__ import annotations

import subprocess

from conftest import STANZA, info, playbook, scratch_sql, sql

BUCKET = "https://172.30.6.1:9900/fpops-offsite"


def bucket_has(key: str) -> bool:
    """Whether the bucket holds the object (a listing by its exact name: the bucket holds more
    than one page of 1,000 keys)."""
    listing = subprocess.run(
        ["curl", "-ksf", f"{BUCKET}?list-type=2&prefix={key}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return f"<Key>{key}</Key>" in listing.stdout


def test_on_demand_backup_into_s3_restores(primary, repo):
    out = playbook(
        "backup.yml",
        "-e",
        "backup_type=full",
        "-e",
        "backup_repo=2",
        "-e",
        "backup_what=postgresql",
    )
    assert out.returncode == 0, out.stdout[-3000:]
    offsite = info(repo, 2)
    assert offsite["backup"] and offsite["backup"][-1]["type"] == "full"
    assert f"backup {offsite['backup'][-1]['label']} (full, repository 2)" in out.stdout
    assert offsite["archive"] and offsite["archive"][0]["max"]
    assert bucket_has(f"pgbackrest/backup/{STANZA}/backup.info")
    assert bucket_has(f"pgbackrest/archive/{STANZA}/archive.info")
    # The S3 copy restores on its own: into the scratch instance, from repository 2.
    out = playbook("restore_scratch.yml", "-e", "restore_repo=2")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "in repository 2" in out.stdout
    assert scratch_sql(repo, "SELECT count(*) FROM pitr") == sql(
        primary, "SELECT count(*) FROM pitr"
    )
    playbook("restore_scratch.yml", "-e", "restore_scratch_remove=true")


def test_scheduled_full_backup_goes_to_both_repositories(primary, repo):
    before = len(info(repo, 2)["backup"])
    primary.check_output("systemctl start fpops-pgbackrest@full.service")
    assert len(info(repo, 2)["backup"]) == before + 1
    metrics = primary.file(
        f"/var/lib/prometheus/node-exporter/fpops_backup_{STANZA}_full_repo2.prom"
    ).content_string
    assert (
        f'fpops_backup_last_success_timestamp_seconds{{stanza="{STANZA}",type="full",repo="2"}}'
        in metrics
    )


def test_restore_from_an_unconfigured_repository_is_refused():
    out = playbook("restore_scratch.yml", "-e", "restore_repo=3")
    assert out.returncode != 0
    assert "restore_repo 3: the repositories are 1 (the repository host) and 2 (S3)" in out.stdout
