"""Check mode is clean on converged hosts; bad input fails before anything changes."""

import json
import subprocess

import pytest
from conftest import ephemeral_dir, project_dir, recap, run_playbook, scenario_dir

from fpops.sandbox import RUN_OPTIONS, system_running, wait_until


def ruleset_fingerprints(hosts) -> dict[str, str]:
    return {
        name: host.check_output("nft -s list table inet fpops; sha256sum /etc/nftables.conf")
        for name, host in hosts.items()
    }


def test_check_mode_on_converged_hosts_changes_nothing():
    result = run_playbook(scenario_dir() / "converge.yml", "--check")
    assert result.returncode == 0, result.stdout[-3000:]
    counters = recap(result.stdout)
    assert counters, result.stdout[-3000:]
    for host, counts in counters.items():
        assert counts["changed"] == 0, (
            f"{host} would change in check mode:\n{result.stdout[-3000:]}"
        )
        assert counts["failed"] == 0


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        (
            {"firewall_rules": [{"name": "bad", "port": 9000, "from_groups": ["no_such_group"]}]},
            "firewall_rules[0] (bad): from_groups names unknown inventory group 'no_such_group'",
        ),
        (
            {"firewall_admin_sources": ["10.1.2.0/24", "not-a-cidr"]},
            "firewall_admin_sources: 'not-a-cidr' is not a CIDR",
        ),
        (
            {"firewall_admin_sources": []},
            "firewall_admin_sources is empty",
        ),
        (
            {"firewall_rules": [{"name": "bad", "port": 70000, "public": True}]},
            "firewall_rules[0] (bad): port 70000 is outside 1-65535",
        ),
    ],
    ids=["unknown-group", "admin-source-not-cidr", "no-admin-source", "bad-port"],
)
def test_bad_input_fails_before_any_change(hosts, extra_vars, expected):
    before = ruleset_fingerprints(hosts)
    result = run_playbook(project_dir() / "playbooks" / "site.yml", "-e", json.dumps(extra_vars))
    assert result.returncode != 0
    assert expected in result.stdout
    for host, counts in recap(result.stdout).items():
        assert counts["changed"] == 0, f"{host} changed before the bad input was refused"
    assert ruleset_fingerprints(hosts) == before


def declare(tmp_path, rules: list[dict]):
    """Run the firewall's declare entry point on the db host, as a service role would."""
    task = {
        "ansible.builtin.include_role": {
            "name": "fpops.platform.firewall",
            "tasks_from": "declare",
        },
        "vars": {"firewall_declare_service": "badsvc", "firewall_declare_rules": rules},
    }
    play = {"name": "Declare", "hosts": "fnd-db", "gather_facts": False, "tasks": [task]}
    playbook = tmp_path / "declare.yml"
    playbook.write_text(json.dumps([play]))
    return run_playbook(playbook)


def test_declaration_naming_an_unknown_group_is_refused(hosts, tmp_path):
    result = declare(tmp_path, [{"name": "bad", "port": 5432, "from_groups": ["nope"]}])
    assert result.returncode != 0
    expected = "firewall_declare_rules of badsvc[0] (bad): from_groups names unknown"
    assert f"{expected} inventory group 'nope'" in result.stdout
    assert not hosts["fnd-db"].file("/etc/ansible/facts.d/fpops_fw_badsvc.fact").exists


def test_declaration_without_a_port_is_refused_by_the_argument_spec(hosts, tmp_path):
    result = declare(tmp_path, [{"name": "no-port", "from_groups": ["app"]}])
    assert result.returncode != 0
    assert "missing required arguments: port" in result.stdout
    assert "firewall_declare_rules" in result.stdout
    assert not hosts["fnd-db"].file("/etc/ansible/facts.d/fpops_fw_badsvc.fact").exists


FRESH = "fnd-fresh"


@pytest.fixture
def fresh_host():
    """A new, never-converged host on the scenario network, removed afterwards."""
    subprocess.run(["docker", "rm", "-f", FRESH], capture_output=True, check=False)
    subprocess.run(
        ["docker", "run", "-d", "--name", FRESH, "--hostname", FRESH,
         "--network", "fpops-foundation", "--ip", "172.30.1.20", *RUN_OPTIONS,
         "fpops/test-host:bookworm"],
        capture_output=True, check=True,
    )  # fmt: skip
    wait_until(f"systemd in {FRESH}", lambda: system_running(FRESH), 60)
    yield FRESH
    subprocess.run(["docker", "rm", "-f", FRESH], capture_output=True, check=False)


def test_check_mode_on_a_fresh_host_does_not_fail(fresh_host, tmp_path):
    key = (ephemeral_dir() / "id_ed25519.pub").read_text().strip()
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "community.docker.docker",
                "base_apt_proxy": "http://172.30.1.1:3142",
                "base_admin_users": [{"name": "ops", "ssh_keys": [key]}],
                "firewall_admin_sources": ["172.30.1.1/32"],
            },
            "children": {"app": {"hosts": {fresh_host: {"firewall_address": "172.30.1.20"}}}},
        }
    }
    (tmp_path / "hosts.yml").write_text(json.dumps(inventory))
    result = run_playbook(
        project_dir() / "playbooks" / "site.yml", "--check", inventory=tmp_path / "hosts.yml"
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result.stdout)[fresh_host]["failed"] == 0
    # A dry run leaves the host as it was: no admin user, no ruleset file.
    for probe in (["id", "ops"], ["test", "-e", "/etc/nftables.conf"]):
        done = subprocess.run(
            ["docker", "exec", fresh_host, *probe], capture_output=True, check=False
        )
        assert done.returncode != 0, f"{probe} succeeded after a dry run"
