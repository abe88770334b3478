"""The environment lock on the controller: one mutating command at a time per environment.

.fpops/<ENV>/lock holds the holder (user, machine, pid, command, start time). It is taken with
O_EXCL, so two commands on this machine cannot both get it. A lock whose process is gone (same
machine) or older than its TTL is stale and is taken over, the takeover said in the audit log.
The deploy lock on the first app host (role app) covers operators on different machines.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fpops.audit import now_iso, operator

DEFAULT_TTL = 6 * 3600


class LockHeld(Exception):
    """Another command holds the environment's lock."""

    def __init__(self, holder: Holder) -> None:
        super().__init__(f"the {holder.environment} lock is held: {holder.describe()}")
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    environment: str
    user: str
    machine: str
    pid: int
    command: str
    started: str
    started_epoch: float
    ttl: int = DEFAULT_TTL

    def describe(self) -> str:
        return (
            f"{self.command} by {self.user} on {self.machine} (pid {self.pid}) since {self.started}"
        )

    def stale_reason(self, now: float | None = None) -> str | None:
        """Why this lock no longer protects anything, or None when it is live."""
        now = time.time() if now is None else now
        if self.machine == socket.gethostname() and not _alive(self.pid):
            return f"its process {self.pid} is gone"
        if now - self.started_epoch > self.ttl:
            return f"it is older than its TTL ({self.ttl} s)"
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_path(project_dir: Path, environment: str) -> Path:
    return project_dir / ".fpops" / environment / "lock"


def holder(project_dir: Path, environment: str) -> Holder | None:
    """The current holder, or None when the environment is free."""
    try:
        data: dict[str, Any] = json.loads(lock_path(project_dir, environment).read_text())
        return Holder(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        # A half-written or foreign file: treat it as a lock nobody can prove is live.
        return Holder(environment, "?", "?", 0, "unreadable lock file", "?", 0.0, 0)


def acquire(
    project_dir: Path, environment: str, command: str, ttl: int = DEFAULT_TTL
) -> tuple[Holder, str | None]:
    """Take the lock; (our holder record, why a stale lock was taken over or None).

    LockHeld when a live lock exists.
    """
    path = lock_path(project_dir, environment)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    taken_over: str | None = None
    current = holder(project_dir, environment)
    if current is not None:
        reason = current.stale_reason()
        if reason is None:
            raise LockHeld(current)
        taken_over = f"stale lock of {current.describe()} taken over: {reason}"
        path.unlink(missing_ok=True)
    mine = Holder(
        environment,
        operator(),
        socket.gethostname(),
        os.getpid(),
        command,
        now_iso(),
        time.time(),
        ttl,
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another command took it between our read and our create.
        raise LockHeld(holder(project_dir, environment) or mine) from None
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(mine), out)
    return mine, taken_over


def release(project_dir: Path, mine: Holder) -> None:
    """Give back our lock (not one somebody took over since)."""
    current = holder(project_dir, mine.environment)
    if current is not None and (current.pid, current.machine, current.started_epoch) == (
        mine.pid,
        mine.machine,
        mine.started_epoch,
    ):
        lock_path(project_dir, mine.environment).unlink(missing_ok=True)


def force_release(project_dir: Path, environment: str) -> Holder | None:
    """Remove the lock whoever holds it; the holder removed (None when there was none)."""
    current = holder(project_dir, environment)
    lock_path(project_dir, environment).unlink(missing_ok=True)
    return current
