"""The repository is the collection fpops.platform: the tarball `ansible-galaxy collection build`
makes holds what a controller needs and nothing of the checkout's tooling; installed into an empty
collections path outside the checkout, every playbook parses by its FQCN and the plugins load.
Every entry point another role or playbook calls is declared in its role's argument_specs."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = """\
all:
  children:
    lb: {hosts: {lb1: {ansible_host: 10.0.0.10}}}
    app: {hosts: {app1: {ansible_host: 10.0.0.11}}}
    db_primary: {hosts: {db1: {ansible_host: 10.0.0.21}}}
    db_replica: {hosts: {db2: {ansible_host: 10.0.0.22}}}
    cache: {hosts: {cache1: {ansible_host: 10.0.0.31}}}
    monitoring: {hosts: {mon1: {ansible_host: 10.0.0.41}}}
    backup: {hosts: {backup1: {ansible_host: 10.0.0.51}}}
"""


def outside_env(collections: Path) -> dict[str, str]:
    """No project ansible.cfg, no roles path: only the installed collection."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    env["ANSIBLE_ROLES_PATH"] = "/nonexistent"
    return env


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build")
    subprocess.run(
        ["ansible-galaxy", "collection", "build", str(ROOT), "--output-path", str(out)],
        capture_output=True, text=True, check=True, cwd=out,
    )  # fmt: skip
    (built,) = out.glob("fpops-platform-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def installed(tarball, tmp_path_factory) -> Path:
    """An empty collections path outside the checkout, with only the tarball installed."""
    place = tmp_path_factory.mktemp("team")
    collections = place / "collections"
    subprocess.run(
        ["ansible-galaxy", "collection", "install", "--no-deps", "--force", "-p", str(collections),
         str(tarball)],
        capture_output=True, text=True, check=True, cwd=place, env=outside_env(collections),
    )  # fmt: skip
    (place / "hosts.yml").write_text(INVENTORY)
    return place


def test_the_tarball_holds_the_content_and_none_of_the_tooling(tarball):
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    tops = {name.split("/")[0] for name in names}
    assert {"roles", "playbooks", "plugins", "meta", "MANIFEST.json", "README.md"} <= tops
    assert not tops & {"tests", "molecule", "collections", "src", ".venv", ".cache", "benchmarks"}
    assert "plugins/modules/notify.py" in names
    assert "meta/runtime.yml" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def playbook_names() -> list[str]:
    found = sorted((ROOT / "playbooks").rglob("*.yml"))
    return [".".join(p.relative_to(ROOT / "playbooks").with_suffix("").parts) for p in found]


@pytest.mark.parametrize("name", playbook_names())
def test_every_playbook_parses_by_fqcn_outside_the_checkout(installed, name):
    result = subprocess.run(
        ["ansible-playbook", "-i", "hosts.yml", f"fpops.platform.{name}", "--syntax-check"],
        capture_output=True, text=True, check=False, cwd=installed,
        env=outside_env(installed / "collections"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    playbook = installed / "collections/ansible_collections/fpops/platform/playbooks"
    assert f"playbook: {playbook}" in result.stdout


def test_the_plugins_load_by_fqcn_outside_the_checkout(installed):
    env = outside_env(installed / "collections")
    doc = subprocess.run(
        ["ansible-doc", "fpops.platform.notify"], capture_output=True, text=True, env=env,
        cwd=installed, check=False,
    )  # fmt: skip
    assert doc.returncode == 0, doc.stderr
    assert "Sends one event to every configured channel" in doc.stdout
    assert str(installed / "collections") in doc.stdout
    expression = "{{ '16/B374D848' | fpops.platform.lsn_to_int }}"
    result = subprocess.run(
        ["ansible", "localhost", "-m", "ansible.builtin.debug", "-a", f"msg={expression}"],
        capture_output=True, text=True, env=env, cwd=installed, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert str((0x16 << 32) + 0xB374D848) in result.stdout


def role_calls() -> set[tuple[str, str, str]]:
    """(role, entry point, caller) of each include_role/import_role in roles, playbooks, tests."""
    calls: set[tuple[str, str, str]] = set()

    def walk(node: object, caller: str) -> None:
        if isinstance(node, dict):
            for key in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                if isinstance(node.get(key), dict):
                    role = str(node[key]["name"])
                    entry = str(node[key].get("tasks_from", "main")).removesuffix(".yml")
                    calls.add((role, entry, caller))
            for value in node.values():
                walk(value, caller)
        elif isinstance(node, list):
            for value in node:
                walk(value, caller)

    for top in ("roles", "playbooks", "molecule"):
        for path in (ROOT / top).rglob("*.yml"):
            walk(yaml.safe_load(path.read_text()), str(path.relative_to(ROOT)))
    return calls


def test_every_entry_point_called_is_declared_in_argument_specs():
    undeclared = []
    for role, entry, caller in sorted(role_calls()):
        if "{{" in entry:  # lock.yml: env_lock_action is one of take/release/show (checked below)
            continue
        role_dir = ROOT / "roles" / role.removeprefix("fpops.platform.")
        specs = yaml.safe_load((role_dir / "meta/argument_specs.yml").read_text())
        if entry not in specs["argument_specs"]:
            undeclared.append(f"{role}:{entry} (called from {caller})")
    assert not undeclared, "no argument_specs entry for: " + ", ".join(undeclared)
    env_lock = yaml.safe_load((ROOT / "roles/env_lock/meta/argument_specs.yml").read_text())
    assert {"take", "release", "show"} <= set(env_lock["argument_specs"])


def test_roles_are_called_by_fqcn():
    short = sorted({f"{role} ({caller})" for role, _, caller in role_calls() if "." not in role})
    assert not short, "called by short name: " + ", ".join(short)


def test_every_play_of_site_yml_belongs_to_one_tier_of_provision_only():
    """`fpops provision --only TIER` selects plays by tag: a play without a tier's tag would
    run under no --only, and one with two would run under the wrong one."""
    from fpops.provision import TIERS

    site = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
    imports = [p for p in site if "ansible.builtin.import_playbook" in p]
    plays = [p for p in site if p not in imports]
    assert all(p.get("tags") == ["always"] for p in imports), imports
    for play in plays:
        tags = play.get("tags", [])
        assert len(tags) == 1 and tags[0] in TIERS, (play["name"], tags)
    used = {play["tags"][0] for play in plays}
    assert used == set(TIERS)
