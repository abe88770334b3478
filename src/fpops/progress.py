"""Pure state of a playbook run, built from ansible-runner events.

Nothing here does I/O: `RunState.apply` takes the event dicts that ansible-runner hands to its
event handler, so the logic can be tested with recorded events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from fpops.exitcodes import ExitCode

# playbook_on_stats key -> HostCounts attribute
_STATS_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}

# Events that carry no state and only repeat stdout; left out of --json.
_QUIET_EVENTS = frozenset({"verbose", "debug", "deprecated", "warning", "error"})


@dataclass
class HostCounts:
    """Per-host counters with Ansible's recap semantics (`ok` includes `changed`)."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass(frozen=True)
class Failure:
    """One failed or unreachable task on one host."""

    host: str
    task: str
    msg: str
    unreachable: bool = False


NOTICE_PREFIX = "Notice: "


@dataclass
class RunState:
    """What a run has done so far; `apply` each event in order."""

    play: str = ""
    task: str = ""
    hosts: dict[str, HostCounts] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    # Messages of tasks named "Notice: ..." (things the operator must hear about a good run).
    notices: list[str] = field(default_factory=list)
    finished: bool = False  # playbook_on_stats was seen

    def counts(self, host: str) -> HostCounts:
        return self.hosts.setdefault(host, HostCounts())

    def apply(self, event: Mapping[str, Any]) -> None:
        name = str(event.get("event", ""))
        data: Mapping[str, Any] = event.get("event_data") or {}
        host = str(data.get("host") or "")
        if name == "playbook_on_play_start":
            self.play = str(data.get("play") or data.get("name") or "")
            self.task = ""
        elif name in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self.task = str(data.get("task") or data.get("name") or "")
        elif name == "runner_on_ok" and host:
            counts = self.counts(host)
            counts.ok += 1
            if _result(data).get("changed"):
                counts.changed += 1
            if _task(data).startswith(NOTICE_PREFIX) and _result(data).get("msg"):
                self.notices.append(str(_result(data)["msg"]))
        elif name == "runner_on_failed" and host:
            self._failed(host, data)
        elif name == "runner_on_unreachable" and host:
            self.counts(host).unreachable += 1
            self.failures.append(Failure(host, _task(data), failure_message(data), True))
        elif name == "runner_on_skipped" and host:
            self.counts(host).skipped += 1
        elif name == "playbook_on_stats":
            self._stats(data)

    def _failed(self, host: str, data: Mapping[str, Any]) -> None:
        counts = self.counts(host)
        if data.get("ignore_errors"):
            counts.ok += 1
            counts.ignored += 1
            return
        counts.failed += 1
        self.failures.append(Failure(host, _task(data), failure_message(data)))

    def _stats(self, data: Mapping[str, Any]) -> None:
        """Ansible's own recap is authoritative: it knows about rescued blocks."""
        recap: dict[str, HostCounts] = {}
        for key, attr in _STATS_KEYS.items():
            per_host = data.get(key) or {}
            for host, value in per_host.items():
                setattr(recap.setdefault(str(host), HostCounts()), attr, int(value))
        for host in data.get("processed") or {}:
            recap.setdefault(str(host), HostCounts())
        self.hosts = recap
        # A failure that a rescue block handled is not a failure of the run.
        self.failures = [f for f in self.failures if _counted(f, recap)]
        self.finished = True

    @property
    def any_unreachable(self) -> bool:
        return any(c.unreachable for c in self.hosts.values())

    @property
    def any_failed(self) -> bool:
        return any(c.failed for c in self.hosts.values())

    def exit_code(self) -> ExitCode:
        if self.any_unreachable:
            return ExitCode.UNREACHABLE
        if self.any_failed:
            return ExitCode.FAILED
        return ExitCode.OK

    def totals(self) -> HostCounts:
        total = HostCounts()
        for counts in self.hosts.values():
            for attr, value in asdict(counts).items():
                setattr(total, attr, getattr(total, attr) + value)
        return total


def _counted(failure: Failure, recap: Mapping[str, HostCounts]) -> bool:
    counts = recap.get(failure.host, HostCounts())
    return bool(counts.unreachable if failure.unreachable else counts.failed)


def _result(data: Mapping[str, Any]) -> Mapping[str, Any]:
    res = data.get("res")
    return res if isinstance(res, Mapping) else {}


def _task(data: Mapping[str, Any]) -> str:
    return str(data.get("task") or data.get("task_action") or "")


def failure_message(data: Mapping[str, Any]) -> str:
    """The module's `msg` (first line of stderr as a fallback), never a traceback."""
    res = _result(data)
    msg = res.get("msg")
    if not msg:
        msg = res.get("stderr") or res.get("reason") or "failed (no message)"
    text = str(msg).strip()
    return text.splitlines()[0] if text else "failed (no message)"


def event_status(event: Mapping[str, Any]) -> str | None:
    """A short status word for per-host result events, None for the others."""
    name = str(event.get("event", ""))
    data: Mapping[str, Any] = event.get("event_data") or {}
    if name == "runner_on_ok":
        return "changed" if _result(data).get("changed") else "ok"
    if name == "runner_on_failed":
        return "ignored" if data.get("ignore_errors") else "failed"
    if name == "runner_on_unreachable":
        return "unreachable"
    if name == "runner_on_skipped":
        return "skipped"
    if name == "runner_on_start":
        return "started"
    return None


def event_record(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The --json line for one event, or None for events that only repeat stdout."""
    name = str(event.get("event", ""))
    if not name or name in _QUIET_EVENTS:
        return None
    data: Mapping[str, Any] = event.get("event_data") or {}
    return {
        "type": "event",
        "event": name,
        "host": data.get("host"),
        "play": data.get("play"),
        "task": data.get("task"),
        "status": event_status(event),
        "time": event.get("created"),
    }
