"""The monitoring roles' generated configuration, rendered by Ansible from the role templates
and checked by the real tools: alertmanager.yml by `amtool check-config`, prometheus.yml by
`promtool check config`; bad receivers refused by the role's validation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROLES = ROOT / "roles"


def run_play(
    tmp_path: Path,
    tasks: list[dict[str, Any]],
    role: str,
    inventory: dict[str, Any],
    overrides: dict[str, Any],
) -> subprocess.CompletedProcess[str]:
    """One play on the inventory's `mon1` (local connection), with the role's defaults and vars."""
    role_dir = ROLES / role
    vars_files = [str(role_dir / "defaults" / "main.yml")]
    if (role_dir / "vars" / "main.yml").exists():
        vars_files.append(str(role_dir / "vars" / "main.yml"))
    play = [
        {
            "hosts": "mon1",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "vars_files": vars_files,
            "tasks": tasks,
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "overrides.json").write_text(json.dumps(overrides))
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(tmp_path / "inventory.yml"),
            str(tmp_path / "play.yml"),
            "-e",
            f"@{tmp_path / 'overrides.json'}",
            "-e",
            f"role_path={role_dir}",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={
            **os.environ,
            # The project's fact cache may hold a real sandbox's facts for the same host names,
            # which would outrank this inventory's.
            "ANSIBLE_CACHE_PLUGIN": "memory",
        },
    )


def render(
    tmp_path: Path, role: str, template: str, inventory: dict[str, Any], overrides: dict[str, Any]
) -> Path:
    out = tmp_path / Path(template).name.removesuffix(".j2")
    result = run_play(
        tmp_path,
        [
            {
                "ansible.builtin.template": {
                    "src": str(ROLES / role / "templates" / template),
                    "dest": str(out),
                }
            }
        ],
        role,
        inventory,
        overrides,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return out


def tool(name: str) -> str:
    path = shutil.which(name) or str(ROOT / ".venv" / "bin" / name)
    assert Path(path).exists(), f"{name} missing: run scripts/bootstrap"
    return path


MON_ONLY = {"all": {"children": {"monitoring": {"hosts": {"mon1": {"ansible_host": "10.0.0.41"}}}}}}

RECEIVERS = {
    "alertmanager_receivers": [
        {"name": "oncall-mail", "type": "email", "to": "oncall@example.org"},
        {
            "name": "ops-slack",
            "type": "slack",
            "url": "https://hooks.slack.com/services/T0/B0/x",
            "channel": "#ops",
        },
        {
            "name": "ops-dingtalk",
            "type": "dingtalk",
            "url": "https://oapi.dingtalk.com/robot/send?access_token=t",
            "secret": "SECxyz",
        },
        {
            "name": "pager",
            "type": "webhook",
            "url": "https://pager.example.org/hook",
            "bearer_token": "tok",
        },
    ],
    "alertmanager_severity_receivers": {
        "critical": ["oncall-mail", "ops-dingtalk", "pager"],
        "warning": ["ops-slack"],
    },
    "alertmanager_default_receivers": ["pager"],
    "alertmanager_smtp": {
        "smarthost": "smtp.example.org:587",
        "from": "alerts@example.org",
        "auth_username": "alerts",
        "auth_password": "pw",
        "require_tls": True,
    },
}


def test_alertmanager_config_with_every_receiver_type_passes_amtool(tmp_path: Path) -> None:
    out = render(
        tmp_path, "alertmanager", "etc/prometheus/alertmanager.yml.j2", MON_ONLY, RECEIVERS
    )
    check = subprocess.run(
        [tool("amtool"), "check-config", str(out)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    config = yaml.safe_load(out.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    critical = receivers["severity-critical"]
    assert critical["email_configs"][0]["to"] == "oncall@example.org"
    hooks = [h["url"] for h in critical["webhook_configs"]]
    # DingTalk goes through the local signing relay; the robot's secret is not in this file.
    assert hooks == ["http://127.0.0.1:9095/ops-dingtalk", "https://pager.example.org/hook"]
    assert "SECxyz" not in out.read_text()
    assert receivers["severity-warning"]["slack_configs"][0]["channel"] == "#ops"
    assert [r["matchers"] for r in config["route"]["routes"]] == [
        ['severity="critical"'],
        ['severity="warning"'],
    ]
    inhibit = config["inhibit_rules"][0]
    assert inhibit["source_matchers"] == ['alertname="InstanceDown"', 'job="node"']
    assert inhibit["equal"] == ["host"]


def test_alertmanager_config_without_receivers_is_valid(tmp_path: Path) -> None:
    out = render(tmp_path, "alertmanager", "etc/prometheus/alertmanager.yml.j2", MON_ONLY, {})
    check = subprocess.run(
        [tool("amtool"), "check-config", str(out)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"alertmanager_receivers": [{"name": "d", "type": "dingtalk", "url": "https://x"}]},
            "receiver d (dingtalk) has no secret",
        ),
        (
            {"alertmanager_receivers": [{"name": "s", "type": "slack"}]},
            "receiver s (slack) has no url",
        ),
        ({"alertmanager_receivers": [{"name": "p", "type": "pager"}]}, "type must be one of"),
        ({"alertmanager_default_receivers": ["nobody"]}, "no receiver named nobody"),
        (
            {"alertmanager_receivers": [{"name": "m", "type": "email", "to": "a@b"}]},
            "email receivers need alertmanager_smtp.smarthost",
        ),
    ],
)
def test_alertmanager_refuses_an_incomplete_receiver(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    tasks = [
        {"ansible.builtin.include_tasks": str(ROLES / "alertmanager" / "tasks" / "validate.yml")}
    ]
    result = run_play(tmp_path, tasks, "alertmanager", MON_ONLY, change)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-2000:]


def exporters(*entries: tuple[str, str]) -> dict[str, Any]:
    return {
        "fpops_exporters": {
            "exporters": [{"job": job, "address": address} for job, address in entries]
        }
    }


FULL = {
    "all": {
        "children": {
            "monitoring": {
                "hosts": {
                    "mon1": {
                        "ansible_host": "10.0.0.41",
                        "ansible_local": exporters(
                            ("node", "10.0.0.41:9100"), ("blackbox", "127.0.0.1:9115")
                        ),
                    }
                }
            },
            "db_primary": {
                "hosts": {
                    "db1": {
                        "ansible_host": "10.0.0.21",
                        "ansible_local": exporters(
                            ("node", "10.0.0.21:9100"), ("postgres", "10.0.0.21:9187")
                        ),
                    }
                }
            },
            "app": {
                "hosts": {
                    "app1": {
                        "ansible_host": "10.0.0.11",
                        "ansible_local": {
                            "fpops_exporters": {
                                "exporters": [
                                    {"job": "node", "address": "10.0.0.11:9100"},
                                    {
                                        "job": "app",
                                        "address": "10.0.0.11:8001",
                                        "instance": "app1:8001",
                                    },
                                    {
                                        "job": "app",
                                        "address": "10.0.0.11:8002",
                                        "instance": "app1:8002",
                                    },
                                ]
                            }
                        },
                    }
                }
            },
            "lb": {
                "hosts": {
                    "lb1": {
                        "ansible_host": "10.0.0.10",
                        "nginx_vhosts": [
                            {"name": "api", "server_names": ["api.example.org", "www.example.org"]}
                        ],
                        # Not yet provisioned: no exporters recorded, so nothing scraped there yet.
                    }
                }
            },
        }
    }
}


def test_prometheus_config_from_the_inventory_passes_promtool(tmp_path: Path) -> None:
    out = render(
        tmp_path, "prometheus", "etc/prometheus/prometheus.yml.j2", FULL, {"fpops_env": "staging"}
    )
    check = subprocess.run(
        [tool("promtool"), "check", "config", str(out)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    config = yaml.safe_load(out.read_text())
    assert config["global"]["external_labels"] == {"env": "staging"}
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {
        "prometheus",
        "alertmanager",
        "app",
        "blackbox",
        "node",
        "postgres",
        "probe_https",
    }
    node = {c["targets"][0]: c["labels"] for c in jobs["node"]["static_configs"]}
    assert node == {
        "10.0.0.41:9100": {"instance": "mon1", "host": "mon1"},
        "10.0.0.21:9100": {"instance": "db1", "host": "db1"},
        "10.0.0.11:9100": {"instance": "app1", "host": "app1"},
    }
    app = [c["labels"] for c in jobs["app"]["static_configs"]]
    assert app == [
        {"instance": "app1:8001", "host": "app1"},
        {"instance": "app1:8002", "host": "app1"},
    ]
    probe = jobs["probe_https"]
    assert probe["static_configs"][0]["targets"] == ["https://api.example.org/health"]
    assert probe["relabel_configs"][-1]["replacement"] == "127.0.0.1:9115"
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "10.0.0.41:9093"
    ]
