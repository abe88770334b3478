"""Redis: backup.yml stores a snapshot (fresh RDB + AOF directory) on the backup host;
restore_redis.yml brings the keys back after a FLUSHALL, with AOF on (it takes precedence)."""

from __future__ import annotations

import shlex

from conftest import playbook, recap

ARCHIVES = "/var/lib/fpops-backups/redis/bk-cache1"


def redis(cache, vault, *args: str) -> str:
    password = shlex.quote(vault["vault_redis_admin_password"])
    command = f"REDISCLI_AUTH={password} redis-cli --user admin -p 6379 " + shlex.join(args)
    return cache.check_output(command).strip()


def archives(repo) -> list[str]:
    return sorted(repo.check_output(f"ls {ARCHIVES}").split())


def test_backup_restore_brings_the_keys_back(cache, repo, vault):
    assert redis(cache, vault, "CONFIG", "GET", "appendonly").splitlines()[-1] == "yes"
    redis(
        cache,
        vault,
        "EVAL",
        "for i=0,199 do redis.call('SET','fp:backup:'..i,'value-'..i) end",
        "0",
    )
    out = playbook("backup.yml", "-e", "backup_what=redis")
    assert out.returncode == 0, out.stdout[-3000:]
    name = out.stdout.split("redis backup ")[1].split()[0]
    assert name in archives(repo)
    assert repo.file(f"{ARCHIVES}/{name}").mode == 0o600
    # The archive holds the RDB and the AOF directory.
    listing = repo.check_output(f"zstd -dc {ARCHIVES}/{name} | tar -tf -")
    assert "dump.rdb" in listing and "appendonlydir/" in listing

    redis(cache, vault, "FLUSHALL")
    assert redis(cache, vault, "DBSIZE") == "0"
    out = playbook("restore_redis.yml", "-e", "restore_confirm=redis")
    assert out.returncode == 0, out.stdout[-3000:]
    assert f"redis restored from {name}" in out.stdout
    assert redis(cache, vault, "DBSIZE") == "200"
    assert redis(cache, vault, "GET", "fp:backup:199") == "value-199"
    # What the restore replaced is kept aside, not lost.
    assert cache.file("/var/lib/redis.before-restore/appendonlydir").is_directory


def test_redis_restore_refuses_an_unknown_archive_or_no_confirmation():
    out = playbook("restore_redis.yml")
    assert out.returncode != 0 and "confirm with -e restore_confirm=redis" in out.stdout
    out = playbook(
        "restore_redis.yml",
        "-e",
        "restore_confirm=redis",
        "-e",
        "redis_backup_restore_archive=nope.tar.zst",
    )
    assert out.returncode != 0 and "no archive named nope.tar.zst" in out.stdout
    assert all(c["changed"] == 0 for c in recap(out.stdout).values()), out.stdout[-2000:]
