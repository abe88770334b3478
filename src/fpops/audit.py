"""The audit log: one JSON line per command run on an environment, appended, never rewritten.

.fpops/<ENV>/audit.jsonl (0600): who ran what, when, from which machine, with which arguments
(secret-looking values redacted), how it ended and how long it took.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Option names and key=value keys whose value is never written down.
_SECRET = re.compile(r"(pass|secret|token|key|credential|auth)", re.I)
REDACTED = "<redacted>"


@dataclass
class AuditEntry:
    """One command run."""

    run_id: str
    environment: str
    command: str
    argv: list[str]
    started: str  # UTC, ISO 8601
    user: str = field(default_factory=lambda: operator())
    machine: str = field(default_factory=socket.gethostname)
    release: str = ""
    result: str = ""  # ok, failed, unreachable, refused, bad input, interrupted
    exit_code: int | None = None
    duration_s: float | None = None
    detail: str = ""


def operator() -> str:
    """The person behind the run: the sudo caller if any, else the login name."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def redact(argv: Sequence[str]) -> list[str]:
    """The arguments with the values of secret-looking options and key=value pairs hidden."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if arg.startswith("-") and _SECRET.search(arg):
            if "=" in arg:
                out.append(arg.split("=", 1)[0] + "=" + REDACTED)
            else:
                out.append(arg)
                hide_next = True
            continue
        if "=" in arg and _SECRET.search(arg.split("=", 1)[0]):
            out.append(arg.split("=", 1)[0] + "=" + REDACTED)
            continue
        out.append(arg)
    return out


def log_path(project_dir: Path, environment: str) -> Path:
    return project_dir / ".fpops" / environment / "audit.jsonl"


def append(project_dir: Path, entry: AuditEntry) -> None:
    """Append one line (O_APPEND: concurrent writers never interleave a line)."""
    path = log_path(project_dir, entry.environment)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = json.dumps(asdict(entry), sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read(project_dir: Path, environment: str, last: int = 20) -> list[dict[str, Any]]:
    """The newest `last` entries, oldest first; a damaged line is skipped, not fatal."""
    path = log_path(project_dir, environment)
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries[-last:] if last > 0 else entries
