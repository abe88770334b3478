"""Redis backups on a schedule: every cache host has the timer, a run acts only on the primary and
sends the snapshot to the backup host (sentinel-app1), whose account keeps it; the run's metric
reaches Prometheus; a cache host's key can store archives and do nothing else. Restore in sentinel
mode runs after the failover (test_failover.py), where the primary is no longer the first host."""

from __future__ import annotations

from conftest import ADDRESSES, query, wait_for, wait_settled

ARCHIVES = "/var/lib/fpops-backups/redis"
STORE_USER = "fpops-redis-backup"
FIRE_NOW_DIR = "/run/systemd/system/fpops-redis-backup.timer.d"
FIRE_NOW = "[Timer]\\nOnActiveSec=1s\\nRandomizedDelaySec=0\\n"


def archives(store, source: str) -> list[str]:
    listing = store.run(f"ls {ARCHIVES}/{source}")
    return sorted(listing.stdout.split()) if listing.rc == 0 else []


def test_every_cache_host_has_the_timer(host):
    for name in ADDRESSES:
        timer = host(name).service("fpops-redis-backup.timer")
        assert timer.is_enabled and timer.is_running, name
        # The settings hold the admin password: root's only.
        settings = host(name).file("/etc/fpops/redis-backup.env")
        assert (settings.user, settings.mode) == ("root", 0o600), name


def test_the_timer_backs_up_the_primary_only_and_its_metric_appears(host, vault, monitor):
    primary = wait_settled(host, vault)
    before = {name: archives(monitor, name) for name in ADDRESSES}
    since = int(host(primary).check_output("date +%s")) - 1
    for name in ADDRESSES:
        # The timer itself fires: a runtime drop-in (in /run, not Ansible's file) makes it elapse
        # 1 s after it starts again, without its random delay.
        fired = host(name).run(
            f"mkdir -p {FIRE_NOW_DIR} && printf '{FIRE_NOW}' > {FIRE_NOW_DIR}/fire-now.conf"
            " && systemctl daemon-reload && systemctl restart fpops-redis-backup.timer"
        )
        assert fired.rc == 0, (name, fired.stderr)

    def said(name: str) -> str:
        journal = f"journalctl -u fpops-redis-backup.service --since @{since} -o cat --no-pager"
        return host(name).check_output(journal)

    def all_ran() -> bool:
        return all(
            ("stored redis-" if name == primary else "nothing to do") in said(name)
            for name in ADDRESSES
        )

    try:
        assert wait_for(all_ran, 90, 2), {name: said(name) for name in ADDRESSES}
    finally:
        for name in ADDRESSES:
            host(name).run(
                f"rm -f {FIRE_NOW_DIR}/fire-now.conf && systemctl daemon-reload"
                " && systemctl restart fpops-redis-backup.timer"
            )
    for name in ADDRESSES:
        if name != primary:
            assert archives(monitor, name) == before[name]
    new = sorted(set(archives(monitor, primary)) - set(before[primary]))
    assert len(new) == 1, new
    archive = monitor.file(f"{ARCHIVES}/{primary}/{new[0]}")
    assert (archive.user, archive.mode) == (STORE_USER, 0o600)
    listing = monitor.check_output(f"zstd -dc {archive.path} | tar -tf -")
    assert "dump.rdb" in listing, listing

    def metric() -> dict[str, float]:
        found = query(monitor, 'fpops_backup_last_success_timestamp_seconds{stanza="redis"}')
        return {r["metric"]["host"]: float(r["value"][1]) for r in found}

    assert wait_for(lambda: primary in metric(), 60, 2), metric()
    alerts = query(monitor, 'ALERTS{alertname="BackupTooOld", stanza="redis"}')
    assert alerts == [], alerts


def test_a_cache_hosts_key_can_only_store_archives(host, groups):
    store_address = "172.30.8.11"
    cache = host(groups["cache"][0])
    ssh = (
        "ssh -F /dev/null -i /etc/fpops/redis-backup/id_ed25519 -o BatchMode=yes "
        "-o UserKnownHostsFile=/etc/fpops/redis-backup/known_hosts "
        f"{STORE_USER}@{store_address}"
    )
    listed = cache.run(f"{ssh} ls {ARCHIVES} </dev/null")
    assert listed.rc == 2 and "only 'store' is allowed" in listed.stderr, listed
    # Not an archive: refused, nothing kept.
    garbage = cache.run(f"head -c 4096 /dev/urandom | {ssh} store")
    assert garbage.rc == 1 and "not kept" in garbage.stderr, garbage
