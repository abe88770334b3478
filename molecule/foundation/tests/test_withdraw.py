"""A port closes when the service that declared it leaves the host: fnd-db is taken out of the
`monitoring` group, so converge.yml no longer declares the probe port there; the next full run
withdraws the declaration and closes the port, and leaves the other hosts' rulesets as they were.
Put back into the group, the port opens again: that run is the collection as a team installs it
(the tarball `ansible-galaxy collection build` makes, installed outside the checkout, its site
playbook and roles called by FQCN). Runs last in the scenario (file order)."""

import shutil

import yaml
from conftest import ADDRESSES, PROBE_PORT, ephemeral_dir, recap, run_playbook, scenario_dir
from helpers import install_collection
from test_converge import ruleset_fingerprints
from test_firewall import reachable_from

DB = ADDRESSES["fnd-db"]
FACT = "/etc/ansible/facts.d/fpops_fw_probe.fact"


def inventory_without_db_in_monitoring(tmp_path):
    """The scenario's inventory (with its group_vars) where fnd-db is in no group."""
    copy = tmp_path / "inventory"
    shutil.copytree(ephemeral_dir() / "inventory", copy)
    source = copy / "ansible_inventory.yml"
    inventory = yaml.safe_load(source.read_text())
    # Molecule writes each group at the top level; the hosts' connection settings are under all.
    inventory["monitoring"]["hosts"].pop("fnd-db")
    inventory["spare"] = {"hosts": {"fnd-db": None}}
    source.write_text(yaml.safe_dump(inventory))
    return copy


def test_a_host_out_of_its_group_loses_the_port_and_gets_it_back(hosts, tmp_path):
    assert reachable_from(hosts["fnd-app"], DB, PROBE_PORT)
    others = {name: host for name, host in hosts.items() if name != "fnd-db"}
    before = ruleset_fingerprints(others)

    left = run_playbook(
        scenario_dir() / "converge.yml", inventory=inventory_without_db_in_monitoring(tmp_path)
    )
    assert left.returncode == 0, left.stdout[-3000:]
    assert "Withdraw the ports of services that no longer declare them" in left.stdout
    assert not hosts["fnd-db"].file(FACT).exists
    # The listener still runs: the refusal is the firewall's.
    assert hosts["fnd-db"].run(f"nc -z -w 3 127.0.0.1 {PROBE_PORT}").rc == 0
    assert not reachable_from(hosts["fnd-app"], DB, PROBE_PORT)
    assert f"dport {PROBE_PORT}" not in hosts["fnd-db"].check_output("nft list table inet fpops")
    assert ruleset_fingerprints(others) == before
    assert all(recap(left.stdout)[name]["changed"] == 0 for name in others)

    installed = install_collection(tmp_path / "collections")
    playbook = tmp_path / "converge.yml"
    converge = yaml.safe_load((scenario_dir() / "converge.yml").read_text())
    converge[-1] = {"name": "Provision", "ansible.builtin.import_playbook": "fpops.platform.site"}
    playbook.write_text(yaml.safe_dump(converge))
    (tmp_path / "no-roles").mkdir()
    outside = {
        "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"),
        "ANSIBLE_ROLES_PATH": str(tmp_path / "no-roles"),
    }
    back = run_playbook(playbook, "--limit", "fnd-db", env=outside)
    assert back.returncode == 0, back.stdout[-3000:]
    assert f"included: {installed}/roles/firewall/tasks/validate.yml" in back.stdout
    assert hosts["fnd-db"].file(FACT).exists
    assert reachable_from(hosts["fnd-app"], DB, PROBE_PORT)
