"""docs/roles/<role>.md are generated from the roles' meta/argument_specs.yml (scripts/role-docs):
a spec changed without regenerating its page fails here, naming the page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_role_docs_match_the_argument_specs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "role-docs"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_role_has_a_page():
    roles = {path.name for path in (ROOT / "roles").iterdir() if path.is_dir()}
    pages = {path.stem for path in (ROOT / "docs" / "roles").glob("*.md")}
    assert roles == pages
