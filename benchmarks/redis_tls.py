"""What redis_tls costs: requests per second, plain against TLS, on one cache host of the sentinel
Molecule scenario (`molecule converge -s sentinel`, left up).

Two throwaway redis-servers start on the host's loopback, alike but for TLS: no persistence, no
password, the TLS one with the host's certificate from the internal CA (as the role sets it up).
redis-benchmark (Debian's redis-tools) runs against each, on the same host:

  kept      = SET and GET over 10 connections kept open (what the app's pooled clients do),
  reconnect = SET with a new connection per request (-k 0: a TLS handshake every time, as the
              endpoint's HAProxy or a client without a pool would pay).

Both servers are stopped afterwards; the cluster's own servers are not touched. Prints the
figures and writes benchmarks/results/redis_tls.json.

    python benchmarks/redis_tls.py [--host sentinel-cache3]
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sandbox_env import write_result
from scenario_env import sh

PKI = "/etc/fpops/pki"
PLAIN_PORT = 7101
TLS_PORT = 7102
SERVER = (
    "runuser -u redis -- redis-server --bind 127.0.0.1 --save '' --appendonly no"
    " --daemonize yes --dir /tmp --logfile /tmp/fpops-bench-{name}.log"
    " --pidfile /tmp/fpops-bench-{name}.pid {args}"
)
TLS_ARGS = (
    f"--port 0 --tls-port {TLS_PORT} --tls-cert-file {PKI}/redis.crt"
    f" --tls-key-file {PKI}/private/redis.key --tls-ca-cert-file {PKI}/ca.crt --tls-auth-clients no"
)
CLIENT_TLS = f"--tls --cacert {PKI}/ca.crt"


def rps(host: str, port: int, tls: bool, extra: str) -> dict[str, float]:
    """Requests per second per test, from redis-benchmark's CSV output."""
    out = sh(
        host,
        f"redis-benchmark -h 127.0.0.1 -p {port} {CLIENT_TLS if tls else ''} --csv {extra}",
    )
    rows = list(csv.reader(io.StringIO(out)))
    return {row[0]: float(row[1]) for row in rows[1:] if len(row) > 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="sentinel-cache3")
    host = parser.parse_args().host
    servers = {"plain": f"--port {PLAIN_PORT}", "tls": TLS_ARGS}
    try:
        for name, args in servers.items():
            sh(host, SERVER.format(name=name, args=args))
        sh(
            host,
            f"sleep 1; redis-cli -p {PLAIN_PORT} PING; redis-cli {CLIENT_TLS} -p {TLS_PORT} PING",
        )
        kept_args = "-t set,get -n 100000 -c 10"
        reconnect_args = "-t set -n 5000 -c 10 -k 0"
        kept: dict[str, dict[str, float]] = {}
        reconnect: dict[str, float] = {}
        for name, port, use_tls in (("plain", PLAIN_PORT, False), ("tls", TLS_PORT, True)):
            kept[name] = rps(host, port, use_tls, kept_args)
            reconnect[name] = rps(host, port, use_tls, reconnect_args)["SET"]
    finally:
        for name in servers:
            sh(host, f"kill $(cat /tmp/fpops-bench-{name}.pid) 2>/dev/null || true", check=False)
    for test in ("SET", "GET"):
        share = kept["tls"][test] / kept["plain"][test]
        print(
            f"{test}, 10 kept connections: plain {kept['plain'][test]:.0f}/s, TLS"
            f" {kept['tls'][test]:.0f}/s ({share:.0%} of plain)"
        )
    share = reconnect["tls"] / reconnect["plain"]
    print(
        f"SET, a new connection per request: plain {reconnect['plain']:.0f}/s, TLS"
        f" {reconnect['tls']:.0f}/s ({share:.0%} of plain)"
    )
    write_result("redis_tls", {"host": host, "kept": kept, "reconnect": reconnect})


if __name__ == "__main__":
    main()
