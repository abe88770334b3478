"""Bad input stops the run before any change (check mode of these roles: the sandbox, e2e)."""

import json
import shutil

import pytest
import yaml
from conftest import ephemeral_dir, project_dir, recap, run_playbook

SITE = project_dir() / "playbooks" / "site.yml"
EVERY_PASSWORD_BUT_APP_RW = {
    "postgresql_passwords": {
        role: "x" * 24 for role in ("migrator", "app_ro", "replicator", "backup", "monitor")
    }
}


def assert_refused_without_changes(out, message: str):
    assert out.returncode != 0
    assert message in out.stdout, out.stdout[-3000:]
    counts = recap(out.stdout)
    assert counts, out.stdout[-2000:]
    assert all(host["changed"] == 0 for host in counts.values())


def test_missing_vault_password_fails_before_any_change():
    out = run_playbook(SITE, "-e", json.dumps(EVERY_PASSWORD_BUT_APP_RW))
    assert_refused_without_changes(
        out, "postgresql_passwords.app_rw (vault_postgresql_app_rw_password)"
    )


def test_missing_redis_password_fails_before_any_change():
    out = run_playbook(SITE, "-e", json.dumps({"redis_passwords": {"admin": "y" * 24}}))
    assert out.returncode != 0
    assert "vault_redis_app_password" in out.stdout, out.stdout[-3000:]
    assert all(host["changed"] == 0 for host in recap(out.stdout).values())


@pytest.fixture
def inventory_without_primary(tmp_path):
    """The scenario inventory with db_primary emptied: db2 is a replica of nothing."""
    source = ephemeral_dir() / "inventory"
    target = tmp_path / "inventory"
    shutil.copytree(source, target, symlinks=True)
    path = target / "ansible_inventory.yml"
    inventory = yaml.safe_load(path.read_text())
    inventory["db_primary"]["hosts"] = {}
    path.write_text(yaml.safe_dump(inventory))
    return target


def test_replica_without_primary_fails_before_any_change(inventory_without_primary):
    out = run_playbook(SITE, inventory=inventory_without_primary)
    assert_refused_without_changes(out, "PostgreSQL needs exactly one host in db_primary")
