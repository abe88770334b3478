"""sshd is hardened: clean ssh-audit, key-only, no root, and the admin still gets in."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ADDRESSES, ssh

NAMES = sorted(ADDRESSES)


def ssh_audit() -> str:
    beside_python = Path(sys.executable).with_name("ssh-audit")
    return (
        str(beside_python) if beside_python.exists() else shutil.which("ssh-audit") or "ssh-audit"
    )


@pytest.mark.parametrize("name", NAMES)
def test_ssh_audit_reports_no_failures_or_warnings(name):
    result = subprocess.run(
        [ssh_audit(), "-n", "-p", "22", ADDRESSES[name]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    problems = [line for line in result.stdout.splitlines() if "(fail)" in line or "(warn)" in line]
    assert problems == [], "\n".join(problems)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_admin_logs_in_with_key_and_has_sudo(name):
    result = ssh(ADDRESSES[name], "ops", command="sudo -n true && id -un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ops"


@pytest.mark.parametrize("name", NAMES)
def test_password_login_refused(name):
    result = ssh(
        ADDRESSES[name],
        "ops",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
    )
    assert result.returncode == 255
    # The server offers nothing but public keys.
    assert "Permission denied (publickey)" in result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_root_login_refused_even_with_an_authorised_key(hosts, name):
    # prepare.yml gave root the scenario key, so only PermitRootLogin stands in the way.
    assert hosts[name].file("/root/.ssh/authorized_keys").exists
    result = ssh(ADDRESSES[name], "root")
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_effective_sshd_settings(hosts):
    for host in hosts.values():
        effective = host.check_output("sshd -T")
        assert "permitrootlogin no" in effective
        assert "passwordauthentication no" in effective
        assert "kbdinteractiveauthentication no" in effective
