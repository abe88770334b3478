"""Redis Sentinel failover figures on the sentinel Molecule scenario's containers.

Needs the scenario converged and left up: `molecule converge -s sentinel` (sentinel-cache1..3
with Redis and a Sentinel each, sentinel-app1 with the Redis endpoint on 127.0.0.1:6380). For
each run: a writer on the app host sets one key per connection through the endpoint every
0.1 s (as web requests' cache writes would) and logs each attempt; 300 keys are written on the
primary, each acknowledged by a replica (WAIT 1 1000); then the primary's redis-server is
killed with SIGKILL. Figures:

  promoted = seconds from the kill until a surviving Sentinel names another primary,
  gap      = the longest pause between two successful writes through the endpoint,
  failed   = the writer's attempts that failed after the kill,
  lost     = acknowledged keys missing from the new primary (expected 0).

The killed server restarts (RestartSec) and becomes a replica before the next run.
Prints the figures and writes benchmarks/results/sentinel_failover.json.

    python benchmarks/sentinel_failover.py [--runs N]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sandbox_env import write_result
from scenario_env import scenario_dir, secrets, sh

CLIENT = "sentinel-app1"
ADDRESSES = {
    "sentinel-cache1": "172.30.8.31",
    "sentinel-cache2": "172.30.8.32",
    "sentinel-cache3": "172.30.8.33",
}
KEYS = 300
WRITER = "/usr/local/bin/fpops-bench-redis-writer"
WRITER_SCRIPT = """#!/bin/bash
# fpops-bench-redis-writer SECONDS: one SET per connection through the endpoint, every 0.1 s.
end=$((SECONDS + $1)); n=0
while [ $SECONDS -lt $end ]; do
    n=$((n + 1))
    out=$(timeout 3 redis-cli --no-auth-warning -h 127.0.0.1 -p 6380 --user app \\
        SET fp:bench:endpoint:$n $n 2>&1)
    if [ "$out" = OK ]; then echo "$n $(date +%s.%N) ok"; else echo "$n $(date +%s.%N) err"; fi
    sleep 0.1
done
"""


def cli(container: str, vault: dict[str, str], user: str, args: str, port: int = 6379) -> str:
    password = vault[f"vault_redis_{user}_password"]
    return sh(
        container,
        f"REDISCLI_AUTH='{password}' redis-cli --no-auth-warning -h 127.0.0.1 -p {port} "
        f"--user {user} {args} | tr -d '\\r'",
        check=False,
    )


def named_primary(container: str, vault: dict[str, str]) -> str:
    answer = cli(container, vault, "admin", "SENTINEL GET-MASTER-ADDR-BY-NAME fpops", 26379)
    address = answer.split()[0] if answer else ""
    return next((name for name, addr in ADDRESSES.items() if addr == address), "")


def settled(vault: dict[str, str]) -> str:
    """The primary when every Sentinel names it and it has two linked replicas, else ''."""
    named = {named_primary(name, vault) for name in ADDRESSES}
    if len(named) != 1 or "" in named:
        return ""
    primary = named.pop()
    return (
        primary if "connected_slaves:2" in cli(primary, vault, "admin", "INFO replication") else ""
    )


def wait_settled(vault: dict[str, str], timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        primary = settled(vault)
        if primary:
            return primary
        time.sleep(1)
    sys.exit("the Sentinels did not settle on one primary with two linked replicas")


def one_run(vault: dict[str, str], run: int) -> dict[str, float | int | str]:
    old = wait_settled(vault)
    log = f"/tmp/fpops-bench-redis-{run}.log"
    sh(
        CLIENT,
        f"systemd-run --collect --quiet --unit=fpops-bench-redis-writer-{run} "
        f"-E REDISCLI_AUTH={vault['vault_redis_app_password']} "
        f"-p StandardOutput=file:{log} {WRITER} 45",
    )
    time.sleep(3)
    script = "".join(f"SET fp:bench:waited:{run}:{n} {n}\\nWAIT 1 1000\\n" for n in range(KEYS))
    replies = sh(
        old,
        f"printf '{script}' | REDISCLI_AUTH='{vault['vault_redis_app_password']}' "
        "redis-cli --no-auth-warning -h 127.0.0.1 --user app",
    ).split()
    acked = {n for n in range(KEYS) if replies[2 * n] == "OK" and int(replies[2 * n + 1]) >= 1}
    killed = time.time()
    sh(old, "systemctl kill --signal=KILL redis-server")
    witness = next(name for name in ADDRESSES if name != old)
    new = ""
    while new in ("", old) and time.time() - killed < 60:
        time.sleep(0.2)
        new = named_primary(witness, vault)
    promoted = time.time() - killed
    sh(CLIENT, f"while systemctl is-active -q fpops-bench-redis-writer-{run}; do sleep 1; done")
    attempts = [line.split() for line in sh(CLIENT, f"cat {log}").splitlines() if line.strip()]
    oks = sorted(float(t) for _, t, state in attempts if state == "ok" and float(t) > killed - 2)
    keys = cli(new, vault, "admin", f"--scan --pattern 'fp:bench:waited:{run}:*'").split()
    kept = {int(key.rsplit(":", 1)[1]) for key in keys}
    wait_settled(vault)
    return {
        "old_primary": old,
        "new_primary": new,
        "promoted_s": round(promoted, 2),
        "write_gap_s": round(max(b - a for a, b in itertools.pairwise(oks)), 2),
        "failed_writes": sum(
            1 for _, t, state in attempts if state == "err" and float(t) >= killed
        ),
        "acknowledged": len(acked),
        "lost": len(acked - kept),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    vault = secrets(scenario_dir("sentinel", CLIENT))
    sh(CLIENT, f"cat > {WRITER} <<'EOF'\n{WRITER_SCRIPT}EOF\nchmod +x {WRITER}")
    runs = []
    for run in range(args.runs):
        result = one_run(vault, run)
        runs.append(result)
        print(
            f"kill -9 #{run + 1}: {result['old_primary']} -> {result['new_primary']},"
            f" promoted after {result['promoted_s']} s, write gap {result['write_gap_s']} s,"
            f" {result['failed_writes']} writes failed, lost {result['lost']} of"
            f" {result['acknowledged']} acknowledged",
            flush=True,
        )
    summary = {
        "median_promoted_s": statistics.median(float(r["promoted_s"]) for r in runs),
        "median_write_gap_s": statistics.median(float(r["write_gap_s"]) for r in runs),
        "failed_writes_total": sum(int(r["failed_writes"]) for r in runs),
        "lost_total": sum(int(r["lost"]) for r in runs),
    }
    print(f"summary: {summary}")
    write_result("sentinel_failover", {"runs": runs, "summary": summary})


if __name__ == "__main__":
    main()
