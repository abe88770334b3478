"""`fpops status`: the real playbooks/status.yml run on localhost (reachable, in no service
group) and an unreachable host, and the tables built from what a full environment reports."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from rich.console import Console

from fpops import cli, status
from fpops.exitcodes import ExitCode
from fpops.project import PROJECT_DIR_ENV

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    (tmp_path / "playbooks").mkdir()
    shutil.copy(ROOT / "playbooks" / "status.yml", tmp_path / "playbooks" / "status.yml")
    (tmp_path / "roles" / "app" / "files").mkdir(parents=True)
    shutil.copy(
        ROOT / "roles" / "app" / "files" / "release-state.py", tmp_path / "roles" / "app" / "files"
    )
    inventory = tmp_path / "inventories" / "production"
    inventory.mkdir(parents=True)
    (inventory / "hosts.ini").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
        " ansible_become=false\n"
        "nowhere ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh"
        " ansible_ssh_timeout=3 ansible_ssh_common_args='-o ConnectTimeout=3'\n"
        "[lb]\nlocalhost\n"
    )
    (inventory / "group_vars").mkdir()
    (inventory / "group_vars" / "lb.yml").write_text(
        "nginx_vhosts:\n  - {name: api, server_names: [api.example.test, lb1]}\n"
    )
    monkeypatch.setenv(PROJECT_DIR_ENV, str(tmp_path))
    return tmp_path


def test_status_json_names_reachable_and_unreachable_hosts(project, capsys):
    code = cli.main(["status", "production", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == ExitCode.UNREACHABLE
    assert document["hosts"]["localhost"]["reachable"] is True
    assert document["hosts"]["localhost"]["urls"] == ["https://api.example.test/"]
    assert document["hosts"]["nowhere"]["reachable"] is False
    assert document["now"] > 1_700_000_000


LAST = "fpops_backup_last_success_timestamp_seconds"
SAMPLE = {
    "now": 1_800_000_000,
    "hosts": {
        "app1": {
            "reachable": True,
            "groups": ["app"],
            "health": 200,
            "release": {"current": "2.0.0-20261124T0100", "live_slot": "green"},
        },
        "db1": {
            "reachable": True,
            "groups": ["db_primary"],
            "postgresql": "primary 0",
            "backups": [
                f'{LAST}{{stanza="main",type="full",repo="1"}} 1799990000',
                f'{LAST}{{stanza="main",type="incr"}} 1799999000',
                f'{LAST}{{stanza="main",type="full",repo="2"}} 1799900000',
            ],
        },
        "db2": {"reachable": True, "groups": ["db_replica"], "postgresql": "replica 3"},
        "cache1": {"reachable": True, "groups": ["cache"], "redis": "master"},
        "lb": {"reachable": True, "groups": ["lb"], "certificates": ["api 1805184000"]},
        "mon1": {"reachable": False, "groups": ["monitoring"]},
    },
}


def test_tables_show_release_roles_lag_backup_ages_and_certificate_days():
    console = Console(record=True, width=160)
    status.render(SAMPLE, "production", console)
    text = console.export_text()
    assert "2.0.0-20261124T0100" in text and "green" in text and "ok (200)" in text
    assert "replica" in text and "3 s" in text
    assert "master" in text
    assert status.backups(SAMPLE) == {
        "full": 1799990000.0,
        "full (repo 2)": 1799900000.0,
        "incr": 1799999000.0,
    }
    assert "2.8 h" in text and "16 min" in text  # full: 10,000 s ago; incr: 1,000 s ago
    assert "60" in text  # days left on the certificate
    assert "NO" in text  # mon1 unreachable


def _db(lag: object, etcd: dict) -> dict:
    patroni = [
        {"name": "db1", "role": "leader", "state": "running", "timeline": 7},
        {"name": "db2", "role": "sync_standby", "state": "running", "timeline": 7, "lag": 0},
        {"name": "db3", "role": "replica", "state": "running", "timeline": 7, "lag": lag},
    ]
    return {"reachable": True, "groups": ["db"], "patroni": patroni, "etcd": etcd}


def test_patroni_members_and_etcd_quorum_are_shown():
    hosts = {
        "db1": _db(3145728, {"ok": True, "leader": True, "term": 4}),
        "db2": _db(3145728, {"ok": True, "leader": False, "term": 4}),
        "db3": {"reachable": False, "groups": ["db"], "etcd": {"ok": False}},
    }
    console = Console(record=True, width=160)
    status.render({"now": 0, "hosts": hosts}, "production", console)
    text = console.export_text()
    assert "sync_standby" in text and "3.0 MB" in text and "7" in text
    assert "2 of 3 answering" in text
    assert status.etcd_quorum(hosts) == (2, 3)
    assert "no quorum" not in text and "no leader" not in text


def test_a_lost_etcd_quorum_and_a_missing_leader_are_called_out():
    lonely = _db(0, {"ok": True, "leader": False, "term": 9})
    lonely["patroni"] = [m for m in lonely["patroni"] if m["role"] != "leader"]
    hosts = {
        "db1": lonely,
        "db2": {"reachable": True, "groups": ["db"], "etcd": {"ok": False}},
        "db3": {"reachable": True, "groups": ["db"], "etcd": {"ok": False}},
    }
    console = Console(record=True, width=160)
    status.render({"now": 0, "hosts": hosts}, "production", console)
    text = console.export_text()
    assert "no quorum" in text and "no leader" in text


def _sentinel(ip: str, flags: str = "master", others: int = 2, quorum: str = "OK 3 usable") -> list:
    fields = ["name", "fpops", "ip", ip, "port", "6379", "flags", flags]
    return [*fields, "num-other-sentinels", str(others), "ckquorum", quorum]


def test_redis_sentinel_primary_links_and_quorum_are_shown():
    hosts = {
        "cache1": {"groups": ["cache"], "redis": "slave", "redis_link": "up"},
        "cache2": {"groups": ["cache"], "redis": "master", "sentinel": _sentinel("10.0.0.2")},
        "cache3": {"groups": ["cache"], "redis": "slave", "redis_link": "down"},
    }
    hosts["cache1"]["sentinel"] = _sentinel("10.0.0.2")
    hosts["cache3"]["sentinel"] = ["down"]
    console = Console(record=True, width=160)
    status.render({"now": 0, "hosts": hosts}, "production", console)
    text = console.export_text()
    assert "Redis Sentinel" in text and "10.0.0.2:6379" in text and "no answer" in text
    assert [fields.get("ip") for _, fields, _ in status.sentinel_views(hosts)] == [
        "10.0.0.2",
        "10.0.0.2",
        None,
    ]
    assert "different primaries" not in text and "no quorum" not in text


def test_redis_sentinels_that_disagree_or_lost_quorum_are_called_out():
    no_quorum = "NOQUORUM 1 usable Sentinels. Not enough available Sentinels"
    hosts = {
        "cache1": {
            "groups": ["cache"],
            "sentinel": _sentinel("10.0.0.1", "s_down,master", 0, no_quorum),
        },
        "cache2": {"groups": ["cache"], "sentinel": _sentinel("10.0.0.2", "master", 0, no_quorum)},
    }
    console = Console(record=True, width=160)
    status.render({"now": 0, "hosts": hosts}, "production", console)
    text = console.export_text()
    assert "different primaries" in text and "no quorum" in text and "NOQUORUM" in text


def test_after_a_failover_the_hosts_table_shows_group_and_live_role_and_warns():
    hosts = {
        "db1": {"reachable": True, "groups": ["db_primary"], "postgresql": "replica 0"},
        "db2": {"reachable": True, "groups": ["db_replica"], "postgresql": "primary 0"},
        "cache1": {"reachable": True, "groups": ["cache"], "redis": "master"},
    }
    console = Console(record=True, width=200)
    status.render({"now": 0, "hosts": hosts}, "production", console)
    text = console.export_text()
    assert "PostgreSQL replica" in text and "Redis primary" in text
    assert status.group_disagreements(hosts) == [
        "db1 is in db_primary but is a replica",
        "db2 is in db_replica but is the primary",
    ]
    assert "disagree with who leads" in text


def test_a_database_without_backups_says_none_yet_and_the_lb_its_public_url():
    hosts = {
        "db1": {"reachable": True, "groups": ["db_primary"], "postgresql": "primary 0"},
        "lb1": {"reachable": True, "groups": ["lb"], "urls": ["https://api.example.test/"]},
    }
    console = Console(record=True, width=160)
    status.render({"now": 0, "hosts": hosts}, "production", console)
    text = console.export_text()
    assert "none yet" in text
    assert "public URL: https://api.example.test/" in text
    assert "disagree" not in text


def test_firing_alerts_and_targets_down_are_listed():
    labels = {"alertname": "RedisDown", "severity": "critical", "instance": "cache1:9121"}
    down = [[{"job": "redis", "instance": "cache1:9121"}, "connection refused"]]
    hosts = {
        "mon1": {
            "reachable": True,
            "groups": ["monitoring"],
            "alerts": [[labels, "2027-01-15T07:58:20.000Z"]],
            "targets": {"up": 11, "down": down},
        },
    }
    console = Console(record=True, width=160)
    status.render({"now": 1_800_000_000, "hosts": hosts}, "production", console)  # 08:00:00Z
    text = console.export_text()
    assert "alerts firing: 1" in text and "RedisDown" in text and "critical" in text
    assert "100 s" not in text and "1 min" in text
    assert "11 targets up, 1 down" in text and "connection refused" in text


def test_a_monitoring_host_whose_apis_do_not_answer_is_called_out():
    hosts = {"mon1": {"reachable": True, "groups": ["monitoring"]}}
    console = Console(record=True, width=160)
    status.render({"now": 0, "hosts": hosts}, "production", console)
    text = console.export_text()
    assert "Alertmanager on mon1 did not answer" in text
    assert "Prometheus on mon1 did not answer" in text
