"""Helpers for the web scenario: hosts found by inventory group, HTTPS to the lb's address."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from fixtures import groups, host
from helpers import (
    ephemeral_dir,
    network_report,
    project_dir,
    recap,
    run_playbook,
    scenario_dir,
    wait_for_port,
)

__all__ = [
    "ephemeral_dir",
    "groups",
    "host",
    "project_dir",
    "recap",
    "run_playbook",
    "scenario_dir",
]

# Fixed in molecule.yml. The test runner is the network's gateway: exempt from rate limits,
# allowed on /admin/; web-app is rate-limited, denied /admin/, and the maintenance operator.
ADDRESSES = {"web-lb": "172.30.4.10", "web-app": "172.30.4.11", "web-acme": "172.30.4.20"}
RUNNER = "172.30.4.1"
DOMAIN = "lb.fpops.test"
DOMAINS = ["lb.fpops.test", "api.fpops.test"]
ACME_DIRECTORY = "https://172.30.4.20:14000/dir"


def playbook(name: str) -> Path:
    return scenario_dir() / name


@pytest.fixture(scope="session")
def lb(groups, host):
    return host(groups["lb"][0])


@pytest.fixture(scope="session")
def app(groups, host):
    return host(groups["app"][0])


@pytest.fixture(scope="session")
def acme(groups, host):
    return host(groups["acme"][0])


@pytest.fixture(scope="session")
def lb_address(groups) -> str:
    return ADDRESSES[groups["lb"][0]]


@pytest.fixture(scope="session", autouse=True)
def lb_answers_the_runner(groups, lb_address):
    """Every test here reaches the lb from the runner (HTTPS, and SSH for the re-converges):
    when it does not answer, one message says so with what the network looks like."""
    for port in (443, 22):
        error = wait_for_port(lb_address, port)
        if error:
            report = network_report(groups["lb"][0])
            pytest.fail(f"{lb_address}:{port} does not answer the runner: {error}\n{report}")


@pytest.fixture(scope="session")
def pebble_root(acme, tmp_path_factory) -> Path:
    """pebble's root CA (made when pebble started), from its management API on web-acme."""
    pem = acme.check_output("curl -sfk https://127.0.0.1:15000/roots/0")
    assert "BEGIN CERTIFICATE" in pem
    path = tmp_path_factory.mktemp("pebble") / "root.pem"
    path.write_text(pem + "\n")
    return path


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address with the host name as SNI and for certificate checks."""

    def __init__(self, address: str, host: str, context: ssl.SSLContext, timeout: float = 5):
        super().__init__(host, 443, context=context, timeout=timeout)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@pytest.fixture(scope="session")
def tls_context(pebble_root) -> ssl.SSLContext:
    """Trusts pebble's root only: a served certificate that is not pebble's fails the handshake."""
    return ssl.create_default_context(cafile=str(pebble_root))


@pytest.fixture(scope="session")
def https(tls_context, lb_address):
    """https(path, headers=None, host=DOMAIN, ca=None) -> Response, from the test runner.
    The served certificate must verify against pebble's root, or against `ca` when given."""

    def get(
        path: str,
        headers: dict[str, str] | None = None,
        host: str = DOMAIN,
        ca: Path | None = None,
    ) -> Response:
        context = ssl.create_default_context(cafile=str(ca)) if ca else tls_context
        conn = PinnedHTTPSConnection(lb_address, host, context)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    return get


def served_certificate(address: str, servername: str = DOMAIN) -> str:
    """The PEM of the certificate nginx serves for `servername`."""
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"{address}:443", "-servername", servername],
        input="",
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    ).stdout
    start = out.find("-----BEGIN CERTIFICATE-----")
    end = out.find("-----END CERTIFICATE-----")
    assert start >= 0, out[-2000:]
    return out[start : end + len("-----END CERTIFICATE-----")] + "\n"


def certificate_field(pem: str, *args: str) -> str:
    return subprocess.run(
        ["openssl", "x509", "-noout", *args],
        input=pem,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def curl_from(client, url: str, *options: str) -> str:
    """curl on a scenario host, with the lb's names pinned to its address; prints the status."""
    resolve = " ".join(f"--resolve {name}:443:{ADDRESSES['web-lb']}" for name in DOMAINS)
    return client.check_output(
        f"curl -sk {resolve} -o /dev/null -w '%{{http_code}}\\n' {' '.join(options)} {url}"
    )


def nginx_master_pid(lb) -> int:
    return int(lb.check_output("cat /run/nginx.pid"))
