"""Run a playbook through ansible-runner and turn its events into an exit code."""

from __future__ import annotations

import json
import os
import queue
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

from fpops import redact
from fpops.exitcodes import ExitCode
from fpops.progress import RunState
from fpops.secrets import runner_password_file

KEEP_ARTIFACTS = 20
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# Variables passed with -e.
ExtraVars = dict[str, str | int | bool]


@dataclass(frozen=True)
class RunRequest:
    """One ansible-playbook invocation."""

    project_dir: Path
    playbook: Path
    inventory: Path
    limit: str | None = None
    tags: tuple[str, ...] = ()  # ansible-playbook --tags: `fpops provision --only TIER`
    check: bool = False
    diff: bool = False
    verbosity: int = 0
    label: str = "playbook"
    environment: str | None = None  # the inventories/ENV name: picks the vault password file
    extravars: ExtraVars = field(default_factory=dict)


@dataclass
class RunResult:
    """How a run ended."""

    run_id: str
    status: str  # ansible-runner's: successful, failed, canceled, timeout, error
    rc: int | None
    exit_code: ExitCode
    elapsed: float
    artifact_dir: Path
    state: RunState
    error: list[str] = field(default_factory=list)  # stdout tail when ansible itself failed


# Called from the main thread with each event (None on a periodic tick) and the updated state.
EventCallback = Callable[[dict[str, Any] | None, RunState, float], None]


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def cmdline(request: RunRequest) -> str:
    args = []
    if request.check:
        args.append("--check")
    if request.diff:
        args.append("--diff")
    if request.tags:
        args.extend(["--tags", ",".join(request.tags)])
    if request.verbosity:
        args.append("-" + "v" * min(request.verbosity, 6))
    return " ".join(args)


def envvars(
    project_dir: Path, environment: str | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    outer = os.environ if environ is None else environ
    env: dict[str, str] = {}
    config = project_dir / "ansible.cfg"
    if config.is_file():
        env["ANSIBLE_CONFIG"] = str(config)
    # ansible-runner turns host key checking off unless the environment says otherwise.
    env["ANSIBLE_HOST_KEY_CHECKING"] = outer.get("ANSIBLE_HOST_KEY_CHECKING", "True")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["PATH"] = _search_path()
    if environment is not None:
        password_file = runner_password_file(project_dir, environment, outer)
        if password_file is not None:
            env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(password_file)
    return env


def _search_path() -> str:
    """PATH with this interpreter's bin directory first, so the venv's ansible-playbook runs."""
    path = os.environ.get("PATH", os.defpath)
    bin_dir = Path(sys.executable).parent
    if (bin_dir / "ansible-playbook").exists():
        return f"{bin_dir}{os.pathsep}{path}"
    return path


def runner_kwargs(request: RunRequest, run_id: str) -> dict[str, Any]:
    """Arguments for ansible_runner.run_async, without the callbacks."""
    fpops_dir = request.project_dir / ".fpops"
    kwargs: dict[str, Any] = {
        "private_data_dir": str(fpops_dir / "runner"),
        "artifact_dir": str(fpops_dir / "artifacts"),
        "ident": run_id,
        "rotate_artifacts": KEEP_ARTIFACTS,
        "project_dir": str(request.project_dir),
        "playbook": str(request.playbook.resolve()),
        "inventory": str(request.inventory.resolve()),
        "envvars": envvars(request.project_dir, request.environment),
        # Keep envvars out of private_data_dir/env/: nothing is written there.
        "suppress_env_files": True,
        # Not "jsonfile": leave the fact cache to ansible.cfg instead of one per artifact dir.
        "fact_cache_type": "",
        # How often (s) ansible-runner polls the cancel callback.
        "settings": {"pexpect_timeout": 1},
        "quiet": True,
    }
    if request.limit:
        kwargs["limit"] = request.limit
    if request.extravars:
        kwargs["extravars"] = dict(request.extravars)
    line = cmdline(request)
    if line:
        kwargs["cmdline"] = line
    return kwargs


def execute(
    request: RunRequest,
    on_event: EventCallback,
    cancel: threading.Event | None = None,
    tick: float = 0.25,
    run_id: str | None = None,
) -> RunResult:
    """Run the playbook; events are applied to a RunState in the calling thread.

    Ctrl-C (KeyboardInterrupt) or setting `cancel` stops ansible-playbook and ends in
    ExitCode.INTERRUPTED.
    """
    cancel = cancel or threading.Event()
    events: queue.Queue[dict[str, Any]] = queue.Queue()

    secrets = redact.vault_values(request.project_dir, request.environment)

    def handle(event: dict[str, Any]) -> bool:
        # Redacted in place: ansible-runner stores the event after this returns.
        events.put(redact.in_place(event, secrets))
        return True  # False would drop the event from the artifacts

    run_id = run_id or new_run_id()
    kwargs = runner_kwargs(request, run_id)
    Path(kwargs["private_data_dir"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    state = RunState()
    started = time.monotonic()
    thread, runner = ansible_runner.run_async(
        **kwargs,
        event_handler=handle,
        cancel_callback=cancel.is_set,
    )
    while thread.is_alive() or not events.empty():
        try:
            _handle_next(events, state, on_event, started, tick)
        except KeyboardInterrupt:
            cancel.set()
    thread.join()
    artifact_dir = Path(runner.config.artifact_dir)
    _scrub_command_env(artifact_dir)
    redact.files(artifact_dir, secrets)
    status = str(runner.status)
    rc = runner.rc if isinstance(runner.rc, int) else None
    code = exit_code(status, rc, state)
    error = []
    if code == ExitCode.FAILED and not state.failures:
        error = stdout_tail(artifact_dir)
    return RunResult(
        run_id, status, rc, code, time.monotonic() - started, artifact_dir, state, error
    )


def _handle_next(
    events: queue.Queue[dict[str, Any]],
    state: RunState,
    on_event: EventCallback,
    started: float,
    tick: float,
) -> None:
    try:
        event: dict[str, Any] | None = events.get(timeout=tick)
    except queue.Empty:
        event = None
    if event is not None:
        state.apply(event)
    on_event(event, state, time.monotonic() - started)


def exit_code(status: str, rc: int | None, state: RunState) -> ExitCode:
    if status == "canceled":
        return ExitCode.INTERRUPTED
    code = state.exit_code()
    if code == ExitCode.OK and (status != "successful" or rc != 0):
        return ExitCode.FAILED  # ansible-playbook failed before or outside of any task
    return code


def stdout_tail(artifact_dir: Path, lines: int = 15) -> list[str]:
    try:
        text = (artifact_dir / "stdout").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    clean = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
    return [line for line in clean if line.strip()][-lines:]


def _scrub_command_env(artifact_dir: Path) -> None:
    """ansible-runner stores the whole environment in artifacts/<id>/command: drop it.

    Ansible's own settings stay (they help to debug a run), except where the vault password is.
    """
    command = artifact_dir / "command"
    try:
        data = json.loads(command.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and "env" in data:
        data["env"] = {
            k: v
            for k, v in data["env"].items()
            if k.startswith("ANSIBLE_") and not k.startswith("ANSIBLE_VAULT")
        }
        command.write_text(json.dumps(data), encoding="utf-8")


def execute_reading(request: RunRequest, task: str) -> tuple[RunResult, dict[str, Any]]:
    """Run the playbook quietly; also return the message (a mapping, or JSON text of one) that
    the task named TASK printed ({} when it printed none)."""
    found: dict[str, Any] = {}

    def on_event(event: dict[str, Any] | None, state: RunState, elapsed: float) -> None:
        if not event or event.get("event") != "runner_on_ok":
            return
        data = event.get("event_data", {})
        if data.get("task") == task:
            msg = data.get("res", {}).get("msg", "{}")
            found.update(msg if isinstance(msg, dict) else json.loads(msg))

    return execute(request, on_event), found
