"""Helpers for the foundation scenario: hosts by name, SSH from the runner, playbook runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from helpers import ephemeral_dir, project_dir, recap, run_playbook, scenario_dir, ssh

__all__ = ["ephemeral_dir", "project_dir", "recap", "run_playbook", "scenario_dir", "ssh"]

# Fixed in molecule.yml: the firewall rules are about addresses, so the tests name them.
ADDRESSES = {"fnd-lb": "172.30.1.10", "fnd-app": "172.30.1.11", "fnd-db": "172.30.1.12"}
PROBE_PORT = 8080


@pytest.fixture(scope="session")
def hosts():
    return {name: testinfra.get_host(f"docker://{name}") for name in ADDRESSES}
