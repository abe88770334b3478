"""Sentinel fails over by itself: the primary killed with SIGKILL, a replica promoted with no
operator action, every write a replica acknowledged (WAIT) kept, the old primary back as a
replica; a converge afterwards changes nothing and leaves the new primary where it is."""

import itertools
import json
import time

import pytest
from conftest import (
    ADDRESSES,
    app_python,
    app_url,
    info,
    parse_hey,
    project_dir,
    recap,
    redis,
    run_playbook,
    sentinel_master,
    wait_settled,
)
from redis_load import CELERY_LOOP, ENDPOINT_WRITER, REDIS_CLI_TLS, celery_figures

KEYS = 300
ENDPOINT_PORT = 6380
WRITER_PATH = "/usr/local/bin/fpops-test-redis-writer"


def start_writer(client, vault, seconds: int, out: str) -> None:
    """The writer as a transient unit on the app host, through its Redis endpoint."""
    client.run(f"cat > {WRITER_PATH} <<'EOF'\n{ENDPOINT_WRITER}EOF\nchmod +x {WRITER_PATH}")
    started = client.run(
        f"systemd-run --collect --quiet --unit=fpops-test-redis-writer "
        f"-E REDISCLI_AUTH={vault['vault_redis_app_password']} "
        f"-p StandardOutput=file:{out} {WRITER_PATH} {seconds} {ENDPOINT_PORT} fp:test:endpoint"
    )
    assert started.rc == 0, started.stderr


def cached_prediction_url(app) -> str:
    """A match with a stored (and cached) prediction: the app's cached endpoint."""
    body = json.dumps(
        {
            "home_team": "Sentinel FC",
            "away_team": "Quorum United",
            "kickoff": "2027-05-01T15:00:00Z",
        }
    )
    post = "curl -sf -X POST -H 'Content-Type: application/json'"
    match = json.loads(app.check_output(f"{post} -d '{body}' {app_url(app, '/matches')}"))
    path = f"/matches/{match['id']}"
    app.check_output(f"{post} {app_url(app, path + '/predictions')}")
    return app_url(app, path + "/prediction")


def write_waited(node, vault) -> set[int]:
    """KEYS writes to the primary, each followed by WAIT 1 1000; the ones a replica acknowledged."""
    script = "".join(f"SET fp:test:waited:{n} {n}\nWAIT 1 1000\n" for n in range(KEYS))
    out = node.run(
        f"printf '{script}' | REDISCLI_AUTH='{vault['vault_redis_app_password']}' "
        f"redis-cli {REDIS_CLI_TLS} --no-auth-warning -h 127.0.0.1 --user app"
    )
    assert out.rc == 0, out.stderr
    replies = out.stdout.split()
    assert len(replies) == 2 * KEYS, replies[:10]
    return {n for n in range(KEYS) if replies[2 * n] == "OK" and int(replies[2 * n + 1]) >= 1}


@pytest.mark.moves_primary
def test_killing_the_primary_promotes_a_replica_and_keeps_every_waited_write(host, vault, app):
    old = wait_settled(host, vault)
    client = app
    log = "/tmp/fpops-test-redis-writer.log"
    start_writer(client, vault, 45, log)
    # The app under load: its cached endpoint at a fixed rate (hey), Celery tasks one at a time.
    url = cached_prediction_url(app)
    app.check_output(
        f"setsid nohup hey -z 40s -c 2 -q 10 -t 5 {url} > /tmp/hey-kill.txt 2>&1 < /dev/null &"
    )
    app_python(app, CELERY_LOOP, "40", unit="fpops-test-celery-loop", output="/tmp/celery-loop.log")
    time.sleep(3)
    acknowledged = write_waited(host(old), vault)
    assert len(acknowledged) == KEYS
    killed, killed_at = time.monotonic(), time.time()
    assert host(old).run("systemctl kill --signal=KILL redis-server").rc == 0
    witness = host(next(name for name in ADDRESSES if name != old))
    new = ""
    while time.monotonic() - killed < 60 and new in ("", old):
        time.sleep(0.5)
        new = sentinel_master(witness, vault)
    promoted_after = time.monotonic() - killed
    assert new not in ("", old), "no replica was promoted within 60 s"
    print(f"\nSentinel named {new} the primary {promoted_after:.1f} s after {old} was killed")
    # The killed server restarts (RestartSec) and Sentinel turns it into a replica of the new one.
    assert wait_settled(host, vault, timeout=120) == new
    assert info(host(old), vault)["role"] == "slave"
    present = redis(host(new), vault, "admin", "--scan", "--pattern", "fp:test:waited:*")
    kept = {int(key.rsplit(":", 1)[1]) for key in present.stdout.split()}
    assert acknowledged <= kept, f"lost {len(acknowledged - kept)} acknowledged writes"
    # The app host's writes through the endpoint: back on the new primary with no change there.
    client.run("while systemctl is-active -q fpops-test-redis-writer; do sleep 1; done")
    attempts = [line.split() for line in client.file(log).content_string.splitlines()]
    before = [a for a in attempts if float(a[1]) < killed_at]
    oks = sorted(float(a[1]) for a in attempts if a[2] == "ok" and float(a[1]) > killed_at - 2)
    assert before and all(a[2] == "ok" for a in before), "writes failed before the kill"
    assert oks and oks[-1] > killed_at + 15, "writes through the endpoint did not come back"
    # The write gap: the longest pause between two successful writes around the kill.
    gap = max(b - a for a, b in itertools.pairwise(oks))
    failed = sum(1 for a in attempts if float(a[1]) >= killed_at and a[2] == "err")
    print(f"write gap through the endpoint {gap:.1f} s, {failed} attempts failed")
    # The app, with no redeploy and no operator action: /health has Redis ok again, Celery
    # tasks complete again.
    health = json.loads(app.check_output(f"curl -s --max-time 5 {app_url(app, '/health')}"))
    assert health["checks"]["redis"] == "ok", health
    app.run("while systemctl is-active -q fpops-test-celery-loop; do sleep 1; done")
    celery = celery_figures(app.file("/tmp/celery-loop.log").content_string, killed_at)
    assert celery["resumed_s"] > 0, "no Celery task was answered after the failover"
    app.run("while pgrep -x hey >/dev/null; do sleep 1; done")
    counts = parse_hey(app.file("/tmp/hey-kill.txt").content_string)
    failed_api = counts["total"] - counts.get("200", 0)
    print(
        f"Celery tasks answered again {celery['resumed_s']} s after the kill (longest pause"
        f" {celery['pause_s']} s, {celery['failed']} of {celery['total']} tasks failed);"
        f" API (cached endpoint, 20 requests/s): {failed_api} of {counts['total']} failed"
    )


@pytest.mark.moves_primary
def test_backup_and_restore_follow_the_new_primary(host, vault, groups):
    """After the failover the primary is not the inventory's first cache host: backup.yml takes
    the snapshot there, restore_redis.yml restores it there with no failover in between."""
    primary = wait_settled(host, vault)
    assert primary != groups["cache"][0]
    keys = [f"fp:test:restore:{n}" for n in range(100)]
    for key in keys:
        assert redis(host(primary), vault, "admin", "SET", key, "before").stdout.strip() == "OK"
    out = run_playbook(project_dir() / "playbooks" / "backup.yml", "-e", "backup_what=redis")
    assert out.returncode == 0, out.stdout[-3000:]
    assert f"redis backup redis-{primary}-" in out.stdout, out.stdout[-3000:]
    name = out.stdout.split("redis backup ")[1].split()[0]

    for key in keys:
        redis(host(primary), vault, "admin", "SET", key, "after")
    out = run_playbook(
        project_dir() / "playbooks" / "restore_redis.yml", "-e", "restore_confirm=redis"
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert f"redis restored from {name}" in out.stdout, out.stdout[-3000:]
    # Same primary, both replicas linked again, and every key as it was at the backup there too.
    assert wait_settled(host, vault) == primary
    for name_ in ADDRESSES:
        values = redis(host(name_), vault, "admin", "MGET", *keys).stdout.split()
        assert values == ["before"] * len(keys), (name_, sorted(set(values)))


@pytest.mark.moves_primary
def test_a_converge_after_the_failover_changes_nothing_and_keeps_the_primary(host, vault):
    primary = wait_settled(host, vault)
    done = run_playbook(project_dir() / "playbooks" / "site.yml")
    assert done.returncode == 0, done.stdout[-3000:]
    changed = {name: counts["changed"] for name, counts in recap(done.stdout).items()}
    assert set(changed.values()) == {0}, changed
    assert wait_settled(host, vault) == primary
    # The dry run of the cache tier only (Redis, Sentinel, their backups and the endpoint): the
    # other tiers' dry runs are proven on the sandbox (e2e). Saves ~150 s of CI.
    checked = run_playbook(project_dir() / "playbooks" / "site.yml", "--check", "--tags", "cache")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert {counts["changed"] for counts in recap(checked.stdout).values()} == {0}


ROLE_ONLY = "- hosts: cache\n  become: true\n  roles: [fpops.platform.redis]\n"


@pytest.mark.moves_primary
def test_a_changed_redis_conf_restarts_one_server_at_a_time_the_primary_last(
    host, vault, groups, tmp_path
):
    """The primary is switched over before its restart, so writes through the endpoint pause
    once (a switchover), instead of every server restarting at once. Last: the setting stays."""
    old = wait_settled(host, vault)
    client = host(groups["app"][0])
    log = "/tmp/fpops-test-redis-rolling.log"
    start_writer(client, vault, 300, log)

    def started() -> dict[str, str]:
        show = "systemctl show -p ActiveEnterTimestampMonotonic --value redis-server"
        return {name: host(name).check_output(show) for name in ADDRESSES}

    before = started()
    playbook = tmp_path / "redis.yml"
    playbook.write_text(ROLE_ONLY)
    began = time.time()
    out = run_playbook(playbook, "-e", "redis_maxmemory_mb=200")
    took = time.time() - began
    client.run("systemctl stop fpops-test-redis-writer")
    assert out.returncode == 0, out.stdout[-3000:]
    after = started()
    assert all(after[name] != before[name] for name in ADDRESSES), (before, after)
    new = wait_settled(host, vault)
    assert new != old, "the primary was restarted in place, not switched over first"
    assert redis(host(new), vault, "admin", "CONFIG", "GET", "maxmemory").stdout.split()[1] == str(
        200 * 1024 * 1024
    )
    attempts = [line.split() for line in client.file(log).content_string.splitlines()]
    oks = sorted(float(a[1]) for a in attempts if a[2] == "ok")
    gap = max(b - a for a, b in itertools.pairwise(oks))
    failed = sum(1 for a in attempts if a[2] == "err")
    print(
        f"\nrolling restart of 3 servers in {took:.0f} s (playbook): longest write gap through"
        f" the endpoint {gap:.1f} s, {failed} of {len(attempts)} attempts failed"
    )


@pytest.mark.moves_primary
def test_a_restart_a_failed_converge_owed_is_done_by_the_next_one(host, vault, tmp_path):
    """A converge that stops midway in the rolling restart (here: a replica not linked again
    within 1 s) leaves the other servers with the new redis.conf but not restarted. Their files
    no longer change, yet the next converge restarts them (the restart owed is recorded on
    each host), and a third changes nothing."""
    wait_settled(host, vault)
    playbook = tmp_path / "redis.yml"
    playbook.write_text(ROLE_ONLY)
    cut_short = run_playbook(
        playbook, "-e", "redis_maxmemory_mb=150", "-e", "redis_replication_timeout=1"
    )
    assert cut_short.returncode != 0, cut_short.stdout[-2000:]
    owed = {n for n in ADDRESSES if host(n).file("/var/lib/fpops/redis-restart-pending").exists}
    assert owed, "the failed converge left no restart owed"
    wait_settled(host, vault)
    again = run_playbook(playbook, "-e", "redis_maxmemory_mb=150")
    assert again.returncode == 0, again.stdout[-3000:]
    for name in ADDRESSES:
        live = redis(host(name), vault, "admin", "CONFIG", "GET", "maxmemory").stdout.split()
        assert live[1] == str(150 * 1024 * 1024), (name, live)
        assert not host(name).file("/var/lib/fpops/redis-restart-pending").exists, name
    third = run_playbook(playbook, "-e", "redis_maxmemory_mb=150")
    assert {c["changed"] for c in recap(third.stdout).values()} == {0}, third.stdout[-2000:]
