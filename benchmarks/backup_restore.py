"""Backup and restore on the sandbox: backup MB/s against tar | zstd, restore seconds, RPO.

Needs a provisioned sandbox (`make demo`). Steps:
1. pgbench -i at --scale (70 is about 1 GB) in database `bench` on the primary (db1).
2. Baseline: tar | zstd of the data directory on db1 to /dev/null (same compression level).
3. Full backup with backup.yml: MB/s = data directory size / pgBackRest's backup duration.
4. Restore to the latest WAL with restore.yml: wall seconds of the playbook, and of its restore
   part (until the primary takes writes), the replica's re-seed apart.
5. RPO: a writer commits a timestamped row every 0.2 s; --kill-after s after its last commit
   the primary is killed (SIGKILL, no shutdown: nothing more reaches the archive); a restore to
   the latest WAL then shows what survived. RPO = last acknowledged commit - last restored one.
Prints the figures and writes benchmarks/results/backup_restore.json.

    python benchmarks/backup_restore.py [--scale 70] [--kill-after 5] [--write-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time

from sandbox_env import on_host, playbook, require_sandbox, write_result

PRIMARY, REPLICA, REPO = "db1", "db2", "backup1"
DATA = "/var/lib/postgresql/15/main"


def psql(sql: str, database: str = "bench", host: str = PRIMARY) -> str:
    quoted = sql.replace("'", "'\\''")
    return on_host(host, f"runuser -u postgres -- psql -XAtq -d {database} -c '{quoted}'")


def restore(*extra: str) -> tuple[float, float]:
    """restore.yml to the latest WAL: (playbook wall seconds, seconds until the primary is back)."""
    done, wall = playbook(
        "restore.yml", "-e", "restore_confirm=main", "-e", "restore_full_backup_after=false", *extra
    )
    if done.returncode != 0:
        sys.exit(f"restore.yml failed:\n{done.stdout[-4000:]}")
    # What the playbook reports: from the primary's stop until it took writes again.
    down = re.search(r"primary restored and writable in ([0-9.]+) s", done.stdout)
    return wall, float(down.group(1)) if down else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=70)
    parser.add_argument("--kill-after", type=float, default=5.0)
    parser.add_argument("--write-seconds", type=float, default=30.0)
    args = parser.parse_args()
    require_sandbox()

    psql("DROP DATABASE IF EXISTS bench", database="postgres")
    psql("CREATE DATABASE bench", database="postgres")
    pgbench = "/usr/lib/postgresql/15/bin/pgbench"
    on_host(PRIMARY, f"runuser -u postgres -- {pgbench} -q -i -s {args.scale} bench")
    # The RPO table exists before the backups, so only the rows written later can be lost.
    psql("CREATE TABLE rpo (at timestamptz PRIMARY KEY)")
    psql("CHECKPOINT")
    data_bytes = int(on_host(PRIMARY, f"du -sb {DATA} | cut -f1"))

    # zstd's command-line tool is not a pgBackRest dependency: the baseline brings its own.
    on_host(
        PRIMARY,
        "command -v zstd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get -qq install -y zstd",
    )
    start = time.monotonic()
    # tar exits 1 when a file changed while it read it (a live data directory): not a failure.
    zstd_bytes = int(
        on_host(
            PRIMARY,
            f"set -o pipefail; {{ tar -C {DATA} -cf - . || [ $? -eq 1 ]; }}"
            " | zstd -3 -T0 -c | wc -c",
        )
    )
    tar_seconds = time.monotonic() - start

    done, backup_wall = playbook(
        "backup.yml", "-e", "backup_type=full", "-e", "backup_what=postgresql"
    )
    if done.returncode != 0:
        sys.exit(f"backup.yml failed:\n{done.stdout[-4000:]}")
    info = json.loads(
        on_host(REPO, "runuser -u pgbackrest -- pgbackrest --stanza=main --output=json info")
    )
    last = info[0]["backup"][-1]
    backup_seconds = last["timestamp"]["stop"] - last["timestamp"]["start"]
    restore_wall, restore_primary = restore()
    checksum_before = psql("SELECT sum(abalance), count(*) FROM pgbench_accounts")

    # RPO: timestamped commits, then SIGKILL of the primary --kill-after s after the last one.
    acknowledged: list[float] = []

    def writer() -> None:
        deadline = time.monotonic() + args.write_seconds
        while time.monotonic() < deadline:
            epoch = psql(
                "INSERT INTO rpo VALUES (clock_timestamp()) RETURNING extract(epoch FROM at)"
            )
            acknowledged.append(float(epoch))
            time.sleep(0.2)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    time.sleep(args.kill_after)
    # The kill must land (the first run's `|| true` hid a kill that did not): the postmaster
    # by its pid file, then nothing of the cluster may be left running.
    on_host(PRIMARY, f"kill -KILL $(head -n1 {DATA}/postmaster.pid)")
    on_host(PRIMARY, f"sleep 1; ! pgrep -u postgres -f 'postgres -D {DATA}'")
    rpo_wall, _ = restore()
    drill, drill_wall = playbook("drill.yml")
    rto = re.search(r"RTO ([0-9.]+) s", drill.stdout)
    restored = psql("SELECT coalesce(max(extract(epoch FROM at)), 0), count(*) FROM rpo").split("|")
    last_restored = float(restored[0])

    mb = 1024 * 1024
    figures = {
        "scale": args.scale,
        "data_directory_mb": round(data_bytes / mb),
        "tar_zstd_mb_per_s": round(data_bytes / mb / tar_seconds, 1),
        "tar_zstd_compressed_mb": round(zstd_bytes / mb),
        "backup_full_mb_per_s": round(data_bytes / mb / backup_seconds, 1),
        "backup_full_seconds": backup_seconds,
        "backup_repository_mb": round(last["info"]["repository"]["delta"] / mb),
        "backup_playbook_wall_seconds": round(backup_wall, 1),
        "backup_vs_tar_zstd": round(tar_seconds / backup_seconds, 2),
        "restore_playbook_wall_seconds": round(restore_wall, 1),
        "restore_primary_seconds": round(restore_primary, 1),
        "pgbench_accounts_after_restore": checksum_before,
        "rpo_commits_acknowledged": len(acknowledged),
        "rpo_commits_restored": int(restored[1]),
        "rpo_kill_after_seconds": args.kill_after,
        "rpo_seconds_lost": round(max(acknowledged) - last_restored, 1) if acknowledged else None,
        "rpo_restore_wall_seconds": round(rpo_wall, 1),
        "drill_passed": drill.returncode == 0,
        "drill_rto_seconds": float(rto.group(1)) if rto else None,
        "drill_playbook_wall_seconds": round(drill_wall, 1),
    }
    print(json.dumps(figures, indent=2))
    write_result("backup_restore", figures)
    psql("DROP DATABASE IF EXISTS bench", database="postgres")
    return 0


if __name__ == "__main__":
    sys.exit(main())
