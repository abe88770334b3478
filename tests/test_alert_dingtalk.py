"""The DingTalk relay of the alertmanager role: Alertmanager's webhook in, one signed markdown
message out; a robot that refuses the message makes the relay answer 502 (Alertmanager retries).
DingTalk itself is a service on the internet: a local HTTP server checks the signature the way
DingTalk's documentation defines it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.machinery import SourceFileLoader
from pathlib import Path
from typing import Any

import pytest


def load_relay() -> Any:
    """The relay program (no .py suffix) as a module."""
    path = Path(__file__).resolve().parents[1] / "roles/alertmanager/files/fpops-alert-dingtalk"
    loader = SourceFileLoader("fpops_alert_dingtalk", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


RELAY = load_relay()

SECRET = "SEC-test-secret"


class Robot:
    """Stands in for DingTalk: records messages, answers errcode 310000 on a bad signature."""

    def __init__(self, errcode: int = 0) -> None:
        self.errcode = errcode
        self.received: list[dict[str, Any]] = []
        self.signatures_ok: list[bool] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                stamp = query["timestamp"][0]
                expected = base64.b64encode(
                    hmac.new(
                        SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256
                    ).digest()
                ).decode()
                fresh = abs(int(stamp) - time.time() * 1000) < 3_600_000
                ok = query["sign"][0] == expected and fresh and query["access_token"] == ["tok"]
                robot.signatures_ok.append(ok)
                robot.received.append(
                    json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                )
                code = robot.errcode if ok else 310000
                body = json.dumps(
                    {"errcode": code, "errmsg": "ok" if code == 0 else "refused"}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/robot/send?access_token=tok"


def serve(server: ThreadingHTTPServer) -> Iterator[str]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def robot() -> Iterator[Robot]:
    r = Robot()
    yield r
    r.server.shutdown()


@pytest.fixture
def relay(robot: Robot) -> Iterator[str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), RELAY.handler({"ops": {"url": robot.url, "secret": SECRET}})
    )
    yield from serve(server)


def post(url: str, payload: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


NOTIFICATION = {
    "status": "firing",
    "commonLabels": {"alertname": "RedisDown"},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "RedisDown", "severity": "critical", "host": "cache1"},
            "annotations": {
                "summary": "Redis on cache1 is down",
                "runbook": "systemctl status redis-server",
            },
        }
    ],
}


def test_relay_sends_one_signed_markdown_message(relay: str, robot: Robot) -> None:
    assert post(f"{relay}/ops", NOTIFICATION) == 200
    assert robot.signatures_ok == [True]
    message = robot.received[0]
    assert message["msgtype"] == "markdown"
    assert message["markdown"]["title"] == "FIRING: RedisDown"
    assert "[critical] Redis on cache1 is down" in message["markdown"]["text"]
    assert "runbook: systemctl status redis-server" in message["markdown"]["text"]


def test_relay_answers_502_when_the_robot_refuses(relay: str, robot: Robot) -> None:
    robot.errcode = 310000
    assert post(f"{relay}/ops", NOTIFICATION) == 502


def test_relay_knows_only_its_receivers(relay: str, robot: Robot) -> None:
    assert post(f"{relay}/someone-else", NOTIFICATION) == 404
    assert robot.received == []


def test_signature_changes_with_the_time() -> None:
    first = RELAY.signed_url("https://x/send?access_token=t", SECRET, 1_700_000_000_000)
    second = RELAY.signed_url("https://x/send?access_token=t", SECRET, 1_700_000_000_001)
    assert first != second
    assert first.startswith("https://x/send?access_token=t&timestamp=1700000000000&sign=")
