"""Filters that check firewall declarations and resolve inventory groups to addresses.

Kept in Python rather than Jinja so the rules are unit-tested (tests/test_firewall_filters.py).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

_RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})$")


def _ports(value: Any) -> list[str]:
    """Normalise a port spec to nft port expressions; raise ValueError when it is not one."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("empty port list")
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"{item!r} is not a port")
        if isinstance(item, int) or (isinstance(item, str) and item.isdigit()):
            port = int(item)
            if not 1 <= port <= 65535:
                raise ValueError(f"{item!r} is outside 1-65535")
            out.append(str(port))
            continue
        match = _RANGE.match(str(item))
        if not match:
            raise ValueError(f"{item!r} is not a port or a range like 8000-8010")
        low, high = int(match.group(1)), int(match.group(2))
        if not 1 <= low < high <= 65535:
            raise ValueError(f"{item!r} is not an increasing range within 1-65535")
        out.append(f"{low}-{high}")
    return out


def firewall_rule_errors(
    rules: Iterable[Mapping[str, Any]], groups: Mapping[str, Any], source: str
) -> list[str]:
    """Every problem in `rules`, each message naming `source` (the variable or declaring role)."""
    errors: list[str] = []
    for index, rule in enumerate(rules):
        label = f"{source}[{index}] ({rule.get('name', '?')})"
        if rule.get("declared_by"):
            label += f" declared by role {rule['declared_by']}"
        try:
            _ports(rule.get("port"))
        except ValueError as exc:
            errors.append(f"{label}: port {exc}")
        if rule.get("proto", "tcp") not in ("tcp", "udp"):
            errors.append(f"{label}: proto must be tcp or udp, not {rule.get('proto')!r}")
        for group in rule.get("from_groups", []) or []:
            if group not in groups:
                errors.append(f"{label}: from_groups names unknown inventory group {group!r}")
        for cidr in rule.get("from_cidrs", []) or []:
            try:
                ipaddress.ip_network(str(cidr), strict=False)
            except ValueError:
                errors.append(f"{label}: from_cidrs entry {cidr!r} is not a CIDR")
        if not (rule.get("from_groups") or rule.get("from_cidrs") or rule.get("public")):
            errors.append(f"{label}: needs from_groups, from_cidrs or public: true")
    return errors


def firewall_cidr_errors(values: Iterable[Any], variable: str) -> list[str]:
    """Entries of `values` that are not IPv4/IPv6 networks, each message naming `variable`."""
    errors = []
    for value in values:
        try:
            ipaddress.ip_network(str(value), strict=False)
        except ValueError:
            errors.append(
                f"{variable}: {value!r} is not a CIDR (e.g. 10.0.0.0/24 or 2001:db8::/64)"
            )
    return errors


def firewall_host_addresses(hosts: Iterable[str], hostvars: Mapping[str, Any]) -> dict[str, str]:
    """Map each host to the address peer rules use: firewall_address, ansible_host or its name."""
    out = {}
    for host in hosts:
        host_vars = hostvars[host]
        address = host_vars.get("firewall_address") or host_vars.get("ansible_host") or host
        out[host] = str(address)
    return out


def firewall_address_errors(addresses: Mapping[str, Any]) -> list[str]:
    """Hosts whose firewall address is not an IP (nft must not resolve names at load time)."""
    errors = []
    for host, address in sorted(addresses.items()):
        try:
            ipaddress.ip_address(str(address))
        except ValueError:
            errors.append(
                f"host {host}: address {address!r} is not an IP; set firewall_address for it"
            )
    return errors


def firewall_resolve_rules(
    rules: Iterable[Mapping[str, Any]],
    groups: Mapping[str, Iterable[str]],
    addresses: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Resolve checked rules to nft-ready data: ports, IPv4 and IPv6 sources, public flag.

    A rule whose groups are all empty and that has no CIDRs resolves to no sources and is kept
    (rendered as a comment) so the ruleset says why nothing is open.
    """
    resolved = []
    for rule in rules:
        networks: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
        for group in rule.get("from_groups", []) or []:
            for host in groups[group]:
                networks.add(ipaddress.ip_network(str(addresses[host])))
        for cidr in rule.get("from_cidrs", []) or []:
            networks.add(ipaddress.ip_network(str(cidr), strict=False))
        v4 = sorted((n for n in networks if n.version == 4), key=lambda n: n.network_address)
        v6 = sorted((n for n in networks if n.version == 6), key=lambda n: n.network_address)
        resolved.append(
            {
                "name": rule["name"],
                "declared_by": rule.get("declared_by", "inventory"),
                "proto": rule.get("proto", "tcp"),
                "ports": _ports(rule["port"]),
                "public": bool(rule.get("public", False)),
                "groups": list(rule.get("from_groups", []) or []),
                "v4": [_short(n) for n in v4],
                "v6": [_short(n) for n in v6],
            }
        )
    return sorted(resolved, key=lambda r: (r["declared_by"], r["name"], r["ports"]))


def _short(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """A single address without its /32 or /128, a network with its prefix."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def firewall_split_cidrs(values: Iterable[Any]) -> dict[str, list[str]]:
    """Split CIDRs into IPv4 and IPv6 lists for nft sets."""
    nets = [ipaddress.ip_network(str(v), strict=False) for v in values]
    return {
        "v4": [_short(n) for n in nets if n.version == 4],
        "v6": [_short(n) for n in nets if n.version == 6],
    }


def firewall_source_allowed(address: Any, cidrs: Iterable[Any]) -> bool:
    """True when `address` lies in one of `cidrs` (used to refuse locking the controller out)."""
    ip = ipaddress.ip_address(str(address))
    return any(ip in ipaddress.ip_network(str(c), strict=False) for c in cidrs)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "firewall_rule_errors": firewall_rule_errors,
            "firewall_cidr_errors": firewall_cidr_errors,
            "firewall_address_errors": firewall_address_errors,
            "firewall_host_addresses": firewall_host_addresses,
            "firewall_resolve_rules": firewall_resolve_rules,
            "firewall_split_cidrs": firewall_split_cidrs,
            "firewall_source_allowed": firewall_source_allowed,
        }
