"""Fixtures every scenario's tests share; a scenario's conftest imports the ones it uses."""

from __future__ import annotations

import pytest
import testinfra
from helpers import inventory_groups


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
