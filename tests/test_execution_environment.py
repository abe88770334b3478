"""execution-environment.yml (ansible-builder v3) makes a build context with the collection's
dependencies: the collections of requirements.yml, the controller's Python packages and system
packages. No base image can be pulled here, so the image itself is not built (README)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_ansible_builder_writes_a_context_with_every_dependency(tmp_path):
    context = tmp_path / "context"
    subprocess.run(
        ["ansible-builder", "create", "-f", str(ROOT / "execution-environment.yml"),
         "-c", str(context)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    definition = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    containerfile = (context / "Dockerfile").read_text()
    assert f'EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert "install-from-bindep" in containerfile
    built = context / "_build"
    wanted = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    assert yaml.safe_load((built / "requirements.yml").read_text())["collections"] == wanted
    assert "netaddr" in (built / "requirements.txt").read_text()
    assert "openssh-client [platform:dpkg]" in (built / "bindep.txt").read_text()


def test_the_collection_declares_the_dependencies_the_environment_installs():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    requirements = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    assert galaxy["dependencies"] == {c["name"]: c["version"] for c in requirements}


def test_navigator_runs_the_image_the_environment_builds():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    navigator = yaml.safe_load((ROOT / "ansible-navigator.yml").read_text())["ansible-navigator"]
    image = navigator["execution-environment"]["image"]
    assert image == f"fpops-ee:{galaxy['version']}"
    assert navigator["execution-environment"]["pull"]["policy"] == "never"
