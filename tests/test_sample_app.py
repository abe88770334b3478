"""The sample application (examples/prediction-api): its release builds and its behaviour
without the services.

No network, PostgreSQL or Redis here: dependencies are pointed at a closed or a silent local
port, which is how the app really behaves when one is down. Checks against live services run
in a Molecule scenario. Tests that import the app skip when its dependencies are absent.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import importlib.util
import json
import re
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
APP = ROOT / "examples" / "prediction-api"
SRC = APP / "src"
BUILD = APP / "build-release"
APP_DEPS = ("fastapi", "sqlalchemy", "psycopg", "alembic", "redis", "celery", "prometheus_client")

# version -> (schema revision its code needs, head revision of the migrations it ships)
RELEASES = {"1.0.0": ("0001", "0001"), "2.0.0": ("0002", "0002"), "3.0.0": ("0003", "0002")}

if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


def can_build_wheels() -> bool:
    """setuptools >= 70.1 builds wheels itself; older ones need the wheel package."""
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    if not can_build_wheels():
        pytest.skip("needs setuptools>=70.1 (or the wheel package) to build the releases")
    out = tmp_path_factory.mktemp("wheels")
    built = {}
    for version in RELEASES:
        done = subprocess.run(
            [sys.executable, str(BUILD), version, str(out)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        built[version] = Path(done.stdout.strip())
    return built


def migrations_in(wheel: Path) -> dict[str, str | None]:
    """revision -> down_revision of every migration script in a wheel, read without importing."""
    chain: dict[str, str | None] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if "/migrations/versions/0" not in name:
                continue
            values = {}
            for node in ast.parse(archive.read(name)).body:
                if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                    target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                    if isinstance(target, ast.Name):
                        values[target.id] = node.value
            chain[ast.literal_eval(values["revision"])] = ast.literal_eval(values["down_revision"])
    return chain


def release_constants(source: str) -> dict[str, str]:
    tree = ast.parse(source)
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }


def test_each_release_builds_a_wheel_of_its_version(wheels):
    for version, wheel in wheels.items():
        assert wheel.name == f"prediction_api-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel) as archive:
            metadata = archive.read(f"prediction_api-{version}.dist-info/METADATA").decode()
            release = release_constants(archive.read("prediction_api/release.py").decode())
            entry_points = archive.read(f"prediction_api-{version}.dist-info/entry_points.txt")
        assert f"\nVersion: {version}\n" in metadata
        assert release == {"VERSION": version, "SCHEMA_REVISION": RELEASES[version][0]}
        assert b"prediction-api-migrate = prediction_api.migrate:main" in entry_points


def test_migrations_form_one_line_and_heads_are_right(wheels):
    for version, wheel in wheels.items():
        chain = migrations_in(wheel)
        head = RELEASES[version][1]
        # Linear: walking down from the head visits every revision once and ends at None.
        seen, revision = [], head
        while revision is not None:
            seen.append(revision)
            revision = chain[revision]
        assert sorted(seen) == sorted(chain), f"{version}: branches or orphans in {chain}"
        assert head not in chain.values(), f"{version}: {head} is not the head"
        assert sorted(chain) == [f"{n:04d}" for n in range(1, int(head) + 1)]


def test_1_0_0_lacks_the_2_0_0_migration_and_3_0_0_needs_one_it_does_not_ship(wheels):
    with zipfile.ZipFile(wheels["1.0.0"]) as archive:
        names = archive.namelist()
    assert "prediction_api/migrations/versions/0001_initial.py" in names
    assert not [n for n in names if "versions/0002_" in n]
    assert "0002" in migrations_in(wheels["2.0.0"])
    # The deliberate defect of 3.0.0: its code requires a schema no shipped migration creates.
    assert RELEASES["3.0.0"][0] not in migrations_in(wheels["3.0.0"])


def test_the_source_tree_is_release_2_0_0():
    assert release_constants((SRC / "prediction_api/release.py").read_text()) == {
        "VERSION": "2.0.0",
        "SCHEMA_REVISION": "0002",
    }


def test_build_refuses_an_unknown_version(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BUILD), "9.9.9", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
    assert not list(tmp_path.iterdir())


def test_forecast_is_deterministic_and_sensible():
    from prediction_api.predictor import predict

    strong, weak = [(3, 0)] * 5, [(0, 2)] * 5
    first = predict(strong, weak)
    assert first == predict(strong, weak)
    assert first.outcome == "home"
    assert first.home_win + first.draw + first.away_win == pytest.approx(1, abs=1e-3)
    assert predict(weak, strong).outcome == "away"
    even = predict([], [])
    assert even.home_win > even.away_win  # home advantage
    assert even.confidence == 0 < first.confidence < 1


# --- from here on the app's dependencies are needed ----------------------------------------


@pytest.fixture
def deps():
    for name in APP_DEPS:
        pytest.importorskip(name)
    try:  # Starlette's test client needs httpx2 (or, deprecated, httpx)
        importlib.import_module("fastapi.testclient")
    except RuntimeError as exc:
        pytest.skip(str(exc).splitlines()[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose TCP connections are accepted by the kernel and then never answered."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def point_services_at(monkeypatch, pg_port: int, redis_port: int) -> None:
    for name in ("PGCONNECT_TIMEOUT", "PGSERVICE", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "PGHOST": "127.0.0.1",
        "PGPORT": str(pg_port),
        "PGDATABASE": "fp",
        "PGUSER": "app_rw",
        "PGPASSWORD": "not-used",
        "PGSSLMODE": "disable",
        "REDIS_URL": f"redis://app:not-used@127.0.0.1:{redis_port}/0",
        "RELEASE_ID": "2.0.0-20261123T1200",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def get_health(monkeypatch, pg_port: int, redis_port: int) -> tuple[int, dict, float]:
    from fastapi.testclient import TestClient
    from prediction_api.main import app

    point_services_at(monkeypatch, pg_port, redis_port)
    with TestClient(app) as client:
        start = time.monotonic()
        response = client.get("/health")
        return response.status_code, response.json(), time.monotonic() - start


def test_health_is_503_degraded_when_postgresql_and_redis_are_down(deps, monkeypatch):
    status, body, _ = get_health(monkeypatch, free_port(), free_port())
    assert status == 503
    assert body["status"] == "degraded"
    assert body["release"] == "2.0.0-20261123T1200"
    assert body["version"] == "2.0.0"
    assert set(body["checks"]) == {"postgresql", "redis", "schema"}
    assert body["checks"]["postgresql"].startswith("error: ")
    assert "refused" in body["checks"]["redis"].lower()


def test_health_answers_within_its_timeout_when_dependencies_hang(deps, monkeypatch, silent_port):
    status, body, elapsed = get_health(monkeypatch, silent_port, silent_port)
    assert status == 503
    assert body["checks"]["postgresql"] != "ok" and body["checks"]["redis"] != "ok"
    assert elapsed < 3.5, f"/health took {elapsed:.1f}s with hanging dependencies"


def test_missing_redis_url_stops_the_app(deps, monkeypatch):
    from fastapi.testclient import TestClient
    from prediction_api.main import app
    from prediction_api.settings import ConfigError

    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ConfigError, match="REDIS_URL"), TestClient(app):
        pass


def test_metrics_expose_requests_by_route_template_and_prediction_counters(deps, monkeypatch):
    from fastapi.testclient import TestClient
    from prediction_api.main import app

    point_services_at(monkeypatch, free_port(), free_port())
    with TestClient(app) as client:
        client.get("/health")
        assert client.get("/no/such/page").status_code == 404
        text = client.get("/metrics").text
    assert 'fp_http_requests_total{method="GET",path="/health",status="503"}' in text
    assert 'path="<unmatched>"' in text and "/no/such/page" not in text
    assert 'fp_http_request_duration_seconds_bucket{le="0.005",method="GET",path="/health"}' in text
    assert 'fp_predictions_served_total{source="cache"}' in text
    assert 'fp_predictions_failed_total{stage="compute"}' in text
    assert re.search(r'^fp_build_info\{[^}]*version="[0-9.]+"[^}]*\} 1\.0$', text, re.M)


def test_schema_check_accepts_newer_schemas_only(deps):
    from prediction_api.health import schema_status

    assert schema_status("0002", "0002") == "ok"
    assert schema_status("0003", "0002") == "ok"  # expand-only: rollback stays healthy
    assert schema_status("0002", "0003") == "database at schema 0002, this release needs 0003"
    assert schema_status(None, "0001").startswith("not migrated")


def test_alembic_sees_one_head_in_the_source_tree(deps, capsys):
    from prediction_api import migrate

    assert migrate.main(["heads"]) == 0
    assert capsys.readouterr().out.strip() == "0002"


def test_only_2_0_0_maps_and_returns_confidence(deps, wheels):
    probe = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from prediction_api.models import Prediction;"
        "from prediction_api.schemas import PredictionOut;"
        "row = Prediction(match_id=1, outcome='home', home_win=0.5, draw=0.3, away_win=0.2);"
        "row.created_at = __import__('datetime').datetime(2026, 1, 1);"
        "print(json.dumps([sorted(Prediction.__table__.c.keys()),"
        " sorted(PredictionOut.of(row).public())]))"
    )
    seen = {}
    for version in ("1.0.0", "2.0.0"):
        out = subprocess.run(
            [sys.executable, "-c", probe, str(wheels[version])],
            capture_output=True,
            text=True,
            check=True,
            cwd=wheels[version].parent,
        ).stdout
        columns, fields = json.loads(out)
        seen[version] = ("confidence" in columns, "confidence" in fields)
    assert seen == {"1.0.0": (False, False), "2.0.0": (True, True)}


def test_gunicorn_settings_come_from_the_environment(monkeypatch, tmp_path):
    def load():
        spec = importlib.util.spec_from_file_location(
            "gunicorn_conf_under_test", SRC / "prediction_api" / "gunicorn_conf.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    for name in ("BIND_ADDRESS", "PORT", "WEB_CONCURRENCY", "GRACEFUL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    conf = load()
    assert (conf.bind, conf.workers, conf.graceful_timeout) == (["127.0.0.1:8000"], 2, 30)
    assert conf.worker_class == "uvicorn_worker.UvicornWorker"

    monkeypatch.setenv("BIND_ADDRESS", "::1")
    monkeypatch.setenv("PORT", "18042")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GRACEFUL_TIMEOUT", "20")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_123.db").write_bytes(b"stale")
    conf = load()
    assert (conf.bind, conf.workers, conf.graceful_timeout) == (["[::1]:18042"], 3, 20)
    conf.on_starting(None)
    assert not list(tmp_path.glob("*.db"))


def test_celery_stays_inside_the_platform_redis_acl(deps, monkeypatch):
    """Every key and channel Celery uses matches the redis role's ACL for user app, and the
    machinery that needs more (scripts, pattern subscriptions, pidbox replies) is off."""
    monkeypatch.setenv("REDIS_URL", "redis://app:not-used@127.0.0.1:1/0")
    monkeypatch.setenv("RELEASE_ID", "2.0.0-20261123T1200")
    worker = importlib.import_module("prediction_api.worker")
    from kombu.transport.redis import Channel
    from prediction_api.cache import STATS_KEY, prediction_key

    rules = yaml.safe_load((ROOT / "roles/redis/defaults/main.yml").read_text())
    rules = rules["redis_app_acl_rules"]
    key_patterns = [r[1:] for r in rules if r.startswith("~")]
    channel_patterns = [r[1:] for r in rules if r.startswith("&")]
    app = worker.celery_app
    queue = app.conf.task_default_queue
    result_key = app.backend.get_key_for_task("0f0e").decode()
    keys = [queue, Channel.keyprefix_queue % queue, result_key, Channel.unacked_key]
    keys += [prediction_key(1), STATS_KEY]
    for key in keys:
        assert any(fnmatch.fnmatchcase(key, p) for p in key_patterns), key
    assert any(fnmatch.fnmatchcase(result_key, p) for p in channel_patterns)
    assert app.conf.broker_transport_options["ack_emulation"] is False
    assert app.conf.worker_enable_remote_control is False
    assert app.conf.beat_schedule["recompute-predictions"]["schedule"] == 60.0
    assert worker.release.run() == {
        "release": "2.0.0-20261123T1200",
        "version": "2.0.0",
        "schema": "0002",
    }
