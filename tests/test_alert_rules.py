"""The Prometheus alert rules: `promtool check rules`, then `promtool test rules` built from the
cases in tests/promtool/*.cases.yml; every alert needs a case where it fires and one where not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "roles" / "prometheus" / "files" / "rules"
CASES = ROOT / "tests" / "promtool"
# make bootstrap unpacks it into .venv/bin; a missing promtool fails the tests, never skips them.
PROMTOOL = shutil.which("promtool") or "promtool-not-installed-run-make-bootstrap"


def rule_files() -> list[Path]:
    return sorted(RULES.glob("*.rules.yml"))


def alerts() -> dict[str, dict[str, Any]]:
    """Every alerting rule by name."""
    found: dict[str, dict[str, Any]] = {}
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["alert"] not in found, f"{rule['alert']} defined twice"
                    found[rule["alert"]] = rule
    return found


def case_files() -> list[Path]:
    return sorted(CASES.glob("*.cases.yml"))


def expected_alert(rule: dict[str, Any], fired: dict[str, Any]) -> dict[str, Any]:
    """promtool's exp_alerts entry: the series labels given plus the rule's own labels; the
    summary given plus the rule's other annotations (those with a template must be given)."""
    annotations = {}
    for name, text in rule.get("annotations", {}).items():
        given = fired.get(name, fired.get("annotations", {}).get(name))
        if given is None:
            assert "{{" not in text, f"{rule['alert']}: give the expected {name} (it is a template)"
            given = text
        annotations[name] = given
    return {
        "exp_labels": {**fired.get("labels", {}), **rule.get("labels", {})},
        "exp_annotations": annotations,
    }


def promtool_tests(path: Path, rules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec = yaml.safe_load(path.read_text())
    tests = []
    for case in spec["cases"]:
        checks = [
            {
                "eval_time": check["at"],
                "alertname": check["alert"],
                "exp_alerts": [expected_alert(rules[check["alert"]], f) for f in check["fires"]],
            }
            for check in case["checks"]
        ]
        tests.append(
            {
                "name": case["name"],
                "interval": case.get("interval", "1m"),
                "input_series": case.get("input_series", []),
                "alert_rule_test": checks,
            }
        )
    return {
        "rule_files": [str(RULES / spec["rule_file"])],
        "evaluation_interval": "1m",
        "tests": tests,
    }


def test_rules_pass_promtool_check():
    done = subprocess.run(
        [str(PROMTOOL), "check", "rules", *map(str, rule_files())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_severity_summary_and_runbook():
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in ("critical", "warning", "none"), name
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name


def test_every_alert_fires_in_one_case_and_not_in_another():
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in case_files():
        for case in yaml.safe_load(path.read_text())["cases"]:
            for check in case["checks"]:
                (firing if check["fires"] else quiet).add(check["alert"])
    names = set(alerts())
    assert names - firing == set(), "alerts without a firing case"
    # The watchdog fires by design: its quiet case cannot exist.
    assert names - quiet - {"Watchdog"} == set(), "alerts without a quiet case"
    assert (firing | quiet) <= names, "cases for alerts that do not exist"


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_promtool_unit_tests(path: Path, tmp_path: Path):
    generated = tmp_path / f"{path.stem}.test.yml"
    generated.write_text(yaml.safe_dump(promtool_tests(path, alerts()), sort_keys=False))
    done = subprocess.run(
        [str(PROMTOOL), "test", "rules", str(generated)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
