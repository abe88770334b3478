"""Pure tests of fpops.progress with event dicts shaped like ansible-runner's."""

from __future__ import annotations

from typing import Any

from fpops.exitcodes import ExitCode
from fpops.progress import HostCounts, RunState, event_record, failure_message
from fpops.runner import exit_code


def ev(event: str, **data: Any) -> dict[str, Any]:
    return {"event": event, "created": "2026-01-01T00:00:00+00:00", "event_data": data}


def result(name: str, host: str, task: str, **res: Any) -> dict[str, Any]:
    return ev(name, play="site", task=task, host=host, res=res)


RECORDED = [
    ev("playbook_on_start"),
    ev("playbook_on_play_start", play="site", name="site"),
    ev("playbook_on_task_start", play="site", task="say hi"),
    ev("runner_on_start", play="site", task="say hi", host="web"),
    result("runner_on_ok", "web", "say hi", msg="hi", changed=False),
    result("runner_on_ok", "db", "say hi", msg="hi", changed=False),
    ev("playbook_on_task_start", play="site", task="touch"),
    result(
        "runner_on_unreachable",
        "gone",
        "touch",
        msg="Failed to connect to the host via ssh: Connection refused",
        unreachable=True,
    ),
    result("runner_on_ok", "web", "touch", changed=True),
    result("runner_on_ok", "db", "touch", changed=True),
    ev("playbook_on_task_start", play="site", task="boom"),
    result("runner_on_skipped", "web", "boom", skip_reason="Conditional result was False"),
    result("runner_on_failed", "db", "boom", msg="boom", changed=False),
]

STATS = ev(
    "playbook_on_stats",
    changed={"web": 1, "db": 1},
    dark={"gone": 1},
    failures={"db": 1},
    ignored={},
    ok={"web": 2, "db": 2},
    processed={"web": 1, "db": 1, "gone": 1},
    rescued={},
    skipped={"web": 1},
)


def apply_all(events: list[dict[str, Any]]) -> RunState:
    state = RunState()
    for event in events:
        state.apply(event)
    return state


def test_live_counters_follow_events():
    state = apply_all(RECORDED)
    assert state.play == "site"
    assert state.task == "boom"
    assert state.hosts["web"] == HostCounts(ok=2, changed=1, skipped=1)
    assert state.hosts["db"] == HostCounts(ok=2, changed=1, failed=1)
    assert state.hosts["gone"].unreachable == 1
    assert not state.finished


def test_failures_carry_host_task_and_msg():
    state = apply_all(RECORDED)
    assert [(f.host, f.task, f.msg, f.unreachable) for f in state.failures] == [
        ("gone", "touch", "Failed to connect to the host via ssh: Connection refused", True),
        ("db", "boom", "boom", False),
    ]


def test_stats_are_authoritative():
    state = apply_all([*RECORDED, STATS])
    assert state.finished
    assert state.hosts["gone"] == HostCounts(unreachable=1)
    assert state.totals() == HostCounts(ok=4, changed=2, failed=1, unreachable=1, skipped=1)


def test_exit_code_prefers_unreachable_over_failed():
    assert apply_all([*RECORDED, STATS]).exit_code() == ExitCode.UNREACHABLE
    only_failed = [e for e in RECORDED if e["event"] != "runner_on_unreachable"]
    assert apply_all(only_failed).exit_code() == ExitCode.FAILED
    assert apply_all(RECORDED[:6]).exit_code() == ExitCode.OK


def test_ignored_failure_is_not_a_failure():
    event = result("runner_on_failed", "web", "try", msg="nope")
    event["event_data"]["ignore_errors"] = True
    state = apply_all([event])
    assert state.hosts["web"] == HostCounts(ok=1, ignored=1)
    assert state.failures == []
    assert state.exit_code() == ExitCode.OK


def test_rescued_failure_is_dropped_by_stats():
    events = [
        result("runner_on_failed", "web", "explode", msg="boom"),
        result("runner_on_ok", "web", "recover"),
        ev("playbook_on_stats", ok={"web": 1}, rescued={"web": 1}, processed={"web": 1}),
    ]
    state = apply_all(events)
    assert state.failures == []
    assert state.hosts["web"] == HostCounts(ok=1, rescued=1)
    assert state.exit_code() == ExitCode.OK


def test_failure_message_is_first_line_of_msg_or_stderr():
    assert failure_message({"res": {"msg": "line one\nline two"}}) == "line one"
    assert failure_message({"res": {"msg": "", "stderr": "bad thing\nmore"}}) == "bad thing"
    assert failure_message({}) == "failed (no message)"


def test_event_record_for_json():
    record = event_record(RECORDED[8])
    assert record == {
        "type": "event",
        "event": "runner_on_ok",
        "host": "web",
        "play": "site",
        "task": "touch",
        "status": "changed",
        "time": "2026-01-01T00:00:00+00:00",
    }
    assert event_record({"event": "verbose", "stdout": "noise"}) is None


def test_exit_code_of_the_run():
    ok = RunState()
    assert exit_code("successful", 0, ok) == ExitCode.OK
    assert exit_code("failed", 4, ok) == ExitCode.FAILED  # e.g. a syntax error: no task ran
    assert exit_code("canceled", 254, apply_all(RECORDED)) == ExitCode.INTERRUPTED
    assert exit_code("failed", 2, apply_all(RECORDED)) == ExitCode.UNREACHABLE
