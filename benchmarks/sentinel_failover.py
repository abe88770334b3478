"""Redis Sentinel failover figures on the sentinel Molecule scenario's containers.

Needs the scenario converged, the sample app deployed, and left up: `molecule converge -s
sentinel` then `molecule verify -s sentinel` (its first test deploys the app), or deploy.yml
(sentinel-cache1..3 with Redis and a Sentinel each; sentinel-app1 with the Redis endpoint on
127.0.0.1:6380, the sample app and its Celery worker). For each run, on the app host: a writer
sets one key per connection through the endpoint every 0.1 s (as web requests' cache writes
would); Celery tasks are sent one at a time (molecule/shared/redis_load.py); hey asks the app's
cached endpoint at a fixed 20 requests/s; 300 keys are written on the primary, each
acknowledged by a replica (WAIT 1 1000); then the primary's redis-server is killed with
SIGKILL. Figures:

  promoted   = seconds from the kill until a surviving Sentinel names another primary,
  gap        = the longest pause between two successful writes through the endpoint,
  failed     = the writer's attempts that failed after the kill,
  app        = seconds from the kill until the app's Celery tasks (a broker write and a result
               write each) are answered again: the end of the longest pause between two
               answered tasks (a task fails, or waits while HAProxy holds its connection),
  api_failed = the API requests hey counted as failed (not 200, or no answer in 5 s),
  lost       = acknowledged keys missing from the new primary (expected 0).

The killed server restarts (RestartSec) and becomes a replica before the next run.
Prints the figures and writes benchmarks/results/sentinel_failover.json.

    python benchmarks/sentinel_failover.py [--runs N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "molecule" / "shared"))
from helpers import failed_requests, parse_hey
from redis_load import CELERY_LOOP, ENDPOINT_WRITER, REDIS_CLI_TLS, celery_figures
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
CELERY_SCRIPT = "/tmp/fpops-bench-celery-loop.py"
SRV = "/srv/prediction-api"
SLOT_PORTS = {"blue": 8001, "green": 8002}
# The Celery loop runs as the app's user with the worker's environment.
APP_UNIT_PROPERTIES = (
    "-p User=fpapp -p EnvironmentFile=/etc/fpops/postgresql.env"
    f" -p EnvironmentFile={SRV}/shared/app.env -p EnvironmentFile={SRV}/shared/current.env"
    f" -p WorkingDirectory={SRV}/current"
)


def cli(container: str, vault: dict[str, str], user: str, args: str, port: int = 6379) -> str:
    password = vault[f"vault_redis_{user}_password"]
    return sh(
        container,
        f"REDISCLI_AUTH='{password}' redis-cli {REDIS_CLI_TLS} --no-auth-warning"
        f" -h 127.0.0.1 -p {port} --user {user} {args} | tr -d '\\r'",
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


def cached_prediction_url() -> str:
    """The app's cached endpoint for a match with a stored prediction (made here)."""
    slot = sh(CLIENT, f"cat {SRV}/shared/live-slot")
    base = f"http://172.30.8.11:{SLOT_PORTS[slot]}"
    body = (
        '{"home_team": "Bench FC", "away_team": "Failover City", "kickoff": "2027-05-01T15:00:00Z"}'
    )
    post = "curl -sf -X POST -H 'Content-Type: application/json'"
    match = json.loads(sh(CLIENT, f"{post} -d '{body}' {base}/matches"))
    sh(CLIENT, f"{post} {base}/matches/{match['id']}/predictions")
    return f"{base}/matches/{match['id']}/prediction"


def one_run(vault: dict[str, str], run: int, url: str) -> dict[str, float | int | str]:
    old = wait_settled(vault)
    log = f"/tmp/fpops-bench-redis-{run}.log"
    sh(
        CLIENT,
        f"systemd-run --collect --quiet --unit=fpops-bench-redis-writer-{run} "
        f"-E REDISCLI_AUTH={vault['vault_redis_app_password']} "
        f"-p StandardOutput=file:{log} {WRITER} 45 6380 fp:bench:endpoint:{run}",
    )
    celery_log, hey_log = f"/tmp/fpops-bench-celery-{run}.log", f"/tmp/fpops-bench-hey-{run}.txt"
    sh(
        CLIENT,
        f"systemd-run --collect --quiet --unit=fpops-bench-celery-{run} {APP_UNIT_PROPERTIES}"
        f" -p StandardOutput=file:{celery_log} {SRV}/current/venv/bin/python {CELERY_SCRIPT} 40",
    )
    sh(CLIENT, f"setsid nohup hey -z 40s -c 2 -q 10 -t 5 {url} > {hey_log} 2>&1 < /dev/null &")
    time.sleep(3)
    script = "".join(f"SET fp:bench:waited:{run}:{n} {n}\\nWAIT 1 1000\\n" for n in range(KEYS))
    replies = sh(
        old,
        f"printf '{script}' | REDISCLI_AUTH='{vault['vault_redis_app_password']}' "
        f"redis-cli {REDIS_CLI_TLS} --no-auth-warning -h 127.0.0.1 --user app",
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
    sh(CLIENT, f"while systemctl is-active -q fpops-bench-celery-{run}; do sleep 1; done")
    sh(CLIENT, "while pgrep -x hey >/dev/null; do sleep 1; done")
    celery = celery_figures(sh(CLIENT, f"cat {celery_log}"), killed)
    api = parse_hey(sh(CLIENT, f"cat {hey_log}"))
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
        "app_resumed_s": celery["resumed_s"],
        "app_pause_s": celery["pause_s"],
        "celery_failed": celery["failed"],
        "celery_total": celery["total"],
        "api_failed": failed_requests(api),
        "api_total": api["total"],
        "acknowledged": len(acked),
        "lost": len(acked - kept),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    vault = secrets(scenario_dir("sentinel", CLIENT))
    if not sh(CLIENT, f"test -e {SRV}/current && echo yes", check=False):
        sys.exit("the sample app is not on sentinel-app1: run `molecule verify -s sentinel` first")
    sh(CLIENT, f"cat > {WRITER} <<'EOF'\n{ENDPOINT_WRITER}EOF\nchmod +x {WRITER}")
    sh(CLIENT, f"cat > {CELERY_SCRIPT} <<'EOF'\n{CELERY_LOOP}EOF\nchmod 0644 {CELERY_SCRIPT}")
    url = cached_prediction_url()
    runs = []
    for run in range(args.runs):
        result = one_run(vault, run, url)
        runs.append(result)
        print(
            f"kill -9 #{run + 1}: {result['old_primary']} -> {result['new_primary']},"
            f" promoted after {result['promoted_s']} s, write gap {result['write_gap_s']} s,"
            f" {result['failed_writes']} writes failed; app's Celery tasks answered again after"
            f" {result['app_resumed_s']} s ({result['celery_failed']} of {result['celery_total']}"
            f" failed), API {result['api_failed']} of {result['api_total']} requests failed;"
            f" lost {result['lost']} of {result['acknowledged']} acknowledged",
            flush=True,
        )
    summary = {
        "median_promoted_s": statistics.median(float(r["promoted_s"]) for r in runs),
        "median_write_gap_s": statistics.median(float(r["write_gap_s"]) for r in runs),
        "failed_writes_total": sum(int(r["failed_writes"]) for r in runs),
        "median_app_resumed_s": statistics.median(float(r["app_resumed_s"]) for r in runs),
        "api_failed_total": sum(int(r["api_failed"]) for r in runs),
        "api_total": sum(int(r["api_total"]) for r in runs),
        "lost_total": sum(int(r["lost"]) for r in runs),
    }
    print(f"summary: {summary}")
    write_result("sentinel_failover", {"runs": runs, "summary": summary})


if __name__ == "__main__":
    main()
