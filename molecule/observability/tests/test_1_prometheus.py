"""Prometheus on obs-mon1: every target generated from the inventory is up, the rules are loaded,
the exporters answer only the monitoring host and keep their secrets out of units, and every
dashboard query runs against this Prometheus."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import yaml
from conftest import PROMETHEUS, eventually, get_json, playbook, project_dir, promql

HOSTS = ["obs-app1", "obs-cache1", "obs-db1", "obs-lb1", "obs-mon1"]


def targets() -> list[dict]:
    return list(get_json(f"{PROMETHEUS}/api/v1/targets", state="active")["data"]["activeTargets"])


def test_every_generated_target_is_up():
    def all_up() -> bool:
        current = targets()
        return bool(current) and all(t["health"] == "up" for t in current)

    eventually(all_up, timeout=120)
    current = targets()
    down = [
        (t["labels"]["job"], t["labels"]["instance"], t["lastError"])
        for t in current
        if t["health"] != "up"
    ]
    assert down == []
    by_job: dict[str, list[str]] = {}
    for target in current:
        by_job.setdefault(target["labels"]["job"], []).append(target["labels"]["instance"])
    assert sorted(by_job["node"]) == HOSTS
    assert by_job["postgres"] == ["obs-db1"]
    assert by_job["redis"] == ["obs-cache1"]
    assert by_job["nginx"] == ["obs-lb1"]
    assert sorted(by_job["app"]) == ["obs-app1:8001", "obs-app1:8002"]
    assert by_job["blackbox"] == ["obs-mon1"]
    assert by_job["probe_https"] == ["https://api.obs.test/health"]
    assert by_job["prometheus"] == ["obs-mon1"] and by_job["alertmanager"] == ["obs-mon1"]
    # Every series carries the inventory host name.
    assert all(t["labels"].get("host") for t in current if t["labels"]["job"] != "probe_https")


def test_the_https_probe_sees_the_api_and_its_certificate():
    assert promql('probe_success{job="probe_https"}')[0]["value"][1] == "1"
    expiry = float(promql("probe_ssl_earliest_cert_expiry")[0]["value"][1])
    assert expiry > time.time() + 14 * 86400


def test_a_renewal_with_no_converge_is_served_by_nginx_and_its_expiry_exported(host):
    """playbooks/renew_certificates.yml with every certificate due: the lb's internal-CA
    certificate is signed again, nginx serves it after a reload (same master process), and
    Prometheus reads its new expiry from the host's fpops-pki-expiry textfile."""
    lb = host("obs-lb1")
    crt = "/etc/fpops/pki/tls-api.crt"
    master = lb.check_output("cat /run/nginx.pid")
    before = lb.check_output(f"openssl x509 -noout -serial -in {crt}")
    out = playbook("renew_certificates.yml", "-e", "pki_cert_renew_days=400")
    assert out.returncode == 0, out.stdout[-3000:]
    after = lb.check_output(f"openssl x509 -noout -serial -in {crt}")
    assert after != before
    served = lb.check_output(
        "openssl s_client -connect 172.30.7.10:443 -servername api.obs.test </dev/null"
        " 2>/dev/null | openssl x509 -noout -serial"
    )
    assert served == after
    assert lb.check_output("cat /run/nginx.pid") == master
    not_after = lb.check_output(
        f'date -u -d "$(openssl x509 -noout -enddate -in {crt} | cut -d= -f2)" +%s'
    )
    query = 'fpops_certificate_expiry_timestamp_seconds{host="obs-lb1", name="tls-api"}'

    def exported() -> str:
        result = promql(query)
        return result[0]["value"][1] if result else ""

    assert eventually(lambda: exported() == not_after, timeout=60), (exported(), not_after)


def test_exporters_report_their_services():
    assert promql('pg_up{host="obs-db1"}')[0]["value"][1] == "1"
    assert promql('redis_up{host="obs-cache1"}')[0]["value"][1] == "1"
    assert promql('nginx_up{host="obs-lb1"}')[0]["value"][1] == "1"
    # fpops' replication query: a primary is no replica and has no lag.
    assert promql('fpops_pg_replica_is_replica{host="obs-db1"}')[0]["value"][1] == "0"
    assert promql('fpops_pg_replica_lag_seconds{host="obs-db1"}')[0]["value"][1] == "0"
    # The systemd collector sees the services fpops manages.
    assert promql(
        'node_systemd_unit_state{host="obs-cache1", name="redis-server.service", state="active"}'
    )


def test_every_alert_rule_is_loaded():
    files = sorted((project_dir() / "roles" / "prometheus" / "files" / "rules").glob("*.rules.yml"))
    expected = {
        rule["alert"]
        for path in files
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    groups = get_json(f"{PROMETHEUS}/api/v1/rules")["data"]["groups"]
    loaded = {
        rule["name"] for group in groups for rule in group["rules"] if rule["type"] == "alerting"
    }
    assert loaded == expected
    assert all(rule["health"] == "ok" for group in groups for rule in group["rules"])


def dashboard_queries() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(
        (project_dir() / "roles" / "grafana" / "files" / "dashboards").glob("*.json")
    ):
        board = json.loads(Path(path).read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                if target["datasource"]["type"] == "prometheus":
                    found.append((board["uid"], panel["title"], target["expr"]))
    return found


def test_every_dashboard_query_runs_against_this_prometheus():
    with_data = 0
    for board, title, expr in dashboard_queries():
        answer = get_json(f"{PROMETHEUS}/api/v1/query", query=re.sub(r"\$host\b", ".*", expr))
        assert answer["status"] == "success", (board, title, answer)
        with_data += bool(answer["data"]["result"])
    # Most panels show data here (no replica, no backups: those stay empty).
    assert with_data >= len(dashboard_queries()) * 2 // 3, with_data


def reaches(src, address: str, port: int) -> bool:
    probe = src.run(
        f"python3 -c \"import socket; socket.create_connection(('{address}', {port}), 3)\""
    )
    return probe.rc == 0


def test_exporter_ports_answer_the_monitoring_host_only(host):
    mon, db = host("obs-mon1"), host("obs-db1")
    for address, port in [("172.30.7.31", 9121), ("172.30.7.10", 9113), ("172.30.7.31", 9100)]:
        assert reaches(mon, address, port), (address, port)
        assert not reaches(db, address, port), (address, port)
    # The blackbox exporter only on loopback.
    assert not reaches(db, "172.30.7.41", 9115)


def test_exporter_secrets_stay_out_of_units_and_readable_files(host, vault):
    db, cache = host("obs-db1"), host("obs-cache1")
    for h, package, secret in [
        (db, "prometheus-postgres-exporter", vault["vault_postgresql_monitor_password"]),
        (cache, "prometheus-redis-exporter", vault["vault_redis_monitor_password"]),
    ]:
        settings = h.file(f"/etc/default/{package}")
        assert (settings.user, settings.group, settings.mode) == ("root", "root", 0o600)
        unit = h.check_output(f"systemctl show {package} -p ExecStart -p Environment")
        assert secret not in unit
        assert secret not in h.check_output(
            f"ps -eo args | grep [{package[0]}]{package[1:]} || true"
        )
