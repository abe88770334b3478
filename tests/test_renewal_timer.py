"""The controller's renewal timer (examples/systemd): systemd accepts the units, and the service
runs `fpops renew-certs ENV`, which runs playbooks/renew_certificates.yml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from fpops import cli
from fpops.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "examples" / "systemd"


def test_systemd_accepts_the_timer_and_its_service(tmp_path):
    home = tmp_path / "home"
    fpops = home / "fpops" / ".venv" / "bin" / "fpops"
    fpops.parent.mkdir(parents=True)
    fpops.symlink_to(Path(sys.executable).with_name("fpops"))
    for kind in ("service", "timer"):
        shutil.copy(
            UNITS / f"fpops-renew-certs@.{kind}", tmp_path / f"fpops-renew-certs@prod.{kind}"
        )
    units = [str(tmp_path / f"fpops-renew-certs@prod.{kind}") for kind in ("timer", "service")]
    out = subprocess.run(
        ["systemd-analyze", "verify", *units],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_service_runs_renew_certs_of_its_instance_quietly():
    unit = (UNITS / "fpops-renew-certs@.service").read_text()
    assert "ExecStart=%h/fpops/.venv/bin/fpops renew-certs %i --quiet" in unit.splitlines()


def test_renew_certs_runs_the_renewal_playbook(tmp_path, monkeypatch, capsys):
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    inventory = tmp_path / "inventories" / "production"
    inventory.mkdir(parents=True)
    (inventory / "hosts.ini").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    (tmp_path / "playbooks").mkdir()
    ran = tmp_path / "renewed"
    (tmp_path / "playbooks" / "renew_certificates.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.file: {{path: {ran}, state: touch}}\n"
    )
    monkeypatch.delenv("FPOPS_PROJECT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["renew-certs", "production", "--quiet"]) == ExitCode.OK
    assert ran.exists()
    assert capsys.readouterr().out.startswith("renew certificates of production: OK")
