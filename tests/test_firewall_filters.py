"""The firewall role's filters: rule checks name the variable; groups resolve to sorted sources."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PLUGIN = Path(__file__).parents[1] / "plugins/filter/firewall_rules.py"
spec = importlib.util.spec_from_file_location("firewall_rules", PLUGIN)
assert spec and spec.loader
fw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fw)

GROUPS = {"app": ["app1", "app2"], "db_replica": ["db2"], "empty": []}
ADDRESSES = {"app1": "10.0.0.12", "app2": "10.0.0.11", "db2": "2001:db8::22"}


def test_valid_rules_have_no_errors():
    rules = [
        {"name": "pg", "port": 5432, "from_groups": ["app", "db_replica"]},
        {"name": "web", "port": [80, "443"], "public": True},
        {"name": "range", "port": "9000-9010", "proto": "udp", "from_cidrs": ["192.0.2.0/24"]},
    ]
    assert fw.firewall_rule_errors(rules, GROUPS, "firewall_rules") == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"name": "x", "port": 1, "from_groups": ["nope"]}, "unknown inventory group 'nope'"),
        ({"name": "x", "port": 0, "public": True}, "port 0 is outside 1-65535"),
        ({"name": "x", "port": "10-5", "public": True}, "not an increasing range"),
        ({"name": "x", "port": "http", "public": True}, "'http' is not a port"),
        ({"name": "x", "port": True, "public": True}, "True is not a port"),
        ({"name": "x", "port": 1, "from_cidrs": ["10.0.0.0/33"]}, "'10.0.0.0/33' is not a CIDR"),
        ({"name": "x", "port": 1}, "needs from_groups, from_cidrs or public"),
        ({"name": "x", "port": 1, "public": True, "proto": "icmp"}, "proto must be tcp or udp"),
    ],
)
def test_rule_errors_name_the_variable_and_the_problem(rule, message):
    errors = fw.firewall_rule_errors([rule], GROUPS, "firewall_rules")
    assert len(errors) == 1
    assert errors[0].startswith("firewall_rules[0] (x)")
    assert message in errors[0]


def test_declared_rules_name_the_declaring_role():
    rule = {"name": "pg", "port": 5432, "from_groups": ["nope"], "declared_by": "postgresql"}
    (error,) = fw.firewall_rule_errors([rule], GROUPS, "declared rules")
    assert "declared by role postgresql" in error


def test_resolve_splits_families_sorts_and_dedupes():
    rules = [
        {
            "name": "pg",
            "port": 5432,
            "from_groups": ["app", "db_replica", "app"],
            "from_cidrs": ["10.0.0.11/32", "10.9.0.0/16"],
        },
    ]
    (rule,) = fw.firewall_resolve_rules(rules, GROUPS, ADDRESSES)
    assert rule["v4"] == ["10.0.0.11", "10.0.0.12", "10.9.0.0/16"]
    assert rule["v6"] == ["2001:db8::22"]
    assert rule["ports"] == ["5432"]
    assert rule["declared_by"] == "inventory"


def test_empty_group_resolves_to_no_sources():
    (rule,) = fw.firewall_resolve_rules(
        [{"name": "e", "port": 1, "from_groups": ["empty"]}], GROUPS, {}
    )
    assert rule["v4"] == [] and rule["v6"] == [] and not rule["public"]


def test_resolution_is_order_independent():
    a = {"name": "a", "port": 1, "from_groups": ["app"], "declared_by": "x"}
    b = {"name": "b", "port": [2, 3], "public": True, "declared_by": "x"}
    assert fw.firewall_resolve_rules([a, b], GROUPS, ADDRESSES) == fw.firewall_resolve_rules(
        [b, a], GROUPS, ADDRESSES
    )


def test_addresses_must_be_ip_literals():
    errors = fw.firewall_address_errors({"web": "web.example.com", "db": "10.0.0.5"})
    assert errors == [
        "host web: address 'web.example.com' is not an IP; set firewall_address for it"
    ]


def test_host_addresses_prefer_firewall_address():
    hostvars = {
        "a": {"firewall_address": "10.0.0.1", "ansible_host": "203.0.113.1"},
        "b": {"ansible_host": "10.0.0.2"},
        "c": {},
    }
    assert fw.firewall_host_addresses(["a", "b", "c"], hostvars) == {
        "a": "10.0.0.1",
        "b": "10.0.0.2",
        "c": "c",
    }


def test_admin_cidr_checks_and_controller_membership():
    assert fw.firewall_cidr_errors(["10.0.0.0/8", "2001:db8::/32"], "firewall_admin_sources") == []
    assert fw.firewall_cidr_errors(["x"], "firewall_admin_sources") == [
        "firewall_admin_sources: 'x' is not a CIDR (e.g. 10.0.0.0/24 or 2001:db8::/64)"
    ]
    assert fw.firewall_source_allowed("172.29.0.1", ["172.29.0.1/32"])
    assert not fw.firewall_source_allowed("172.29.0.2", ["172.29.0.1/32", "2001:db8::/32"])
    assert fw.firewall_split_cidrs(["10.0.0.1/32", "10.1.0.0/16", "2001:db8::/32"]) == {
        "v4": ["10.0.0.1", "10.1.0.0/16"],
        "v6": ["2001:db8::/32"],
    }
