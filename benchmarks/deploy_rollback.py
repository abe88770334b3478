"""Deploy and rollback under steady load on the sandbox, against a naive in-place restart.

Needs a provisioned sandbox with the sample app live (`make demo`, release 2.0.0). A load of
CLIENTS keep-alive HTTPS clients at RATE requests/s each runs from this machine through the lb
(`/health`, which reports the release that answered) while, in turn:

1. `fpops deploy sandbox 2.1.0` (blue/green: start beside, health gate, switch, drain);
2. `fpops rollback sandbox` (back to 2.0.0): wall time from the command's start until every
   answer comes from 2.0.0 (the previous release serving 100 % of requests);
3. a naive deploy: `systemctl restart` of the live web slot on every app host at once, which is
   what an in-place "stop, swap, start" does.

Failed requests (errors and non-200 answers) are counted for each. A GET whose idle keep-alive
connection the server closed as it went out (an nginx reload) is sent again once, as browsers,
curl and Go's client do; those are counted apart (`resent_on_closed_keepalive`). Prints the
figures and writes benchmarks/results/deploy_rollback.json.

    python benchmarks/deploy_rollback.py [--clients 4] [--rate 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "inventories" / "sandbox"
CA = INVENTORY / ".pki" / "ca.crt"
NAME = "api.fpops.sandbox"
FPOPS = Path(sys.executable).with_name("fpops")


def lb_address() -> str:
    groups = yaml.safe_load((INVENTORY / "hosts.yml").read_text())["all"]["children"]
    return str(next(iter(groups["lb"]["hosts"].values()))["ansible_host"])


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the lb's address with the API's name for SNI and certificate checks."""

    def __init__(self, address: str, context: ssl.SSLContext) -> None:
        super().__init__(NAME, 443, timeout=10, context=context)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.address, 443), timeout=10)
        self.sock = self.tls.wrap_socket(raw, server_hostname=NAME)


@dataclass
class Load:
    """Steady load; every answer is recorded as (time, status or error, release)."""

    address: str
    clients: int
    rate: float
    answers: list[tuple[float, str, str]] = field(default_factory=list)
    resent: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)

    def client(self) -> None:
        context = ssl.create_default_context(cafile=str(CA))
        connection = PinnedHTTPSConnection(self.address, context)
        interval = 1.0 / self.rate
        due = time.monotonic()
        while not self.stopping.is_set():
            try:
                outcome, release = self.get(connection)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed this idle keep-alive connection as the request went out (an
                # nginx reload retires its old workers): like browsers, curl and Go's client, send
                # the idempotent GET again once on a new connection. Counted apart.
                connection.close()
                self.resent += 1
                try:
                    outcome, release = self.get(connection)
                except (OSError, http.client.HTTPException, ValueError) as error:
                    outcome, release = f"error: {type(error).__name__}", ""
                    connection.close()
            except (OSError, http.client.HTTPException, ValueError) as error:
                outcome, release = f"error: {type(error).__name__}", ""
                connection.close()
            self.answers.append((time.monotonic(), outcome, release))
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
        connection.close()

    @staticmethod
    def get(connection: http.client.HTTPSConnection) -> tuple[str, str]:
        """GET /health: (status, release that answered)."""
        connection.request("GET", "/health")
        response = connection.getresponse()
        body = response.read()
        release = json.loads(body).get("release", "?") if response.status == 200 else ""
        return str(response.status), release

    def run(self, action: list[str] | None, label: str) -> dict[str, object]:
        """Load for 3 s, run the action, load 3 s more; count the answers."""
        self.answers = []
        self.resent = 0
        self.stopping.clear()
        threads = [threading.Thread(target=self.client) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        started = time.monotonic()
        done = subprocess.run(action, capture_output=True, text=True) if action else None
        finished = time.monotonic()
        time.sleep(3)
        self.stopping.set()
        for thread in threads:
            thread.join()
        failed = [a for a in self.answers if a[1] != "200"]
        result: dict[str, object] = {
            "action": label,
            "exit_code": done.returncode if done else 0,
            "command_seconds": round(finished - started, 1),
            "requests": len(self.answers),
            "failed_requests": len(failed),
            "resent_on_closed_keepalive": self.resent,
            "failures": sorted({a[1] for a in failed}),
        }
        if done and done.returncode != 0:
            sys.stderr.write(done.stdout[-3000:] + done.stderr[-2000:])
        result["started"] = started
        return result


def seconds_until_only(answers: list[tuple[float, str, str]], release: str, start: float) -> float:
    """From start until the first answer after which every answer came from `release`."""
    last_other = start
    for moment, _, answered_by in answers:
        if moment >= start and answered_by != release:
            last_other = moment
    return round(last_other - start, 1)


def naive_restart() -> list[str]:
    """Restart the live web slot on every app host at once (docker exec, no playbook)."""
    hosts = yaml.safe_load((INVENTORY / "hosts.yml").read_text())["all"]["children"]["app"]
    script = " & ".join(
        f"docker exec fpops-sandbox-{name} sh -c "
        "'systemctl restart prediction-api-web@$(cat /srv/prediction-api/shared/live-slot)'"
        for name in hosts["hosts"]
    )
    return ["sh", "-c", f"{script} & wait"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=10.0, help="requests/s per client")
    args = parser.parse_args()
    build = ROOT / "examples" / "prediction-api" / "build-release"
    subprocess.run([sys.executable, str(build), "2.1.0", str(ROOT / ".cache/releases")], check=True)
    load = Load(lb_address(), args.clients, args.rate)

    deploy = load.run(
        [str(FPOPS), "deploy", "sandbox", "2.1.0", "--quiet"], "deploy 2.0.0 -> 2.1.0"
    )
    rollback = load.run([str(FPOPS), "rollback", "sandbox", "--quiet"], "rollback 2.1.0 -> 2.0.0")
    rollback["seconds_to_all_requests_on_previous"] = seconds_until_only(
        load.answers, "2.0.0", float(str(rollback["started"]))
    )
    naive = load.run(naive_restart(), "naive in-place restart of the live slot")
    results = [deploy, rollback, naive]
    for result in results:
        result.pop("started")
        print(json.dumps(result))
    out = ROOT / "benchmarks" / "results" / "deploy_rollback.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["exit_code"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
