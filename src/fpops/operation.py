"""A command run as ops expect it: confirmed when destructive, under the environment's lock
when it changes things, and written to the audit log however it ends."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from fpops import audit, hostlock, lock
from fpops.exitcodes import ExitCode
from fpops.provision import run_playbook_result
from fpops.runner import RunRequest, new_run_id
from fpops.view import OutputMode

RESULTS = {
    ExitCode.OK: "ok",
    ExitCode.FAILED: "failed",
    ExitCode.UNREACHABLE: "unreachable",
    ExitCode.REFUSED: "refused",
    ExitCode.BAD_INPUT: "bad input",
    ExitCode.INTERRUPTED: "interrupted",
}

Ask = Callable[[str], bool]


@dataclass(frozen=True)
class Operation:
    """A playbook run and how carefully to run it."""

    request: RunRequest
    argv: Sequence[str] = ()
    mutating: bool = True  # takes the environment's lock
    release: str = ""  # the release it is about, for the audit log
    confirm: str = ""  # what will happen, asked before running unless --yes


def ask_on_terminal(question: str) -> bool:
    """Ask on the terminal; anything but y/yes is a no."""
    try:
        answer = input(f"{question}\nProceed? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}


def perform(
    op: Operation,
    mode: OutputMode,
    console: Console,
    yes: bool = False,
    ask: Ask | None = None,
) -> ExitCode:
    """Confirm, lock, run, unlock, audit; the exit code."""
    request = op.request
    environment = request.environment or "unknown"
    entry = audit.AuditEntry(
        run_id=new_run_id(),
        environment=environment,
        command=request.label,
        argv=audit.redact(op.argv),
        started=audit.now_iso(),
        release=op.release,
    )
    errors = Console(stderr=True)
    refusal = _confirmation_refusal(op, yes, ask)
    if refusal:
        errors.print(
            f"fpops: {refusal}", style="red", markup=False, highlight=False, soft_wrap=True
        )
        return _audited(request.project_dir, entry, ExitCode.REFUSED, refusal)
    holder: lock.Holder | None = None
    stale_holder = ""
    if op.mutating:
        previous = lock.holder(request.project_dir, environment)
        try:
            holder, taken_over = lock.acquire(request.project_dir, environment, request.label)
        except lock.LockHeld as held:
            message = f"{held}; `fpops lock status {environment}` shows it"
            errors.print(
                f"fpops: {message}", style="red", markup=False, highlight=False, soft_wrap=True
            )
            return _audited(request.project_dir, entry, ExitCode.REFUSED, message)
        if taken_over:
            errors.print(
                f"fpops: {taken_over}",
                style="yellow",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            entry.detail = taken_over
            if previous is not None:
                # That dead process may also have left the lock on the target host.
                stale_holder = f"{previous.machine}:{previous.pid}"
    locks_host = hostlock.takes_lock(request)
    if locks_host:
        extravars = hostlock.lock_vars(entry.run_id, request.label, stale_holder)
        request = replace(request, extravars={**request.extravars, **extravars})
    started = time.monotonic()
    code = ExitCode.FAILED
    try:
        result = run_playbook_result(request, mode, console, run_id=entry.run_id)
        code = result.exit_code
        for notice in result.state.notices:
            errors.print(
                f"fpops: {notice}", style="yellow", markup=False, highlight=False, soft_wrap=True
            )
        failures = [f"{f.host}: {f.msg}" for f in result.state.failures][:3]
        entry.detail = "; ".join(filter(None, [entry.detail, *result.state.notices, *failures]))
        lock_refusal = hostlock.refusal(result)
        if lock_refusal:
            code = ExitCode.REFUSED
            entry.detail = lock_refusal
    finally:
        if locks_host and code not in (ExitCode.OK, ExitCode.REFUSED):
            # The run may have stopped between taking the host lock and its last play.
            _give_back_host_lock(request.project_dir, environment, entry.run_id, errors)
        if holder is not None:
            lock.release(request.project_dir, holder)
        entry.duration_s = round(time.monotonic() - started, 1)
        _audited(request.project_dir, entry, code)
    return code


def _give_back_host_lock(project_dir: Path, environment: str, run_id: str, errors: Console) -> None:
    if not hostlock.release_run(project_dir, environment, run_id):
        errors.print(
            "fpops: could not give back the lock on the target host; "
            f"`fpops lock status {environment}` shows it",
            style="yellow",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _confirmation_refusal(op: Operation, yes: bool, ask: Ask | None) -> str:
    """Why the run may not start ("" when it may)."""
    if not op.confirm or yes:
        return ""
    if ask is None:
        if not sys.stdin.isatty():
            return f"{op.request.label} needs confirmation: no terminal to ask, pass --yes"
        ask = ask_on_terminal
    if not ask(op.confirm):
        return f"{op.request.label}: confirmation declined, nothing done"
    return ""


def _audited(
    project_dir: Path, entry: audit.AuditEntry, code: ExitCode, detail: str = ""
) -> ExitCode:
    entry.exit_code = int(code)
    entry.result = RESULTS.get(code, str(int(code)))
    if detail:
        entry.detail = detail
    audit.append(project_dir, entry)
    return code
