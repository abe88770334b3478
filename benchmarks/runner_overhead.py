"""The fpops runner's overhead over a bare ansible-playbook call, on the sandbox: rollbacks
between two good releases, alternately through `fpops rollback sandbox --to V --yes --quiet`
and `ansible-playbook playbooks/rollback.yml -e app_rollback_to=V`, each timed end to end.

    make demo; python benchmarks/runner_overhead.py [--rounds 3]

Prints the figures and writes benchmarks/results/runner_overhead.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sandbox_env import ROOT, playbook, require_sandbox, write_result

FPOPS = Path(sys.executable).with_name("fpops")
RELEASES = ("2.0.0", "2.1.0")


def fpops(*args: str) -> float:
    start = time.monotonic()
    done = subprocess.run(
        [str(FPOPS), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"fpops {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    require_sandbox()
    build = ROOT / "examples" / "prediction-api" / "build-release"
    for release in RELEASES:
        subprocess.run(
            [sys.executable, str(build), release, str(ROOT / ".cache/releases")],
            check=True,
            capture_output=True,
        )
    # Both releases deployed once, so both are good releases a rollback may go to.
    fpops("deploy", "sandbox", RELEASES[0], "--quiet")
    fpops("deploy", "sandbox", RELEASES[1], "--quiet")
    through_runner: list[float] = []
    bare: list[float] = []
    for _ in range(args.rounds):
        through_runner.append(fpops("rollback", "sandbox", "--to", RELEASES[0], "--yes", "--quiet"))
        run, seconds = playbook(
            "rollback.yml", "-i", "inventories/sandbox", "-e", f"app_rollback_to={RELEASES[1]}"
        )
        if run.returncode != 0:
            sys.exit(f"bare rollback failed:\n{run.stdout[-3000:]}")
        bare.append(seconds)
    figures = {
        "rounds": args.rounds,
        "fpops_rollback_seconds": [round(s, 1) for s in through_runner],
        "ansible_playbook_rollback_seconds": [round(s, 1) for s in bare],
        "fpops_median_s": round(statistics.median(through_runner), 1),
        "bare_median_s": round(statistics.median(bare), 1),
    }
    figures["ratio"] = round(figures["fpops_median_s"] / figures["bare_median_s"], 2)
    for key, value in figures.items():
        print(f"{key}: {value}")
    write_result("runner_overhead", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
