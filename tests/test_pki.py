"""The pki role's internal CA on the controller, run by ansible-playbook on a local inventory:
the CA is made once per run however many plays install it, a second run changes nothing, and a
vault passphrase that does not open the existing CA key stops the run naming it, the key kept."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(tmp_path: Path, passphrase: str) -> subprocess.CompletedProcess[str]:
    """Two plays (two hosts) that each install the internal CA, as site.yml's plays do."""
    plays = [
        {
            "hosts": host,
            "gather_facts": False,
            "tasks": [{"ansible.builtin.include_role": {"name": "fpops.platform.pki"}}],
        }
        for host in ("db1", "lb1")
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(plays))
    hosts = {
        name: {
            "ansible_connection": "local",
            # This Python (it has the cryptography library), not whatever python3 on PATH is.
            "ansible_python_interpreter": sys.executable,
            "pki_host_dir": str(tmp_path / name),
            "pki_ca_dir": str(tmp_path / "ca"),
            "vault_pki_ca_passphrase": passphrase,
        }
        for name in ("db1", "lb1")
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return subprocess.run(
        ["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "ANSIBLE_ROLES_PATH": str(ROOT / "roles"), "ANSIBLE_NOCOLOR": "1"},
    )


def test_the_ca_is_made_once_per_run_and_installed_on_every_host(tmp_path: Path) -> None:
    first = run(tmp_path, "a" * 24)
    assert first.returncode == 0, first.stdout[-3000:]
    # The second play reuses what the first read: the CA's tasks run once.
    assert first.stdout.count("TASK [fpops.platform.pki : Create the CA key]") == 1
    ca = (tmp_path / "ca" / "ca.crt").read_text().strip()
    for host in ("db1", "lb1"):
        assert (tmp_path / host / "ca.crt").read_text().strip() == ca
    second = run(tmp_path, "a" * 24)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "changed=0" in second.stdout and "changed=1" not in second.stdout


def test_a_passphrase_that_does_not_open_the_ca_key_stops_the_run(tmp_path: Path) -> None:
    assert run(tmp_path, "a" * 24).returncode == 0
    key = tmp_path / "ca" / "ca.key"
    before = hashlib.sha256(key.read_bytes()).hexdigest()
    refused = run(tmp_path, "b" * 24)
    assert refused.returncode != 0
    assert "ca.key does not open with vault_pki_ca_passphrase" in refused.stdout
    assert hashlib.sha256(key.read_bytes()).hexdigest() == before
