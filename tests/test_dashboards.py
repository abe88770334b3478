"""The Grafana dashboards (roles/grafana/files/dashboards): well-formed, on the provisioned
datasources' fixed UIDs, and every PromQL query of every panel accepted and executed by a
real Prometheus (a throwaway one on loopback; the observability scenario runs them again
against the scenario's Prometheus, with data)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((ROOT / "roles" / "grafana" / "files" / "dashboards").glob("*.json"))
UIDS = {"prometheus": "fpops-prometheus", "loki": "fpops-loki"}


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def queries(datasource: str) -> list[tuple[str, str, str]]:
    """(dashboard, panel title, expression) of every panel target on that datasource type."""
    found = []
    for path in DASHBOARDS:
        board = load(path)
        for panel in board["panels"]:
            for target in panel["targets"]:
                if target["datasource"]["type"] == datasource:
                    found.append((board["uid"], panel["title"], target["expr"]))
        for note in board["annotations"]["list"]:
            if note["datasource"]["type"] == datasource:
                found.append((board["uid"], f"annotation {note['name']}", note["expr"]))
    return found


def grafana_variables(expr: str) -> str:
    """What Grafana sends for the dashboards' variables: "All" is the regex .*"""
    return re.sub(r"\$(host|__all)\b", ".*", expr).replace("$__rate_interval", "5m")


def test_five_dashboards_with_fixed_uids() -> None:
    uids = [load(p)["uid"] for p in DASHBOARDS]
    assert sorted(uids) == [
        "fpops-api",
        "fpops-business",
        "fpops-hosts",
        "fpops-postgresql",
        "fpops-redis",
    ]
    for path in DASHBOARDS:
        assert path.stem == load(path)["uid"]


def test_every_panel_uses_a_provisioned_datasource() -> None:
    for path in DASHBOARDS:
        board = load(path)
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in board["panels"]:
            sources = [panel["datasource"]] + [t["datasource"] for t in panel["targets"]]
            for source in sources:
                assert UIDS[source["type"]] == source["uid"], (path.name, panel["title"])
            assert panel["targets"], (path.name, panel["title"])


def test_api_dashboard_shows_the_issue_panels() -> None:
    exprs = " ".join(e for board, _, e in queries("prometheus") if board == "fpops-api")
    for quantile in ("0.50", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in exprs
    assert 'status=~"5.."' in exprs and "sum by (status)" in exprs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus") or str(ROOT / ".venv" / "bin" / "prometheus")
    assert Path(binary).exists(), "prometheus missing: run scripts/bootstrap"
    work = tmp_path_factory.mktemp("prometheus")
    (work / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                break
        except OSError:
            assert time.monotonic() < deadline, "prometheus did not start"
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.parametrize(
    ("board", "title", "expr"), queries("prometheus"), ids=lambda v: v if len(v) < 40 else None
)
def test_query_runs_on_prometheus(prometheus: str, board: str, title: str, expr: str) -> None:
    params = urllib.parse.urlencode({"query": grafana_variables(expr)})
    try:
        with urllib.request.urlopen(f"{prometheus}/api/v1/query?{params}", timeout=10) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        answer = json.loads(error.read())
    assert answer["status"] == "success", (board, title, answer.get("error"))
