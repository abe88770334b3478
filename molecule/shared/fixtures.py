"""Fixtures every scenario's tests share; a scenario's conftest imports the ones it uses."""

from __future__ import annotations

import subprocess

import pytest
import testinfra
import yaml
from helpers import ephemeral_dir, inventory_groups, vault_password_client


@pytest.fixture(scope="session")
def groups() -> dict[str, list[str]]:
    """The scenario inventory's groups and their hosts."""
    return inventory_groups()


@pytest.fixture(scope="session")
def host():
    """host(name) -> a testinfra host for a scenario container."""
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = testinfra.get_host(f"docker://{name}")
        return cache[name]

    return get


@pytest.fixture(scope="session")
def vault() -> dict[str, str]:
    """The scenario's generated secrets (decrypted with its vault password client)."""
    out = subprocess.run(
        [
            "ansible-vault",
            "view",
            "--vault-password-file",
            str(vault_password_client()),
            str(ephemeral_dir() / "vault.yml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return yaml.safe_load(out)
