"""The playbook commands: `fpops provision ENV`, `deploy ENV VERSION`, `rollback ENV`."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from rich.console import Console

from fpops.exitcodes import ExitCode
from fpops.project import ProjectError, inventory_dir
from fpops.runner import ExtraVars, RunRequest, RunResult, execute
from fpops.view import OutputMode, make_view


def run_playbook(
    request: RunRequest,
    mode: OutputMode = OutputMode.HUMAN,
    console: Console | None = None,
    out: TextIO | None = None,
    cancel: threading.Event | None = None,
) -> ExitCode:
    """Run one playbook with the chosen output; return the exit code."""
    return run_playbook_result(request, mode, console, out, cancel).exit_code


def run_playbook_result(
    request: RunRequest,
    mode: OutputMode = OutputMode.HUMAN,
    console: Console | None = None,
    out: TextIO | None = None,
    cancel: threading.Event | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Run one playbook with the chosen output; return how it ended."""
    console = console or Console()
    view = make_view(mode, request.label, console, out or sys.stdout)
    view.start()
    try:
        result = execute(request, view.update, cancel=cancel, run_id=run_id)
    except BaseException:
        view.abort()
        raise
    view.finish(result)
    return result


# The tiers site.yml tags its plays with (preflight and the lock are tagged `always`).
TIERS = ("base", "database", "cache", "app", "lb", "monitoring", "firewall")


def provision_request(
    project_dir: Path,
    environment: str,
    limit: str | None = None,
    check: bool = False,
    diff: bool = False,
    verbosity: int = 0,
    only: Sequence[str] = (),
) -> RunRequest:
    """The RunRequest for `fpops provision [--only TIER,...]`, or ProjectError for bad input."""
    tiers = tuple(dict.fromkeys(t.strip() for part in only for t in part.split(",") if t.strip()))
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        raise ProjectError(
            f"--only: no tier named {', '.join(unknown)} (the tiers: {', '.join(TIERS)})"
        )
    label = f"provision {environment}" + (f" ({', '.join(tiers)})" if tiers else "")
    request = playbook_request(
        project_dir, environment, "site", label, limit, check, diff, verbosity
    )
    return replace(request, tags=tiers) if tiers else request


def renew_certs_request(
    project_dir: Path, environment: str, limit: str | None = None, verbosity: int = 0
) -> RunRequest:
    """The RunRequest for `fpops renew-certs ENV`, or ProjectError for bad input."""
    return playbook_request(
        project_dir,
        environment,
        "renew_certificates",
        f"renew certificates of {environment}",
        limit,
        verbosity=verbosity,
    )


def deploy_request(
    project_dir: Path,
    environment: str,
    version: str,
    serial: int | None = None,
    skip_migrations: bool = False,
    limit: str | None = None,
    verbosity: int = 0,
) -> RunRequest:
    """The RunRequest for `fpops deploy ENV VERSION`, or ProjectError for bad input."""
    if not version.strip():
        raise ProjectError("deploy needs the release version to deploy")
    extravars: ExtraVars = {"app_version": version}
    if serial is not None:
        if serial < 1:
            raise ProjectError(f"--serial must be at least 1, not {serial}")
        extravars["app_serial"] = serial
    if skip_migrations:
        extravars["app_skip_migrations"] = True
    request = playbook_request(
        project_dir,
        environment,
        "deploy",
        f"deploy {version} to {environment}",
        limit,
        verbosity=verbosity,
    )
    return replace(request, extravars=extravars)


def rollback_request(
    project_dir: Path,
    environment: str,
    to: str | None = None,
    limit: str | None = None,
    verbosity: int = 0,
    downgrade_migrations: bool = False,
) -> RunRequest:
    """The RunRequest for `fpops rollback ENV [--to VERSION]`, or ProjectError for bad input."""
    target = (to or "").strip()
    label = f"rollback {environment}" + (f" to {target}" if target else "")
    request = playbook_request(
        project_dir, environment, "rollback", label, limit, verbosity=verbosity
    )
    extravars: ExtraVars = {}
    if target:
        extravars["app_rollback_to"] = target
    if downgrade_migrations:
        extravars["app_rollback_migrations"] = True
    return replace(request, extravars=extravars) if extravars else request


def playbook_request(
    project_dir: Path,
    environment: str,
    name: str,
    label: str,
    limit: str | None = None,
    check: bool = False,
    diff: bool = False,
    verbosity: int = 0,
) -> RunRequest:
    """A RunRequest for playbooks/NAME.yml on inventories/ENVIRONMENT."""
    inventory = inventory_dir(project_dir, environment)
    playbook = project_dir / "playbooks" / f"{name}.yml"
    if not playbook.is_file():
        raise ProjectError(f"playbook not found: {playbook}")
    if environment == "sandbox" and not (inventory / "hosts.yml").is_file():
        raise ProjectError("the sandbox has no inventory yet: run `fpops sandbox up` first")
    return RunRequest(
        project_dir=project_dir,
        playbook=playbook,
        inventory=inventory,
        limit=limit,
        check=check,
        diff=diff,
        verbosity=verbosity,
        label=label,
        environment=environment,
    )
