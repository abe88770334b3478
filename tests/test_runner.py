"""Real ansible-playbook runs on localhost through the fpops runner (no mocks)."""

from __future__ import annotations

import io
import json
import sys
import threading
from pathlib import Path

import pytest
from rich.console import Console

from fpops.exitcodes import ExitCode
from fpops.provision import run_playbook
from fpops.runner import KEEP_ARTIFACTS, RunRequest, cmdline, execute, runner_kwargs
from fpops.view import OutputMode

LOCAL = f"ansible_connection=local ansible_python_interpreter={sys.executable}"

PASSING = """
- name: passing play
  hosts: all
  gather_facts: false
  tasks:
    - name: say hello
      ansible.builtin.debug:
        msg: hello
    - name: change something
      ansible.builtin.command: "true"
"""

FAILING = """
- name: failing play
  hosts: all
  gather_facts: false
  tasks:
    - name: fine
      ansible.builtin.debug:
        msg: fine
    - name: explode
      ansible.builtin.fail:
        msg: boom
"""

RESCUED = """
- name: rescued play
  hosts: all
  gather_facts: false
  tasks:
    - block:
        - name: explode
          ansible.builtin.fail:
            msg: boom
      rescue:
        - name: recover
          ansible.builtin.debug:
            msg: recovered
"""

SLOW = """
- name: slow play
  hosts: all
  gather_facts: false
  tasks:
    - name: sleep
      ansible.builtin.command: sleep 60
"""


def make_request(tmp_path: Path, playbook: str, inventory: str) -> RunRequest:
    (tmp_path / "site.yml").write_text(playbook)
    (tmp_path / "hosts.ini").write_text(inventory)
    return RunRequest(tmp_path, tmp_path / "site.yml", tmp_path / "hosts.ini", label="test")


def run(request: RunRequest, mode: OutputMode = OutputMode.HUMAN) -> tuple[ExitCode, str]:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    code = run_playbook(request, mode, console=console, out=out)
    return code, out.getvalue()


def test_passing_playbook_exits_0_with_recap(tmp_path):
    request = make_request(tmp_path, PASSING, f"localhost {LOCAL}\n")
    results = []
    result = execute(request, lambda event, state, elapsed: results.append(event))
    assert result.exit_code == ExitCode.OK
    assert result.status == "successful"
    counts = result.state.hosts["localhost"]
    assert (counts.ok, counts.changed, counts.failed) == (2, 1, 0)
    assert result.state.play == "passing play"
    assert any(e and e["event"] == "playbook_on_stats" for e in results)
    # the artifacts keep events but not the environment
    assert (result.artifact_dir / "job_events").is_dir()
    command = json.loads((result.artifact_dir / "command").read_text())
    assert all(key.startswith("ANSIBLE_") for key in command["env"])


def test_passing_playbook_human_output(tmp_path):
    code, output = run(make_request(tmp_path, PASSING, f"localhost {LOCAL}\n"))
    assert code == ExitCode.OK
    assert "Recap" in output
    assert "test: OK (exit 0)" in output


def test_failing_task_exits_1_with_message(tmp_path):
    code, output = run(make_request(tmp_path, FAILING, f"localhost {LOCAL}\n"))
    assert code == ExitCode.FAILED
    failure_lines = [line for line in output.splitlines() if line.startswith("FAILED")]
    assert failure_lines == ["FAILED localhost: explode: boom"]
    assert "Traceback" not in output


def test_quiet_prints_failures_and_one_summary_line(tmp_path):
    code, output = run(make_request(tmp_path, FAILING, f"localhost {LOCAL}\n"), OutputMode.QUIET)
    assert code == ExitCode.FAILED
    assert output.splitlines() == [
        "FAILED localhost: explode: boom",
        output.splitlines()[-1],
    ]
    assert output.splitlines()[-1].startswith("test: FAILED (exit 1)")


def test_rescued_failure_is_not_a_failure(tmp_path):
    code, output = run(make_request(tmp_path, RESCUED, f"localhost {LOCAL}\n"))
    assert code == ExitCode.OK
    assert "FAILED" not in output


def test_unreachable_host_exits_2(tmp_path):
    inventory = (
        f"localhost {LOCAL}\n"
        "nowhere ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh"
        " ansible_ssh_timeout=3 ansible_ssh_common_args='-o ConnectTimeout=3'\n"
    )
    code, output = run(make_request(tmp_path, PASSING, inventory))
    assert code == ExitCode.UNREACHABLE
    assert "UNREACHABLE nowhere: change something:" in output


def test_json_lines_end_with_summary(tmp_path):
    code, output = run(make_request(tmp_path, FAILING, f"localhost {LOCAL}\n"), OutputMode.JSON)
    assert code == ExitCode.FAILED
    records = [json.loads(line) for line in output.splitlines()]
    assert all(r["type"] == "event" for r in records[:-1])
    assert {"event", "host", "task", "status", "time"} <= set(records[0])
    failed = [r for r in records if r.get("status") == "failed"]
    assert failed[0]["host"] == "localhost"
    assert failed[0]["task"] == "explode"
    summary = records[-1]
    assert summary["type"] == "summary"
    assert summary["exit_code"] == 1
    assert summary["failures"][0]["msg"] == "boom"


def test_playbook_error_exits_1_and_shows_why(tmp_path):
    code, output = run(make_request(tmp_path, "- hosts: all\n  tasks: [", f"localhost {LOCAL}\n"))
    assert code == ExitCode.FAILED
    assert "test: FAILED (exit 1)" in output
    assert "ERROR" in output or "error" in output


def test_cancel_returns_130(tmp_path):
    request = make_request(tmp_path, SLOW, f"localhost {LOCAL}\n")
    cancel = threading.Event()

    def on_event(event, state, elapsed):
        if state.task == "sleep" and elapsed > 1:
            cancel.set()

    result = execute(request, on_event, cancel=cancel)
    assert result.exit_code == ExitCode.INTERRUPTED
    assert result.elapsed < 30


def test_runner_arguments(tmp_path):
    request = RunRequest(
        tmp_path, tmp_path / "site.yml", tmp_path / "inv", limit="app", check=True, diff=True,
        verbosity=2,
    )  # fmt: skip
    kwargs = runner_kwargs(request, "run-1")
    assert kwargs["cmdline"] == "--check --diff -vv"
    assert kwargs["limit"] == "app"
    assert kwargs["rotate_artifacts"] == KEEP_ARTIFACTS
    assert kwargs["artifact_dir"] == str(tmp_path / ".fpops" / "artifacts")
    assert kwargs["suppress_env_files"] is True
    assert cmdline(RunRequest(tmp_path, tmp_path, tmp_path)) == ""


@pytest.mark.parametrize("runs", [KEEP_ARTIFACTS + 2])
def test_artifacts_are_rotated(tmp_path, runs):
    artifacts = tmp_path / ".fpops" / "artifacts"
    artifacts.mkdir(parents=True)
    for i in range(runs):
        (artifacts / f"old-{i:02d}").mkdir()
    request = make_request(tmp_path, PASSING, f"localhost {LOCAL}\n")
    execute(request, lambda event, state, elapsed: None)
    assert len(list(artifacts.iterdir())) == KEEP_ARTIFACTS
