"""`fpops init` writes a new environment's inventory and vault; `fpops check` reads whether a
provision would start. The check runs its real playbooks over a local connection (the "hosts"
are this machine): every row from a real run, no mocks."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from fpops import check, cli, secrets
from fpops.exitcodes import ExitCode
from fpops.project import PROJECT_DIR_ENV

ROOT = Path(__file__).resolve().parents[1]
HOSTS = ["a1=10.9.0.1:app", "l1=10.9.0.2:lb,monitoring", "d1=10.9.0.3:db_primary,backup",
         "c1=10.9.0.4:cache"]  # fmt: skip


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project that uses this checkout's playbooks and collection and ships its example."""
    (tmp_path / "ansible.cfg").write_text(
        f"[defaults]\ncollections_path = {ROOT / 'collections'}\n"
    )
    (tmp_path / "playbooks").symlink_to(ROOT / "playbooks")
    shutil.copytree(ROOT / "inventories" / "example", tmp_path / "inventories" / "example")
    monkeypatch.setenv(PROJECT_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(secrets.PASSWORD_FILE_ENV, raising=False)
    monkeypatch.delenv(secrets.PASSWORD_ENV, raising=False)
    return tmp_path


def init(project: Path, *extra: str, hosts: list[str] = HOSTS) -> int:
    key = project / "id.pub"
    key.write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVudGlyZWx5IGEgdGVzdCBrZXkgZm9yIGluaXQ ops@ci\n"
    )
    args = [f"--host={host}" for host in hosts]
    return cli.main(["init", "staging", *args, "--admin-key", str(key), "--admin-source",
                     "10.9.0.0/24", "--domain", "api.staging.test", "--acme-email",
                     "ops@staging.test", *extra])  # fmt: skip


def local(project: Path) -> Path:
    """Make the staging hosts this machine (local connection, no sudo). Their names resolve
    nowhere: the load balancer's certificate comes from the internal CA (no DNS needed)."""
    hosts = project / "inventories/staging/hosts.yml"
    inventory = yaml.safe_load(hosts.read_text())
    inventory["all"]["vars"].update(
        ansible_connection="local", ansible_python_interpreter=sys.executable, ansible_become=False
    )
    (project / "inventories/staging/group_vars/lb.yml").write_text("certbot_source: internal_ca\n")
    hosts.write_text(yaml.safe_dump(inventory))
    return hosts


def test_init_writes_the_inventory_the_settings_and_the_vault(project):
    assert init(project) == ExitCode.OK
    staging = project / "inventories/staging"
    inventory = yaml.safe_load((staging / "hosts.yml").read_text())
    children = inventory["all"]["children"]
    assert children["lb"]["hosts"] == {"l1": {"ansible_host": "10.9.0.2"}}
    assert "l1" in children["monitoring"]["hosts"]
    settings = (staging / "group_vars/all/main.yml").read_text()
    assert "10.9.0.0/24" in settings and "server_names: [api.staging.test]" in settings
    assert "ops@ci" in settings and "ReplaceMe" not in settings
    assert (staging / "group_vars/all/vault.yml").read_text().startswith("$ANSIBLE_VAULT")
    assert (project / ".fpops/staging/vault-password").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        (["a1=10.9.0.1:apps"], "a1: unknown group apps"),
        (["a1=10.9.0.1:app", "a2=10.9.0.1:app"], "a2 and a1 share the address 10.9.0.1"),
        (["a1=app1.internal:app"], "'app1.internal' is not an IP address"),
    ],
    ids=["unknown-group", "duplicate-address", "not-an-address"],
)
def test_init_refuses_bad_hosts_and_writes_nothing(project, capsys, hosts, message):
    assert init(project, hosts=hosts) == ExitCode.BAD_INPUT
    assert message in capsys.readouterr().err
    assert not (project / "inventories/staging").exists()


def test_init_never_overwrites_an_inventory(project, capsys):
    assert init(project) == ExitCode.OK
    before = (project / "inventories/staging/hosts.yml").read_text()
    assert init(project, hosts=["x1=10.9.0.9:app"]) == ExitCode.REFUSED
    assert "never overwrites" in capsys.readouterr().err
    assert (project / "inventories/staging/hosts.yml").read_text() == before


def rows(capsys) -> dict[tuple[str, str], dict[str, str]]:
    document = json.loads(capsys.readouterr().out)
    return {(r["check"], r["subject"]): r for r in document["rows"]}


def test_check_passes_on_a_complete_environment(project, capsys):
    assert init(project) == ExitCode.OK
    local(project)
    capsys.readouterr()
    assert cli.main(["check", "staging", "--json"]) == ExitCode.OK, capsys.readouterr()
    found = rows(capsys)
    assert found[("preflight", "inventory and settings")]["status"] == check.OK
    assert found[("disk", "d1:/var/lib/postgresql")]["status"] == check.OK
    assert {found[("sudo", name)]["status"] for name in ("a1", "l1", "d1", "c1")} == {check.OK}


def test_check_names_each_problem_and_fails(project, capsys):
    assert init(project) == ExitCode.OK
    hosts = local(project)
    inventory = yaml.safe_load(hosts.read_text())
    children = inventory["all"]["children"]
    # A replica without a primary, and a host nothing answers on.
    children["db_replica"] = children.pop("db_primary")
    children["app"]["hosts"]["gone"] = {
        "ansible_host": "127.0.0.1", "ansible_connection": "ssh", "ansible_port": 1,
    }  # fmt: skip
    hosts.write_text(yaml.safe_dump(inventory))
    # The vault loses a secret.
    vault = project / "inventories/staging/group_vars/all/vault.yml"
    password = project / ".fpops/staging/vault-password"
    text = secrets.decrypt(vault, password)
    kept = [line for line in text.splitlines() if not line.startswith("vault_redis_app_password")]
    vault.write_text(secrets.encrypt("\n".join(kept) + "\n", password))
    capsys.readouterr()
    assert cli.main(["check", "staging", "--json"]) == ExitCode.UNREACHABLE
    found = rows(capsys)
    assert found[("ssh", "gone")]["status"] == check.FAIL
    assert "vault_redis_app_password" in found[("vault", "vault.yml")]["detail"]
    assert "need one" in found[("group", "db_primary")]["detail"]
    assert found[("ssh", "a1")]["status"] == check.OK


def test_check_names_values_left_from_the_example(project, capsys):
    assert init(project, hosts=HOSTS) == ExitCode.OK
    main = project / "inventories/staging/group_vars/all/main.yml"
    main.write_text(main.read_text() + "alertmanager_smtp: {from: alerts@example.com}\n")
    found = check.example_rows(project, "staging")
    assert [row.subject for row in found] == [
        f"group_vars/all/main.yml:{len(main.read_text().splitlines())}"
    ]
