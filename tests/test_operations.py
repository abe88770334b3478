"""The data commands, confirmation, the environment lock and the audit log, through real
ansible-playbook runs on localhost (playbooks that check the variables they receive)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FPOPS, start_fpops

from fpops import audit, cli, lock
from fpops.exitcodes import ExitCode
from fpops.project import PROJECT_DIR_ENV

ROOT = Path(__file__).resolve().parents[1]


def playbook(project: Path, name: str, that: str, marker: bool = True) -> Path:
    """playbooks/NAME.yml: asserts `that`, then leaves NAME.ran in the project."""
    ran = project / f"{name}.ran"
    tasks = f"    - ansible.builtin.assert:\n        that: {that}\n"
    if marker:
        tasks += f"    - ansible.builtin.file:\n        path: {ran}\n        state: touch\n"
    (project / "playbooks" / f"{name}.yml").write_text(
        f"- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}"
    )
    return ran


def last_audit(project: Path) -> dict:
    return audit.read(project, "production", 1)[0]


def test_backup_passes_type_what_and_repo(project):
    ran = playbook(
        project,
        "backup",
        "backup_type == 'full' and backup_what == 'redis' and backup_repo | int == 2",
    )
    argv = ["backup", "production", "--type", "full", "--what", "redis", "--repo", "2", "--quiet"]
    assert cli.main(argv) == ExitCode.OK
    assert ran.exists()
    entry = last_audit(project)
    assert entry["command"] == "backup (full, redis) of production"
    assert entry["result"] == "ok" and entry["exit_code"] == 0
    assert entry["argv"] == argv
    assert entry["run_id"] and entry["duration_s"] >= 0


@pytest.mark.parametrize(
    ("target", "that"),
    [
        ("latest", "restore_time is not defined and restore_name is not defined"),
        ("2026-11-23 10:00:00+00", "restore_time == '2026-11-23 10:00:00+00'"),
        ("before-reindex", "restore_name == 'before-reindex'"),
        ("before:2.0.0", "restore_before_release == '2.0.0'"),
    ],
)
def test_restore_into_the_scratch_instance_needs_no_confirmation(project, target, that):
    ran = playbook(project, "restore_scratch", f"{that} and restore_repo | int == 1")
    assert cli.main(["restore", "production", "--target", target, "--quiet"]) == ExitCode.OK
    assert ran.exists()


def test_restore_refuses_a_target_that_is_none_of_them(project, capsys):
    playbook(project, "restore_scratch", "true")
    assert (
        cli.main(["restore", "production", "--target", "yesterday at noon"]) == ExitCode.BAD_INPUT
    )
    assert "--target 'yesterday at noon'" in capsys.readouterr().err


def test_in_place_restore_without_a_terminal_or_yes_is_refused(project, capsys, monkeypatch):
    ran = playbook(project, "restore", "true")
    with open(os.devnull) as no_terminal:
        monkeypatch.setattr(sys, "stdin", no_terminal)
        assert cli.main(["restore", "production", "--in-place"]) == ExitCode.REFUSED
    assert "pass --yes" in capsys.readouterr().err
    assert not ran.exists()
    assert last_audit(project)["result"] == "refused"


def test_in_place_restore_declined_changes_nothing(project, monkeypatch, capsys):
    ran = playbook(project, "restore", "true")
    monkeypatch.setattr("fpops.operation.sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert (
        cli.main(["restore", "production", "--in-place", "--target", "before:2.0.0"])
        == ExitCode.REFUSED
    )
    assert "confirmation declined" in capsys.readouterr().err
    assert not ran.exists()


def test_in_place_restore_with_yes_confirms_the_stanza(project):
    ran = playbook(
        project, "restore", "restore_confirm == 'main' and restore_before_release == '2.0.0'"
    )
    argv = ["restore", "production", "--in-place", "--target", "before:2.0.0", "--yes", "--quiet"]
    assert cli.main(argv) == ExitCode.OK
    assert ran.exists()
    assert last_audit(project)["command"] == (
        "restore production in place to just before release 2.0.0's migrations"
    )


def test_redis_restore_asks_then_confirms_and_names_the_archive(project, monkeypatch):
    that = (
        "restore_confirm == 'redis' and redis_backup_restore_archive == 'cache1-20261207.rdb.zst'"
    )
    ran = playbook(project, "restore_redis", that)
    questions: list[str] = []
    monkeypatch.setattr("fpops.operation.sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: questions.append(prompt) or "yes")
    argv = ["restore", "production", "--redis", "cache1-20261207.rdb.zst", "--quiet"]
    assert cli.main(argv) == ExitCode.OK
    assert ran.exists()
    assert "replaces the live Redis data in production" in questions[0]
    assert last_audit(project)["command"] == (
        "restore production's Redis from the archive cache1-20261207.rdb.zst"
    )


def test_redis_restore_takes_an_archive_as_listed_on_the_backup_host(project):
    archive = "cache1/redis-cache1-20261207T150000Z.tar.zst"
    ran = playbook(project, "restore_redis", f"redis_backup_restore_archive == '{archive}'")
    assert (
        cli.main(["restore", "production", "--redis", archive, "--yes", "--quiet"]) == ExitCode.OK
    )
    assert ran.exists()


def test_redis_restore_without_an_archive_takes_the_newest(project):
    that = "restore_confirm == 'redis' and redis_backup_restore_archive is not defined"
    ran = playbook(project, "restore_redis", that)
    assert cli.main(["restore", "production", "--redis", "--yes", "--quiet"]) == ExitCode.OK
    assert ran.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--redis", "--in-place"], "--in-place are PostgreSQL's"),
        (["--redis", "x.rdb", "--target", "before:2.0.0"], "--target are PostgreSQL's"),
        (["--redis", "../etc/passwd"], "an archive's file name on the backup host"),
        (["--redis", "/var/lib/x.tar.zst"], "an archive's file name on the backup host"),
    ],
)
def test_redis_restore_refuses_bad_input_before_any_run(project, capsys, argv, message):
    ran = playbook(project, "restore_redis", "true")
    assert cli.main(["restore", "production", *argv, "--yes"]) == ExitCode.BAD_INPUT
    assert message in capsys.readouterr().err
    assert not ran.exists()


def test_restore_point_passes_its_name(project):
    ran = playbook(project, "restore_point", "restore_point == 'before-reindex'")
    assert cli.main(["restore-point", "production", "before-reindex", "--quiet"]) == ExitCode.OK
    assert ran.exists()
    assert last_audit(project)["command"] == "restore point before-reindex on production's primary"


def test_restore_point_refuses_a_name_restore_cannot_use(project, capsys):
    ran = playbook(project, "restore_point", "true")
    assert cli.main(["restore-point", "production", "bad name"]) == ExitCode.BAD_INPUT
    assert "restore point 'bad name'" in capsys.readouterr().err
    assert not ran.exists()


def test_rejoin_asks_first(project, monkeypatch, capsys):
    ran = playbook(project, "rejoin", "true")
    monkeypatch.setattr("fpops.operation.sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert cli.main(["rejoin", "production"]) == ExitCode.REFUSED
    assert not ran.exists()
    assert cli.main(["rejoin", "production", "--yes", "--quiet"]) == ExitCode.OK
    assert ran.exists()


def test_failover_asks_and_passes_force(project, monkeypatch):
    ran = playbook(
        project, "failover", "postgresql_failover_force and postgresql_failover_to == 'db2'"
    )
    questions = []
    monkeypatch.setattr("fpops.operation.sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: questions.append(prompt) or "yes")
    assert cli.main(["failover", "production", "--to", "db2", "--force", "--quiet"]) == ExitCode.OK
    assert ran.exists()
    assert "makes db2 the primary" in questions[0] and "--force" in questions[0]


def test_a_live_lock_refuses_with_exit_3_naming_the_holder(project, capsys):
    ran = playbook(project, "deploy", "true")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        path = lock.lock_path(project, "production")
        path.parent.mkdir(parents=True, exist_ok=True)
        held = lock.Holder(
            "production",
            "alice",
            os.uname().nodename,
            sleeper.pid,
            "deploy 1.0.0 to production",
            "2026-11-24T01:00:00Z",
            time.time(),
        )
        path.write_text(json.dumps(held.__dict__))
        assert cli.main(["deploy", "production", "2.0.0", "--quiet"]) == ExitCode.REFUSED
        err = capsys.readouterr().err
        assert "deploy 1.0.0 to production by alice" in err and f"pid {sleeper.pid}" in err
        assert not ran.exists()
        assert last_audit(project)["result"] == "refused"
        # The holder dies: its lock is stale and the next run takes it over, saying so.
        sleeper.kill()
        sleeper.wait()
        assert cli.main(["deploy", "production", "2.0.0", "--quiet"]) == ExitCode.OK
        assert "stale lock" in capsys.readouterr().err
        assert f"process {sleeper.pid} is gone" in last_audit(project)["detail"]
        assert lock.holder(project, "production") is None
    finally:
        sleeper.kill()


SLOW = (
    "- hosts: all\n  gather_facts: false\n  tasks:\n"
    "    - ansible.builtin.pause:\n        seconds: {}\n"
)


def slow_deploy(project: Path, seconds: int) -> subprocess.Popen[str]:
    """`fpops deploy production 2.0.0` of a playbook that pauses, once it holds the lock."""
    (project / "playbooks" / "deploy.yml").write_text(SLOW.format(seconds))
    run = start_fpops(project, "deploy", "production", "2.0.0", "--quiet")
    deadline = time.monotonic() + 20
    while lock.holder(project, "production") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return run


def test_two_concurrent_deploys_one_waits_out_with_exit_3(project):
    first = slow_deploy(project, 8)
    second = subprocess.run(
        [FPOPS, "deploy", "production", "2.0.1", "--quiet"],
        env={**os.environ, PROJECT_DIR_ENV: str(project)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert second.returncode == ExitCode.REFUSED
    assert "deploy 2.0.0 to production by" in second.stderr
    assert first.wait(timeout=60) == ExitCode.OK
    results = [e["result"] for e in audit.read(project, "production")]
    assert sorted(results) == ["ok", "refused"]


def test_sigint_stops_the_run_releases_the_lock_and_says_interrupted(project):
    run = slow_deploy(project, 60)
    time.sleep(3)  # into the pause task
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=60) == ExitCode.INTERRUPTED
    assert lock.holder(project, "production") is None
    entry = last_audit(project)
    assert entry["result"] == "interrupted" and entry["exit_code"] == 130


def test_lock_status_and_release(project, capsys):
    assert cli.main(["lock", "status", "production"]) == ExitCode.OK
    assert "not locked" in capsys.readouterr().out
    mine, _ = lock.acquire(project, "production", "deploy 3.0.0 to production")
    assert cli.main(["lock", "status", "production"]) == ExitCode.OK
    assert "held - deploy 3.0.0 to production" in capsys.readouterr().out
    # A live holder's lock goes only with --force, and the audit log says who removed it.
    assert cli.main(["lock", "release", "production"]) == ExitCode.REFUSED
    assert cli.main(["lock", "release", "production", "--force"]) == ExitCode.OK
    assert lock.holder(project, "production") is None
    assert "forced while live" in last_audit(project)["detail"]
    assert mine.pid == os.getpid()


def test_audit_shows_entries_and_json_lines(project, capsys):
    playbook(project, "drill", "true")
    assert cli.main(["drill", "production", "--quiet"]) == ExitCode.OK
    playbook(project, "drill", "false", marker=False)
    assert cli.main(["drill", "production", "--quiet"]) == ExitCode.FAILED
    capsys.readouterr()
    assert cli.main(["audit", "production", "--json"]) == ExitCode.OK
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["result"] for e in lines] == ["ok", "failed"]
    assert "Assertion failed" in lines[1]["detail"]
    assert cli.main(["audit", "production"]) == ExitCode.OK
    table = capsys.readouterr().out
    assert "production: last 2 commands" in table and "failed" in table


def test_audit_redacts_secret_looking_arguments():
    assert audit.redact(
        ["deploy", "--api-token", "abc", "--key=xyz", "db_password=p", "2.0.0"]
    ) == [
        "deploy",
        "--api-token",
        "<redacted>",
        "--key=<redacted>",
        "db_password=<redacted>",
        "2.0.0",
    ]


PLANTED = "PlantedSecret-7f3a9c2e41"


def encrypted_vault(project: Path, text: str, password_file: Path) -> None:
    """The production inventory's group_vars/all/vault.yml holding `text`, vault-encrypted."""
    vault = project / "inventories" / "production" / "group_vars" / "all" / "vault.yml"
    vault.parent.mkdir(parents=True)
    vault.write_text(text)
    subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-vault"),
            "encrypt",
            "--vault-password-file",
            str(password_file),
            str(vault),
        ],
        check=True,
        capture_output=True,
    )


def test_a_vault_secret_never_reaches_output_artifacts_or_the_audit_log(project, capsys):
    """A known secret in the environment's vault, used by a no_log task and by a failing one."""
    password = project / ".fpops" / "production" / "vault-password"
    password.parent.mkdir(parents=True)
    password.write_text("test-vault-password\n")
    encrypted_vault(project, f"vault_api_token: {PLANTED}\n", password)
    (project / "playbooks" / "site.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: use the secret\n"
        "      ansible.builtin.command: echo {{ vault_api_token }}\n"
        "      changed_when: false\n"
        "      no_log: true\n"
        "    - name: fail with it\n"
        "      ansible.builtin.fail:\n"
        "        msg: 'token {{ vault_api_token }}'\n"
        "      no_log: true\n"
    )
    for mode in ([], ["--json"], ["--quiet"]):
        assert cli.main(["provision", "production", *mode]) == ExitCode.FAILED
        captured = capsys.readouterr()
        assert PLANTED not in captured.out + captured.err
    # Nothing under .fpops (artifacts, runner dir, audit log, lock) holds it either.
    leaks = [
        str(path)
        for path in (project / ".fpops").rglob("*")
        if path.is_file() and PLANTED in path.read_text(errors="replace")
    ]
    assert leaks == []
    assert len(audit.read(project, "production")) == 3


def test_vault_password_from_the_environment_never_lands_in_a_file(project, monkeypatch):
    password = "env-only-vault-password-93b1"
    plain = project / "vault-password.tmp"
    plain.write_text(password + "\n")
    encrypted_vault(project, "vault_answer: forty-two-secret\n", plain)
    plain.unlink()
    shutil.copytree(ROOT / "scripts", project / "scripts", dirs_exist_ok=True)
    ran = playbook(project, "site", "vault_answer == 'forty-two-secret'")
    monkeypatch.setenv("FPOPS_VAULT_PASSWORD", password)
    assert cli.main(["provision", "production", "--quiet"]) == ExitCode.OK
    assert ran.exists()
    stored = [
        str(p)
        for p in (project / ".fpops").rglob("*")
        if p.is_file() and password in p.read_text(errors="replace")
    ]
    assert stored == []


def test_vault_password_is_asked_for_only_when_no_source_exists(project, monkeypatch):
    from fpops import secrets

    vault = project / "inventories" / "production" / "group_vars" / "all" / "vault.yml"
    vault.parent.mkdir(parents=True)
    vault.write_text("$ANSIBLE_VAULT;1.1;AES256\n")
    # Empty counts as unset; monkeypatch puts the variable back as it was after the test.
    monkeypatch.setenv("FPOPS_VAULT_PASSWORD", "")
    monkeypatch.delenv("FPOPS_VAULT_PASSWORD_FILE", raising=False)
    monkeypatch.setattr("fpops.secrets.sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("fpops.secrets.getpass.getpass", lambda prompt: "typed-password")
    assert secrets.prompt_for_password(project, "production")
    assert os.environ["FPOPS_VAULT_PASSWORD"] == "typed-password"
    # With a source now, no second question.
    assert not secrets.prompt_for_password(project, "production")
