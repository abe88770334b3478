"""Locating the project checkout and its environments."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR_ENV = "FPOPS_PROJECT_DIR"


class ProjectError(Exception):
    """The project or one of its parts cannot be found."""


def find_project_dir(start: Path | None = None, environ: dict[str, str] | None = None) -> Path:
    """Return $FPOPS_PROJECT_DIR, else the nearest directory holding ansible.cfg from `start` up."""
    env = os.environ if environ is None else environ
    configured = env.get(PROJECT_DIR_ENV)
    if configured:
        path = Path(configured).resolve()
        if not (path / "ansible.cfg").is_file():
            raise ProjectError(f"{PROJECT_DIR_ENV}={configured} has no ansible.cfg")
        return path
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "ansible.cfg").is_file():
            return candidate
    raise ProjectError(
        f"no ansible.cfg in {here} or its parents; run from the project or set {PROJECT_DIR_ENV}"
    )


def known_environments(project_dir: Path) -> list[str]:
    """Names of the directories under inventories/, sorted."""
    inventories = project_dir / "inventories"
    if not inventories.is_dir():
        return []
    return sorted(
        p.name for p in inventories.iterdir() if p.is_dir() and not p.name.startswith(".")
    )


def inventory_dir(project_dir: Path, environment: str) -> Path:
    """The inventory directory of `environment`, or ProjectError naming the known ones."""
    names = known_environments(project_dir)
    if environment not in names:
        known = ", ".join(names) or "none"
        raise ProjectError(f"unknown environment '{environment}' (known environments: {known})")
    return project_dir / "inventories" / environment
