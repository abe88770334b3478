"""inventories/example is a production-shaped inventory a team copies: it parses, and with a vault
from `fpops secrets init` it passes the site preflight (playbooks/preflight.yml, read-only, run
here over a local connection: no host is contacted). Broken the way a new inventory often is, the
preflight refuses it naming the problem."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fpops import secrets

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {"lb", "app", "db_primary", "db_replica", "cache", "monitoring", "backup"}


@pytest.fixture
def environment(tmp_path) -> Path:
    """A copy of inventories/example with its vault made by `fpops secrets init`."""
    inventory = tmp_path / "inventories" / "example"
    shutil.copytree(ROOT / "inventories" / "example", inventory)
    secrets.init(
        tmp_path, "example", inventory / "group_vars/all/vault.yml", tmp_path / "vault-password"
    )
    return inventory


def ansible_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(ROOT / "collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def preflight(inventory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "fpops.platform.preflight",
         "--vault-password-file", str(inventory.parents[1] / "vault-password"),
         "-e", "ansible_connection=local", "-e", f"ansible_python_interpreter={sys.executable}"],
        capture_output=True, text=True, env=ansible_env(), cwd=inventory.parents[1], check=False,
    )  # fmt: skip


def test_the_example_inventory_has_every_group():
    listed = subprocess.run(
        ["ansible-inventory", "-i", str(ROOT / "inventories/example"), "--list"],
        capture_output=True, text=True, env=ansible_env(), check=True,
    )  # fmt: skip
    groups = json.loads(listed.stdout)
    assert set(groups) >= GROUPS
    assert len(groups["app"]["hosts"]) == 2


def test_the_example_inventory_passes_the_preflight(environment):
    result = preflight(environment)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "failed=0" in result.stdout


def test_a_replica_without_a_primary_is_refused_naming_the_group(environment):
    hosts = environment / "hosts.yml"
    inventory = yaml.safe_load(hosts.read_text())
    del inventory["all"]["children"]["db_primary"]
    hosts.write_text(yaml.safe_dump(inventory))
    result = preflight(environment)
    assert result.returncode != 0
    assert "PostgreSQL needs exactly one host in db_primary" in result.stdout
