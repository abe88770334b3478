"""`fpops lock status|release ENV` and `fpops audit ENV`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fpops import audit, hostlock, lock
from fpops.exitcodes import ExitCode
from fpops.project import inventory_dir


def run(args: argparse.Namespace, project_dir: Path, console: Console) -> ExitCode:
    inventory_dir(project_dir, args.environment)  # ProjectError for an unknown environment
    if args.command == "audit":
        return show_audit(project_dir, args.environment, args.last, args.json, console)
    if args.action == "status":
        return lock_status(project_dir, args.environment, console)
    return lock_release(project_dir, args.environment, args.force, console)


def lock_status(project_dir: Path, environment: str, console: Console) -> ExitCode:
    """Both locks: this controller's and the one on the environment's lock host."""
    holder = lock.holder(project_dir, environment)
    if holder is None:
        line = f"{environment} on this controller: not locked"
    else:
        stale = holder.stale_reason()
        state = f"stale ({stale})" if stale else "held"
        line = f"{environment} on this controller: {state} - {holder.describe()}"
    console.print(line, markup=False, highlight=False)
    shown, code = hostlock.show(project_dir, environment)
    if not shown:
        console.print(
            f"{environment} on its lock host: unknown, could not read it (exit {int(code)})",
            markup=False,
            highlight=False,
        )
        return code if code != ExitCode.OK else ExitCode.FAILED
    where = f"{environment} on {shown.get('host', '?')}"
    if shown.get("state") == "free":
        console.print(f"{where}: not locked", markup=False, highlight=False)
    else:
        state = f"stale ({shown['stale']})" if shown.get("stale") else "held"
        console.print(
            f"{where}: {state} - {hostlock.describe(shown)}", markup=False, highlight=False
        )
    return ExitCode.OK


def lock_release(project_dir: Path, environment: str, force: bool, console: Console) -> ExitCode:
    """Remove a stale lock (or, with --force, a live one): this controller's, then the host's."""
    codes = [
        _release_controller_lock(project_dir, environment, force, console),
        _release_host_lock(project_dir, environment, force, console),
    ]
    return max(codes, key=int)


def _release_controller_lock(
    project_dir: Path, environment: str, force: bool, console: Console
) -> ExitCode:
    holder = lock.holder(project_dir, environment)
    if holder is None:
        console.print(f"{environment} on this controller: not locked, nothing to release")
        return ExitCode.OK
    stale = holder.stale_reason()
    if stale is None and not force:
        console.print(
            f"{environment} on this controller: the lock is live ({holder.describe()}); "
            "--force removes it anyway",
            markup=False,
            highlight=False,
        )
        return ExitCode.REFUSED
    lock.force_release(project_dir, environment)
    why = stale or "forced while live"
    detail = f"removed the lock of {holder.describe()}: {why}"
    _audit_release(project_dir, environment, force, detail)
    console.print(
        f"{environment} on this controller: lock of {holder.describe()} removed ({why})",
        markup=False,
    )
    return ExitCode.OK


def _release_host_lock(
    project_dir: Path, environment: str, force: bool, console: Console
) -> ExitCode:
    shown, code = hostlock.show(project_dir, environment)
    if not shown:
        console.print(
            f"{environment} on its lock host: the lock could not be read (exit {int(code)})",
            markup=False,
        )
        return code if code != ExitCode.OK else ExitCode.FAILED
    where = f"{environment} on {shown.get('host', '?')}"
    if shown.get("state") == "free":
        console.print(f"{where}: not locked, nothing to release", markup=False)
        return ExitCode.OK
    stale = shown.get("stale") or None
    if stale is None and not force:
        console.print(
            f"{where}: the lock is live ({hostlock.describe(shown)}); --force removes it anyway",
            markup=False,
            highlight=False,
        )
        return ExitCode.REFUSED
    code = hostlock.force_release(project_dir, environment)
    if code != ExitCode.OK:
        console.print(f"{where}: the lock could not be removed (exit {int(code)})", markup=False)
        return code
    why = stale or "forced while live"
    detail = f"removed the lock on {shown.get('host')} of {hostlock.describe(shown)}: {why}"
    _audit_release(project_dir, environment, force, detail)
    console.print(f"{where}: lock of {hostlock.describe(shown)} removed ({why})", markup=False)
    return ExitCode.OK


def _audit_release(project_dir: Path, environment: str, force: bool, detail: str) -> None:
    audit.append(
        project_dir,
        audit.AuditEntry(
            run_id=f"lock-{int(time.time())}",
            environment=environment,
            command="lock release" + (" --force" if force else ""),
            argv=["lock", "release", environment] + (["--force"] if force else []),
            started=audit.now_iso(),
            result="ok",
            exit_code=0,
            duration_s=0.0,
            detail=detail,
        ),
    )


def show_audit(
    project_dir: Path, environment: str, last: int, as_json: bool, console: Console
) -> ExitCode:
    entries = audit.read(project_dir, environment, last)
    if as_json:
        for entry in entries:
            console.print(
                json.dumps(entry, sort_keys=True), markup=False, highlight=False, soft_wrap=True
            )
        return ExitCode.OK
    table = Table(title=f"{environment}: last {len(entries)} commands")
    for column in ("started (UTC)", "user@machine", "command", "result", "exit", "took", "detail"):
        table.add_column(column, overflow="fold")
    for e in entries:
        took = e.get("duration_s")
        table.add_row(
            str(e.get("started", "")),
            f"{e.get('user', '?')}@{e.get('machine', '?')}",
            str(e.get("command", "")),
            str(e.get("result", "")),
            str(e.get("exit_code", "")),
            "" if took is None else f"{took} s",
            str(e.get("detail", ""))[:120],
        )
    console.print(table)
    return ExitCode.OK
