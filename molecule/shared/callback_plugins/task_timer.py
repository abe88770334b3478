"""Record how long each task of a playbook run took, for the test harness's profile.

Appends one JSON line per task (start time, seconds, task, playbook file, check mode) to the file
named by $FPOPS_TASK_TIMES; does nothing when that variable is not set, so a scenario run by hand
is unaffected. scripts/lane-report reads the lines and names the slowest tasks of a `make test`.
A task's time is the wall time from its start to the next task's (or the run's end), over all
hosts, as `profile_tasks` measures it.
"""

from __future__ import annotations

import json
import os
import time

from ansible import context
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_timer
type: aggregate
short_description: writes per-task wall times to $FPOPS_TASK_TIMES as JSON lines
description: Used by the fpops test harness's profile (scripts/lane-report).
requirements: [enable in the callbacks_enabled setting]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._path = os.environ.get("FPOPS_TASK_TIMES", "")
        self._playbook = ""
        self._current: tuple[float, str] | None = None
        self._check = False

    def _close(self) -> None:
        if self._current is None or not self._path:
            self._current = None
            return
        started, task = self._current
        self._current = None
        line = {
            "start": round(started, 3),
            "seconds": round(time.time() - started, 3),
            "playbook": self._playbook,
            "task": task,
            "check": self._check,
        }
        with open(self._path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    def v2_playbook_on_start(self, playbook) -> None:
        self._playbook = os.path.basename(playbook._file_name)
        self._check = bool(context.CLIARGS.get("check", False))

    def v2_playbook_on_play_start(self, play) -> None:
        self._close()

    def _start(self, task) -> None:
        self._close()
        self._current = (time.time(), task.get_name().strip())

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task) -> None:
        self._start(task)

    def v2_playbook_on_stats(self, stats) -> None:
        self._close()
