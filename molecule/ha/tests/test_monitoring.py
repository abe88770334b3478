"""Prometheus on the monitoring host scrapes every Patroni member (HTTPS, verified against the
internal CA), every etcd member and every PostgreSQL; the HA alerts evaluate on the live series.

Runs last (file order), after the failovers and the restore."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from conftest import MEMBERS, PATRONI_CONFIG, healthy, leader, members, wait_for


@pytest.fixture(scope="module")
def monitor(host, groups):
    return host(groups["monitoring"][0])


def query(monitor, expr: str) -> list[dict]:
    """An instant query against the monitoring host's Prometheus."""
    url = "http://172.30.3.11:9090/api/v1/query?query=" + urllib.parse.quote(expr)
    out = monitor.check_output(f"curl -sf '{url}'")
    return json.loads(out)["data"]["result"]


def alert_states(monitor, name: str) -> set[str]:
    return {r["metric"]["alertstate"] for r in query(monitor, f'ALERTS{{alertname="{name}"}}')}


def test_every_member_is_scraped_and_one_leads(monitor):
    def scraped():
        up = query(monitor, 'up{job=~"patroni|etcd|postgres"}')
        return {(r["metric"]["job"], r["metric"]["host"]) for r in up if r["value"][1] == "1"}

    wanted = {(job, m) for job in ("patroni", "etcd", "postgres") for m in MEMBERS}
    assert wait_for(lambda: scraped() >= wanted, 60, 2), scraped()
    primary = query(monitor, "sum by (scope) (patroni_primary)")
    assert [r["value"][1] for r in primary] == ["1"], primary
    assert query(monitor, "count(etcd_server_has_leader == 1)")[0]["value"][1] == "3"


def test_a_switchover_raises_leader_changed(host, monitor):
    assert wait_for(lambda: healthy(host), 120, 2), members(host)
    old = leader(host)
    target = next(m["Member"] for m in members(host) if m["Role"] == "Sync Standby")
    host(old).check_output(
        f"runuser -u postgres -- patronictl -c {PATRONI_CONFIG} switchover fpops"
        f" --leader {old} --candidate {target} --force"
    )
    assert wait_for(lambda: leader(host) == target, 60, 1), members(host)
    # Prometheus sees this switchover's new timeline (not only an earlier failover's), and
    # PatroniLeaderChanged, which has no `for`, fires on it.
    recent = "max by (scope) (changes(patroni_postgres_timeline[30s])) > 0"
    assert wait_for(lambda: query(monitor, recent), 60, 2)
    assert wait_for(lambda: "firing" in alert_states(monitor, "PatroniLeaderChanged"), 60, 2)
    # The seconds without a leader during the switchover make PatroniNoLeader pending at most:
    # its 30 s `for` keeps a planned switchover from paging anyone.
    assert "firing" not in alert_states(monitor, "PatroniNoLeader")
    assert wait_for(lambda: not alert_states(monitor, "PatroniNoLeader"), 60, 2)
    assert wait_for(lambda: healthy(host), 120, 2), members(host)


def test_an_etcd_member_down_is_seen_and_the_quorum_holds(host, monitor):
    victim = MEMBERS[-1]
    host(victim).check_output("systemctl stop etcd")
    try:
        # The expression is true within a scrape (pending); it fires after its minute.
        assert wait_for(lambda: alert_states(monitor, "EtcdMemberDown"), 60, 2)
        assert not alert_states(monitor, "EtcdQuorumLost")
        # EtcdMemberDown replaces the generic InstanceDown for etcd.
        instance_down = query(monitor, 'ALERTS{alertname="InstanceDown", job="etcd"}')
        assert instance_down == [], instance_down
        assert leader(host), members(host)
    finally:
        host(victim).check_output("systemctl start etcd")
    assert wait_for(lambda: not alert_states(monitor, "EtcdMemberDown"), 60, 2)
