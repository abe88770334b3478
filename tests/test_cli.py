"""The fpops command line: parsing, exit codes, environment lookup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fpops import cli
from fpops.exitcodes import ExitCode
from fpops.project import PROJECT_DIR_ENV, ProjectError, find_project_dir, known_environments


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    for env in ("sandbox", "production"):
        (tmp_path / "inventories" / env).mkdir(parents=True)
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "site.yml").write_text("- hosts: all\n  tasks: []\n")
    monkeypatch.delenv(PROJECT_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path / "inventories")
    return tmp_path


def test_exit_codes():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 130]


def test_help_works(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "sandbox" in out
    assert "provision" in out


def test_help_of_provision(capsys):
    assert cli.main(["provision", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--limit" in out
    assert "--json" in out


def test_console_script_help():
    fpops = Path(sys.executable).parent / "fpops"
    proc = subprocess.run([str(fpops), "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "usage: fpops" in proc.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["--bogus"],
        [],
        ["sandbox"],
        ["sandbox", "sideways"],
        ["provision"],
        ["provision", "sandbox", "--json", "--quiet"],
    ],
)
def test_bad_usage_exits_4(argv, capsys):
    assert cli.main(argv) == ExitCode.BAD_INPUT
    assert "error:" in capsys.readouterr().err


def test_unknown_environment_exits_4_and_names_it(project, capsys):
    assert cli.main(["provision", "staging"]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "staging" in err
    assert "production, sandbox" in err


def test_sandbox_without_hosts_yml_says_to_run_up(project, capsys):
    assert cli.main(["provision", "sandbox"]) == ExitCode.BAD_INPUT
    assert "fpops sandbox up" in capsys.readouterr().err


def test_no_project_exits_4(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(PROJECT_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["provision", "sandbox"]) == ExitCode.BAD_INPUT
    assert "ansible.cfg" in capsys.readouterr().err


def test_project_dir_found_by_walking_up(project):
    assert find_project_dir(project / "inventories" / "sandbox", environ={}) == project
    assert known_environments(project) == ["production", "sandbox"]


def test_project_dir_from_environment(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert find_project_dir(elsewhere, environ={PROJECT_DIR_ENV: str(project)}) == project
    with pytest.raises(ProjectError):
        find_project_dir(project, environ={PROJECT_DIR_ENV: str(elsewhere)})


def local_inventory(project):
    """The production inventory of the test project: this machine, with this Python."""
    (project / "inventories" / "production" / "hosts.ini").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )


def test_provision_runs_site_yml_quietly(project, capsys):
    local_inventory(project)
    assert cli.main(["provision", "production", "--quiet"]) == ExitCode.OK
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith("provision production: OK (exit 0)")


def test_provision_only_runs_the_tiers_named_and_the_untagged_checks(project, capsys):
    local_inventory(project)
    marks = project / "ran"
    plays = "".join(
        f"- hosts: all\n  gather_facts: false\n  tags: [{tag}]\n  tasks:\n"
        f"    - ansible.builtin.shell: echo {tag} >> {marks}\n"
        for tag in ("always", "base", "database", "cache")
    )
    (project / "playbooks" / "site.yml").write_text(plays)
    argv = ["provision", "production", "--only", "cache", "--only", "database,cache", "--quiet"]
    assert cli.main(argv) == ExitCode.OK
    assert marks.read_text().split() == ["always", "database", "cache"]
    assert capsys.readouterr().out.startswith("provision production (cache, database): OK")


def test_provision_only_refuses_a_tier_that_does_not_exist(project, capsys):
    local_inventory(project)
    assert cli.main(["provision", "production", "--only", "db,cache"]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "no tier named db" in err
    assert "database" in err


def test_deploy_passes_the_version_to_a_real_run(project, capsys):
    local_inventory(project)
    (project / "playbooks" / "deploy.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.assert:\n"
        "        that: app_version == '2.0.0' and app_serial | int == 2 and app_skip_migrations\n"
    )
    argv = ["deploy", "production", "2.0.0", "--serial", "2", "--skip-migrations", "--quiet"]
    assert cli.main(argv) == ExitCode.OK
    assert capsys.readouterr().out.startswith("deploy 2.0.0 to production: OK (exit 0)")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy", "production", " "], "release version"),
        (["deploy", "production", "2.0.0", "--serial", "0"], "--serial must be at least 1"),
    ],
)
def test_deploy_refuses_bad_input(project, capsys, argv, message):
    (project / "playbooks" / "deploy.yml").write_text("- hosts: all\n  tasks: []\n")
    assert cli.main(argv) == ExitCode.BAD_INPUT
    assert message in capsys.readouterr().err


def test_rollback_names_the_target_release(project, capsys):
    local_inventory(project)
    (project / "playbooks" / "rollback.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.assert:\n"
        "        that: app_rollback_to == '1.0.0'\n"
    )
    # In production a rollback is confirmed: with no terminal to ask, only --yes runs it.
    assert cli.main(["rollback", "production", "--to", "1.0.0", "--quiet"]) == ExitCode.REFUSED
    assert "pass --yes" in capsys.readouterr().err
    argv = ["rollback", "production", "--to", "1.0.0", "--yes", "--quiet"]
    assert cli.main(argv) == ExitCode.OK
    assert capsys.readouterr().out.startswith("rollback production to 1.0.0: OK (exit 0)")


def test_rollback_asks_for_the_downgrade_only_when_told(project):
    local_inventory(project)
    (project / "playbooks" / "rollback.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.assert:\n"
        "        that: app_rollback_migrations | default(false) | bool\n"
    )
    argv = ["rollback", "production", "--yes", "--quiet"]
    assert cli.main([*argv, "--downgrade-migrations"]) == ExitCode.OK
    assert cli.main(argv) == ExitCode.FAILED
