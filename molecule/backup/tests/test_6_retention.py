"""pgbackrest_retention_gfs (7 days / 4 weeks / 3 months here): a scheduled full backup runs
pgbackrest-gfs on the repository host, which keeps every full of the last 7 days; seen from
200 days later, only the newest full is in any kept day, week or month, and every other full
(with the backups that depend on it) is expired from the repository. Last in the scenario: it
expires the backups the other tests restore from."""

import json
import time

from conftest import STANZA, info


def fulls(repo) -> list[str]:
    return [b["label"] for b in info(repo)["backup"] if b["type"] == "full"]


def test_a_scheduled_full_keeps_the_last_days_and_a_later_expiry_keeps_only_what_gfs_names(
    primary, repo
):
    conf = repo.file("/etc/pgbackrest/pgbackrest.conf").content_string
    assert "repo1-retention-full=94\n" in conf  # 3 months x 31 + 1 days: past the oldest month
    # The earlier tests made full backups (on demand, the restores' history) before this one.
    started = primary.run("systemctl start fpops-pgbackrest@full.service")
    assert started.rc == 0, started.stderr
    log = primary.check_output("journalctl -u fpops-pgbackrest@full.service -o cat --no-pager")
    chosen = json.loads([line for line in log.splitlines() if line.startswith('{"kept"')][-1])
    before = fulls(repo)
    assert len(before) >= 2 and chosen == {"kept": before, "expired": []}

    later = int(time.time()) + 200 * 86400
    gfs = (
        f"sudo -u pgbackrest /usr/local/lib/fpops/pgbackrest-gfs --stanza={STANZA} --repo=1"
        f" --daily 7 --weekly 4 --monthly 3 --now {later}"
    )
    dry = json.loads(repo.check_output(f"{gfs} --dry-run"))
    assert dry == {"kept": before[-1:], "expired": before[:-1]}
    assert fulls(repo) == before
    done = json.loads(repo.check_output(gfs))
    assert done == dry
    assert fulls(repo) == before[-1:]
    # What is left is whole: every backup's references are still in the repository.
    left = info(repo)["backup"]
    labels = {b["label"] for b in left}
    assert all(set(b.get("reference") or []) <= labels for b in left), left
