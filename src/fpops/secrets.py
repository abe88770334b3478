"""`fpops secrets init ENV`: an ansible-vault file that defines every secret the roles need.

The password never passes through fpops: ansible-vault reads it from the password file (or runs
it, when the file is an executable vault password client script).
"""

from __future__ import annotations

import getpass
import os
import re
import secrets
import shutil
import stat
import string
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console

from fpops.exitcodes import ExitCode
from fpops.project import ProjectError, inventory_dir

PASSWORD_FILE_ENV = "FPOPS_VAULT_PASSWORD_FILE"
# The password itself (CI, a secrets manager's wrapper); read through a client script.
PASSWORD_ENV = "FPOPS_VAULT_PASSWORD"
PASSWORD_CLIENT = Path("scripts") / "vault-password-from-env"

# Every secret a role may reference as `vault_*`; tests/test_secrets.py checks the roles.
REQUIRED_SECRETS = (
    "vault_postgresql_migrator_password",
    "vault_postgresql_app_rw_password",
    "vault_postgresql_app_ro_password",
    "vault_postgresql_replicator_password",
    "vault_postgresql_backup_password",
    "vault_postgresql_monitor_password",
    "vault_postgresql_superuser_password",
    "vault_postgresql_rewind_password",
    "vault_patroni_restapi_password",
    "vault_redis_admin_password",
    "vault_redis_app_password",
    "vault_redis_replica_password",
    "vault_redis_monitor_password",
    "vault_redis_sentinel_password",
    "vault_pki_ca_passphrase",
    "vault_pgbackrest_cipher_pass",
    "vault_pgbackrest_s3_cipher_pass",
    "vault_grafana_admin_password",
)

# Secrets a role reads only when a feature is on, given by the operator (a provider's keys):
# `secrets init` does not make them; the role names them when the feature needs them.
OPERATOR_SECRETS = (
    "vault_pgbackrest_s3_key",
    "vault_pgbackrest_s3_key_secret",
)

# Letters and digits only: safe unquoted in connection strings, YAML and redis ACL files.
ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 32
PASSWORD_LENGTH = 48

_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# ansible-vault's own variables would add a second password next to --vault-password-file.
_VAULT_ENV = ("ANSIBLE_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_IDENTITY_LIST", "ANSIBLE_VAULT_ID")


class SecretsError(Exception):
    """The vault could not be set up; `code` is what `fpops` exits with."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class InitResult:
    """What `init` did."""

    vault_file: Path
    password_file: Path
    password_created: bool
    vault_created: bool
    added: tuple[str, ...]  # names only


def random_secret(length: int = SECRET_LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def default_password_file(
    project_dir: Path, environment: str, environ: Mapping[str, str] | None = None
) -> Path:
    """$FPOPS_VAULT_PASSWORD_FILE, else .fpops/ENV/vault-password in the project."""
    env = os.environ if environ is None else environ
    configured = env.get(PASSWORD_FILE_ENV)
    if configured:
        return Path(configured).absolute()
    return project_dir / ".fpops" / environment / "vault-password"


def runner_password_file(
    project_dir: Path, environment: str, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The password file (or client script) a playbook run on ENV uses, or None.

    $FPOPS_VAULT_PASSWORD (the password) wins, read by scripts/vault-password-from-env; then
    $FPOPS_VAULT_PASSWORD_FILE; then .fpops/ENV/vault-password.
    """
    env = os.environ if environ is None else environ
    if env.get(PASSWORD_ENV):
        return project_dir / PASSWORD_CLIENT
    path = default_password_file(project_dir, environment, env)
    if env.get(PASSWORD_FILE_ENV) or path.is_file():
        return path
    return None


def prompt_for_password(project_dir: Path, environment: str) -> bool:
    """Ask for the vault password on the terminal when ENV has a vault and no other source.

    The answer goes to this process' $FPOPS_VAULT_PASSWORD only (the runs read it through the
    client script). True when a password was asked for and given.
    """
    try:
        vault_file = default_vault_file(project_dir, environment)
    except ProjectError:
        return False
    if runner_password_file(project_dir, environment) is not None or not vault_file.is_file():
        return False
    if not sys.stdin.isatty():
        return False
    password = getpass.getpass(f"Vault password for {environment}: ")
    if not password:
        return False
    os.environ[PASSWORD_ENV] = password
    return True


def default_vault_file(project_dir: Path, environment: str) -> Path:
    return inventory_dir(project_dir, environment) / "group_vars" / "all" / "vault.yml"


def is_client_script(path: Path) -> bool:
    """Ansible runs an executable password file and reads the password from its stdout."""
    return path.is_file() and bool(
        path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    )


def ensure_password_file(path: Path) -> bool:
    """Create `path` (0600, new parent directories 0700) with a random password; True if made."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: never overwrite a password file that appeared meanwhile.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(random_secret(PASSWORD_LENGTH) + "\n")
    return True


def ansible_vault() -> str:
    """The ansible-vault of this interpreter's venv, else the one on PATH."""
    beside = Path(sys.executable).parent / "ansible-vault"
    if beside.exists():
        return str(beside)
    found = shutil.which("ansible-vault")
    if found is None:
        raise SecretsError("ansible-vault not found next to the Python interpreter or on PATH")
    return found


def _vault(args: list[str], password_file: Path, stdin: str | None = None) -> str:
    """Run ansible-vault ARGS with the password file; stdout, or SecretsError with its error."""
    env = {k: v for k, v in os.environ.items() if k not in _VAULT_ENV}
    proc = subprocess.run(
        [ansible_vault(), *args, "--vault-password-file", str(password_file)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise _vault_error(proc.stderr)
    return proc.stdout


def _vault_error(stderr: str) -> SecretsError:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("[ERROR]", "ERROR"))] or lines[-1:]
    return SecretsError("ansible-vault failed: " + (" ".join(errors) or "no error message"))


def decrypt(vault_file: Path, password_file: Path) -> str:
    try:
        return _vault(["decrypt", "--output", "-", str(vault_file)], password_file)
    except SecretsError as exc:
        if "Decryption failed" in str(exc) or "not vault encrypted" in str(exc):
            raise SecretsError(
                f"cannot decrypt {vault_file} with the vault password from {password_file}"
                " (wrong password, or not an ansible-vault file)",
                ExitCode.REFUSED,
            ) from exc
        raise


def encrypt(plaintext: str, password_file: Path) -> str:
    return _vault(["encrypt", "--output", "-"], password_file, stdin=plaintext)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _secret_lines(names: tuple[str, ...]) -> str:
    # Quoted so that a value made only of digits still reads back as a string.
    return "".join(f'{name}: "{random_secret()}"\n' for name in names)


def new_vault_text(environment: str) -> str:
    return (
        f"# Generated by `fpops secrets init {environment}`; edit with `ansible-vault edit`.\n"
        + _secret_lines(REQUIRED_SECRETS)
    )


def parse_vault_text(text: str, vault_file: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SecretsError(f"{vault_file} does not hold valid YAML", ExitCode.REFUSED) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SecretsError(f"{vault_file} does not hold a YAML mapping", ExitCode.REFUSED)
    return data


def with_missing(text: str, present: dict[str, object], missing: tuple[str, ...]) -> str:
    """`text` with the missing secrets appended; existing lines and values stay as they are."""
    appended = text + ("" if text.endswith("\n") or not text else "\n") + _secret_lines(missing)
    try:
        merged = yaml.safe_load(appended)
    except yaml.YAMLError:
        merged = None
    if isinstance(merged, dict) and all(merged.get(k) == v for k, v in present.items()):
        return appended
    # Appending does not work for every layout (flow mapping, explicit document end): rewrite.
    data = dict(present)
    data.update(yaml.safe_load(_secret_lines(missing)))
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False)


def init(
    project_dir: Path,
    environment: str,
    vault_file: Path | None = None,
    password_file: Path | None = None,
) -> InitResult:
    """Ensure the password file and a vault file holding every REQUIRED_SECRETS key."""
    if not _ENV_NAME.match(environment):
        raise SecretsError(f"bad environment name '{environment}'", ExitCode.BAD_INPUT)
    vault_file = (vault_file or default_vault_file(project_dir, environment)).absolute()
    password_file = (password_file or default_password_file(project_dir, environment)).absolute()
    if vault_file.exists() and not password_file.exists():
        raise SecretsError(
            f"{vault_file} exists but its vault password file {password_file} does not",
            ExitCode.REFUSED,
        )
    if password_file.exists() and not password_file.is_file():
        raise SecretsError(f"{password_file} is not a file", ExitCode.BAD_INPUT)
    password_created = ensure_password_file(password_file)
    if not vault_file.exists():
        write_atomic(vault_file, encrypt(new_vault_text(environment), password_file))
        return InitResult(vault_file, password_file, password_created, True, REQUIRED_SECRETS)
    text = decrypt(vault_file, password_file)
    present = parse_vault_text(text, vault_file)
    missing = tuple(name for name in REQUIRED_SECRETS if name not in present)
    if missing:
        write_atomic(vault_file, encrypt(with_missing(text, present, missing), password_file))
    return InitResult(vault_file, password_file, password_created, False, missing)


def _shown(path: Path, project_dir: Path) -> str:
    return str(path.relative_to(project_dir)) if path.is_relative_to(project_dir) else str(path)


def report(result: InitResult, project_dir: Path, environment: str, console: Console) -> None:
    """Say what `init` did: file names and secret names, never a value."""
    vault = _shown(result.vault_file, project_dir)
    password = _shown(result.password_file, project_dir)

    def say(message: str) -> None:
        console.print(
            f"secrets {environment}: {message}", markup=False, highlight=False, soft_wrap=True
        )

    if result.password_created:
        say(f"created vault password file {password} (mode 0600)")
    elif is_client_script(result.password_file):
        say(f"vault password from client script {password}")
    if result.vault_created:
        say(f"created {vault} with {len(result.added)} secrets")
    elif result.added:
        say(f"added {len(result.added)} secrets to {vault}: {', '.join(result.added)}")
    else:
        say(f"{vault} defines all {len(REQUIRED_SECRETS)} secrets; nothing to do")


def run_init(
    project_dir: Path,
    environment: str,
    console: Console,
    vault_file: Path | None = None,
    password_file: Path | None = None,
) -> ExitCode:
    result = init(project_dir, environment, vault_file, password_file)
    report(result, project_dir, environment, console)
    return ExitCode.OK
