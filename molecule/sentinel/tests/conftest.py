"""Helpers for the sentinel scenario: three cache hosts, each with Redis and a Sentinel, and a
fourth Sentinel on the app host (redis_sentinel_extra_hosts)."""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from fixtures import groups, host, vault
from helpers import parse_hey, project_dir, recap, run_playbook, wait_for
from redis_load import REDIS_CLI_TLS

__all__ = [
    "groups",
    "host",
    "parse_hey",
    "project_dir",
    "recap",
    "run_playbook",
    "vault",
    "wait_for",
]

MASTER = "fpops"
SENTINEL_PORT = 26379
# The app host's Redis endpoint (plain, loopback); every cache host port speaks TLS only.
ENDPOINT_PORT = 6380
# Fixed in molecule.yml.
ADDRESSES = {
    "sentinel-cache1": "172.30.8.31",
    "sentinel-cache2": "172.30.8.32",
    "sentinel-cache3": "172.30.8.33",
}
NAMES = {address: name for name, address in ADDRESSES.items()}
# Every Sentinel: one per cache host, and the app host's (redis_sentinel_extra_hosts).
SENTINELS = [*ADDRESSES, "sentinel-app1"]


@pytest.fixture(scope="module")
def monitor(host, groups):
    """The monitoring host (Prometheus), which is also the app host and the backup host."""
    return host(groups["monitoring"][0])


def query(monitor, expr: str) -> list[dict]:
    """An instant query against the monitoring host's Prometheus."""
    url = "http://172.30.8.11:9090/api/v1/query?query=" + urllib.parse.quote(expr)
    return json.loads(monitor.check_output(f"curl -sf '{url}'"))["data"]["result"]


SRV = "/srv/prediction-api"
SLOT_PORTS = {"blue": 8001, "green": 8002}
APP_ADDRESS = "172.30.8.11"


@pytest.fixture(scope="session")
def app(host, groups):
    """The app host with the sample app deployed once (deploy.yml, release 2.0.0)."""
    node = host(groups["app"][0])
    if not node.file(f"{SRV}/current").exists:
        out = run_playbook(project_dir() / "playbooks" / "deploy.yml", "-e", "app_version=2.0.0")
        assert out.returncode == 0, out.stdout[-3000:]
    return node


def app_url(app, path: str) -> str:
    """The live slot's URL of path on the app host."""
    slot = app.check_output(f"cat {SRV}/shared/live-slot")
    return f"http://{APP_ADDRESS}:{SLOT_PORTS[slot]}{path}"


def app_python(app, script: str, *args: str, unit: str = "", output: str = "") -> str:
    """A Python script run by the live release's venv as the app's user, with its environment
    (as the worker has it). unit and output: in the background as that transient unit."""
    path = f"/tmp/fpops-test-{abs(hash(script))}.py"
    app.run(f"cat > {path} <<'EOF'\n{script}EOF\nchmod 0644 {path}")
    env = f"{SRV}/shared"
    props = (
        "-p User=fpapp -p EnvironmentFile=/etc/fpops/postgresql.env"
        f" -p EnvironmentFile={env}/app.env -p EnvironmentFile={env}/current.env"
        f" -p WorkingDirectory={SRV}/current"
    )
    command = f"{SRV}/current/venv/bin/python {path} {' '.join(args)}"
    if unit:
        started = app.run(
            f"systemd-run --collect --quiet --unit={unit} {props}"
            f" -p StandardOutput=file:{output} {command}"
        )
        assert started.rc == 0, started.stderr
        return ""
    return app.check_output(f"systemd-run --wait --pipe --quiet {props} {command}")


def redis(node, vault, user: str, *args: str, port: int = 6379, address: str = "127.0.0.1"):
    """redis-cli on a cache host as one of the ACL users (the password in REDISCLI_AUTH)."""
    words = " ".join(f"'{arg}'" for arg in args)
    tls = "" if port == ENDPOINT_PORT else REDIS_CLI_TLS
    return node.run(
        f"REDISCLI_AUTH='{vault[f'vault_redis_{user}_password']}' "
        f"redis-cli {tls} --no-auth-warning -h {address} -p {port} --user {user} {words}"
    )


def sentinel_master(node, vault) -> str:
    """The primary's host name, as this host's Sentinel names it ('' when it names none)."""
    out = redis(
        node, vault, "admin", "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER, port=SENTINEL_PORT
    )
    lines = out.stdout.split()
    return NAMES.get(lines[0], "") if out.rc == 0 and lines else ""


def info(node, vault) -> dict[str, str]:
    out = redis(node, vault, "admin", "INFO", "replication").stdout
    return dict(line.split(":", 1) for line in out.replace("\r", "").splitlines() if ":" in line)


def settled(host, vault) -> str:
    """The primary when all four Sentinels name the same one, which has two linked replicas."""
    named = {sentinel_master(host(name), vault) for name in SENTINELS}
    if len(named) != 1 or "" in named:
        return ""
    primary = named.pop()
    state = info(host(primary), vault)
    if state.get("role") != "master" or state.get("connected_slaves") != "2":
        return ""
    for name in ADDRESSES:
        if name != primary:
            replica = info(host(name), vault)
            if (
                replica.get("master_link_status") != "up"
                or replica.get("master_host") != ADDRESSES[primary]
            ):
                return ""
    return primary


def wait_settled(host, vault, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        primary = settled(host, vault)
        if primary:
            return primary
        time.sleep(1)
    raise AssertionError("the Sentinels did not settle on one primary with two linked replicas")


def pytest_configure(config):
    config.addinivalue_line("markers", "moves_primary: the test fails the primary over")


def pytest_collection_modifyitems(items):
    """Tests that move the primary run after every other test."""
    items.sort(key=lambda item: item.get_closest_marker("moves_primary") is not None)
