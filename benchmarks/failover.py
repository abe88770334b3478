"""PostgreSQL failover under write load on the sandbox: seconds to first write, transactions lost.

Needs a provisioned sandbox (`make demo`). Clients on app1 commit one-row INSERTs against the
primary while failover.yml runs; afterwards every acknowledged transaction must be on the new
primary: lost = acknowledged - rows found. rejoin.yml then rebuilds the old primary as a replica,
so the sandbox is left redundant (with the roles swapped). Prints the figures and writes
benchmarks/results/failover.json.

The load is `pgbench` (default): its "transactions actually processed" counts only commits the
server acknowledged; its clients abort when the primary stops. Debian ships pgbench only in the
server package, which has no place on an app host, so the benchmark unpacks that package into
/opt/fpops-bench on app1 (`dpkg-deb -x`: no maintainer scripts, no cluster, no service).
`--load psql` uses psql sessions instead (psql prints `INSERT 0 1` per acknowledged commit).

    python benchmarks/failover.py [--load pgbench|psql] [--clients N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time

from sandbox_env import (
    INVENTORY,
    addresses,
    on_host,
    playbook,
    require_sandbox,
    secrets,
    write_result,
)

STATE = INVENTORY / ".state" / "postgresql_primary"
CLIENT = "fpops-sandbox-app1"
TABLE = "bench_failover"
BENCH_DIR = "/opt/fpops-bench"


def primary() -> str:
    return STATE.read_text().strip() if STATE.exists() else "db1"


def on_client(
    command: str, password: str, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a shell command on app1 with the migrator's password in the environment."""
    return subprocess.run(
        ["docker", "exec", "-e", f"PGPASSWORD={password}", CLIENT, "sh", "-c", command],
        capture_output=True,
        text=True,
        check=check,
    )


def dsn(address: str) -> str:
    return (
        f"host={address} dbname=footballprediction user=migrator "
        "sslmode=verify-full sslrootcert=/etc/fpops/pki/ca.crt connect_timeout=3"
    )


def install_pgbench() -> str:
    """pgbench from Debian's server package, unpacked (not installed) on app1; its path."""
    major = on_host("db1", "ls /usr/lib/postgresql | sort -n | tail -1")
    binary = f"{BENCH_DIR}/usr/lib/postgresql/{major}/bin/pgbench"
    on_host(
        "app1",
        f"test -x {binary} || (mkdir -p {BENCH_DIR} && cd {BENCH_DIR}"
        f" && apt-get download -q postgresql-{major} && dpkg-deb -x postgresql-{major}_*.deb .)",
    )
    return binary


def acknowledged(load: str, clients: int, output: str) -> int:
    """Commits the server acknowledged, from pgbench's summary or the psql sessions' counts."""
    if load == "pgbench":
        processed = re.search(r"number of transactions actually processed: ([0-9]+)", output)
        if not processed:
            sys.exit(f"pgbench printed no summary:\n{output[-2000:]}")
        return int(processed.group(1))
    counts = [int(line) for line in output.split() if line.isdigit()]
    if len(counts) != clients:
        sys.exit(f"expected {clients} session counts, got:\n{output[-2000:]}")
    return sum(counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", choices=["pgbench", "psql"], default="pgbench")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--failover-after", type=float, default=10.0)
    args = parser.parse_args()
    require_sandbox()

    password = secrets()["vault_postgresql_migrator_password"]
    ips = addresses()
    old = primary()
    new = "db2" if old == "db1" else "db1"
    on_client(
        f"psql '{dsn(ips[old])}' -qc 'DROP TABLE IF EXISTS {TABLE}; "
        f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, client int, at timestamptz)'",
        password,
    )
    bench: dict[str, subprocess.CompletedProcess[str]] = {}
    if args.load == "pgbench":
        pgbench = install_pgbench()
        on_client(
            f'echo "INSERT INTO {TABLE} (client, at) VALUES (:client_id, clock_timestamp());"'
            f" > {BENCH_DIR}/insert.sql",
            password,
        )
        command = (
            f"{pgbench} -n -c {args.clients} -j {args.clients} -T {args.seconds}"
            f" -f {BENCH_DIR}/insert.sql '{dsn(ips[old])}' 2>&1"
        )
    else:
        # One psql session per client, fed INSERTs; each prints its acknowledged count.
        session = (
            # The client number goes in as the inner shell's $0 (single quotes keep $c out).
            f"timeout {args.seconds} sh -c 'while :; do "
            f'echo "INSERT INTO {TABLE} (client, at) VALUES ($0, clock_timestamp());"; done\' $c '
            f"| psql '{dsn(ips[old])}' -v ON_ERROR_STOP=1 2>/dev/null | grep -c '^INSERT 0 1'"
        )
        clients = " ".join(str(c) for c in range(1, args.clients + 1))
        command = f"for c in {clients}; do ({session}) & done; wait"

    def load() -> None:
        bench["result"] = on_client(command, password, check=False)

    worker = threading.Thread(target=load)
    worker.start()
    time.sleep(args.failover_after)
    failover, wall = playbook("failover.yml")
    worker.join()
    if failover.returncode != 0:
        sys.exit(f"failover.yml failed:\n{failover.stdout[-4000:]}")
    reported = re.search(r"FAILOVER_SECONDS=([0-9.]+)", failover.stdout)
    committed = acknowledged(args.load, args.clients, bench["result"].stdout)
    rows = on_client(f"psql '{dsn(ips[new])}' -Atc 'SELECT count(*) FROM {TABLE}'", password)
    found = int(rows.stdout.strip())
    rejoin, rejoin_wall = playbook("rejoin.yml")

    figures = {
        "old_primary": old,
        "new_primary": new,
        "load": args.load,
        "client_sessions": args.clients,
        "failover_seconds_to_first_write": float(reported.group(1)) if reported else None,
        "failover_playbook_wall_seconds": round(wall, 1),
        "transactions_acknowledged": committed,
        "rows_on_new_primary": found,
        "committed_transactions_lost": max(0, committed - found),
        "rejoin_wall_seconds": round(rejoin_wall, 1),
        "rejoin_ok": rejoin.returncode == 0,
    }
    print(json.dumps(figures, indent=2))
    write_result("failover", figures)
    return 0 if rejoin.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
