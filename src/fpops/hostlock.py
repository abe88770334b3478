"""The environment lock on a target host (role env_lock), as the runner sees it.

The controller lock (fpops.lock) stops two commands on one machine; this one, a directory on the
environment's lock host, stops two operators on different machines. The playbooks that change the
environment take it once their checks pass and give it back in their last play; fpops passes who
and what it is, and gives it back itself after a run that failed or was interrupted.
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

from fpops.audit import operator
from fpops.exitcodes import ExitCode
from fpops.project import ProjectError
from fpops.provision import playbook_request
from fpops.runner import ExtraVars, RunRequest, RunResult, execute_reading

# Playbooks that take the host lock (playbooks/env_lock/take.yml or role app's lock.yml).
LOCKING_PLAYBOOKS = frozenset(
    {"site", "deploy", "rollback", "backup", "restore", "restore_redis", "failover", "rejoin"}
)
# The task of role env_lock that fails when another run holds the lock.
REFUSAL_TASK = "Refuse to run while another run holds the environment lock"
SHOW_TASK = "Show the environment lock"


def takes_lock(request: RunRequest) -> bool:
    return request.playbook.stem in LOCKING_PLAYBOOKS


def lock_vars(run_id: str, command: str, stale_holder: str = "") -> ExtraVars:
    """What the lock records about this run (role env_lock's variables)."""
    return {
        "env_lock_run_id": run_id,
        "env_lock_command": command,
        "env_lock_user": operator(),
        "env_lock_machine": socket.gethostname(),
        "env_lock_pid": os.getpid(),
        "env_lock_stale_holder": stale_holder,
    }


def refusal(result: RunResult) -> str | None:
    """The lock refusal's message when the run stopped on a held lock."""
    for failure in result.state.failures:
        if failure.task == REFUSAL_TASK:
            return failure.msg
    return None


def _lock_playbook(
    project_dir: Path, environment: str, label: str, extravars: ExtraVars
) -> tuple[RunResult, dict[str, Any]]:
    request = playbook_request(project_dir, environment, "lock", label)
    request = replace(request, extravars=extravars)
    return execute_reading(request, SHOW_TASK)


def release_run(project_dir: Path, environment: str, run_id: str) -> bool:
    """Give back the host lock run RUN_ID took, if it still holds it; False when that failed."""
    try:
        result, _ = _lock_playbook(
            project_dir,
            environment,
            f"give back the lock of run {run_id}",
            {"env_lock_action": "release", "env_lock_run_id": run_id},
        )
    except ProjectError:  # no playbooks/lock.yml: nothing can have taken the lock either
        return False
    return result.exit_code == ExitCode.OK


def show(project_dir: Path, environment: str) -> tuple[dict[str, Any], ExitCode]:
    """The host lock: {state: free|held, host, dir, owner, age, stale}, and the run's exit code."""
    result, shown = _lock_playbook(
        project_dir, environment, f"lock status of {environment}", {"env_lock_action": "show"}
    )
    return shown, result.exit_code


def force_release(project_dir: Path, environment: str) -> ExitCode:
    result, _ = _lock_playbook(
        project_dir,
        environment,
        f"release the lock of {environment}",
        {"env_lock_action": "release", "env_lock_force": True},
    )
    return result.exit_code


def describe(shown: dict[str, Any]) -> str:
    """One line: who holds the host lock, where, since when."""
    owner = shown.get("owner") or {}
    return (
        f"{owner.get('command', 'an unknown run')} by {owner.get('user', '?')} on "
        f"{owner.get('machine', '?')} (pid {owner.get('pid', '?')}) since "
        f"{owner.get('since', '?')}, {shown.get('age', '?')} s ago "
        f"[{shown.get('dir', '?')} on {shown.get('host', '?')}]"
    )
