"""restore.yml and restore_point.yml: in place on the primary, to the latest WAL, a time and a
restore point made before a (simulated) migration; the replica streams again after each.

One history is written once (module fixture), then restored three times in the only order that
keeps every target on the timeline the next restore follows: latest, then the time T, then the
point before release 9.9.9 (each in-place restore starts a new timeline branching at its target).
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from conftest import STANZA, info, playbook, recap, sql

RELEASE = "9.9.9"


def written(first: int, last: int) -> str:
    """The count and checksum the table must have when it holds exactly rows first..last."""
    rows = ",".join(
        f"{i}:{hashlib.md5(str(i).encode()).hexdigest()}" for i in range(first, last + 1)
    )
    return f"{last - first + 1} {hashlib.md5(rows.encode()).hexdigest()}"


def table_state(db) -> str:
    return sql(
        db,
        "SELECT count(*) || ' ' || md5(string_agg(id || ':' || note, ',' ORDER BY id)) FROM pitr",
    )


def insert(db, first: int, last: int) -> None:
    sql(
        db,
        "INSERT INTO pitr (id, note) SELECT g, md5(g::text)"
        f" FROM generate_series({first}, {last}) g",
    )


def backup(kind: str) -> None:
    out = playbook("backup.yml", "-e", f"backup_type={kind}")
    assert out.returncode == 0, out.stdout[-3000:]


def restore(*extra: str):
    out = playbook("restore.yml", "-e", f"restore_confirm={STANZA}", *extra)
    assert out.returncode == 0, out.stdout[-4000:]
    return out


def has_column(db, column: str) -> bool:
    return (
        sql(
            db,
            "SELECT count(*) FROM information_schema.columns"
            f" WHERE table_name = 'pitr' AND column_name = '{column}'",
        )
        == "1"
    )


def assert_replica_streams(primary, replica, state: str) -> None:
    assert (
        sql(
            primary,
            "SELECT state || ' ' || ssl FROM pg_stat_replication JOIN pg_stat_ssl USING (pid)",
        )
        == "streaming true"
    )
    deadline = time.monotonic() + 10
    while table_state(replica) != state and time.monotonic() < deadline:
        time.sleep(0.5)
    assert table_state(replica) == state
    assert sql(replica, "SELECT pg_is_in_recovery()") == "t"


@pytest.fixture(scope="module")
def target_time(primary):
    """Rows 1-100, full backup, rows 101-150, restore point before release 9.9.9 then its
    "migration" (a new column), rows 151-200, the time T, rows 201-300, incremental backup."""
    sql(primary, "DROP TABLE IF EXISTS pitr")
    sql(primary, "CREATE TABLE pitr (id int PRIMARY KEY, note text NOT NULL)")
    insert(primary, 1, 100)
    backup("full")
    insert(primary, 101, 150)
    out = playbook("restore_point.yml", "-e", f"release={RELEASE}")
    assert out.returncode == 0, out.stdout[-3000:]
    sql(primary, "ALTER TABLE pitr ADD COLUMN migrated boolean NOT NULL DEFAULT true")
    insert(primary, 151, 200)
    # T: the next whole second, then wait past it before writing again.
    target = sql(
        primary,
        "SELECT to_char(date_trunc('second', now() AT TIME ZONE 'UTC') + interval '1 second',"
        " 'YYYY-MM-DD HH24:MI:SS') || '+00'",
    )
    time.sleep(2.2)
    insert(primary, 201, 300)
    backup("incr")
    return target


def test_refused_targets_change_nothing(target_time):
    cases = {
        (): "confirm with -e restore_confirm=main",
        (
            "-e",
            f"restore_confirm={STANZA}",
            "-e",
            json.dumps({"restore_time": "2001-01-01 00:00:00+00"}),
        ): "is before the end of the oldest backup",
        (
            "-e",
            f"restore_confirm={STANZA}",
            "-e",
            json.dumps({"restore_time": "2999-01-01 00:00:00+00"}),
        ): "is in the future",
        ("-e", f"restore_confirm={STANZA}", "-e", "restore_time=yesterday-ish"): "is not a time",
        (
            "-e",
            f"restore_confirm={STANZA}",
            "-e",
            "restore_set=20000101-000000F",
        ): "no backup labelled 20000101-000000F",
        (
            "-e",
            f"restore_confirm={STANZA}",
            "-e",
            "restore_name=never-made",
        ): "no restore point named never-made",
        (
            "-e",
            f"restore_confirm={STANZA}",
            "-e",
            "restore_before_release=0.0.1",
        ): "no restore point recorded for release 0.0.1",
    }
    for args, message in cases.items():
        out = playbook("restore.yml", *args)
        assert out.returncode != 0, args
        assert message in out.stdout, (args, out.stdout[-2000:])
        assert "restore refused, nothing changed" in out.stdout
        assert all(c["changed"] == 0 for c in recap(out.stdout).values()), out.stdout[-2000:]


def test_restore_latest_brings_back_every_row(primary, replica, target_time):
    out = restore()
    assert "the latest archived WAL" in out.stdout
    assert table_state(primary) == written(1, 300)
    assert sql(primary, "SELECT pg_is_in_recovery()") == "f"
    assert_replica_streams(primary, replica, written(1, 300))


def test_restore_to_a_time_brings_back_exactly_the_rows_before_it(primary, replica, target_time):
    # JSON: a key=value -e would end the value at the space.
    restore("-e", json.dumps({"restore_time": target_time}))
    assert table_state(primary) == written(1, 200)
    assert has_column(primary, "migrated")
    assert_replica_streams(primary, replica, written(1, 200))
    # The restored primary takes writes again (promoted, not paused at the target).
    insert(primary, 1001, 1001)
    sql(primary, "DELETE FROM pitr WHERE id = 1001")


def test_restore_before_a_release_brings_back_the_schema_before_its_migration(
    primary, replica, repo, target_time
):
    points = repo.file("/var/lib/pgbackrest/restore-points").content_string
    assert f"{STANZA} fpops-before-{RELEASE}-" in points
    out = restore("-e", f"restore_before_release={RELEASE}")
    assert f"restore point fpops-before-{RELEASE}-" in out.stdout
    assert not has_column(primary, "migrated")
    assert table_state(primary) == written(1, 150)
    assert_replica_streams(primary, replica, written(1, 150))
    assert info(repo)["status"]["code"] == 0
