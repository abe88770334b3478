"""Alerting end to end: Redis stopped on obs-cache1 makes RedisDown reach the webhook sink within
the rule's `for` (1 minute) + 1 minute, with the receiver's token, and `fpops status` (its
playbook) lists it among the alerts firing, and the node exporter stopped beside it among the
targets down; started again, the resolution follows."""

from __future__ import annotations

import json
import time

from conftest import eventually, notifications, project_dir, run_playbook


def redis_down(status: str, since: float) -> list[dict]:
    found = []
    for record in notifications():
        for alert in record["payload"].get("alerts", []):
            if (
                alert["labels"].get("alertname") == "RedisDown"
                and alert["labels"].get("host") == "obs-cache1"
                and alert["status"] == status
                and record["received"] >= since
            ):
                found.append(record)
    return found


def status_document() -> dict:
    """What `fpops status` reads: playbooks/status.yml's FPOPS STATUS object."""
    out = run_playbook(
        project_dir() / "playbooks" / "status.yml",
        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )
    assert out.returncode == 0, out.stdout[-3000:]
    tasks = json.loads(out.stdout[out.stdout.index("{") :])["plays"][-1]["tasks"]
    return json.loads(tasks[-1]["hosts"]["localhost"]["msg"])


def test_redis_down_reaches_the_webhook_then_resolves(cache):
    started = time.time()
    cache.check_output("systemctl stop redis-server prometheus-node-exporter")
    try:
        fired = eventually(lambda: redis_down("firing", started), timeout=120, interval=2)
        assert fired, "RedisDown did not reach the webhook within 2 minutes"
        assert time.time() - started <= 125
        assert fired[0]["path"] == "/alerts"
        assert fired[0]["authorization"] == "Bearer fpops-scenario-token"
        summary = [
            a for a in fired[0]["payload"]["alerts"] if a["labels"]["alertname"] == "RedisDown"
        ]
        assert summary[0]["labels"]["severity"] == "critical"
        assert "runbook" in summary[0]["annotations"]
        monitoring = status_document()["hosts"]["obs-mon1"]
        firing = [labels["alertname"] for labels, _ in monitoring["alerts"]]
        assert "RedisDown" in firing, monitoring["alerts"]
        down = [labels.get("instance") for labels, _ in monitoring["targets"]["down"]]
        assert "obs-cache1" in down, monitoring["targets"]
        assert monitoring["targets"]["up"] > 0
    finally:
        cache.check_output("systemctl start redis-server prometheus-node-exporter")
    restarted = time.time()
    resolved = eventually(lambda: redis_down("resolved", restarted), timeout=120, interval=2)
    assert resolved, "RedisDown was not resolved within 2 minutes of Redis starting again"
