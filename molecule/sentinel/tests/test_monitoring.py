"""Prometheus on the monitoring host reads every Sentinel through a redis_exporter on its host (the
app host's too: redis_sentinel_extra_hosts);
the Sentinel alerts evaluate on the live series. Runs before the tests that move the primary
(conftest orders them last)."""

from __future__ import annotations

from conftest import ADDRESSES, SENTINELS, query, wait_for, wait_settled


def alert_states(monitor, name: str) -> set[str]:
    return {r["metric"]["alertstate"] for r in query(monitor, f'ALERTS{{alertname="{name}"}}')}


def test_every_sentinel_is_read_and_sees_all_four(monitor):
    def seen() -> dict[str, str]:
        found = query(monitor, "redis_sentinel_master_ok_sentinels")
        return {r["metric"]["host"]: r["value"][1] for r in found}

    assert wait_for(lambda: seen() == dict.fromkeys(SENTINELS, "4"), 90, 2), seen()
    # Both read over TLS (redis_tls), the servers' certificates checked against the internal CA.
    for job, hosts in (("redis", ADDRESSES), ("redis_sentinel", SENTINELS)):
        up = query(monitor, f'redis_up{{job="{job}"}}')
        assert {r["metric"]["host"] for r in up if r["value"][1] == "1"} == set(hosts), job


def test_two_sentinels_down_raise_quorum_lost_and_clear_after(host, vault, monitor):
    wait_settled(host, vault)
    stopped = ["sentinel-cache2", "sentinel-cache3"]
    try:
        for name in stopped:
            host(name).check_output("systemctl stop redis-sentinel")
        # Two of four up is no majority: both that are left say so, and only they.
        expected = {"sentinel-cache1", "sentinel-app1"}

        def firing() -> set[str]:
            found = query(
                monitor, 'ALERTS{alertname="RedisSentinelQuorumLost", alertstate="firing"}'
            )
            return {r["metric"]["host"] for r in found}

        assert wait_for(lambda: firing() == expected, 120, 2), firing()
    finally:
        for name in stopped:
            host(name).run("systemctl start redis-sentinel")
    assert wait_for(lambda: not alert_states(monitor, "RedisSentinelQuorumLost"), 120, 2)
    wait_settled(host, vault)
