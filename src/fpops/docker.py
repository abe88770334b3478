"""A thin wrapper around the `docker` command line (the SDK is only a dev dependency)."""

from __future__ import annotations

import subprocess


class DockerError(RuntimeError):
    """A docker command failed."""


def docker(*args: str, check: bool = True, stdin: str | None = None) -> str:
    """Run `docker ARGS`, return its stdout stripped; DockerError if it fails and `check`."""
    try:
        proc = subprocess.run(
            ["docker", *args], input=stdin, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise DockerError("the docker command is not installed") from exc
    if check and proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip()
        raise DockerError(f"docker {' '.join(args[:2])} failed: {detail}")
    return proc.stdout.strip()


def succeeds(*args: str) -> bool:
    """True when `docker ARGS` exits 0."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    return proc.returncode == 0


def containers(label: str, name_prefix: str) -> dict[str, str]:
    """Container name -> state ("running", "exited", ...) for the label and name prefix."""
    out = docker(
        "ps", "-a",
        "--filter", f"label={label}",
        "--filter", f"name=^{name_prefix}",
        "--format", "{{.Names}}\t{{.State}}",
    )  # fmt: skip
    result = {}
    for line in out.splitlines():
        name, _, state = line.partition("\t")
        if name.startswith(name_prefix):
            result[name] = state
    return result
