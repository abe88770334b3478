"""Which full backups pgbackrest-gfs keeps (roles/pgbackrest/files/pgbackrest-gfs): its choice
over a synthetic history of one full backup a day. That it really expires them in a
repository is the backup scenario's test."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "roles" / "pgbackrest" / "files" / "pgbackrest-gfs"


@pytest.fixture(scope="module")
def gfs():
    loader = importlib.machinery.SourceFileLoader("pgbackrest_gfs", str(SCRIPT))
    spec = importlib.util.spec_from_loader("pgbackrest_gfs", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def daily_fulls(first: datetime, last: datetime) -> dict[str, int]:
    """One full backup a day at 01:00 UTC, labelled by its day."""
    fulls = {}
    day = first
    while day <= last:
        fulls[day.strftime("%Y%m%d")] = int(day.replace(hour=1).timestamp())
        day += timedelta(days=1)
    return fulls


def test_seven_days_four_weeks_three_months(gfs):
    fulls = daily_fulls(datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC))
    now = int(datetime(2026, 12, 7, 2, 0, tzinfo=UTC).timestamp())  # a Monday, ISO week 50
    kept = gfs.to_keep(fulls, now, daily=7, weekly=4, monthly=3)
    days = [f"202612{d:02d}" for d in range(1, 8)]  # 30 November 01:00 is 7 days 1 hour ago
    weeks = ["20261207", "20261206", "20261129", "20261122"]  # newest of ISO weeks 50..47
    months = ["20261207", "20261130", "20261031"]  # newest of December, November, October
    assert kept == set(days + weeks + months)


def test_the_newest_full_is_kept_whatever_its_age(gfs):
    fulls = {"old": 1_000_000, "older": 900_000}
    assert gfs.to_keep(fulls, 1_000_000 + 400 * 86400, daily=7, weekly=4, monthly=3) == {"old"}
    assert gfs.to_keep({}, 0, daily=7, weekly=4, monthly=3) == set()


def test_a_week_or_month_without_a_full_backup_keeps_nothing_older_in_its_place(gfs):
    # Fulls on the 1st of each month only; four weeks back from 7 December hold one (1 December).
    fulls = {
        f"2026{m:02d}01": int(datetime(2026, m, 1, 1, tzinfo=UTC).timestamp()) for m in range(6, 13)
    }
    now = int(datetime(2026, 12, 7, 2, tzinfo=UTC).timestamp())
    kept = gfs.to_keep(fulls, now, daily=0, weekly=4, monthly=3)
    assert kept == {"20261201", "20261101", "20261001"}
