"""The environment lock on the target host (role env_lock) through real fpops runs: two operators
on different machines collide, the holder is named, failed and interrupted runs give it back,
stale locks are taken over, `lock status|release` see it. Two "machines" are two project
directories (each with its own controller lock) sharing one lock directory on localhost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import make_project
from conftest import start_fpops as fpops

from fpops import audit, cli, lock
from fpops.exitcodes import ExitCode
from fpops.project import PROJECT_DIR_ENV


def locking_playbook(project: Path, name: str, middle: str) -> Path:
    """playbooks/NAME.yml as the real ones are built: take the lock, MIDDLE tasks, give it back.
    Leaves NAME.ran in the project when the middle ran."""
    ran = project / f"{name}.ran"
    (project / "playbooks" / f"{name}.yml").write_text(
        "- import_playbook: env_lock/take.yml\n"
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.file:\n        path: {ran}\n        state: touch\n"
        f"{middle}"
        "- import_playbook: env_lock/release.yml\n"
    )
    return ran


PAUSE = "    - ansible.builtin.pause:\n        seconds: {}\n"
FAIL = "    - ansible.builtin.fail:\n        msg: the migration broke\n"


@pytest.fixture
def target(tmp_path) -> Path:
    return tmp_path / "app1" / "operation.lock"


@pytest.fixture
def alice(tmp_path, target, monkeypatch) -> Path:
    project = make_project(tmp_path / "alice", target)
    monkeypatch.setenv(PROJECT_DIR_ENV, str(project))
    return project


@pytest.fixture
def bob(tmp_path, target) -> Path:
    return make_project(tmp_path / "bob", target)


def wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def plant(target: Path, **owner: object) -> None:
    """A lock another controller holds."""
    target.mkdir(parents=True)
    record = {"user": "carol", "machine": "laptop", "pid": 4242, "command": "restore latest"}
    (target / "owner.json").write_text(json.dumps({**record, **owner, "since": "03:00Z"}))


def test_two_operators_on_different_machines_collide(alice, bob, target):
    for project in (alice, bob):
        locking_playbook(project, "deploy", PAUSE.format(8))
        locking_playbook(project, "restore", "")
    first = fpops(alice, "deploy", "production", "2.0.0", "--quiet")
    wait_for(alice / "deploy.ran")
    # Bob's controller lock is free; the host lock refuses him, naming Alice's run.
    second = fpops(bob, "restore", "production", "--target", "latest", "--in-place", "--yes")
    out, err = second.communicate(timeout=60)
    assert second.returncode == ExitCode.REFUSED, out + err
    assert "held by deploy 2.0.0 to production by" in out + err
    assert f"(pid {first.pid})" in out + err
    assert not (bob / "restore.ran").exists()
    assert audit.read(bob, "production", 1)[0]["result"] == "refused"
    assert first.wait(timeout=60) == ExitCode.OK
    assert not target.exists()  # given back by the playbook's last play


def test_lock_is_recorded_with_owner_command_and_run_id(alice, target):
    locking_playbook(alice, "deploy", PAUSE.format(4))
    run = fpops(alice, "deploy", "production", "2.0.0", "--quiet")
    wait_for(alice / "deploy.ran")
    owner = json.loads((target / "owner.json").read_text())
    assert owner["command"] == "deploy 2.0.0 to production"
    assert owner["pid"] == run.pid and owner["machine"] == os.uname().nodename
    assert run.wait(timeout=60) == ExitCode.OK
    assert audit.read(alice, "production", 1)[0]["run_id"] == owner["run_id"]


def test_a_failed_run_gives_the_host_lock_back(alice, target):
    ran = locking_playbook(alice, "backup", FAIL)
    assert cli.main(["backup", "production", "--quiet"]) == ExitCode.FAILED
    assert ran.exists() and not target.exists()


def test_an_interrupted_run_gives_the_host_lock_back(alice, target):
    locking_playbook(alice, "failover", PAUSE.format(60))
    run = fpops(alice, "failover", "production", "--yes", "--quiet")
    wait_for(alice / "failover.ran")
    assert target.exists()
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=60) == ExitCode.INTERRUPTED
    assert not target.exists()


def test_a_refused_run_leaves_the_holders_lock_alone(alice, target, capsys):
    ran = locking_playbook(alice, "backup", "")
    plant(target)
    assert cli.main(["backup", "production", "--quiet"]) == ExitCode.REFUSED
    assert "held by restore latest by carol on laptop (pid 4242)" in capsys.readouterr().out
    assert not ran.exists()
    assert json.loads((target / "owner.json").read_text())["user"] == "carol"


def test_a_lock_older_than_its_ttl_is_taken_over(alice, target, capsys):
    ran = locking_playbook(alice, "backup", "")
    plant(target)
    seven_hours_ago = time.time() - 7 * 3600
    os.utime(target, (seven_hours_ago, seven_hours_ago))
    assert cli.main(["backup", "production"]) == ExitCode.OK
    notice = "took over the stale environment lock of restore latest by carol on laptop"
    assert notice in capsys.readouterr().err
    assert notice in audit.read(alice, "production", 1)[0]["detail"]
    assert ran.exists() and not target.exists()


def test_a_dead_fpops_on_this_machine_leaves_no_lock_behind(alice, target):
    # An fpops killed outright (no chance to give anything back) held both locks.
    dead = subprocess.Popen(["true"])
    dead.wait()
    machine = os.uname().nodename
    path = lock.lock_path(alice, "production")
    path.parent.mkdir(parents=True, exist_ok=True)
    held = lock.Holder("production", "dave", machine, dead.pid, "restore", "03:00Z", time.time())
    path.write_text(json.dumps(held.__dict__))
    plant(target, user="dave", machine=machine, pid=dead.pid)
    ran = locking_playbook(alice, "restore", "")
    assert cli.main(["restore", "production", "--target", "latest", "--in-place", "--yes"]) == 0
    assert ran.exists() and not target.exists()


def test_lock_status_and_release_see_the_host_lock(alice, target, capsys):
    assert cli.main(["lock", "status", "production"]) == ExitCode.OK
    assert "production on localhost: not locked" in capsys.readouterr().out
    plant(target)
    assert cli.main(["lock", "status", "production"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "production on localhost: held - restore latest by carol on laptop (pid 4242)" in out
    # A live lock goes only with --force, and the audit log says whose lock was removed.
    assert cli.main(["lock", "release", "production"]) == ExitCode.REFUSED
    assert target.exists()
    assert cli.main(["lock", "release", "production", "--force"]) == ExitCode.OK
    assert not target.exists()
    detail = audit.read(alice, "production", 1)[0]["detail"]
    assert "restore latest by carol on laptop" in detail and "forced while live" in detail
