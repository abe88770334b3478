"""Keeping the environment's vault values out of everything the runner prints or stores.

no_log hides a task's result, but Ansible 2.19 still prints a failed task's message (and a
module's error text can quote its arguments). So the runner reads the values of the
environment's vault file once per run and replaces them, wherever they appear, in the events it
shows and stores (job_events) and in the artifacts' stdout.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fpops.secrets import (
    SecretsError,
    decrypt,
    default_vault_file,
    parse_vault_text,
    runner_password_file,
)

REDACTED = "<redacted>"
# Shorter values (a port, "true") would blank ordinary words: a secret is at least this long.
MIN_LENGTH = 6


def vault_values(project_dir: Path, environment: str | None) -> list[str]:
    """The string values of inventories/ENV/group_vars/all/vault.yml, longest first; [] when
    there is no vault or it cannot be read (the run itself will say why)."""
    if environment is None:
        return []
    try:
        vault_file = default_vault_file(project_dir, environment)
        password_file = runner_password_file(project_dir, environment)
        if password_file is None or not vault_file.is_file():
            return []
        data = parse_vault_text(decrypt(vault_file, password_file), vault_file)
    except (SecretsError, OSError):
        return []
    values = {str(v) for v in _leaves(data) if len(str(v)) >= MIN_LENGTH}
    return sorted(values, key=len, reverse=True)


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield value


def text(value: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in value:
            value = value.replace(secret, REDACTED)
    return value


def in_place(event: Any, secrets: list[str]) -> Any:
    """Redact every string inside a JSON-like event (dicts and lists changed in place)."""
    if not secrets:
        return event
    if isinstance(event, dict):
        for key, value in event.items():
            event[key] = in_place(value, secrets)
        return event
    if isinstance(event, list):
        for index, value in enumerate(event):
            event[index] = in_place(value, secrets)
        return event
    if isinstance(event, str):
        return text(event, secrets)
    return event


def files(directory: Path, secrets: list[str]) -> None:
    """Rewrite every file under directory that holds a secret."""
    if not secrets:
        return
    for path in directory.rglob("*"):
        if not path.is_file():
            continue
        try:
            content = path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            continue
        cleaned = text(content, secrets)
        if cleaned != content:
            path.write_text(cleaned, encoding="utf-8", errors="surrogateescape")
