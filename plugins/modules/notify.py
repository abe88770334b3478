#!/usr/bin/python
"""Ansible module: tell people about a deploy/rollback/backup event.

Sends one event to every configured channel: a generic JSON webhook (optionally signed with
HMAC-SHA256), Slack (incoming webhook), DingTalk (robot webhook, signed with its secret) and
e-mail over SMTP. Only the standard library is used, so the controller needs nothing extra.

A channel that cannot be reached is reported in `failures` (and as a warning); the module itself
fails only when `required` is true: a dead chat webhook must not stop a rollback at 3 a.m.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.parse
import urllib.request
from email.message import EmailMessage
from typing import Any

DOCUMENTATION = r"""
module: notify
short_description: Send a deploy/rollback event to webhooks, Slack, DingTalk and e-mail
version_added: 0.2.0
author: fpops maintainers
description:
  - Sends one event to every configured channel.
  - An unreachable channel is a warning unless O(required).
options:
  event:
    description: The event (action, result, environment, version, ...); sent as given in webhooks.
    type: dict
    required: true
  channels:
    description: Where to send it; each has a type (webhook, slack, dingtalk, email) + settings.
    type: list
    elements: dict
    required: true
  timeout:
    description: Seconds per channel.
    type: int
    default: 10
  required:
    description: Fail when any channel could not be reached.
    type: bool
    default: false
"""

CHANNEL_TYPES = ("webhook", "slack", "dingtalk", "email")
SECRET_KEYS = ("url", "secret", "password", "username")
RESULT_MARKS = {"started": "▶", "succeeded": "✔", "failed": "✖"}


def summary(event: dict[str, Any]) -> str:
    """One line a person reads first: "✔ deploy 2.0.0 to production succeeded"."""
    mark = RESULT_MARKS.get(str(event.get("result")), "•")
    version = f" {event['version']}" if event.get("version") else ""
    text = f"{mark} {event.get('action', 'run')}{version} to {event.get('environment', '?')}"
    text += f" {event.get('result', '')}".rstrip()
    if event.get("operator"):
        text += f" (by {event['operator']})"
    return text


def message_text(event: dict[str, Any]) -> str:
    """The summary line followed by the details, for chat and e-mail bodies."""
    lines = [summary(event)]
    if event.get("message"):
        lines.append(str(event["message"]))
    if event.get("hosts"):
        lines.append("hosts: " + ", ".join(str(host) for host in event["hosts"]))
    if event.get("time"):
        lines.append(f"time: {event['time']}")
    return "\n".join(lines)


def dingtalk_signed_url(url: str, secret: str, now_ms: int) -> str:
    """DingTalk's signature: HMAC-SHA256 over "<timestamp ms>\\n<secret>" keyed by the secret."""
    to_sign = f"{now_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={now_ms}&sign={sign}"


def webhook_signature(body: bytes, secret: str) -> str:
    """The X-Fpops-Signature header a receiver can check: sha256=<hex HMAC of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def http_request(
    channel: dict[str, Any], event: dict[str, Any], now_ms: int
) -> urllib.request.Request:
    """The POST request for one HTTP channel (webhook, slack, dingtalk)."""
    kind = channel["type"]
    url = str(channel["url"])
    headers = {"Content-Type": "application/json", "User-Agent": "fpops-notify"}
    payload: dict[str, Any]
    if kind == "slack":
        payload = {"text": message_text(event)}
    elif kind == "dingtalk":
        payload = {"msgtype": "text", "text": {"content": message_text(event)}}
        if channel.get("secret"):
            url = dingtalk_signed_url(url, str(channel["secret"]), now_ms)
    else:
        payload = dict(event, summary=summary(event))
    body = json.dumps(payload, sort_keys=True).encode()
    if kind == "webhook" and channel.get("secret"):
        headers["X-Fpops-Signature"] = webhook_signature(body, str(channel["secret"]))
    return urllib.request.Request(url, data=body, headers=headers, method="POST")


def send_http(channel: dict[str, Any], event: dict[str, Any], timeout: int) -> None:
    request = http_request(channel, event, int(time.time() * 1000))
    context = None
    if channel.get("ca_file"):
        context = ssl.create_default_context(cafile=str(channel["ca_file"]))
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        body = response.read(65536)
    if channel["type"] == "dingtalk":
        # DingTalk answers 200 with {"errcode": N} when it rejects a message (e.g. bad sign).
        answer = json.loads(body or b"{}")
        if answer.get("errcode", 0) != 0:
            raise RuntimeError(f"DingTalk refused the message: {answer.get('errmsg', answer)}")


def email_message(channel: dict[str, Any], event: dict[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[fpops] {summary(event)}"
    message["From"] = str(channel.get("from") or "fpops@localhost")
    recipients = channel.get("to") or []
    message["To"] = ", ".join(recipients if isinstance(recipients, list) else [str(recipients)])
    message.set_content(message_text(event) + "\n\n" + json.dumps(event, indent=2, sort_keys=True))
    return message


def send_email(channel: dict[str, Any], event: dict[str, Any], timeout: int) -> None:
    host = str(channel.get("host") or "localhost")
    port = int(channel.get("port") or 25)
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        if channel.get("starttls"):
            smtp.starttls(context=ssl.create_default_context(cafile=channel.get("ca_file")))
        if channel.get("username"):
            smtp.login(str(channel["username"]), str(channel.get("password") or ""))
        smtp.send_message(email_message(channel, event))


def channel_problem(channel: dict[str, Any]) -> str | None:
    """What is wrong with a channel's settings, or None."""
    kind = channel.get("type")
    if kind not in CHANNEL_TYPES:
        return f"type must be one of {', '.join(CHANNEL_TYPES)}, not {kind!r}"
    if kind == "email":
        return None if channel.get("to") else "an email channel needs 'to' (a list of addresses)"
    url = str(channel.get("url") or "")
    if not url.startswith(("https://", "http://")):
        return f"a {kind} channel needs an http(s) 'url'"
    return None


def channel_name(channel: dict[str, Any], index: int) -> str:
    return str(channel.get("name") or f"{channel.get('type', 'channel')}#{index}")


def notify(channels: list[dict[str, Any]], event: dict[str, Any], timeout: int) -> dict[str, Any]:
    """Send to every channel; returns {"sent": [names], "failures": {name: reason}}."""
    sent: list[str] = []
    failed: dict[str, str] = {}
    for index, channel in enumerate(channels):
        name = channel_name(channel, index)
        try:
            if channel["type"] == "email":
                send_email(channel, event, timeout)
            else:
                send_http(channel, event, timeout)
            sent.append(name)
        except Exception as error:
            failed[name] = f"{type(error).__name__}: {error}"
    return {"sent": sent, "failures": failed}


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "event": {"type": "dict", "required": True},
            "channels": {"type": "list", "elements": "dict", "required": True},
            "timeout": {"type": "int", "default": 10},
            "required": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    channels: list[dict[str, Any]] = module.params["channels"]
    # Webhook URLs carry tokens, channels carry secrets and passwords: never in any output.
    # (Types and names stay readable, so a failure can say which channel it was.)
    for channel in channels:
        for key in SECRET_KEYS:
            if channel.get(key):
                module.no_log_values.add(str(channel[key]))
    problems = [
        f"{channel_name(channel, index)}: {problem}"
        for index, channel in enumerate(channels)
        if (problem := channel_problem(channel))
    ]
    if problems:
        module.fail_json(msg="bad notification channel settings: " + "; ".join(problems))
    if module.check_mode:
        module.exit_json(changed=False, sent=[], failures={}, skipped="check mode")
    result = notify(channels, module.params["event"], module.params["timeout"])
    for name, reason in result["failures"].items():
        module.warn(f"notification to {name} failed: {reason}")
    if result["failures"] and module.params["required"]:
        module.fail_json(msg="notifications failed: " + "; ".join(result["failures"]), **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
