"""The data commands: `fpops backup`, `restore`, `restore-point`, `drill`, `failover`, `rejoin`
(requests for playbooks)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from fpops.project import ProjectError
from fpops.provision import playbook_request
from fpops.runner import ExtraVars, RunRequest

BACKUP_TYPES = ("full", "diff", "incr")
BACKUP_WHAT = ("all", "postgresql", "redis")
# What restore.yml accepts as a time: date, time, optional fraction and zone.
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}(:?\d{2})?|Z)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$")
# A Redis archive on the backup host: its file name, or <cache host>/<file name> as listed there.
_ARCHIVE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]{0,252}/)?[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")


def backup_request(
    project_dir: Path,
    environment: str,
    kind: str = "incr",
    what: str = "all",
    repo: int = 1,
    limit: str | None = None,
    verbosity: int = 0,
) -> RunRequest:
    if kind not in BACKUP_TYPES:
        raise ProjectError(f"--type {kind}: one of {', '.join(BACKUP_TYPES)}")
    if what not in BACKUP_WHAT:
        raise ProjectError(f"--what {what}: one of {', '.join(BACKUP_WHAT)}")
    if repo < 1:
        raise ProjectError(f"--repo {repo}: repositories are numbered from 1")
    request = playbook_request(
        project_dir,
        environment,
        "backup",
        f"backup ({kind}, {what}) of {environment}",
        limit,
        verbosity=verbosity,
    )
    extravars: ExtraVars = {"backup_type": kind, "backup_what": what, "backup_repo": repo}
    return replace(request, extravars=extravars)


def restore_target(target: str) -> tuple[str, ExtraVars]:
    """(what the target is, in words; restore.yml's variables) for --target."""
    target = target.strip()
    if target in ("", "latest"):
        return "the latest archived WAL", {}
    if target.startswith("before:"):
        release = target.removeprefix("before:").strip()
        if not release:
            raise ProjectError("--target before:RELEASE needs the release")
        return f"just before release {release}'s migrations", {"restore_before_release": release}
    if _TIME.match(target):
        return f"the time {target}", {"restore_time": target}
    if _NAME.match(target):
        return f"the restore point {target}", {"restore_name": target}
    raise ProjectError(
        f"--target {target!r}: latest, a time (2026-11-23 10:00:00+00), a restore point name,"
        " or before:RELEASE"
    )


def restore_request(
    project_dir: Path,
    environment: str,
    target: str = "latest",
    in_place: bool = False,
    backup_set: str = "",
    repo: int = 1,
    stanza: str = "main",
    verbosity: int = 0,
) -> tuple[RunRequest, str]:
    """The request and, for an in-place restore, what the confirmation must say."""
    words, extravars = restore_target(target)
    if backup_set:
        extravars["restore_set"] = backup_set
    if repo < 1:
        raise ProjectError(f"--repo {repo}: repositories are numbered from 1")
    extravars["restore_repo"] = repo
    if in_place:
        extravars["restore_confirm"] = stanza
        label = f"restore {environment} in place to {words}"
        request = playbook_request(project_dir, environment, "restore", label, verbosity=verbosity)
        confirm = (
            f"This replaces the {environment} database (stanza {stanza}) with its state at {words}:"
            " the load balancer goes into maintenance, the application stops, everything written"
            " after the target is lost (a full backup of the restored state follows)."
        )
        return replace(request, extravars=extravars), confirm
    label = f"restore {environment} to {words} into the scratch instance"
    request = playbook_request(
        project_dir, environment, "restore_scratch", label, verbosity=verbosity
    )
    return replace(request, extravars=extravars), ""


def drill_request(project_dir: Path, environment: str, verbosity: int = 0) -> RunRequest:
    return playbook_request(
        project_dir, environment, "drill", f"restore drill of {environment}", verbosity=verbosity
    )


def failover_request(
    project_dir: Path,
    environment: str,
    to: str = "",
    force: bool = False,
    verbosity: int = 0,
) -> tuple[RunRequest, str]:
    """The request and what the confirmation must say."""
    extravars: ExtraVars = {}
    if to:
        extravars["postgresql_failover_to"] = to
    if force:
        extravars["postgresql_failover_force"] = True
    request = playbook_request(
        project_dir,
        environment,
        "failover",
        f"failover of {environment}'s PostgreSQL",
        verbosity=verbosity,
    )
    confirm = (
        f"This makes {to or 'the replica'} the primary in {environment}: with Patroni (group db) a"
        " planned switchover, the old leader following as a replica; in streaming mode a promotion"
        " that fences the current primary (stopped and masked until rejoin.yml rebuilds it)"
        + (", even if the replica is behind or not streaming (--force)" if force else "")
        + "."
    )
    return (replace(request, extravars=extravars) if extravars else request), confirm


def redis_restore_request(
    project_dir: Path, environment: str, archive: str = "", verbosity: int = 0
) -> tuple[RunRequest, str]:
    """restore_redis.yml from ARCHIVE on the backup host (the newest when empty), and what the
    confirmation must say. The runner passes the playbook's confirmation once the person agreed."""
    archive = archive.strip()
    if archive and (not _ARCHIVE.match(archive) or ".." in archive):
        raise ProjectError(
            f"--redis {archive!r}: an archive's file name on the backup host (or HOST/FILE)"
        )
    extravars: ExtraVars = {"restore_confirm": "redis"}
    if archive:
        extravars["redis_backup_restore_archive"] = archive
    which = f"the archive {archive}" if archive else "the newest archive"
    request = playbook_request(
        project_dir,
        environment,
        "restore_redis",
        f"restore {environment}'s Redis from {which}",
        verbosity=verbosity,
    )
    confirm = (
        f"This replaces the live Redis data in {environment} with {which} on the backup host:"
        " keys written since it was made are lost (the primary's files are kept aside in"
        " <dir>.before-restore); the replicas resynchronise from the primary."
    )
    return replace(request, extravars=extravars), confirm


def restore_point_request(
    project_dir: Path, environment: str, name: str, verbosity: int = 0
) -> RunRequest:
    """restore_point.yml: a named restore point on the primary, for `restore --target NAME`."""
    if not _NAME.match(name):
        raise ProjectError(
            f"restore point {name!r}: letters, digits and . _ : - (at most 63, a letter or digit"
            " first)"
        )
    request = playbook_request(
        project_dir,
        environment,
        "restore_point",
        f"restore point {name} on {environment}'s primary",
        verbosity=verbosity,
    )
    return replace(request, extravars={"restore_point": name})


def rejoin_request(
    project_dir: Path, environment: str, verbosity: int = 0
) -> tuple[RunRequest, str]:
    """rejoin.yml (streaming replication) and what the confirmation must say."""
    request = playbook_request(
        project_dir,
        environment,
        "rejoin",
        f"rejoin of {environment}'s fenced PostgreSQL nodes",
        verbosity=verbosity,
    )
    confirm = (
        f"This rebuilds every fenced former primary in {environment} as a replica of the current"
        " primary: its data directory is replaced by a fresh copy (pg_basebackup); anything only"
        " it had, not archived, is lost. With Patroni (group db) a former leader rejoins by"
        " itself: there is nothing to run."
    )
    return request, confirm
