"""Helpers for the observability scenario: Prometheus' and Alertmanager's HTTP APIs (reached from
the test runner, an admin source), the webhook sink's file, the hosts."""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from fixtures import groups, host, vault
from helpers import ephemeral_dir, project_dir, recap, run_playbook
from helpers import run_project_playbook as playbook

__all__ = ["groups", "host", "playbook", "project_dir", "recap", "run_playbook", "vault"]

PROMETHEUS = "http://172.30.7.41:9090"
ALERTMANAGER = "http://172.30.7.41:9093"


def get_json(url: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(url + query, timeout=10) as response:
        return json.loads(response.read())


def promql(expr: str) -> list[dict[str, Any]]:
    answer = get_json(f"{PROMETHEUS}/api/v1/query", query=expr)
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def eventually(check: Callable[[], Any], timeout: float, interval: float = 2) -> Any:
    """check()'s first truthy result within timeout seconds, else its last one."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def notifications() -> list[dict[str, Any]]:
    path = ephemeral_dir() / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def mon(host):
    return host("obs-mon1")


@pytest.fixture(scope="session")
def db(host):
    return host("obs-db1")


@pytest.fixture(scope="session")
def cache(host):
    return host("obs-cache1")
