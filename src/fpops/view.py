"""How a run looks: live view for people, JSON lines for machines, quiet for cron."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import Enum
from typing import Any, Protocol, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from fpops.exitcodes import ExitCode
from fpops.progress import RunState, event_record
from fpops.runner import RunResult

_COLUMNS = ("ok", "changed", "failed", "unreachable", "skipped")


class OutputMode(Enum):
    HUMAN = "human"
    JSON = "json"
    QUIET = "quiet"


class View(Protocol):
    def start(self) -> None: ...

    def update(self, event: dict[str, Any] | None, state: RunState, elapsed: float) -> None: ...

    def finish(self, result: RunResult) -> None: ...

    def abort(self) -> None: ...


def make_view(mode: OutputMode, label: str, console: Console, out: TextIO) -> View:
    if mode is OutputMode.JSON:
        return JsonView(label, out)
    if mode is OutputMode.QUIET:
        return QuietView(label, console)
    return HumanView(label, console)


def counts_table(state: RunState, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("host")
    for column in _COLUMNS:
        table.add_column(column, justify="right")
    for host in sorted(state.hosts):
        counts = state.hosts[host]
        table.add_row(host, *(_cell(column, getattr(counts, column)) for column in _COLUMNS))
    return table


def _cell(column: str, value: int) -> Text:
    styles = {"changed": "yellow", "failed": "bold red", "unreachable": "bold red"}
    return Text(str(value), style=styles.get(column, "") if value else "dim")


def failure_lines(state: RunState) -> list[str]:
    lines = []
    for f in state.failures:
        word = "UNREACHABLE" if f.unreachable else "FAILED"
        lines.append(f"{word} {f.host}: {f.task}: {f.msg}")
    return lines


def summary_line(label: str, result: RunResult) -> str:
    totals = result.state.totals()
    return (
        f"{label}: {result.exit_code.name} (exit {int(result.exit_code)}) in {result.elapsed:.1f}s;"
        f" hosts={len(result.state.hosts)} changed={totals.changed} failed={totals.failed}"
        f" unreachable={totals.unreachable}; run {result.run_id}"
    )


class HumanView:
    """Live play/task/per-host counters on a terminal; plain PLAY/TASK lines elsewhere."""

    def __init__(self, label: str, console: Console) -> None:
        self.label = label
        self.console = console
        self.live: Live | None = None
        self._play = ""
        self._task = ""

    def start(self) -> None:
        if self.console.is_terminal:
            self.live = Live(console=self.console, auto_refresh=False, transient=True)
            self.live.start()

    def update(self, event: dict[str, Any] | None, state: RunState, elapsed: float) -> None:
        if self.live is not None:
            self.live.update(self._render(state, elapsed), refresh=True)
            return
        if state.play != self._play:
            self._play = state.play
            self.console.print(f"PLAY {state.play}", markup=False, highlight=False)
        if state.task != self._task:
            self._task = state.task
            self.console.print(f"  TASK {state.task}", markup=False, highlight=False)

    def _render(self, state: RunState, elapsed: float) -> RenderableType:
        header = Text.assemble(
            (f"{self.label} ", "bold"),
            (f"{elapsed:5.0f}s  ", "dim"),
            ("play: ", "dim"),
            state.play or "-",
            ("  task: ", "dim"),
            (state.task or "-", "cyan"),
        )
        return Group(header, counts_table(state))

    def abort(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def finish(self, result: RunResult) -> None:
        self.abort()
        state = result.state
        if state.hosts:
            self.console.print(counts_table(state, title="Recap"))
        for line in failure_lines(state):
            self.console.print(line, style="red", markup=False, highlight=False, soft_wrap=True)
        for line in result.error:
            self.console.print(line, style="dim", markup=False, highlight=False)
        style = "green" if result.exit_code == ExitCode.OK else "bold red"
        self.console.print(
            summary_line(self.label, result),
            style=style,
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        self.console.print(
            f"artifacts: {result.artifact_dir}", style="dim", markup=False, highlight=False
        )


class QuietView:
    """Only failures and one summary line: for timers and cron."""

    def __init__(self, label: str, console: Console) -> None:
        self.label = label
        self.console = console

    def start(self) -> None:
        pass

    def update(self, event: dict[str, Any] | None, state: RunState, elapsed: float) -> None:
        pass

    def abort(self) -> None:
        pass

    def finish(self, result: RunResult) -> None:
        for line in [*failure_lines(result.state), *result.error]:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        self.console.print(
            summary_line(self.label, result), markup=False, highlight=False, soft_wrap=True
        )


class JsonView:
    """One JSON object per line per event, then a summary object."""

    def __init__(self, label: str, out: TextIO) -> None:
        self.label = label
        self.out = out

    def _emit(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record, default=str) + "\n")
        self.out.flush()

    def start(self) -> None:
        pass

    def update(self, event: dict[str, Any] | None, state: RunState, elapsed: float) -> None:
        record = event_record(event) if event is not None else None
        if record is not None:
            self._emit(record)

    def abort(self) -> None:
        pass

    def finish(self, result: RunResult) -> None:
        self._emit(
            {
                "type": "summary",
                "label": self.label,
                "run_id": result.run_id,
                "status": result.status,
                "exit_code": int(result.exit_code),
                "result": result.exit_code.name,
                "elapsed": round(result.elapsed, 3),
                "hosts": {h: asdict(c) for h, c in sorted(result.state.hosts.items())},
                "failures": [asdict(f) for f in result.state.failures],
                "error": result.error,
                "artifact_dir": str(result.artifact_dir),
            }
        )
