"""Helpers every scenario's tests share: paths, SSH from the runner, playbook runs, the recap."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

import yaml


def ephemeral_dir() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


def project_dir() -> Path:
    return Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])


def scenario_dir() -> Path:
    return Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])


def vault_password_client() -> Path:
    """The vault password client every scenario shares (its password is per scenario)."""
    return project_dir() / "molecule" / "shared" / "vault-password"


def ssh(
    address: str, user: str, *options: str, command: str = "true"
) -> subprocess.CompletedProcess:
    """SSH from the test runner (the only admin source) with the scenario key."""
    args = [
        "ssh",
        "-i",
        str(ephemeral_dir() / "id_ed25519"),
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "ControlMaster=no",
        *options,
        f"{user}@{address}",
        command,
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


def run_playbook(
    playbook: Path, *extra: str, inventory: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a playbook against the scenario's hosts the way Molecule does (ENV: more variables)."""
    env = {**os.environ, **(env or {})}
    env["ANSIBLE_CONFIG"] = str(ephemeral_dir() / "ansible.cfg")
    env.setdefault("ANSIBLE_ROLES_PATH", str(project_dir() / "roles"))
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(vault_password_client())
    inventory = inventory or ephemeral_dir() / "inventory"
    # As fpops does: each run has an id, and a run that failed after taking the environment lock
    # has it given back (a playbook stopped midway never reaches its releasing play).
    run_id = f"test-{uuid.uuid4().hex[:12]}"
    args = ["ansible-playbook", "-i", str(inventory), str(playbook)]
    # Errors go to stderr and the recap to stdout: the tests read both as one.
    result = subprocess.run(
        [*args, "-e", f"env_lock_run_id={run_id}", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    if result.returncode != 0 and "Take the environment lock" in result.stdout:
        release = [*args[:3], str(project_dir() / "playbooks" / "lock.yml")]
        subprocess.run(
            [*release, "-e", f"env_lock_run_id={run_id}", "-e", "env_lock_action=release"],
            capture_output=True, timeout=300, env=env, check=False,
        )  # fmt: skip
    return result


def install_collection(collections_dir: Path) -> Path:
    """Build this checkout's collection tarball and install it into COLLECTIONS_DIR, as a team
    would (its dependencies come with the ansible package). Returns the installed collection."""
    build = collections_dir.parent / "build"
    built = subprocess.run(
        ["ansible-galaxy", "collection", "build", str(project_dir()), "--output-path", str(build)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    tarball = built.stdout.strip().split()[-1]
    install = ["ansible-galaxy", "collection", "install", "--no-deps", "--force"]
    subprocess.run(
        [*install, "-p", str(collections_dir), tarball], capture_output=True, text=True, check=True
    )
    return collections_dir / "ansible_collections" / "fpops" / "platform"


RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def recap(output: str) -> dict[str, dict[str, int]]:
    """Per-host counters from the PLAY RECAP block."""
    return {
        m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
        for m in RECAP.finditer(output)
    }


def changed_by_roles_again(hosts: str, roles: list[str], workdir: Path) -> dict[str, int]:
    """Run ROLES on HOSTS once more (a one-play playbook written into WORKDIR), as a role's
    idempotence check where the scenario has no Molecule idempotence step. The hosts the run
    changed and how many tasks each, {} when none; the run itself must succeed."""
    playbook = workdir / "again.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": hosts, "become": True, "roles": roles}]))
    out = run_playbook(playbook)
    assert out.returncode == 0, out.stdout[-3000:]
    return {name: c["changed"] for name, c in recap(out.stdout).items() if c["changed"]}


def rotate_logs(host, rule: str) -> None:
    """logrotate on HOST: its whole configuration parses with no error (a dry run), then
    /etc/logrotate.d/RULE is rotated by force."""
    dry = host.run("logrotate --debug /etc/logrotate.conf")
    # Errors are lines starting "error:"; a file name (error.log) is not one.
    assert dry.rc == 0 and not re.search(r"^error:", dry.stderr, re.MULTILINE), dry.stderr
    rotated = host.run(f"logrotate --force /etc/logrotate.d/{rule}")
    assert rotated.rc == 0, rotated.stderr


def run_project_playbook(name: str, *extra: str) -> subprocess.CompletedProcess:
    """Run one of the project's playbooks (playbooks/NAME) against the scenario's hosts."""
    return run_playbook(project_dir() / "playbooks" / name, *extra)


def inventory_groups() -> dict[str, list[str]]:
    """Inventory group -> host names, read from the inventory Molecule generated."""
    inventory = yaml.safe_load(
        (ephemeral_dir() / "inventory" / "ansible_inventory.yml").read_text()
    )
    groups: dict[str, list[str]] = {}

    def walk(name: str, node: dict) -> list[str]:
        members = list((node or {}).get("hosts") or {})
        for child, child_node in ((node or {}).get("children") or {}).items():
            members += walk(child, child_node)
        groups[name] = sorted(set(groups.get(name, []) + members))
        return members

    for name, node in inventory.items():
        walk(name, node)
    return groups


def network_report(container: str) -> str:
    """What the runner and `container` see of their network, for a failure message when an
    address stops answering: Docker's view of the container's endpoints, the container's
    addresses, listeners, ruleset and failed units, the runner's addresses and neighbours."""
    inside = ["docker", "exec", container]
    probes = {
        "docker networks": ["docker", "inspect", "-f", "{{json .NetworkSettings}}", container],
        "container ip addr": [*inside, "ip", "-br", "addr"],
        "container listeners": [*inside, "ss", "-ltn"],
        "container ruleset": [*inside, "nft", "list", "ruleset"],
        "container failed units": [*inside, "systemctl", "--failed", "--no-legend"],
        "runner ip addr": ["ip", "-br", "addr"],
        "runner neighbours": ["ip", "neigh"],
    }  # fmt: skip
    lines = []
    for title, argv in probes.items():
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
            output = (done.stdout + done.stderr).strip()
        except (OSError, subprocess.TimeoutExpired) as error:
            output = f"({error})"
        lines.append(f"--- {title}\n{output[-3000:]}")
    return "\n".join(lines)


def wait_for_port(address: str, port: int, timeout: float = 60) -> str | None:
    """None once a TCP connection to address:port succeeds within `timeout` seconds, else the
    last connection error."""
    deadline = time.monotonic() + timeout
    error = ""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=5):
                return None
        except OSError as exc:
            error = repr(exc)
            time.sleep(2)
    return error


def wait_for(predicate, timeout: float, interval: float = 1.0):
    """Poll until `predicate()` returns something truthy; that value, or None at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def parse_hey(report: str) -> dict[str, int]:
    """{"200": n, ..., "errors": n, "total": n} from hey's status and error distributions."""
    counts: dict[str, int] = {"errors": 0}
    section = None
    for line in report.splitlines():
        if line.startswith("Status code distribution"):
            section = "status"
        elif line.startswith("Error distribution"):
            section = "errors"
        elif section and line.strip().startswith("["):
            label, _, rest = line.strip().partition("]")
            number = int(rest.split()[0])
            if section == "status":
                counts[label.lstrip("[")] = number
            else:
                counts["errors"] += int(label.lstrip("["))
    counts["total"] = sum(v for k, v in counts.items() if k != "errors") + counts["errors"]
    return counts


def failed_requests(counts: dict[str, int]) -> int:
    return counts["total"] - counts.get("200", 0)
