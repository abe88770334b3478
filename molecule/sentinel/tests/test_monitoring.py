"""Prometheus on the monitoring host reads every Sentinel through its cache host's redis_exporter;
the Sentinel alerts evaluate on the live series. Runs before the tests that move the primary
(conftest orders them last)."""

from __future__ import annotations

from conftest import ADDRESSES, query, wait_for, wait_settled


def alert_states(monitor, name: str) -> set[str]:
    return {r["metric"]["alertstate"] for r in query(monitor, f'ALERTS{{alertname="{name}"}}')}


def test_every_sentinel_is_read_and_sees_all_three(monitor):
    def seen() -> dict[str, str]:
        found = query(monitor, "redis_sentinel_master_ok_sentinels")
        return {r["metric"]["host"]: r["value"][1] for r in found}

    assert wait_for(lambda: seen() == dict.fromkeys(ADDRESSES, "3"), 90, 2), seen()
    up = query(monitor, 'redis_up{job="redis_sentinel"}')
    assert {r["metric"]["host"] for r in up if r["value"][1] == "1"} == set(ADDRESSES)


def test_two_sentinels_down_raise_quorum_lost_and_clear_after(host, vault, monitor):
    wait_settled(host, vault)
    stopped = ["sentinel-cache2", "sentinel-cache3"]
    try:
        for name in stopped:
            host(name).check_output("systemctl stop redis-sentinel")
        assert wait_for(
            lambda: "firing" in alert_states(monitor, "RedisSentinelQuorumLost"), 120, 2
        )
        firing = query(monitor, 'ALERTS{alertname="RedisSentinelQuorumLost", alertstate="firing"}')
        assert {r["metric"]["host"] for r in firing} == {"sentinel-cache1"}
    finally:
        for name in stopped:
            host(name).run("systemctl start redis-sentinel")
    assert wait_for(lambda: not alert_states(monitor, "RedisSentinelQuorumLost"), 120, 2)
    wait_settled(host, vault)
