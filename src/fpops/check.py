"""`fpops check ENV`: would a provision of ENV start? Read-only: the inventory's groups, the
vault, every host (SSH, sudo, OS, clock, free space; playbooks/check.yml), the public names when
certificates come from an ACME CA, and the site preflight (playbooks/preflight.yml). A table (or
JSON) and a non-zero exit when anything would stop a provision. Nothing changes on any host."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fpops import secrets
from fpops.exitcodes import ExitCode
from fpops.project import inventory_dir
from fpops.provision import playbook_request
from fpops.runner import execute, execute_reading

TASK = "FPOPS CHECK"
OK, WARN, FAIL = "ok", "warn", "FAIL"
# Groups the roles act on; anything else in an inventory is most likely a typo.
KNOWN_GROUPS = frozenset(
    {"lb", "app", "db", "db_primary", "db_replica", "dcs", "cache", "monitoring", "backup"}
)
# Values inventories/example ships with that an environment must replace.
EXAMPLE_MARKERS = re.compile(r"ReplaceMe|example\.com")


@dataclass(frozen=True)
class Row:
    check: str
    subject: str
    status: str
    detail: str = ""


def group_rows(groups: dict[str, list[str]]) -> list[Row]:
    """Every group a provision needs is present and sized."""
    size = {name: len(members) for name, members in groups.items()}
    rows = []
    for group, why in (
        ("lb", "nothing would serve the public names"),
        ("app", "nothing would run the application"),
        ("cache", "the application has no Redis"),
    ):
        rows.append(
            Row("group", group, OK, f"{size[group]} host(s)")
            if size.get(group)
            else Row("group", group, FAIL, f"no host: {why}")
        )
    primary, replicas, patroni = (
        size.get("db_primary", 0),
        size.get("db_replica", 0),
        size.get("db", 0),
    )
    if patroni:
        rows.append(Row("group", "db", OK, f"{patroni} host(s) (Patroni elects the leader)"))
    elif primary == 1:
        rows.append(Row("group", "db_primary", OK, f"1 host, {replicas} replica(s)"))
    elif primary == 0 and replicas:
        rows.append(Row("group", "db_primary", FAIL, f"none: the {replicas} replica(s) need one"))
    else:
        rows.append(
            Row("group", "db_primary", FAIL, f"{primary} hosts: PostgreSQL needs exactly one")
        )
    for group, without in (("monitoring", "no metrics, no alerts"), ("backup", "no backups")):
        if not size.get(group):
            rows.append(Row("group", group, WARN, f"no host: {without}"))
    for group in sorted(set(groups) - KNOWN_GROUPS):
        rows.append(Row("group", group, WARN, "no role uses this group (a typo?)"))
    return rows


def vault_row(project_dir: Path, environment: str) -> tuple[Row, bool]:
    """The vault exists, decrypts, and defines every secret the roles need; and whether Ansible
    can read it (it cannot load an inventory whose vault it cannot decrypt)."""
    vault_file = secrets.default_vault_file(project_dir, environment)
    name = vault_file.name
    if not vault_file.is_file():
        return Row("vault", name, FAIL, f"missing: `fpops secrets init {environment}`"), True
    password = secrets.runner_password_file(project_dir, environment)
    if password is None:
        return Row("vault", name, FAIL, "no vault password (.fpops/ENV/vault-password)"), False
    try:
        present = secrets.parse_vault_text(secrets.decrypt(vault_file, password), vault_file)
    except secrets.SecretsError as exc:
        return Row("vault", name, FAIL, f"cannot be read: {exc}"), False
    missing = [secret for secret in secrets.REQUIRED_SECRETS if secret not in present]
    if missing:
        return Row("vault", name, FAIL, "missing " + ", ".join(missing)), True
    return Row("vault", name, OK, f"{len(secrets.REQUIRED_SECRETS)} secrets"), True


def example_rows(project_dir: Path, environment: str) -> list[Row]:
    """Values copied from inventories/example that were never replaced."""
    rows = []
    inventory = inventory_dir(project_dir, environment)
    for path in sorted(inventory.rglob("*.yml")):
        if path.name == "vault.yml":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if EXAMPLE_MARKERS.search(line) and not line.lstrip().startswith("#"):
                where = f"{path.relative_to(inventory)}:{number}"
                rows.append(Row("settings", where, FAIL, f"still the example's: {line.strip()}"))
    return rows


def host_rows(hosts: dict[str, dict[str, Any]]) -> list[Row]:
    rows = []
    for name, state in sorted(hosts.items()):
        if not state.get("reachable"):
            rows.append(Row("ssh", name, FAIL, "unreachable: " + str(state.get("error") or "?")))
            continue
        if not state.get("os"):
            rows.append(Row("ssh", name, FAIL, "reached, but its facts could not be read"))
            continue
        rows.append(Row("ssh", name, OK, "reachable"))
        rows.append(
            Row("sudo", name, OK, "root")
            if state.get("sudo")
            else Row("sudo", name, FAIL, state.get("sudo_error") or "no passwordless sudo")
        )
        supported = state.get("os_supported")
        rows.append(Row("os", name, OK if supported else FAIL, str(state.get("os"))
                        + ("" if supported else ": Debian 12 or 13 only")))  # fmt: skip
        skew, limit = int(state.get("clock_skew", 0)), int(state.get("clock_limit", 5))
        rows.append(
            Row("clock", name, OK if skew <= limit else FAIL, f"{skew} s from the controller")
        )
        for disk in state.get("disks", []):
            free, need = int(disk["free_mb"]), int(disk["need_mb"])
            status = OK if free >= need else FAIL
            detail = f"{free} MiB free on {disk['mount']} (needs {need})"
            rows.append(Row("disk", f"{name}:{disk['path']}", status, detail))
    return rows


def name_rows(names: dict[str, list[str]], lb_addresses: list[str]) -> list[Row]:
    """Each public name resolves to a load balancer (ACME's http-01 comes through it)."""
    wanted = {address for address in lb_addresses if address}
    rows = []
    for name, addresses in sorted(names.items()):
        if not addresses:
            rows.append(Row("dns", name, FAIL, "does not resolve: the ACME CA could not reach it"))
        elif wanted & set(addresses):
            rows.append(Row("dns", name, OK, ", ".join(addresses)))
        else:
            rows.append(Row("dns", name, FAIL, f"resolves to {', '.join(addresses)}, not an lb"
                            f" ({', '.join(sorted(wanted))}; check_public_address)"))  # fmt: skip
    return rows


def preflight_rows(project_dir: Path, environment: str) -> list[Row]:
    request = playbook_request(project_dir, environment, "preflight", f"preflight of {environment}")
    result = execute(request, lambda event, state, elapsed: None)
    if result.exit_code == ExitCode.OK:
        return [Row("preflight", "inventory and settings", OK, "playbooks/preflight.yml passed")]
    messages = sorted({f.msg for f in result.state.failures if not f.unreachable})
    if not messages:
        messages = [" ".join(result.error[-3:]) or f"failed ({result.status})"]
    return [Row("preflight", "inventory and settings", FAIL, m) for m in messages]


def collect(project_dir: Path, environment: str) -> list[Row]:
    inventory_dir(project_dir, environment)  # an unknown environment is bad input
    vault, readable = vault_row(project_dir, environment)
    rows = [vault, *example_rows(project_dir, environment)]
    if not readable:  # no host check can run
        return rows
    request = playbook_request(project_dir, environment, "check", f"check of {environment}")
    result, document = execute_reading(request, TASK)
    if not document:
        detail = " ".join(result.error[-3:]) or f"playbooks/check.yml failed ({result.status})"
        return [*rows, Row("hosts", "all", FAIL, detail)]
    rows = group_rows(document.get("groups", {})) + rows + host_rows(document.get("hosts", {}))
    rows += name_rows(document.get("names", {}), document.get("lb_addresses", []))
    return rows + preflight_rows(project_dir, environment)


def exit_code(rows: list[Row]) -> ExitCode:
    if any(row.check == "ssh" and row.status == FAIL for row in rows):
        return ExitCode.UNREACHABLE
    return ExitCode.FAILED if any(row.status == FAIL for row in rows) else ExitCode.OK


def render(rows: list[Row], environment: str, console: Console) -> None:
    table = Table(title=f"fpops check {environment}")
    for column in ("check", "subject", "result", "detail"):
        table.add_column(column, overflow="fold")
    colour = {OK: "green", WARN: "yellow", FAIL: "red"}
    for row in rows:
        result = f"[{colour[row.status]}]{row.status}[/{colour[row.status]}]"
        table.add_row(row.check, row.subject, result, row.detail)
    console.print(table)
    failed = sum(row.status == FAIL for row in rows)
    console.print(
        f"{failed} problem(s) would stop a provision"
        if failed
        else "nothing would stop a provision",
        style="red" if failed else "green",
    )


def run(project_dir: Path, environment: str, as_json: bool, console: Console) -> ExitCode:
    rows = collect(project_dir, environment)
    code = exit_code(rows)
    if as_json:
        console.print_json(json.dumps({"rows": [asdict(r) for r in rows], "exit_code": int(code)}))
    else:
        render(rows, environment, console)
    return code
