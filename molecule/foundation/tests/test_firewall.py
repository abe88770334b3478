"""The firewall opens a declared port to exactly the declared group, and SSH to the admin source."""

import socket

import pytest
from conftest import ADDRESSES, PROBE_PORT

DB = ADDRESSES["fnd-db"]
LB = ADDRESSES["fnd-lb"]


def reachable_from(host, address: str, port: int) -> bool:
    return host.run(f"nc -z -w 3 {address} {port}").rc == 0


def reachable_from_runner(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def test_probe_listener_is_up_on_db(hosts):
    # Control: the port is listening, so a refusal below is the firewall's doing.
    assert hosts["fnd-db"].run(f"nc -z -w 3 127.0.0.1 {PROBE_PORT}").rc == 0


def test_declared_port_reachable_from_the_declared_group(hosts):
    assert reachable_from(hosts["fnd-app"], DB, PROBE_PORT)


def test_declared_port_dropped_from_a_host_outside_the_group(hosts):
    assert not reachable_from(hosts["fnd-lb"], DB, PROBE_PORT)


def test_declared_port_dropped_from_the_runner():
    assert not reachable_from_runner(DB, PROBE_PORT)


def test_undeclared_port_dropped(hosts):
    # lb runs the same listener but declared nothing.
    assert hosts["fnd-lb"].run(f"nc -z -w 3 127.0.0.1 {PROBE_PORT}").rc == 0
    assert not reachable_from(hosts["fnd-app"], LB, PROBE_PORT)


@pytest.mark.parametrize("name", sorted(ADDRESSES))
def test_ssh_reachable_from_the_admin_source(name):
    assert reachable_from_runner(ADDRESSES[name], 22)


def test_ssh_dropped_from_other_hosts(hosts):
    assert not reachable_from(hosts["fnd-app"], DB, 22)
    assert not reachable_from(hosts["fnd-db"], LB, 22)


def test_rule_counts_only_the_group_member(hosts):
    rules = hosts["fnd-db"].check_output("nft -s list chain inet fpops input")
    assert f"tcp dport {PROBE_PORT} ip saddr {ADDRESSES['fnd-app']} accept" in rules
    assert ADDRESSES["fnd-lb"] not in rules
    assert "policy drop" in rules


@pytest.mark.parametrize("name", sorted(ADDRESSES))
def test_ruleset_survives_a_restart(hosts, name):
    host = hosts[name]
    before = host.check_output("nft -s list table inet fpops")
    host.check_output("systemctl restart nftables")
    after = host.check_output("nft -s list table inet fpops")
    assert before == after
    assert host.service("nftables").is_enabled


def test_live_config_passes_nft_check(hosts):
    for host in hosts.values():
        assert host.run("nft -c -f /etc/nftables.conf").rc == 0
