"""Shared by the runner tests: a project on localhost with the real lock playbooks and role."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fpops.project import PROJECT_DIR_ENV

ROOT = Path(__file__).resolve().parents[1]
FPOPS = str(Path(sys.executable).parent / "fpops")


def _interruptible() -> None:
    # A shell starts background jobs with SIGINT ignored, and children inherit that: the tests
    # that interrupt fpops must not depend on how the test run itself was started.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_fpops(project: Path, *args: str) -> subprocess.Popen[str]:
    """`fpops ARGS` on PROJECT, running in the background, Ctrl-C-able."""
    return subprocess.Popen(
        [FPOPS, *args],
        env={**os.environ, PROJECT_DIR_ENV: str(project)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interruptible,
    )


def make_project(root: Path, host_lock_dir: Path) -> Path:
    """A project on localhost with the real lock playbooks and role; the environment lock's
    directory (the "target host") is HOST_LOCK_DIR, which two projects can share."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "ansible.cfg").write_text(
        f"[defaults]\nroles_path = {ROOT / 'roles'}\ncollections_path = {ROOT / 'collections'}\n"
    )
    inventory = root / "inventories" / "production"
    inventory.mkdir(parents=True)
    (inventory / "hosts.ini").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
        f" env_lock_dir={host_lock_dir} env_lock_become=false\n"
    )
    shutil.copytree(ROOT / "playbooks" / "env_lock", root / "playbooks" / "env_lock")
    shutil.copy(ROOT / "playbooks" / "lock.yml", root / "playbooks")
    return root


@pytest.fixture
def project(tmp_path, monkeypatch):
    make_project(tmp_path, tmp_path / "target" / "operation.lock")
    monkeypatch.setenv(PROJECT_DIR_ENV, str(tmp_path))
    return tmp_path
