"""Patroni failover figures on the ha Molecule scenario's containers (postgresql_ha patroni).

Needs the scenario converged and left up: `molecule converge -s ha` (the ha-app1 client with
HAProxy + PgBouncer, ha-db1..3 under Patroni). For each event - kill -9 of the leader's Patroni
and PostgreSQL, a network partition of the leader (nftables drop on its container), a planned
switchover (failover.yml, as `fpops failover` runs it) - and each run:

  a writer on ha-app1 commits one-row INSERTs through the endpoint, one connection each (as web
  requests do), and logs every acknowledged commit; the event happens; afterwards
  gap  = the longest pause between two acknowledged commits around the event (seconds),
  lost = acknowledged commits missing from the table (synchronous_mode is on: expected 0).
The cluster is left healthy (the old leader rejoined) before the next run.

Then pgbench TPS through PgBouncer (127.0.0.1:6432) and straight to the leader (:5432), with a
connection kept per client and with a new connection per transaction (-C).
Prints the figures and writes benchmarks/results/ha_failover.json.

    python benchmarks/ha_failover.py [--runs N] [--pgbench-seconds S]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from sandbox_env import write_result  # noqa: E402
from scenario_env import scenario_dir, secrets, sh  # noqa: E402

CLIENT = "ha-app1"
MEMBERS = ["ha-db1", "ha-db2", "ha-db3"]
ADDRESSES = {"ha-db1": "172.30.3.21", "ha-db2": "172.30.3.22", "ha-db3": "172.30.3.23"}
PATRONI = "runuser -u postgres -- patronictl -c /etc/patroni/15-main.yml"
CA = "/etc/fpops/pki/ca.crt"
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
WRITER = "/usr/local/bin/fpops-bench-writer"
WRITER_SCRIPT = """#!/bin/bash
# fpops-bench-writer SECONDS DSN TABLE: one INSERT per connection; "<n> <epoch>" per commit.
end=$((SECONDS + $1)); n=0
while [ $SECONDS -lt $end ]; do
    n=$((n + 1))
    if timeout 5 psql "$2 connect_timeout=2" -v ON_ERROR_STOP=1 -qAtc \\
        "INSERT INTO $3 VALUES ($n)" >/dev/null 2>&1; then
        echo "$n $(date +%s.%N)"
    else
        sleep 0.1
    fi
done
"""


def dsn(vault: dict[str, str], user: str, host: str = "127.0.0.1", port: int = 6432) -> str:
    password = vault[f"vault_postgresql_{user}_password"]
    return (
        f"host={host} port={port} dbname=footballprediction user={user} password={password} "
        f"sslmode=verify-full sslrootcert={CA}"
    )


def members() -> list[dict]:
    for name in MEMBERS:
        out = sh(name, f"{PATRONI} list -f json", check=False)
        if out:
            return json.loads(out)
    return []


def leader() -> str:
    return next((m["Member"] for m in members() if m["Role"] == "Leader"), "")


def healthy() -> bool:
    state = members()
    return (
        len(state) == 3
        and sum(m["Role"] == "Leader" for m in state) == 1
        and sum(m["Role"] == "Sync Standby" for m in state) == 1
        and all(m["State"] in ("running", "streaming") for m in state)
        and len({m.get("TL") for m in state}) == 1
        and all(m.get("Lag in MB", 0) in (0, "") for m in state if m["Role"] != "Leader")
    )


def wait_healthy(vault: dict[str, str], timeout: float = 180) -> None:
    """Until the cluster is whole again, writing a row per poll as live traffic would (a member
    pg_rewind resynced ends its recovery only at the leader's next WAL record)."""
    deadline = time.monotonic() + timeout
    conninfo = dsn(vault, "migrator")
    sh(CLIENT, f"psql '{conninfo}' -qc 'CREATE TABLE IF NOT EXISTS bench_traffic (at timestamptz)'")
    while True:
        sh(
            CLIENT,
            f"timeout 10 psql '{conninfo}' -qc 'INSERT INTO bench_traffic VALUES (now())'",
            check=False,
        )
        if healthy():
            return
        if time.monotonic() > deadline:
            sys.exit(f"the cluster did not become healthy: {members()}")
        time.sleep(2)


def psql(conninfo: str, sql: str) -> str:
    return sh(CLIENT, f"psql '{conninfo}' -v ON_ERROR_STOP=1 -qAtc \"{sql}\"")


def kill(old: str) -> None:
    # SIGKILL to every process of the unit: Patroni and PostgreSQL die at once.
    sh(old, "systemctl kill --kill-whom=all --signal=KILL patroni@15-main")


def restart_killed(old: str) -> None:
    sh(old, "systemctl start patroni@15-main")


PARTITION = (
    "nft add table inet fpops_bench_cut && "
    "nft add chain inet fpops_bench_cut in '{ type filter hook input priority -10; }' && "
    "nft add chain inet fpops_bench_cut out '{ type filter hook output priority -10; }' && "
    "nft add rule inet fpops_bench_cut in ip saddr 172.30.3.0/24 drop && "
    "nft add rule inet fpops_bench_cut out ip daddr 172.30.3.0/24 drop"
)


def one_run(kind: str, vault: dict[str, str], state: Path) -> dict[str, float | int | str]:
    wait_healthy(vault)
    old = leader()
    table = f"bench_{uuid.uuid4().hex[:8]}"
    psql(dsn(vault, "migrator"), f"CREATE TABLE {table} (n int)")
    out = f"/tmp/{table}.acked"
    seconds = 60
    sh(
        CLIENT,
        f"systemd-run --collect --quiet --unit=fpops-bench-{table} "
        f"-p StandardOutput=file:{out} {WRITER} {seconds} '{dsn(vault, 'app_rw')}' {table}",
    )
    time.sleep(8)
    event = time.time()
    if kind == "kill -9":
        kill(old)
    elif kind == "partition":
        sh(old, PARTITION)
    else:
        sync = next(m["Member"] for m in members() if m["Role"] == "Sync Standby")
        env = {
            **os.environ,
            "MOLECULE_EPHEMERAL_DIRECTORY": str(state),
            "ANSIBLE_CONFIG": str(state / "ansible.cfg"),
            "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
            "ANSIBLE_VAULT_PASSWORD_FILE": str(ROOT / "molecule" / "shared" / "vault-password"),
        }
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("ansible-playbook")),
                "-i",
                str(state / "inventory"),
                str(ROOT / "playbooks" / "failover.yml"),
                "-e",
                f"postgresql_failover_to={sync}",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            sys.exit(f"failover.yml failed: {done.stdout[-1500:]}")
    # Let the writer finish, then undo the event so the old leader rejoins by itself.
    time.sleep(max(0.0, seconds + 10 - (time.time() - event) - 8))
    if kind == "partition":
        sh(old, "nft delete table inet fpops_bench_cut")
    elif kind == "kill -9":
        restart_killed(old)
    lines = [line.split() for line in sh(CLIENT, f"cat {out}").splitlines() if line.strip()]
    acked = {int(n): float(t) for n, t in lines}
    wait_healthy(vault)
    present = {int(n) for n in psql(dsn(vault, "app_rw"), f"SELECT n FROM {table}").split()}
    after = sorted(t for t in acked.values() if t > event)
    if not after or after[-1] < event + 15:
        sys.exit(f"{kind}: no write accepted through the endpoint after the event")
    # The write gap: the longest pause between two acknowledged commits around the event (a
    # commit in flight at the event may still be acknowledged just after it).
    times = sorted(t for t in acked.values() if t > event - 2)
    gap = max(b - a for a, b in itertools.pairwise(times))
    psql(dsn(vault, "migrator"), f"DROP TABLE {table}")
    return {
        "event": kind,
        "old_leader": old,
        "new_leader": leader(),
        "write_gap_s": round(gap, 2),
        "acknowledged": len(acked),
        "lost": len(set(acked) - present),
    }


def pgbench(vault: dict[str, str], seconds: int) -> dict[str, float]:
    if sh(CLIENT, f"test -x {PGBENCH} && echo yes", check=False) != "yes":
        sys.exit(f"{PGBENCH} is missing on {CLIENT} (the repository host's drill installs it)")
    psql(
        dsn(vault, "migrator"),
        "CREATE TABLE IF NOT EXISTS bench_tps (id bigserial PRIMARY KEY, v int);"
        " GRANT USAGE ON SEQUENCE bench_tps_id_seq TO app_rw",
    )
    sh(CLIENT, "echo 'INSERT INTO bench_tps (v) VALUES (:client_id);' > /tmp/bench_tps.sql")
    lead = ADDRESSES[leader()]
    figures = {}
    for label, conninfo in (
        ("pgbouncer", dsn(vault, "app_rw")),
        ("direct", dsn(vault, "app_rw", lead, 5432)),
    ):
        for mode, flag in (("kept", ""), ("per_transaction", "-C")):
            out = sh(
                CLIENT,
                f"{PGBENCH} -n {flag} -c 8 -j 2 -T {seconds} -f /tmp/bench_tps.sql '{conninfo}'",
            )
            tps = next(
                float(line.split("=")[1].split()[0])
                for line in out.splitlines()
                if line.startswith("tps")
            )
            figures[f"{label}_{mode}_tps"] = round(tps, 1)
    psql(dsn(vault, "migrator"), "DROP TABLE bench_tps")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    args = parser.parse_args()
    state = scenario_dir("ha", CLIENT)
    vault = secrets(state)
    sh(CLIENT, f"cat > {WRITER} <<'EOF'\n{WRITER_SCRIPT}EOF\nchmod +x {WRITER}")
    runs = []
    for kind in ("kill -9", "partition", "switchover"):
        for i in range(args.runs):
            result = one_run(kind, vault, state)
            runs.append(result)
            print(
                f"{kind} #{i + 1}: {result['old_leader']} -> {result['new_leader']}, write gap"
                f" {result['write_gap_s']} s, acknowledged {result['acknowledged']},"
                f" lost {result['lost']}",
                flush=True,
            )
    summary = {}
    for kind in ("kill -9", "partition", "switchover"):
        of_kind = [r for r in runs if r["event"] == kind]
        gaps = [float(r["write_gap_s"]) for r in of_kind]
        summary[kind] = {
            "median_write_gap_s": round(statistics.median(gaps), 2),
            "max_write_gap_s": round(max(gaps), 2),
            "lost_total": sum(int(r["lost"]) for r in of_kind),
        }
    tps = pgbench(vault, args.pgbench_seconds)
    for kind, figures in summary.items():
        print(f"{kind}: {figures}")
    print(f"pgbench (8 clients, one-row INSERT): {tps}")
    write_result("ha_failover", {"runs": runs, "summary": summary, "pgbench": tps})


if __name__ == "__main__":
    main()
