"""The notify role's module against real local receivers: an HTTP server and an SMTP server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

MODULE = Path(__file__).parents[1] / "plugins/modules/notify.py"
spec = importlib.util.spec_from_file_location("fpops_notify", MODULE)
assert spec and spec.loader
notify = importlib.util.module_from_spec(spec)
spec.loader.exec_module(notify)

EVENT = {
    "action": "deploy",
    "result": "failed",
    "environment": "production",
    "version": "3.0.0",
    "message": "app1: health gate failed",
    "hosts": ["app1", "app2"],
    "operator": "ops@laptop",
    "time": "2026-11-23T03:00:00Z",
}


class Received:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []


@pytest.fixture
def http_sink() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": body}
            )
            answer = (
                b'{"errcode": 0}'
                if not self.path.startswith("/refuse")
                else b'{"errcode": 310000, "errmsg": "sign not match"}'
            )
            self.send_response(200 if not self.path.startswith("/broken") else 500)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


class MailHandler:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, MailHandler]]:
    handler = MailHandler()
    with socket.socket() as probe:  # a free port: aiosmtpd checks readiness by connecting to it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, handler
    controller.stop()


def test_webhook_gets_the_event_signed(http_sink: tuple[str, Received]) -> None:
    url, received = http_sink
    channels = [{"type": "webhook", "url": f"{url}/hook", "secret": "s3cret"}]
    assert notify.notify(channels, EVENT, 5) == {"sent": ["webhook#0"], "failures": {}}
    request = received.requests[0]
    payload = json.loads(request["body"])
    assert {k: payload[k] for k in EVENT} == EVENT
    assert payload["summary"] == "✖ deploy 3.0.0 to production failed (by ops@laptop)"
    expected = hmac.new(b"s3cret", request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Fpops-Signature"] == f"sha256={expected}"


def test_slack_gets_readable_text(http_sink: tuple[str, Received]) -> None:
    url, received = http_sink
    notify.notify([{"type": "slack", "url": f"{url}/slack", "name": "ops-chat"}], EVENT, 5)
    text = json.loads(received.requests[0]["body"])["text"]
    assert text.splitlines() == [
        "✖ deploy 3.0.0 to production failed (by ops@laptop)",
        "app1: health gate failed",
        "hosts: app1, app2",
        "time: 2026-11-23T03:00:00Z",
    ]


def test_dingtalk_url_is_signed_with_the_robot_secret(http_sink: tuple[str, Received]) -> None:
    url, received = http_sink
    channel = {"type": "dingtalk", "url": f"{url}/robot/send?access_token=abc", "secret": "SEC1"}
    assert notify.notify([channel], EVENT, 5)["failures"] == {}
    request = received.requests[0]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request["path"]).query)
    assert query["access_token"] == ["abc"]
    timestamp = query["timestamp"][0]
    digest = hmac.new(b"SEC1", f"{timestamp}\nSEC1".encode(), hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(digest).decode()]
    body = json.loads(request["body"])
    assert body["msgtype"] == "text"
    assert body["text"]["content"].startswith("✖ deploy 3.0.0 to production failed")


def test_dingtalk_refusal_is_a_failure(http_sink: tuple[str, Received]) -> None:
    url, _ = http_sink
    channel = {"type": "dingtalk", "url": f"{url}/refuse?access_token=abc", "secret": "x"}
    result = notify.notify([channel], EVENT, 5)
    assert "sign not match" in result["failures"]["dingtalk#0"]


def test_email_is_delivered(smtp_sink: tuple[int, MailHandler]) -> None:
    port, handler = smtp_sink
    channel = {"type": "email", "host": "127.0.0.1", "port": port, "to": ["oncall@example.org"]}
    assert notify.notify([channel], EVENT, 5)["sent"] == ["email#0"]
    envelope = handler.messages[0]
    assert envelope.rcpt_tos == ["oncall@example.org"]
    content = envelope.content.decode()
    assert "Subject: [fpops]" in content
    assert '"version": "3.0.0"' in content


def test_one_dead_channel_does_not_stop_the_others(http_sink: tuple[str, Received]) -> None:
    url, received = http_sink
    channels = [
        {"type": "webhook", "url": f"{url}/broken", "name": "broken"},
        {"type": "slack", "url": "http://127.0.0.1:9/", "name": "nobody-listens"},
        {"type": "webhook", "url": f"{url}/ok", "name": "ok"},
    ]
    result = notify.notify(channels, EVENT, 5)
    assert result["sent"] == ["ok"]
    assert "500" in result["failures"]["broken"]
    assert "refused" in result["failures"]["nobody-listens"].lower()
    assert [r["path"] for r in received.requests] == ["/broken", "/ok"]


@pytest.mark.parametrize(
    ("channel", "problem"),
    [
        ({"type": "teams", "url": "https://x"}, "type must be one of"),
        ({"type": "slack"}, "needs an http(s) 'url'"),
        ({"type": "webhook", "url": "ftp://x"}, "needs an http(s) 'url'"),
        ({"type": "email"}, "needs 'to'"),
    ],
)
def test_bad_channel_settings_are_named(channel: dict[str, Any], problem: str) -> None:
    assert problem in notify.channel_problem(channel)


def test_good_channel_settings_pass() -> None:
    assert notify.channel_problem({"type": "email", "to": ["a@b"]}) is None
    assert (
        notify.channel_problem({"type": "dingtalk", "url": "https://oapi.dingtalk.com/x"}) is None
    )
