"""requirements.yml is honest: the collections the bundle installed satisfy its ranges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).parents[1]


def installed_collections() -> dict[str, str]:
    galaxy = Path(sys.executable).with_name("ansible-galaxy")
    out = subprocess.run(
        [str(galaxy), "collection", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    found: dict[str, str] = {}
    for collections in json.loads(out).values():
        for name, info in collections.items():
            found.setdefault(name, info["version"])
    return found


def test_every_required_collection_is_installed_within_range():
    required = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    installed = installed_collections()
    assert required
    for entry in required:
        name, spec = entry["name"], SpecifierSet(entry["version"])
        assert name in installed, f"{name} is required but not installed"
        assert Version(installed[name]) in spec, f"{name} {installed[name]} not in {spec}"


def test_roles_use_only_required_collections():
    required = {
        c["name"] for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    }
    used = set()
    for path in (ROOT / "roles").rglob("*.yml"):
        for word in path.read_text().split():
            parts = word.rstrip(":").split(".")
            if len(parts) == 3 and parts[0] in {"community", "ansible"} and parts[1] != "builtin":
                used.add(f"{parts[0]}.{parts[1]}")
    assert used <= required, f"used but not in requirements.yml: {used - required}"
