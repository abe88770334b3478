"""`fpops sandbox up|down|status`: eight systemd containers that Ansible reaches over SSH."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fpops import sandbox_spec as spec
from fpops import secrets
from fpops.docker import containers, docker, succeeds
from fpops.exitcodes import ExitCode

# Eight systemd containers booting at once on a loaded 2-core machine (CI runs the sandbox next
# to the Molecule lanes) took over a minute: a boot that needs longer is a real problem.
BOOT_TIMEOUT = 180.0
SSH_TIMEOUT = 120.0
APT_CACHE_URL = "http://127.0.0.1:3142/acng-report.html"

RUN_OPTIONS = (
    "--cap-add", "SYS_ADMIN",
    "--cap-add", "NET_ADMIN",
    "--security-opt", "seccomp=unconfined",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
    "--tmpfs", "/run",
    "--tmpfs", "/run/lock",
    "--tmpfs", "/tmp",
    "--stop-signal", "SIGRTMIN+3",
)  # fmt: skip

# Runs as root in a new container: the `ops` user that Ansible logs in as.
BOOTSTRAP_SCRIPT = """
set -eu
id ops >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --password '*' ops
install -d -m 0700 -o ops -g ops /home/ops/.ssh
printf '%s\\n' "$FPOPS_PUBKEY" > /home/ops/.ssh/authorized_keys
chown ops:ops /home/ops/.ssh/authorized_keys
chmod 0600 /home/ops/.ssh/authorized_keys
printf 'ops ALL=(ALL) NOPASSWD:ALL\\n' > /etc/sudoers.d/ops-bootstrap
chmod 0440 /etc/sudoers.d/ops-bootstrap
if [ -n "${FPOPS_APT_PROXY:-}" ]; then
    printf 'Acquire::http::Proxy "%s";\\n' "$FPOPS_APT_PROXY" > /etc/apt/apt.conf.d/01fpops-proxy
fi
"""


class SandboxError(RuntimeError):
    """The sandbox could not be brought up."""


@dataclass(frozen=True)
class Paths:
    """Where the sandbox keeps its files inside the project."""

    project_dir: Path

    @property
    def state_dir(self) -> Path:
        return self.project_dir / ".fpops" / "sandbox"

    @property
    def key(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"

    @property
    def inventory(self) -> Path:
        return self.project_dir / "inventories" / "sandbox" / "hosts.yml"


def ensure_key(paths: Paths) -> str:
    """Create the sandbox SSH key once; return the public key."""
    paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not paths.key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fpops-sandbox",
             "-f", str(paths.key)],
            check=True,
        )  # fmt: skip
    return paths.key.with_suffix(".pub").read_text(encoding="utf-8").strip()


def apt_cache_answers() -> bool:
    try:
        with urllib.request.urlopen(APT_CACHE_URL, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def ssh_ok(paths: Paths, ip: str, timeout: int = 3) -> bool:
    """True when `ssh ops@IP true` works with the sandbox key."""
    if not paths.key.exists():
        return False
    cmd = [
        "ssh", "-i", str(paths.key),
        "-o", f"UserKnownHostsFile={paths.known_hosts}",
        "-o", "StrictHostKeyChecking=accept-new",
        "-o", "BatchMode=yes",
        "-o", f"ConnectTimeout={timeout}",
        "-o", "LogLevel=ERROR",
        f"{spec.SSH_USER}@{ip}", "true",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout + 10, check=False)
    return proc.returncode == 0


def wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    """Poll `check` every second; SandboxError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SandboxError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(1)


def ensure_network(network: ipaddress.IPv4Network) -> None:
    if succeeds("network", "inspect", spec.NETWORK):
        existing = docker(
            "network", "inspect", spec.NETWORK, "--format",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        )  # fmt: skip
        if existing != str(network):
            raise SandboxError(
                f"network {spec.NETWORK} has subnet {existing}, not {network}:"
                " run `fpops sandbox down` first"
            )
        return
    docker(
        "network", "create",
        "--subnet", str(network),
        "--gateway", str(spec.gateway(network)),
        "--label", spec.LABEL,
        spec.NETWORK,
    )  # fmt: skip


def system_running(container: str) -> bool:
    state = docker("exec", container, "systemctl", "is-system-running", check=False)
    return state in ("running", "degraded")


def create_host(
    host: spec.SandboxHost, network: ipaddress.IPv4Network, public_key: str, apt_proxy: str
) -> None:
    """Start one container, wait for systemd, add the `ops` user."""
    docker(
        "run", "-d",
        "--name", host.container,
        "--hostname", host.name,
        "--network", spec.NETWORK,
        "--ip", str(spec.host_ip(network, host)),
        "--network-alias", host.name,
        *RUN_OPTIONS,
        "--label", spec.LABEL,
        spec.IMAGE,
    )  # fmt: skip
    wait_until(f"systemd in {host.container}", lambda: system_running(host.container), BOOT_TIMEOUT)
    docker(
        "exec",
        "-e", f"FPOPS_PUBKEY={public_key}",
        "-e", f"FPOPS_APT_PROXY={apt_proxy}",
        host.container, "sh", "-c", BOOTSTRAP_SCRIPT,
    )  # fmt: skip


def up(project_dir: Path, console: Console) -> ExitCode:
    started = time.monotonic()
    paths = Paths(project_dir)
    network = spec.subnet(os.environ)
    public_key = ensure_key(paths)
    console.print("building the test image if needed", style="dim")
    for script in ("build-test-image", "build-warm-image"):
        build = subprocess.run([str(project_dir / "scripts" / script), "bookworm"], check=False)
        if build.returncode != 0:
            raise SandboxError(f"scripts/{script} failed")
    ensure_network(network)
    existing = containers(spec.LABEL, spec.CONTAINER_PREFIX)
    # A container of a host the sandbox no longer has (a renamed one) would hold its address.
    wanted = {h.container for h in spec.HOSTS}
    stale = [name for name in existing if name not in wanted]
    stale += [h.container for h in spec.HOSTS if existing.get(h.container, "running") != "running"]
    if stale:
        docker("rm", "-f", *stale)
    missing = [h for h in spec.HOSTS if existing.get(h.container) != "running"]
    apt_proxy = f"http://{spec.gateway(network)}:3142" if apt_cache_answers() else ""
    paths.known_hosts.write_text("", encoding="utf-8")
    kept = len(spec.HOSTS) - len(missing)
    console.print(f"creating {len(missing)} container(s), keeping {kept}", style="dim")
    with ThreadPoolExecutor(max_workers=len(spec.HOSTS)) as pool:
        list(pool.map(lambda h: create_host(h, network, public_key, apt_proxy), missing))
        list(pool.map(lambda h: _wait_ssh(paths, network, h), spec.HOSTS))
    write_inventory(paths, network, public_key)
    # The roles need their vault secrets: `make demo` must not wait for a manual step.
    secrets.run_init(project_dir, "sandbox", console)
    elapsed = time.monotonic() - started
    console.print(
        f"sandbox up: {len(spec.HOSTS)} hosts in {elapsed:.0f}s; inventory {paths.inventory}"
    )
    return ExitCode.OK


def _wait_ssh(paths: Paths, network: ipaddress.IPv4Network, host: spec.SandboxHost) -> None:
    ip = str(spec.host_ip(network, host))
    wait_until(f"ssh to {host.name} ({ip})", lambda: ssh_ok(paths, ip), SSH_TIMEOUT)


def write_inventory(paths: Paths, network: ipaddress.IPv4Network, public_key: str) -> None:
    data = spec.inventory(network, paths.key, paths.known_hosts, public_key)
    paths.inventory.parent.mkdir(parents=True, exist_ok=True)
    paths.inventory.write_text(spec.render_inventory(data), encoding="utf-8")


def down(project_dir: Path, console: Console) -> ExitCode:
    paths = Paths(project_dir)
    names = sorted(containers(spec.LABEL, spec.CONTAINER_PREFIX))
    if names:
        docker("rm", "-f", *names)
    if succeeds("network", "inspect", spec.NETWORK):
        docker("network", "rm", spec.NETWORK)
    paths.inventory.unlink(missing_ok=True)
    paths.known_hosts.unlink(missing_ok=True)
    console.print(f"sandbox down: removed {len(names)} container(s)")
    return ExitCode.OK


@dataclass(frozen=True)
class HostStatus:
    host: str
    groups: list[str]
    state: str  # docker's container state, or "absent"
    ip: str
    ssh: bool


def status_rows(project_dir: Path) -> list[HostStatus]:
    paths = Paths(project_dir)
    network = spec.subnet(os.environ)
    states = containers(spec.LABEL, spec.CONTAINER_PREFIX)

    def row(host: spec.SandboxHost) -> HostStatus:
        ip = str(spec.host_ip(network, host))
        state = states.get(host.container, "absent")
        reachable = state == "running" and ssh_ok(paths, ip)
        return HostStatus(host.name, [host.group], state, ip, reachable)

    with ThreadPoolExecutor(max_workers=len(spec.HOSTS)) as pool:
        return list(pool.map(row, spec.HOSTS))


def status(project_dir: Path, console: Console, as_json: bool) -> ExitCode:
    rows = status_rows(project_dir)
    if as_json:
        print(json.dumps([asdict(r) for r in rows]))
        return ExitCode.OK
    table = Table(title="fpops sandbox", title_justify="left")
    for column in ("host", "groups", "container", "IP", "ssh"):
        table.add_column(column)
    for r in rows:
        state_style = "green" if r.state == "running" else "red"
        table.add_row(
            r.host,
            ", ".join(r.groups),
            f"[{state_style}]{r.state}[/]",
            r.ip,
            "[green]yes[/]" if r.ssh else "[red]no[/]",
        )
    console.print(table)
    if not Paths(project_dir).inventory.exists():
        return ExitCode.OK
    for label, value in where(project_dir, spec.subnet(os.environ)):
        console.print(f"[bold]{label:<13}[/]{value}", highlight=False, soft_wrap=True)
    return ExitCode.OK


def where(project_dir: Path, network: ipaddress.IPv4Network) -> list[tuple[str, str]]:
    """What an operator opens after `make demo`: the API (with the curl line that works without
    DNS, trusting the sandbox's internal CA), Prometheus, Alertmanager, the status command."""
    ips = {h.group: str(spec.host_ip(network, h)) for h in spec.HOSTS}
    api = spec.api_name(project_dir)
    ca = Paths(project_dir).inventory.parent / ".pki" / "ca.crt"
    if ca.is_relative_to(Path.cwd()):
        ca = ca.relative_to(Path.cwd())
    return [
        ("API", f"https://{api}/health"),
        ("", f"curl --resolve {api}:443:{ips['lb']} --cacert {ca} https://{api}/health"),
        ("Prometheus", f"http://{ips['monitoring']}:9090"),
        ("Alertmanager", f"http://{ips['monitoring']}:9093"),
        ("Status", "fpops status sandbox"),
    ]
