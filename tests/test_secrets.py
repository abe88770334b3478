"""`fpops secrets init` with the real ansible-vault, and the vault password given to runs."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fpops import cli
from fpops.exitcodes import ExitCode
from fpops.project import PROJECT_DIR_ENV
from fpops.runner import RunRequest, envvars, runner_kwargs
from fpops.secrets import (
    ALPHABET,
    OPERATOR_SECRETS,
    PASSWORD_FILE_ENV,
    REQUIRED_SECRETS,
    SECRET_LENGTH,
)

ROOT = Path(__file__).parents[1]
VAULT_REF = re.compile(r"\bvault_[a-z0-9_]+")
ANSIBLE_VAULT = str(Path(sys.executable).parent / "ansible-vault")


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    for env in ("sandbox", "production"):
        (tmp_path / "inventories" / env).mkdir(parents=True)
    for name in (PROJECT_DIR_ENV, PASSWORD_FILE_ENV, "ANSIBLE_VAULT_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def vault_file(project: Path, env: str = "sandbox") -> Path:
    return project / "inventories" / env / "group_vars" / "all" / "vault.yml"


def password_file(project: Path, env: str = "sandbox") -> Path:
    return project / ".fpops" / env / "vault-password"


def plaintext(path: Path, password: Path) -> str:
    return subprocess.run(
        [ANSIBLE_VAULT, "view", "--vault-password-file", str(password), str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def encrypt_to(path: Path, text: str, password: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ANSIBLE_VAULT, "encrypt", "--vault-password-file", str(password), "--output", str(path)],
        input=text, capture_output=True, text=True, check=True,
    )  # fmt: skip


def init(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["secrets", "init", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_no_values_in(output: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        assert value not in output, f"the value of {name} was printed"


def test_init_creates_password_and_vault(project, capsys):
    code, output = init(capsys, "sandbox")
    assert code == ExitCode.OK
    password, vault = password_file(project), vault_file(project)
    assert mode(password) == 0o600
    assert mode(password.parent) == 0o700
    assert len(password.read_text().strip()) >= 32
    assert mode(vault) == 0o600
    assert vault.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    values = yaml.safe_load(plaintext(vault, password))
    assert list(values) == list(REQUIRED_SECRETS)
    for value in values.values():
        assert len(value) == SECRET_LENGTH
        assert set(value) <= set(ALPHABET)
    assert len(set(values.values())) == len(values)
    assert "created vault password file .fpops/sandbox/vault-password" in output
    assert f"created inventories/sandbox/group_vars/all/vault.yml with {len(values)}" in output
    assert_no_values_in(output, values)
    assert password.read_text().strip() not in output


def test_second_run_changes_nothing(project, capsys):
    assert init(capsys, "sandbox")[0] == ExitCode.OK
    before = (vault_file(project).read_bytes(), password_file(project).read_bytes())
    code, output = init(capsys, "sandbox")
    assert code == ExitCode.OK
    assert (vault_file(project).read_bytes(), password_file(project).read_bytes()) == before
    assert "nothing to do" in output
    assert "created" not in output


def test_missing_keys_are_added_and_existing_values_kept(project, capsys):
    password = password_file(project)
    password.parent.mkdir(parents=True)
    password.write_text("correct horse\n")
    kept = {REQUIRED_SECRETS[0]: "0123456789", REQUIRED_SECRETS[3]: "keep-me: really"}
    text = "# hand-written\n" + yaml.safe_dump(kept) + "other_var: 1\n"
    encrypt_to(vault_file(project), text, password)
    code, output = init(capsys, "sandbox")
    assert code == ExitCode.OK
    decrypted = plaintext(vault_file(project), password)
    assert decrypted.startswith(text)  # existing lines untouched, new keys appended
    values = yaml.safe_load(decrypted)
    assert {k: values[k] for k in kept} == kept
    assert values["other_var"] == 1
    assert set(REQUIRED_SECRETS) <= set(values)
    missing = [name for name in REQUIRED_SECRETS if name not in kept]
    assert f"added {len(missing)} secrets to" in output
    assert ", ".join(missing) in output
    assert_no_values_in(output, {k: values[k] for k in missing})
    assert mode(vault_file(project)) == 0o600


def test_flow_mapping_vault_is_rewritten_with_the_same_values(project, capsys):
    password = project / "pw"
    password.write_text("pw\n")
    vault = project / "v.yml"
    encrypt_to(vault, f"{{{REQUIRED_SECRETS[1]}: 'abc', extra: [1, 2]}}\n", password)
    code, _ = init(capsys, "sandbox", "--vault-file", str(vault), "--password-file", str(password))
    assert code == ExitCode.OK
    values = yaml.safe_load(plaintext(vault, password))
    assert values[REQUIRED_SECRETS[1]] == "abc"
    assert values["extra"] == [1, 2]
    assert set(REQUIRED_SECRETS) <= set(values)


def test_wrong_password_is_refused_naming_the_file(project, capsys):
    assert init(capsys, "sandbox")[0] == ExitCode.OK
    before = vault_file(project).read_bytes()
    password_file(project).write_text("not the password\n")
    code, output = init(capsys, "sandbox")
    assert code == ExitCode.REFUSED
    assert "inventories/sandbox/group_vars/all/vault.yml" in output
    assert vault_file(project).read_bytes() == before


def test_unencrypted_or_odd_vault_is_refused(project, capsys):
    password = project / "pw"
    password.write_text("pw\n")
    plain = project / "plain.yml"
    plain.write_text("a: 1\n")
    code, output = init(capsys, "sandbox", "--vault-file", str(plain), "--password-file", "pw")
    assert code == ExitCode.REFUSED
    assert str(plain) in output
    listed = project / "list.yml"
    encrypt_to(listed, "- a\n", password)
    code, output = init(capsys, "sandbox", "--vault-file", str(listed), "--password-file", "pw")
    assert code == ExitCode.REFUSED
    assert "mapping" in output


def test_vault_without_its_password_file_is_refused(project, capsys):
    assert init(capsys, "sandbox")[0] == ExitCode.OK
    password_file(project).unlink()
    code, output = init(capsys, "sandbox")
    assert code == ExitCode.REFUSED
    assert "vault-password" in output
    assert not password_file(project).exists()  # no new password that cannot open the vault


def test_executable_password_client_is_run_not_overwritten(project, capsys, monkeypatch):
    client = project / "molecule" / "vault-password"
    client.parent.mkdir()
    client.write_text('#!/bin/sh\nprintf "%s\\n" "$SCENARIO_PASSWORD"\n')
    client.chmod(0o755)
    script = client.read_bytes()
    monkeypatch.setenv("SCENARIO_PASSWORD", "from-the-client")
    # As under Molecule: ansible's own variable is set too, and must not add a second password.
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(client))
    vault = project / "ephemeral" / "vault.yml"
    vault.parent.mkdir()
    args = ("data", "--vault-file", str(vault), "--password-file", "molecule/vault-password")
    code, output = init(capsys, *args)
    assert code == ExitCode.OK
    assert "client script molecule/vault-password" in output
    assert client.read_bytes() == script
    assert not (project / ".fpops").exists()
    plain_password = project / "plain-password"
    plain_password.write_text("from-the-client\n")
    assert set(yaml.safe_load(plaintext(vault, plain_password))) == set(REQUIRED_SECRETS)
    assert "from-the-client" not in output
    before = vault.read_bytes()
    assert init(capsys, *args)[0] == ExitCode.OK
    assert vault.read_bytes() == before


def test_password_file_from_environment(project, capsys, monkeypatch, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("keys") / "fp" / "production.pw"
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(elsewhere))
    assert init(capsys, "production")[0] == ExitCode.OK
    assert mode(elsewhere) == 0o600
    assert not password_file(project, "production").exists()
    assert set(yaml.safe_load(plaintext(vault_file(project, "production"), elsewhere))) == set(
        REQUIRED_SECRETS
    )


@pytest.mark.parametrize(
    "args",
    [["staging"], ["../etc", "--vault-file", "v.yml"], ["sandbox", "--password-file", "."]],
)
def test_bad_input_exits_4(project, capsys, args):
    code, output = init(capsys, *args)
    assert code == ExitCode.BAD_INPUT
    assert "fpops:" in output


def vault_references(roles_dir: Path) -> dict[str, set[str]]:
    """vault_* names used in roles/*/defaults, by the file that uses them."""
    found: dict[str, set[str]] = {}
    for path in sorted(roles_dir.glob("*/defaults/**/*.y*ml")):
        names = set(VAULT_REF.findall(path.read_text(encoding="utf-8")))
        if names:
            found[str(path.relative_to(roles_dir))] = names
    return found


def test_roles_reference_only_required_secrets():
    known = set(REQUIRED_SECRETS) | set(OPERATOR_SECRETS)
    unknown = {
        path: sorted(names - known)
        for path, names in vault_references(ROOT / "roles").items()
        if names - known
    }
    assert not unknown, f"vault_ names missing from fpops.secrets.REQUIRED_SECRETS: {unknown}"


def test_reference_scan_finds_unknown_names(tmp_path):
    defaults = tmp_path / "redis" / "defaults"
    defaults.mkdir(parents=True)
    (defaults / "main.yml").write_text(
        'redis_password: "{{ vault_redis_app_password }}"\n'
        'redis_other: "{{ vault_redis_nope }}"\n'
        "ansible_vault_thing: 1\n"
    )
    assert vault_references(tmp_path) == {
        "redis/defaults/main.yml": {"vault_redis_app_password", "vault_redis_nope"}
    }


def test_required_secrets_are_unique_vault_names():
    assert len(set(REQUIRED_SECRETS)) == len(REQUIRED_SECRETS)
    assert all(VAULT_REF.fullmatch(name) for name in REQUIRED_SECRETS)


def test_runner_vault_password_file_choice(tmp_path):
    default = tmp_path / ".fpops" / "production" / "vault-password"
    assert "ANSIBLE_VAULT_PASSWORD_FILE" not in envvars(tmp_path, "production", {})
    default.parent.mkdir(parents=True)
    default.write_text("pw\n")
    assert envvars(tmp_path, "production", {})["ANSIBLE_VAULT_PASSWORD_FILE"] == str(default)
    assert "ANSIBLE_VAULT_PASSWORD_FILE" not in envvars(tmp_path, "sandbox", {})
    assert "ANSIBLE_VAULT_PASSWORD_FILE" not in envvars(tmp_path, None, {})
    # The variable wins, even over an existing default and before its file exists.
    chosen = {PASSWORD_FILE_ENV: "/secure/missing.pw"}
    assert envvars(tmp_path, "production", chosen)["ANSIBLE_VAULT_PASSWORD_FILE"] == (
        "/secure/missing.pw"
    )
    assert envvars(tmp_path, "sandbox", chosen)["ANSIBLE_VAULT_PASSWORD_FILE"] == (
        "/secure/missing.pw"
    )


def test_runner_kwargs_carry_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_FILE_ENV, raising=False)
    default = tmp_path / ".fpops" / "production" / "vault-password"
    default.parent.mkdir(parents=True)
    default.write_text("pw\n")
    request = RunRequest(
        tmp_path, tmp_path / "site.yml", tmp_path / "inv", environment="production"
    )
    assert runner_kwargs(request, "r")["envvars"]["ANSIBLE_VAULT_PASSWORD_FILE"] == str(default)
    bare = RunRequest(tmp_path, tmp_path / "site.yml", tmp_path / "inv")
    assert "ANSIBLE_VAULT_PASSWORD_FILE" not in runner_kwargs(bare, "r")["envvars"]


USES_SECRET = """
- name: uses a vault secret
  hosts: all
  gather_facts: false
  tasks:
    - name: check the secret
      ansible.builtin.assert:
        that: vault_redis_app_password | length == 32
        quiet: true
"""


def test_provision_decrypts_the_vault_and_keeps_the_password_out_of_artifacts(project, capsys):
    assert init(capsys, "production")[0] == ExitCode.OK
    (project / "playbooks").mkdir()
    (project / "playbooks" / "site.yml").write_text(USES_SECRET)
    (project / "inventories" / "production" / "hosts.ini").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    code = cli.main(["provision", "production", "--quiet"])
    out = capsys.readouterr().out
    assert code == ExitCode.OK, out
    [artifact] = list((project / ".fpops" / "artifacts").iterdir())
    command = json.loads((artifact / "command").read_text())
    assert not any(key.startswith("ANSIBLE_VAULT") for key in command["env"])
    password = password_file(project, "production")
    secret = password.read_text().strip()
    for path in artifact.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert secret not in text, path
            assert str(password) not in text, path
