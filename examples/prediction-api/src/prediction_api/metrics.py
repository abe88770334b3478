"""Prometheus metrics, correct with several gunicorn workers.

With PROMETHEUS_MULTIPROC_DIR set (it must be, before the process starts, when gunicorn runs
more than one worker), every worker writes its samples to files there and /metrics aggregates
them; gunicorn_conf.py empties the directory at start and retires dead workers' files.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prediction_api.release import VERSION, release_id

REQUESTS = Counter("fp_http_requests_total", "HTTP requests answered", ["method", "path", "status"])
LATENCY = Histogram(
    "fp_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "path"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PREDICTIONS_SERVED = Counter(
    "fp_predictions_served_total", "Predictions returned to clients", ["source"]
)
PREDICTIONS_FAILED = Counter(
    "fp_predictions_failed_total", "Predictions that could not be computed or served", ["stage"]
)

# Which build answers (always 1): dashboards mark a deploy where a new release appears.
BUILD_INFO = Gauge(
    "fp_build_info", "The running build", ["version", "release"], multiprocess_mode="max"
)
BUILD_INFO.labels(VERSION, release_id()).set(1)

# Every label value exists from the start (at 0), so rate() and alerts see the series at once.
for _source in ("cache", "database"):
    PREDICTIONS_SERVED.labels(_source)
for _stage in ("compute", "serve"):
    PREDICTIONS_FAILED.labels(_stage)

# Paths that matched no route share one label value, so scanners cannot blow up cardinality.
UNMATCHED = "<unmatched>"


def render() -> tuple[bytes, str]:
    """The exposition text (aggregated over workers in multiprocess mode) and its type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def _path_template(scope: Scope) -> str:
    """The matched route's path template (/matches/{match_id}), never the raw path: the
    router records the route in the scope, which the middleware reads after the response."""
    return str(getattr(scope.get("route"), "path", UNMATCHED))


class MetricsMiddleware:
    """Counts and times every HTTP request by method, path template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = _path_template(scope)
            method = scope["method"]
            REQUESTS.labels(method, path, str(status)).inc()
            LATENCY.labels(method, path).observe(time.perf_counter() - start)
