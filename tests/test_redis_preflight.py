"""The redis role's preflight (entry point `validate`, which site.yml runs before any play changes
anything): a Sentinel set-up that could not elect or fail over, and redis_tls or sentinel mode
without their vault secrets, are refused with the variable named. Run by ansible-playbook on a
local inventory: the checks need nothing from the hosts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "p" * 24
SECRETS = {
    f"vault_redis_{user}_password": PASSWORD
    for user in ("admin", "app", "replica", "monitor", "sentinel")
}


def inventory(cache_hosts: int) -> dict[str, Any]:
    hosts = {
        f"cache{n}": {"ansible_host": f"10.0.0.{n}", "ansible_connection": "local"}
        for n in range(1, cache_hosts + 1)
    }
    hosts["app1"] = {"ansible_host": "10.0.0.11", "ansible_connection": "local"}
    return {
        "all": {
            "children": {
                "cache": {"hosts": {name: None for name in hosts if name.startswith("cache")}},
                "app": {"hosts": {"app1": None}},
            },
            "hosts": hosts,
        }
    }


def preflight(tmp_path: Path, cache_hosts: int, variables: dict[str, Any]) -> tuple[int, str]:
    play = [
        {
            "hosts": "cache",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Run the redis role's preflight",
                    "ansible.builtin.include_role": {
                        "name": "fpops.platform.redis",
                        "tasks_from": "validate",
                    },
                }
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory(cache_hosts)))
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    done = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(tmp_path / "hosts.yml"),
            str(tmp_path / "play.yml"),
            "-e",
            f"@{tmp_path / 'vars.json'}",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={
            **os.environ,
            "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
            "ANSIBLE_CACHE_PLUGIN": "memory",
        },
    )
    return done.returncode, done.stdout


SENTINEL = {**SECRETS, "redis_ha": "sentinel"}


def test_a_complete_sentinel_set_up_with_tls_passes(tmp_path: Path) -> None:
    rc, out = preflight(
        tmp_path, 3, {**SENTINEL, "redis_tls": True, "vault_pki_ca_passphrase": "c" * 24}
    )
    assert rc == 0, out[-2000:]


@pytest.mark.parametrize(
    ("cache_hosts", "variables", "message"),
    [
        (2, SENTINEL, "needs at least three Sentinels and has 2"),
        (
            3,
            {**SENTINEL, "redis_sentinel_quorum": 4},
            "redis_sentinel_quorum is 4, more than the 3",
        ),
        (
            3,
            {k: v for k, v in SENTINEL.items() if k != "vault_redis_sentinel_password"},
            "define vault_redis_sentinel_password",
        ),
        (
            3,
            {**SENTINEL, "redis_sentinel_extra_hosts": ["monitor9"]},
            "redis_sentinel_extra_hosts names monitor9",
        ),
        (3, {**SECRETS, "redis_tls": True}, "define vault_pki_ca_passphrase"),
    ],
)
def test_bad_input_is_refused_with_the_variable_named(
    tmp_path: Path, cache_hosts: int, variables: dict[str, Any], message: str
) -> None:
    rc, out = preflight(tmp_path, cache_hosts, variables)
    assert rc != 0
    assert message in out, out[-3000:]


def test_two_cache_hosts_and_a_sentinel_elsewhere_make_three(tmp_path: Path) -> None:
    variables = {
        **SENTINEL,
        "redis_sentinel_extra_hosts": ["app1"],
        "redis_sentinel_min_replicas_to_write": 1,
    }
    rc, out = preflight(tmp_path, 2, variables)
    assert rc == 0, out[-2000:]
