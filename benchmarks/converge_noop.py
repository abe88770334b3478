"""No-op re-converge of site.yml on the sandbox: our ansible.cfg against Ansible's defaults.

Needs a provisioned sandbox (`make demo`). Prints wall seconds per run, the medians and the ratio,
and writes them to benchmarks/results/converge_noop.json.

    python benchmarks/converge_noop.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What "Ansible defaults" means here: no pipelining, SSH without ControlPersist, facts gathered
# every run (no cache), the default 5 forks. Only the paths are ours so the same playbook runs.
DEFAULTS_CFG = """\
[defaults]
inventory = {root}/inventories/sandbox
roles_path = {root}/roles
[ssh_connection]
pipelining = False
ssh_args = -C -o ControlMaster=no
"""


def run_site(config: Path) -> float:
    env = {**os.environ, "ANSIBLE_CONFIG": str(config), "ANSIBLE_NOCOLOR": "1"}
    env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(ROOT / ".fpops" / "sandbox" / "vault-password")
    start = time.monotonic()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "playbooks/site.yml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - start
    if result.returncode != 0 or "changed=0" not in result.stdout:
        sys.exit(f"site.yml was not a clean no-op with {config}:\n{result.stdout[-4000:]}")
    for line in result.stdout.splitlines():
        if "changed=" in line and "changed=0" not in line:
            sys.exit(f"site.yml changed something with {config}: {line}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (ROOT / "inventories/sandbox/hosts.yml").exists():
        sys.exit("no sandbox: run `make demo` first")

    ours = ROOT / "ansible.cfg"
    with tempfile.TemporaryDirectory() as tmp:
        defaults = Path(tmp) / "ansible.cfg"
        defaults.write_text(DEFAULTS_CFG.format(root=ROOT))
        print("warm-up run with ours (fills the fact cache, opens the SSH masters)")
        run_site(ours)
        timings: dict[str, list[float]] = {"ours": [], "defaults": []}
        for round_no in range(1, args.rounds + 1):
            for name, cfg in (("ours", ours), ("defaults", defaults)):
                seconds = run_site(cfg)
                timings[name].append(seconds)
                print(f"round {round_no}: {name:8s} {seconds:6.1f} s")

    median = {name: statistics.median(values) for name, values in timings.items()}
    ratio = median["defaults"] / median["ours"]
    print(
        f"median no-op converge, 8 hosts: ours {median['ours']:.1f} s, "
        f"Ansible defaults {median['defaults']:.1f} s, ratio {ratio:.2f}x"
    )
    out = ROOT / "benchmarks/results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "converge_noop.json").write_text(
        json.dumps({"timings": timings, "median": median, "ratio": ratio}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
