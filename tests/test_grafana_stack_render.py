"""Grafana, Loki and Alloy cannot be installed here (Grafana's repository is unreachable), so
every file their roles write is rendered by Ansible from the role templates and checked: the
provisioning parses and carries the fixed UIDs, Loki's retention is on, Alloy ships the sources
the issue names with env/host/service labels, and no secret is in a readable file."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import yaml
from test_monitoring_render import ROLES, render

INVENTORY: dict[str, Any] = {
    "all": {
        "vars": {"fpops_env": "staging"},
        "children": {
            "monitoring": {"hosts": {"mon1": {"ansible_host": "10.0.0.41"}}},
        },
    }
}
SECRETS = {"vault_grafana_admin_password": "s3cret-admin-password"}


def grafana(tmp_path: Path, template: str) -> Path:
    return render(tmp_path, "grafana", template, INVENTORY, SECRETS)


def test_grafana_ini_has_no_secret_and_no_anonymous_access(tmp_path: Path) -> None:
    out = grafana(tmp_path, "etc/grafana/grafana.ini.j2")
    text = out.read_text()
    assert "s3cret-admin-password" not in text
    ini = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    ini.read_string(text)
    assert ini["security"]["admin_password"] == "$__file{/etc/grafana/admin-password}"
    assert ini["auth.anonymous"]["enabled"] == "false"
    assert ini["users"]["allow_sign_up"] == "false"
    assert ini["server"]["http_addr"] == "10.0.0.41"


def test_datasources_have_the_fixed_uids_the_dashboards_use(tmp_path: Path) -> None:
    out = grafana(tmp_path, "etc/grafana/provisioning/datasources/fpops.yaml.j2")
    sources = {s["type"]: s for s in yaml.safe_load(out.read_text())["datasources"]}
    assert sources["prometheus"]["uid"] == "fpops-prometheus"
    assert sources["prometheus"]["url"] == "http://10.0.0.41:9090"
    assert sources["loki"]["uid"] == "fpops-loki"
    assert sources["loki"]["url"] == "http://10.0.0.41:3100"
    dashboards = (ROLES / "grafana" / "files" / "dashboards").glob("*.json")
    used = {
        m
        for d in dashboards
        for m in re.findall(r'"uid": "(fpops-(?:prometheus|loki))"', d.read_text())
    }
    assert used == {s["uid"] for s in sources.values()}


def test_dashboard_provider_reads_the_role_dashboards_read_only(tmp_path: Path) -> None:
    out = grafana(tmp_path, "etc/grafana/provisioning/dashboards/fpops.yaml.j2")
    provider = yaml.safe_load(out.read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/fpops"
    assert provider["allowUiUpdates"] is False


def test_loki_keeps_logs_30_days_through_the_compactor(tmp_path: Path) -> None:
    out = render(tmp_path, "loki", "etc/loki/config.yml.j2", INVENTORY, {})
    config = yaml.safe_load(out.read_text())
    assert config["compactor"]["retention_enabled"] is True
    assert config["limits_config"]["retention_period"] == "720h"
    assert config["common"]["storage"]["filesystem"]["chunks_directory"] == "/var/lib/loki/chunks"
    assert config["server"]["http_listen_address"] == "10.0.0.41"
    assert config["server"]["grpc_listen_address"] == "127.0.0.1"
    assert config["auth_enabled"] is False


def alloy(tmp_path: Path) -> str:
    inventory = {
        "all": {
            "vars": {"fpops_env": "staging", "app_name": "prediction-api"},
            "children": {
                "monitoring": {"hosts": {"mon1": {"ansible_host": "10.0.0.41"}}},
            },
        }
    }
    return render(tmp_path, "alloy", "etc/alloy/config.alloy.j2", inventory, {}).read_text()


def blocks(config: str) -> list[str]:
    """The top-level components, `kind "label"`."""
    return re.findall(r'^([a-z_.]+ "[a-z_]+") \{', config, re.M)


def test_alloy_ships_the_issue_sources_with_env_host_service(tmp_path: Path) -> None:
    config = alloy(tmp_path)
    assert config.count("{") == config.count("}")
    assert blocks(config) == [
        'loki.write "fpops"',
        'loki.relabel "journal"',
        'loki.source.journal "units"',
        'local.file_match "nginx_access"',
        'loki.source.file "nginx_access"',
        'loki.process "nginx_access"',
        'local.file_match "nginx"',
        'loki.source.file "nginx"',
        'local.file_match "postgresql"',
        'loki.source.file "postgresql"',
    ]
    assert 'url = "http://10.0.0.41:3100/loki/api/v1/push"' in config
    assert 'env  = "staging"' in config and 'host = "mon1"' in config
    # Only the application's units, labelled app and celery.
    assert (
        'regex         = "prediction-api-web@.*\\\\.service|prediction-api-worker\\\\.service"'
        in config
    )
    for service in ("app", "celery"):
        assert f'replacement   = "{service}"' in config
    for path, service in (
        ("/var/log/nginx/access.log", "nginx"),
        ("/var/log/nginx/error.log", "nginx"),
        ("/var/log/postgresql/*.log", "postgresql"),
    ):
        assert f'"__path__" = "{path}", "service" = "{service}"' in config
