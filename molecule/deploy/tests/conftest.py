"""Helpers for the deploy scenario: the playbooks, the load generator on dep-sink, the sinks."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from fixtures import groups, host
from helpers import failed_requests, parse_hey, project_dir, recap, run_playbook

__all__ = ["failed_requests", "groups", "host", "project_dir", "recap", "run_playbook"]

APP_HOSTS = ["dep-app1", "dep-app2"]
SRV = "/srv/prediction-api"
URL = "https://api.fpops.test/health"


def deploy(version: str, *extra: str):
    return run_playbook(
        project_dir() / "playbooks/deploy.yml", "-e", f"app_version={version}", *extra
    )


def rollback(*extra: str):
    return run_playbook(project_dir() / "playbooks/rollback.yml", *extra)


class Load:
    """hey on dep-sink at a fixed rate through the lb, from start() until stop()."""

    def __init__(self, sink, name: str) -> None:
        self.sink = sink
        self.out = f"/tmp/hey-{name}.txt"

    def start(self) -> Load:
        # 2 clients x 10 requests/s (a request every 50 ms through each switch), bounded at 10
        # minutes in case stop() is never reached. Each /health runs PostgreSQL, Redis and schema
        # checks: at 4 x 10 the load was most of this scenario's container CPU (README, "sixth
        # cut"); benchmarks/deploy_rollback.py keeps measuring at 4 x 10 on the sandbox.
        self.sink.check_output(
            f"setsid nohup hey -z 600s -c 2 -q 10 -t 10 {URL} > {self.out} 2>&1 < /dev/null &"
        )
        time.sleep(3)  # the first requests are in flight before anything changes
        return self

    def stop(self) -> dict[str, int]:
        """Interrupt hey (it then prints its report) and count the answers by status."""
        time.sleep(3)  # and requests keep coming after the change
        self.sink.run("pkill -INT -x hey")
        for _ in range(50):
            if self.sink.run("pgrep -x hey").rc != 0:
                break
            time.sleep(0.2)
        return parse_hey(self.sink.file(self.out).content_string)


def sink_http(sink) -> list[dict]:
    """Every request the HTTP sink recorded (notifications), oldest first."""
    content = sink.run("cat /var/lib/fpops-sink/http.jsonl").stdout
    return [json.loads(line) for line in content.splitlines() if line.strip()]


def sink_mail(sink) -> list[str]:
    """Every e-mail the SMTP sink stored."""
    names = sink.run("ls /var/lib/fpops-sink/Maildir/new").stdout.split()
    return [sink.file(f"/var/lib/fpops-sink/Maildir/new/{n}").content_string for n in sorted(names)]


@pytest.fixture(scope="session")
def sink(host):
    return host("dep-sink")


@pytest.fixture(scope="session")
def lb(host):
    return host("dep-lb")


@pytest.fixture(scope="session")
def db(host):
    return host("dep-db")


@pytest.fixture(scope="session")
def apps(host):
    return [host(name) for name in APP_HOSTS]
