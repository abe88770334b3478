"""What the sandbox benchmarks share: paths, the vault's secrets, host addresses, playbook runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from scenario_env import sh

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "inventories" / "sandbox"
VAULT_PASSWORD = ROOT / ".fpops" / "sandbox" / "vault-password"


def require_sandbox() -> None:
    if not (INVENTORY / "hosts.yml").exists() or not VAULT_PASSWORD.exists():
        sys.exit("no sandbox: run `make demo` first")


def secrets() -> dict[str, str]:
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-vault")),
            "view",
            "--vault-password-file",
            str(VAULT_PASSWORD),
            str(INVENTORY / "group_vars" / "all" / "vault.yml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return yaml.safe_load(out)


def addresses() -> dict[str, str]:
    groups = yaml.safe_load((INVENTORY / "hosts.yml").read_text())["all"]["children"]
    return {
        name: values["ansible_host"]
        for group in groups.values()
        for name, values in group["hosts"].items()
    }


def playbook(name: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run playbooks/NAME on the sandbox; returns the run and its wall seconds."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_VAULT_PASSWORD_FILE": str(VAULT_PASSWORD),
        "ANSIBLE_NOCOLOR": "1",
    }
    start = time.monotonic()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), f"playbooks/{name}", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result, time.monotonic() - start


def on_host(host: str, command: str, *, check: bool = True) -> str:
    """A shell command as root in sandbox container HOST (db1, backup1, ...); its stdout."""
    return sh(f"fpops-sandbox-{host}", command, check=check)


def write_result(name: str, figures: dict[str, object]) -> None:
    import json

    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
