"""`fpops status ENV`: playbooks/status.yml read in one pass, shown as tables (or JSON)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fpops.exitcodes import ExitCode
from fpops.provision import playbook_request
from fpops.runner import execute_reading

TASK = "FPOPS STATUS"
_METRIC = re.compile(r"^fpops_backup_last_success_timestamp_seconds\{([^}]*)\}\s+([0-9.e+]+)")


def collect(project_dir: Path, environment: str) -> tuple[dict[str, Any], ExitCode]:
    """The status document the playbook printed, and the run's exit code."""
    request = playbook_request(project_dir, environment, "status", f"status of {environment}")
    result, found = execute_reading(request, TASK)
    if not found:
        return {}, result.exit_code if result.exit_code != ExitCode.OK else ExitCode.FAILED
    # The playbook ignores unreachable hosts to report on the others; the exit code does not.
    if any(not state.get("reachable") for state in found.get("hosts", {}).values()):
        return found, ExitCode.UNREACHABLE
    return found, result.exit_code


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{int(seconds // 60)} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def backups(document: dict[str, Any]) -> dict[str, float]:
    """Type (with its repository when not the first) -> newest last-success time."""
    newest: dict[str, float] = {}
    for state in document.get("hosts", {}).values():
        for line in state.get("backups", []) or []:
            match = _METRIC.match(line)
            if not match:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            kind = labels.get("type", "?")
            if labels.get("repo", "1") not in ("1", "all"):
                kind += f" (repo {labels['repo']})"
            newest[kind] = max(newest.get(kind, 0.0), float(match.group(2)))
    return newest


def live_roles(name: str, state: dict[str, Any], hosts: dict[str, dict[str, Any]]) -> list[str]:
    """What the host is right now, read from the services (not the inventory)."""
    roles = []
    postgresql = str(state.get("postgresql") or "").partition(" ")[0]
    if postgresql:
        roles.append(f"PostgreSQL {postgresql}")
    member = next((m for m in patroni_members(hosts) if m.get("name") == name), None)
    if member:
        roles.append(f"Patroni {member.get('role', '')}")
    redis = str(state.get("redis") or "")
    if redis:
        roles.append("Redis " + {"master": "primary", "slave": "replica"}.get(redis, redis))
    return roles


def group_disagreements(hosts: dict[str, dict[str, Any]]) -> list[str]:
    """Database hosts whose inventory group says the other role than PostgreSQL does: after a
    streaming-mode failover, which records the new primary in .state/postgresql_primary (the
    plays follow that file) and leaves the inventory's groups as they were."""
    found = []
    for name, state in sorted(hosts.items()):
        live = str(state.get("postgresql") or "").partition(" ")[0]
        groups = state.get("groups", [])
        if "db_primary" in groups and live == "replica":
            found.append(f"{name} is in db_primary but is a replica")
        if "db_replica" in groups and live == "primary":
            found.append(f"{name} is in db_replica but is the primary")
    return found


def render(document: dict[str, Any], environment: str, console: Console) -> None:
    hosts: dict[str, dict[str, Any]] = document.get("hosts", {})
    now = float(document.get("now", 0))
    table = Table(title=f"{environment}: hosts")
    for column in ("host", "inventory groups", "live role", "reachable"):
        table.add_column(column)
    for name, state in sorted(hosts.items()):
        reach = "yes" if state.get("reachable") else "[red]NO[/red]"
        live = ", ".join(live_roles(name, state, hosts))
        table.add_row(name, ", ".join(state.get("groups", [])), live, reach)
    console.print(table)
    if disagreements := group_disagreements(hosts):
        console.print(
            "[red]The inventory's groups disagree with who leads: "
            + "; ".join(disagreements)
            + ". The plays follow the primary failover.yml recorded (the inventory's"
            " .state/postgresql_primary); move the hosts between db_primary and db_replica so the"
            " inventory says the same.[/red]"
        )
    for url in sorted({u for state in hosts.values() for u in state.get("urls") or []}):
        console.print(f"public URL: {url}", highlight=False)

    apps = [(n, s) for n, s in sorted(hosts.items()) if s.get("release")]
    if apps:
        table = Table(title="application")
        for column in ("host", "release", "live slot", "health"):
            table.add_column(column)
        for name, state in apps:
            release = state["release"]
            health = state.get("health")
            shown = {200: "ok (200)", 503: "[red]unhealthy (503)[/red]"}.get(
                int(health) if isinstance(health, int) else 0, "no answer"
            )
            table.add_row(name, release.get("current", ""), release.get("live_slot", ""), shown)
        console.print(table)

    dbs = [(n, s) for n, s in sorted(hosts.items()) if s.get("postgresql")]
    if dbs:
        table = Table(title="PostgreSQL")
        for column in ("host", "role", "replication lag"):
            table.add_column(column)
        for name, state in dbs:
            role, _, lag = str(state["postgresql"]).partition(" ")
            table.add_row(name, role, f"{lag} s" if role == "replica" else "")
        console.print(table)

    _render_patroni(hosts, console)

    caches = [(n, s) for n, s in sorted(hosts.items()) if s.get("redis")]
    if caches:
        table = Table(title="Redis")
        for column in ("host", "role", "link to the primary"):
            table.add_column(column)
        for name, state in caches:
            link = str(state.get("redis_link", ""))
            table.add_row(name, str(state["redis"]), link if link != "down" else "[red]down[/red]")
        console.print(table)

    _render_sentinel(hosts, console)

    newest = backups(document)
    backed_up = ("db_primary", "db_replica", "db", "backup")
    if newest or any(set(backed_up) & set(s.get("groups", [])) for s in hosts.values()):
        table = Table(title="backups (last success)")
        for column in ("type", "age"):
            table.add_column(column)
        for kind, when in sorted(newest.items()):
            table.add_row(kind, _age(now - when))
        if not newest:
            table.add_row("[yellow]none yet[/yellow]", "")
        console.print(table)

    certificates = [
        (name, line.split())
        for name, state in sorted(hosts.items())
        for line in state.get("certificates", []) or []
    ]
    if certificates:
        table = Table(title="certificates")
        for column in ("host", "certificate", "days left"):
            table.add_column(column)
        for name, (cert, end) in certificates:
            days = int((float(end) - now) // 86400)
            table.add_row(name, cert, str(days) if days >= 14 else f"[red]{days}[/red]")
        console.print(table)

    _render_monitoring(hosts, now, console)


def firing_alerts(hosts: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, str], str]]:
    """(monitoring host, the alert's labels, since) for every alert firing, per monitoring host."""
    return [
        (name, dict(labels), str(since))
        for name, state in sorted(hosts.items())
        for labels, since in state.get("alerts") or []
    ]


def _since(started: str, now: float) -> str:
    try:
        at = datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return started
    return _age(max(0.0, now - at))


def _render_monitoring(hosts: dict[str, dict[str, Any]], now: float, console: Console) -> None:
    monitoring = [(n, s) for n, s in sorted(hosts.items()) if "monitoring" in s.get("groups", [])]
    if not monitoring:
        return
    for name, state in monitoring:
        if state.get("reachable") and state.get("alerts") is None:
            console.print(f"[red]Alertmanager on {name} did not answer[/red]")
        if state.get("reachable") and state.get("targets") is None:
            console.print(f"[red]Prometheus on {name} did not answer[/red]")
    alerts = firing_alerts(hosts)
    table = Table(title=f"alerts firing: {len(alerts) or 'none'}")
    for column in ("alert", "severity", "instance", "since"):
        table.add_column(column)
    for _, labels, since in alerts:
        severity = labels.get("severity", "")
        shown = f"[red]{severity}[/red]" if severity == "critical" else severity
        table.add_row(
            labels.get("alertname", ""), shown, labels.get("instance", ""), _since(since, now)
        )
    console.print(table)
    for name, state in monitoring:
        targets = state.get("targets")
        if not targets:
            continue
        down = targets.get("down") or []
        title = f"Prometheus on {name}: {targets.get('up', 0)} targets up, {len(down)} down"
        if not down:
            console.print(title)
            continue
        table = Table(title=title)
        for column in ("job", "instance", "error"):
            table.add_column(column)
        for labels, error in down:
            table.add_row(labels.get("job", ""), labels.get("instance", ""), str(error))
        console.print(table)


def patroni_members(hosts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Patroni's members as the first database host that answered reports them."""
    return next(
        (state["patroni"] for _, state in sorted(hosts.items()) if state.get("patroni")), []
    )


def etcd_quorum(hosts: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """(members answering, members asked) of the etcd cluster."""
    asked = [state["etcd"] for state in hosts.values() if state.get("etcd")]
    return sum(bool(member.get("ok")) for member in asked), len(asked)


def _render_patroni(hosts: dict[str, dict[str, Any]], console: Console) -> None:
    members = patroni_members(hosts)
    db_hosts = [name for name, state in hosts.items() if "db" in state.get("groups", [])]
    if db_hosts and not members:
        console.print("[red]Patroni: no member answered on its REST API[/red]")
    if members:
        table = Table(title="Patroni")
        for column in ("member", "role", "state", "timeline", "lag"):
            table.add_column(column)
        for member in sorted(members, key=lambda m: str(m.get("name"))):
            role = str(member.get("role", ""))
            lag = member.get("lag", "")
            shown_lag = f"{int(lag) / 1048576:.1f} MB" if isinstance(lag, int) else str(lag)
            table.add_row(
                str(member.get("name", "")),
                role,
                str(member.get("state", "")),
                str(member.get("timeline", "")),
                "" if role == "leader" else shown_lag,
            )
        console.print(table)
        if not any(m.get("role") == "leader" for m in members):
            console.print("[red]Patroni: no leader[/red]")
    answering, asked = etcd_quorum(hosts)
    if asked:
        table = Table(title=f"etcd: {answering} of {asked} answering")
        for column in ("host", "answers", "raft leader", "term"):
            table.add_column(column)
        for name, state in sorted(hosts.items()):
            member = state.get("etcd") or {}
            if not member:
                continue
            ok = bool(member.get("ok"))
            table.add_row(
                name,
                "yes" if ok else "[red]NO[/red]",
                ("yes" if member.get("leader") else "") if ok else "",
                str(member.get("term", "")) if ok else "",
            )
        console.print(table)
        if answering <= asked // 2:
            console.print("[red]etcd: no quorum (Patroni cannot keep or elect a leader)[/red]")


def run(project_dir: Path, environment: str, as_json: bool, console: Console) -> ExitCode:
    document, code = collect(project_dir, environment)
    if as_json:
        console.print(
            json.dumps(document, sort_keys=True), markup=False, highlight=False, soft_wrap=True
        )
    elif document:
        render(document, environment, console)
    else:
        console.print(f"{environment}: the status run printed nothing (exit {int(code)})")
    return code


def sentinel_views(hosts: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, str], str]]:
    """(host, its Sentinel's SENTINEL MASTER fields, its CKQUORUM answer) per Sentinel host;
    fields are empty when the Sentinel did not answer."""
    views = []
    for name, state in sorted(hosts.items()):
        lines = [str(line) for line in state.get("sentinel") or []]
        if not lines:
            continue
        answer = ""
        if "ckquorum" in lines:
            at = lines.index("ckquorum")
            lines, answer = lines[:at], " ".join(lines[at + 1 :])
        fields = dict(zip(lines[::2], lines[1::2], strict=False)) if len(lines) % 2 == 0 else {}
        views.append((name, fields if "ip" in fields else {}, answer))
    return views


def _render_sentinel(hosts: dict[str, dict[str, Any]], console: Console) -> None:
    views = sentinel_views(hosts)
    if not views:
        return
    table = Table(title="Redis Sentinel")
    for column in ("host", "primary it names", "state", "Sentinels seen", "quorum"):
        table.add_column(column)
    for name, fields, answer in views:
        if not fields:
            table.add_row(name, "[red]no answer[/red]", "", "", "")
            continue
        seen = int(fields.get("num-other-sentinels", "0")) + 1
        quorum = "ok" if answer.startswith("OK") else f"[red]{answer or 'unknown'}[/red]"
        flags = fields.get("flags", "")
        shown_flags = flags if flags == "master" else f"[red]{flags}[/red]"
        primary = f"{fields.get('ip', '')}:{fields.get('port', '')}"
        table.add_row(name, primary, shown_flags, str(seen), quorum)
    console.print(table)
    named = {fields.get("ip") for _, fields, _ in views if fields}
    if len(named) > 1:
        console.print("[red]Redis Sentinel: the Sentinels name different primaries[/red]")
    if not any(answer.startswith("OK") for _, _, answer in views):
        console.print("[red]Redis Sentinel: no quorum: no failover can be authorised[/red]")
