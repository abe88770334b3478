"""`fpops init ENV`: a new environment's inventory, from the hosts given on the command line (or an
inventory file) and inventories/example's settings, plus its vault (`fpops secrets init`).

It never overwrites an inventory. The values an environment must decide come from the options
given (admin user and key, admin networks, public names, ACME e-mail); the others stay as the
example's, which `fpops check ENV` then names until they are replaced."""

from __future__ import annotations

import ipaddress
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from fpops import secrets
from fpops.check import KNOWN_GROUPS
from fpops.exitcodes import ExitCode

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# The example's values init replaces when the matching option is given.
EXAMPLE_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyReplaceMeReplaceMeReplaceMe00 ops@laptop"
)
EXAMPLE_SOURCE = "192.0.2.0/28"
EXAMPLE_NAME = "api.example.com"
EXAMPLE_EMAIL = "ops@example.com"


class InitError(Exception):
    """The environment could not be created; `code` is what `fpops` exits with."""

    def __init__(self, message: str, code: ExitCode = ExitCode.BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Host:
    name: str
    address: str
    groups: list[str] = field(default_factory=list)


@dataclass
class Settings:
    admin_user: str = ""
    admin_key: str = ""
    admin_sources: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    acme_email: str = ""


def parse_host(spec: str) -> Host:
    """NAME=ADDRESS:GROUP[,GROUP] (the address an IP: the firewall's rules are by address)."""
    name, equals, rest = spec.partition("=")
    address, colon, groups = rest.rpartition(":")
    if not equals or not colon or not name or not address or not groups:
        raise InitError(f"--host {spec}: expected NAME=ADDRESS:GROUP[,GROUP]")
    return Host(name, address, [g for g in groups.split(",") if g])


def hosts_from_inventory(path: Path) -> list[Host]:
    """The hosts of a YAML inventory (groups under all.children, ansible_host per host)."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InitError(f"--from {path}: {exc}") from exc
    found: dict[str, Host] = {}
    children = (data.get("all") or {}).get("children") or {}
    for group, node in children.items():
        for name, hostvars in ((node or {}).get("hosts") or {}).items():
            address = str((hostvars or {}).get("ansible_host", ""))
            host = found.setdefault(name, Host(name, address))
            host.address = host.address or address
            host.groups.append(group)
    if not found:
        raise InitError(f"--from {path}: no hosts under all.children.<group>.hosts")
    return list(found.values())


def validate(hosts: list[Host]) -> None:
    problems = []
    seen_names: set[str] = set()
    seen_addresses: dict[str, str] = {}
    for host in hosts:
        if not _NAME.match(host.name):
            problems.append(f"bad host name '{host.name}'")
        if host.name in seen_names:
            problems.append(f"host {host.name} given twice")
        seen_names.add(host.name)
        try:
            ipaddress.ip_address(host.address)
        except ValueError:
            problems.append(f"{host.name}: '{host.address}' is not an IP address")
        if host.address in seen_addresses:
            problems.append(
                f"{host.name} and {seen_addresses[host.address]} share the address {host.address}"
            )
        seen_addresses.setdefault(host.address, host.name)
        unknown = sorted(set(host.groups) - KNOWN_GROUPS)
        if unknown:
            known = ", ".join(sorted(KNOWN_GROUPS))
            problems.append(f"{host.name}: unknown group {', '.join(unknown)} (known: {known})")
        if not host.groups:
            problems.append(f"{host.name}: no group")
    if problems:
        raise InitError("; ".join(problems))


def inventory_text(environment: str, hosts: list[Host]) -> str:
    groups: dict[str, dict[str, Any]] = {}
    for host in hosts:
        for group in host.groups:
            groups.setdefault(group, {"hosts": {}})
            groups[group]["hosts"][host.name] = (
                {"ansible_host": host.address} if group == host.groups[0] else None
            )
    body = {"all": {"vars": {"ansible_user": "ops"}, "children": groups}}
    header = (
        f"---\n# Environment {environment}, written by `fpops init`. Groups: see"
        " inventories/example/hosts.yml.\n# The login user must be one of base_admin_users"
        " (group_vars/all/main.yml).\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)


def settings_text(text: str, settings: Settings) -> str:
    """The example's group_vars with the values the options gave."""
    if settings.admin_user:
        text = text.replace("  - name: ops\n", f"  - name: {settings.admin_user}\n", 1)
    if settings.admin_key:
        text = text.replace(EXAMPLE_KEY, settings.admin_key.strip())
    if settings.admin_sources:
        listed = "".join(f"  - {cidr}\n" for cidr in settings.admin_sources)
        text = text.replace(f"  - {EXAMPLE_SOURCE}\n", listed)
    if settings.names:
        text = text.replace(f"[{EXAMPLE_NAME}]", "[" + ", ".join(settings.names) + "]")
        text = text.replace(f"https://{EXAMPLE_NAME}/", f"https://{settings.names[0]}/")
    if settings.acme_email:
        text = text.replace(
            f"certbot_email: {EXAMPLE_EMAIL}", f"certbot_email: {settings.acme_email}"
        )
    return text


def validate_settings(settings: Settings) -> None:
    for cidr in settings.admin_sources:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise InitError(f"--admin-source {cidr}: not a CIDR") from exc
    if settings.admin_key and not settings.admin_key.startswith(("ssh-", "ecdsa-", "sk-")):
        raise InitError("--admin-key: not an OpenSSH public key")


def create(
    project_dir: Path, environment: str, hosts: list[Host], settings: Settings
) -> list[Path]:
    """Write inventories/ENV (hosts.yml and group_vars); return the files written."""
    if not _NAME.match(environment):
        raise InitError(f"bad environment name '{environment}'")
    inventory = project_dir / "inventories" / environment
    if inventory.exists():
        raise InitError(
            f"{inventory} exists: fpops init never overwrites an inventory", ExitCode.REFUSED
        )
    validate(hosts)
    validate_settings(settings)
    example = project_dir / "inventories" / "example"
    written = []
    try:
        shutil.copytree(example / "group_vars", inventory / "group_vars")
        for path in sorted((inventory / "group_vars").rglob("*.yml")):
            path.write_text(settings_text(path.read_text(), settings))
            written.append(path)
        (inventory / "hosts.yml").write_text(inventory_text(environment, hosts))
    except OSError:
        shutil.rmtree(inventory, ignore_errors=True)
        raise
    return [inventory / "hosts.yml", *written]


def run(
    project_dir: Path,
    environment: str,
    hosts: list[Host],
    settings: Settings,
    console: Console,
) -> ExitCode:
    written = create(project_dir, environment, hosts, settings)
    for path in written:
        console.print(f"wrote {path.relative_to(project_dir)}", markup=False, highlight=False)
    result = secrets.init(project_dir, environment)
    secrets.report(result, project_dir, environment, console)
    console.print(
        f"next: replace the example's values in inventories/{environment}/group_vars "
        f"(`fpops check {environment}` names them), then `fpops provision {environment}`",
        markup=False,
        highlight=False,
    )
    return ExitCode.OK
