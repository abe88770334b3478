"""The pki role's internal CA on the controller, run by ansible-playbook on a local inventory:
the CA is made once per run however many plays install it, a second run changes nothing, and a
vault passphrase that does not open the existing CA key stops the run naming it, the key kept.
The renewal entry point (renew, as playbooks/renew_certificates.yml runs it) on the same local
inventory: a certificate issued for longer than pki_cert_valid_days is replaced and its reload
command runs; then nothing is due and nothing changes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(
    tmp_path: Path, passphrase: str, tasks: list[dict] | None = None, *extra: str
) -> subprocess.CompletedProcess[str]:
    """Two plays (two hosts) that each install the internal CA, as site.yml's plays do (or run
    TASKS on db1)."""
    plays = [
        {
            "hosts": host,
            "gather_facts": False,
            "tasks": [{"ansible.builtin.include_role": {"name": "fpops.platform.pki"}}],
        }
        for host in ("db1", "lb1")
    ]
    if tasks is not None:
        plays = [{"hosts": "db1", "gather_facts": False, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(plays))
    hosts = {
        name: {
            "ansible_connection": "local",
            # This Python (it has the cryptography library), not whatever python3 on PATH is.
            "ansible_python_interpreter": sys.executable,
            "pki_host_dir": str(tmp_path / name),
            "pki_ca_dir": str(tmp_path / "ca"),
            "vault_pki_ca_passphrase": passphrase,
            # No systemd here: the expiry timer is tested in the data scenario.
            "pki_expiry_metric": False,
            # python3-cryptography is this venv's; the role would apt-install it on a host.
            "__pki_python_crypto": {"skipped": True},
        }
        for name in ("db1", "lb1")
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return subprocess.run(
        ["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"), *extra],
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


def days_valid(cert: Path) -> float:
    """Days from now until CERT's notAfter."""
    end = (
        subprocess.run(
            ["openssl", "x509", "-noout", "-enddate", "-in", str(cert)],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.split("=", 1)[1]
        .strip()
    )
    epoch = subprocess.run(
        ["date", "-u", "-d", end, "+%s"], capture_output=True, text=True, check=True
    ).stdout
    return (int(epoch) - time.time()) / 86400


def test_a_certificate_issued_too_long_is_renewed_and_its_service_reloaded(tmp_path: Path) -> None:
    reloaded = tmp_path / "reloaded"
    issue = [
        {
            "ansible.builtin.include_role": {
                "name": "fpops.platform.pki",
                "tasks_from": "host_cert",
            },
            "vars": {
                "pki_cert_name": "svc",
                "pki_cert_subject_alt_names": ["DNS:db1"],
                "pki_cert_reload": [["touch", str(reloaded)]],
            },
        }
    ]
    renew = [
        {"ansible.builtin.include_role": {"name": "fpops.platform.pki", "tasks_from": "renew"}}
    ]
    cert = tmp_path / "db1" / "svc.crt"
    # Issued as before this change: 825 days.
    old = run(tmp_path, "a" * 24, issue, "-e", "pki_cert_valid_days=825")
    assert old.returncode == 0, old.stdout[-3000:]
    assert 824 < days_valid(cert) < 826
    manifest = json.loads((tmp_path / "db1" / "renew" / "svc.json").read_text())
    assert manifest["reload"] == [["touch", str(reloaded)]]
    assert oct((tmp_path / "db1" / "renew" / "svc.json").stat().st_mode & 0o777) == "0o600"
    assert not reloaded.exists()

    renewed = run(tmp_path, "a" * 24, renew)
    assert renewed.returncode == 0, renewed.stdout[-3000:]
    assert 179 < days_valid(cert) < 181
    assert reloaded.exists()

    reloaded.unlink()
    quiet = run(tmp_path, "a" * 24, renew)
    assert quiet.returncode == 0, quiet.stdout[-3000:]
    assert "changed=0" in quiet.stdout and "changed=1" not in quiet.stdout
    assert not reloaded.exists()
