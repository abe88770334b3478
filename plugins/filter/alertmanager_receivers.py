"""Checks of the alertmanager role's receivers, before any change (tasks/validate.yml).

Kept in Python rather than Jinja so each refusal is unit-tested (tests/test_monitoring_render.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REQUIRED: dict[str, tuple[str, ...]] = {
    "email": ("to",),
    "slack": ("url",),
    "dingtalk": ("url", "secret"),
    "webhook": ("url",),
}


def alertmanager_receiver_errors(
    receivers: list[Mapping[str, Any]],
    severity_receivers: Mapping[str, list[str]],
    default_receivers: list[str],
    smtp: Mapping[str, Any],
) -> list[str]:
    """What is wrong with the receivers and the names routed to them; empty when all is well."""
    problems: list[str] = []
    names = [str(r.get("name") or "") for r in receivers]
    for index, receiver in enumerate(receivers):
        name = names[index]
        kind = str(receiver.get("type") or "")
        if not name:
            problems.append(f"alertmanager_receivers[{index}] has no name")
        elif kind not in REQUIRED:
            problems.append(f"receiver {name}: type must be one of {', '.join(REQUIRED)}")
        else:
            for key in REQUIRED[kind]:
                if not str(receiver.get(key) or ""):
                    problems.append(f"receiver {name} ({kind}) has no {key}")
    twice = sorted(n for n in set(names) if n and names.count(n) > 1)
    problems += [f"receiver {n} defined twice" for n in twice]
    routed = [n for group in severity_receivers.values() for n in group] + list(default_receivers)
    problems += [
        f"no receiver named {n} (alertmanager_severity_receivers / alertmanager_default_receivers)"
        for n in dict.fromkeys(routed)
        if n not in names
    ]
    emails = any(r.get("type") == "email" for r in receivers)
    if emails and not (smtp.get("smarthost") and smtp.get("from")):
        problems.append("email receivers need alertmanager_smtp.smarthost and from")
    return problems


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"alertmanager_receiver_errors": alertmanager_receiver_errors}
