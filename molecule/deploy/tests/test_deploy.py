"""Deploy and rollback of the sample API under steady load: 0 failed requests, lock, notifications.

The tests run in file order: each starts from the state the previous one left (as an operator's
day would): 1.0.0 -> 2.0.0 -> broken 3.0.0 refused -> 2.1.0 reverted (smoke test fails after the
first batch) -> rollback to 1.0.0 with the schema downgrade -> 2.1.0 keeping 2 releases.
"""

from __future__ import annotations

import json

from conftest import (
    APP_HOSTS,
    SRV,
    Load,
    deploy,
    failed_requests,
    project_dir,
    recap,
    rollback,
    sink_http,
    sink_mail,
)

PORTS = {"blue": 8001, "green": 8002}
# The environment lock (role env_lock) on the first app host.
LOCK = "/var/lib/fpops/operation.lock"
ADDRESSES = {"dep-app1": "172.30.5.11", "dep-app2": "172.30.5.12"}


def live(app) -> tuple[str, str]:
    """(release from the `current` link, live slot) on one app host."""
    release = app.check_output(f"readlink {SRV}/current").rsplit("/", 1)[-1]
    return release, app.check_output(f"cat {SRV}/shared/live-slot")


def health_of(lb, name: str, slot: str) -> dict:
    """/health of one app host's slot, asked from the lb (the only host its firewall lets in)."""
    out = lb.check_output(f"curl -s --max-time 5 http://{ADDRESSES[name]}:{PORTS[slot]}/health")
    return json.loads(out)


def assert_serving(lb, apps, version: str) -> None:
    for name, app in zip(APP_HOSTS, apps, strict=True):
        release, slot = live(app)
        assert release == version, name
        assert health_of(lb, name, slot)["release"] == version, name
        other = "green" if slot == "blue" else "blue"
        assert not app.service(f"prediction-api-web@{other}").is_running, f"{name}: old slot runs"
        # nginx points at the live slot's port.
        entry = lb.file(f"/etc/nginx/upstream.d/fpops_api/{name}.conf").content_string
        assert f"{ADDRESSES[name]}:{PORTS[slot]} " in entry, name


def test_first_deploy(lb, apps):
    out = deploy("1.0.0")
    assert out.returncode == 0, out.stdout[-3000:]
    assert_serving(lb, apps, "1.0.0")


def worker_pid(app) -> str:
    return app.check_output("systemctl show -p MainPID --value prediction-api-worker")


def releases_the_workers_run(app, tasks: int = 6) -> set[str]:
    """Send the sample app's `release` task through Redis; whichever worker takes it answers."""
    srv, env = SRV, "/srv/prediction-api/shared"
    code = (
        "import json; from prediction_api.worker import release; "
        f"print(json.dumps([release.delay().get(timeout=30)['release'] for _ in range({tasks})]))"
    )
    out = app.check_output(
        "systemd-run --wait --pipe --quiet -p User=fpapp"
        " -p EnvironmentFile=/etc/fpops/postgresql.env"
        f" -p EnvironmentFile={env}/app.env -p EnvironmentFile={env}/current.env"
        f' -p WorkingDirectory={srv}/current {srv}/current/venv/bin/python -c "{code}"'
    )
    return set(json.loads(out))


def test_deploy_v2_under_load_fails_no_request(lb, apps, sink):
    workers_before = [worker_pid(app) for app in apps]
    load = Load(sink, "v2").start()
    out = deploy("2.0.0")
    counts = load.stop()
    print(f"deploy 1.0.0 -> 2.0.0: {counts}")
    assert out.returncode == 0, out.stdout[-3000:]
    assert counts["total"] > 100
    assert failed_requests(counts) == 0, counts
    assert_serving(lb, apps, "2.0.0")
    # The Celery workers were restarted (warm shutdown) and run the new code.
    for app, before in zip(apps, workers_before, strict=True):
        assert worker_pid(app) not in ("0", before)
    assert releases_the_workers_run(apps[0]) == {"2.0.0"}


def test_broken_v3_under_load_keeps_v2_and_is_marked_bad(lb, apps, sink):
    load = Load(sink, "v3").start()
    out = deploy("3.0.0")
    counts = load.stop()
    print(f"deploy of broken 3.0.0: {counts}")
    assert out.returncode != 0
    assert "failed its health gate" in out.stdout
    assert failed_requests(counts) == 0, counts
    assert counts["total"] > 100
    assert_serving(lb, apps, "2.0.0")
    # The first batch found it bad: marked, stopped; the rollout stopped before dep-app2.
    assert apps[0].file(f"{SRV}/releases/3.0.0/.bad").exists
    # The lock was given back.
    assert not apps[0].file(LOCK).exists


def test_failed_smoke_test_reverts_the_switched_batch(lb, apps, sink):
    # dep-app1 (the first batch) switches to 2.1.0, then the public URL answers 404: the rollout
    # stops before dep-app2, dep-app1 goes back to 2.0.0 and marks 2.1.0 bad.
    load = Load(sink, "smoke").start()
    out = deploy("2.1.0", "-e", "app_smoke_url=https://api.fpops.test/no-such-page")
    counts = load.stop()
    print(f"deploy of 2.1.0 reverted after the smoke test: {counts}")
    assert out.returncode != 0
    assert "smoke test of https://api.fpops.test/no-such-page failed: HTTP 404" in out.stdout
    assert "rolled back: dep-app1 -> 2.0.0" in out.stdout
    assert failed_requests(counts) == 0, counts
    assert_serving(lb, apps, "2.0.0")
    history = apps[0].check_output(f"cat {SRV}/shared/history").split()
    assert history[-2:] == ["2.1.0", "2.0.0"]
    assert apps[0].file(f"{SRV}/releases/2.1.0/.bad").exists
    assert apps[1].check_output(f"cat {SRV}/shared/history").split()[-1] == "2.0.0"


def schema_revision(db) -> str:
    return db.check_output(
        "sudo -u postgres psql -d footballprediction -Atc 'select version_num from alembic_version'"
    )


def test_lock_held_refuses_a_second_run(apps):
    # Another operator's run (another controller) holds the environment lock on the first app host.
    owner = json.dumps(
        {
            "user": "alice",
            "machine": "laptop",
            "pid": 4242,
            "command": "restore latest in place",
            "since": "2026-11-23T03:00:00Z",
            "run_id": "someone-else",
        }
    )
    apps[0].check_output(f"mkdir -p {LOCK} && echo '{owner}' > {LOCK}/owner.json")
    try:
        for out in (deploy("2.0.0"), rollback()):
            assert out.returncode != 0
            # Ansible prints a long message folded over lines: compare it with the spaces joined.
            said = " ".join(out.stdout.split())
            assert "is held by restore latest in place by alice on laptop (pid 4242)" in said
            assert all(c["changed"] == 0 for c in recap(out.stdout).values()), out.stdout[-2000:]
        # The refused runs left the holder's lock alone.
        assert apps[0].file(f"{LOCK}/owner.json").exists
    finally:
        apps[0].run(f"rm -rf {LOCK}")


def test_bad_input_is_refused_before_any_change(apps):
    unknown = deploy("9.9.9")
    assert unknown.returncode != 0
    assert "no release artefact for version 9.9.9" in unknown.stdout
    no_secret = deploy("2.0.0", "-e", "vault_postgresql_app_rw_password=")
    assert no_secret.returncode != 0
    assert "app_secret_env.PGPASSWORD is empty" in no_secret.stdout
    # A git source (this project's repository) without the ref named.
    repo = project_dir()
    bad_ref = deploy("2.0.0", "-e", f"app_source={repo}", "-e", "app_source_ref=no-such-ref")
    assert bad_ref.returncode != 0
    message = f"git ref no-such-ref is not in {repo} (app_source_ref): no such commit"
    assert message in bad_ref.stdout
    for out in (unknown, no_secret, bad_ref):
        assert all(c["changed"] == 0 for c in recap(out.stdout).values()), out.stdout[-2000:]


def test_rollback_to_a_release_bad_on_any_host_is_refused(apps):
    # 3.0.0 failed its gate on dep-app1 only (the rollout stopped there); dep-app2 has it
    # installed and unmarked. The rollback must not try it there either.
    assert not apps[1].file(f"{SRV}/releases/3.0.0/.bad").exists
    histories = [app.check_output(f"cat {SRV}/shared/history") for app in apps]
    out = rollback("-e", "app_rollback_to=3.0.0")
    assert out.returncode != 0
    assert "release 3.0.0 is marked bad (on dep-app1:" in out.stdout
    # Nothing switched or was marked; the lock it took is given back.
    assert [live(app)[0] for app in apps] == ["2.0.0", "2.0.0"]
    assert [app.check_output(f"cat {SRV}/shared/history") for app in apps] == histories
    assert not apps[1].file(f"{SRV}/releases/3.0.0/.bad").exists
    assert not apps[0].file(LOCK).exists


def test_rollback_under_load_skips_the_bad_releases_and_downgrades(lb, apps, sink, db):
    assert schema_revision(db) == "0002"
    load = Load(sink, "rollback").start()
    out = rollback("-e", "app_rollback_migrations=true")
    counts = load.stop()
    print(f"rollback 2.0.0 -> 1.0.0: {counts}")
    assert out.returncode == 0, out.stdout[-3000:]
    assert failed_requests(counts) == 0, counts
    # Not 3.0.0 (failed its gate) nor 2.1.0 (its rollout was reverted).
    assert_serving(lb, apps, "1.0.0")
    # Asked for: the schema went back to 1.0.0's recorded head, by 2.0.0's downgrade step.
    head = apps[0].check_output(f"cat {SRV}/releases/1.0.0/.migration-head")
    assert head == "0001"
    assert schema_revision(db) == "0001"
    columns = db.check_output(
        "sudo -u postgres psql -d footballprediction -Atc "
        "\"select column_name from information_schema.columns where table_name = 'predictions'\""
    ).split()
    assert "confidence" not in columns


def test_releases_beyond_the_kept_number_and_the_bad_ones_go(apps):
    # A routine release, both hosts in one batch, keeping 2 releases (the default is 5; 2 shows
    # the same rule with one deploy): the live one and the one before it stay, the older good
    # release and the bad ones go.
    out = deploy("2.1.0", "-e", "app_serial=2", "-e", "app_keep_releases=2")
    assert out.returncode == 0, out.stdout[-3000:]
    for app in apps:
        kept = sorted(app.check_output(f"ls {SRV}/releases").split())
        assert kept == ["1.0.0", "2.1.0"]
        assert live(app)[0] == "2.1.0"
    # Deploying 2.1.0 again cleared the mark its reverted rollout left.
    assert not apps[0].file(f"{SRV}/releases/2.1.0/.bad").exists


def test_notifications_reached_every_channel(sink):
    received = sink_http(sink)
    hooks = [json.loads(r["body"]) for r in received if r["path"] == "/hook"]
    events = [(h["action"], h["version"], h["result"]) for h in hooks]
    for expected in [
        ("deploy", "2.0.0", "started"),
        ("deploy", "2.0.0", "succeeded"),
        ("deploy", "3.0.0", "started"),
        ("deploy", "3.0.0", "failed"),
        ("rollback", "1.0.0", "succeeded"),
    ]:
        assert expected in events, events
    assert all(h["environment"] == "deploy-scenario" for h in hooks)
    failed = next(h for h in hooks if h["version"] == "3.0.0" and h["result"] == "failed")
    assert "health gate" in failed["message"]
    assert all(
        r["headers"]["X-Fpops-Signature"].startswith("sha256=")
        for r in received
        if r["path"] == "/hook"
    )
    slack = [json.loads(r["body"])["text"] for r in received if r["path"].startswith("/slack/")]
    assert any(text.startswith("✖ deploy 3.0.0 to deploy-scenario failed") for text in slack)
    robot = [r for r in received if r["path"].startswith("/robot/send")]
    assert robot and all("&timestamp=" in r["path"] and "&sign=" in r["path"] for r in robot)
    mails = sink_mail(sink)
    assert any("deploy 3.0.0 to deploy-scenario failed" in mail for mail in mails)
    # No secret travelled in a readable place: the webhook secret is only a key, never sent.
    assert not any("hook-secret" in r["body"] or "SECrobot" in r["body"] for r in received)
