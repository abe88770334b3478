"""What the benchmarks on a converged Molecule scenario share: its state directory, its secrets,
and commands in its containers."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
VAULT_CLIENT = ROOT / "molecule" / "shared" / "vault-password"


def sh(container: str, command: str, *, check: bool = True) -> str:
    """A bash command in a scenario container; its stdout. Exits naming it when it fails."""
    done = subprocess.run(
        ["docker", "exec", container, "bash", "-c", command],
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        sys.exit(f"{container}: {command[:80]}: {done.stderr.strip()[-400:]}")
    return done.stdout.strip()


def scenario_dir(scenario: str, container: str) -> Path:
    """The scenario's ephemeral directory (inventory, vault) of the running containers."""
    up = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", container],
        capture_output=True,
        text=True,
        check=False,
    )
    if up.stdout.strip() != "true":
        sys.exit(f"the {scenario} scenario is not up: run `molecule converge -s {scenario}` first")
    pattern = os.path.expanduser(f"~/.ansible/tmp/molecule.*.{scenario}")
    dirs = [Path(d) for d in glob.glob(pattern) if (Path(d) / "vault.yml").exists()]
    if not dirs:
        sys.exit(f"no {scenario} state under ~/.ansible/tmp: run `molecule converge -s {scenario}`")
    return max(dirs, key=lambda d: d.stat().st_mtime)


def secrets(state: Path) -> dict[str, str]:
    """The scenario's generated vault, decrypted with the shared vault password client."""
    env = {**os.environ, "MOLECULE_EPHEMERAL_DIRECTORY": str(state)}
    vault = str(Path(sys.executable).with_name("ansible-vault"))
    out = subprocess.run(
        [vault, "view", "--vault-password-file", str(VAULT_CLIENT), str(state / "vault.yml")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return yaml.safe_load(out)
