"""Gunicorn settings from the environment (``gunicorn -c python:prediction_api.gunicorn_conf``).

    BIND_ADDRESS      address to listen on (default 127.0.0.1; nginx on the lb proxies to it)
    PORT              port (default 8000); each release instance gets its own for blue/green
    WEB_CONCURRENCY   worker processes (default 2)
    GRACEFUL_TIMEOUT  seconds a worker has after SIGTERM to finish in-flight requests (30)
    FORWARDED_ALLOW_IPS  proxies whose X-Forwarded-* headers are trusted (default 127.0.0.1)

On SIGTERM the master stops accepting, each uvicorn worker finishes the requests it holds and
exits; workers still busy after GRACEFUL_TIMEOUT are killed. This module imports nothing from
the app, so it can be read (and tested) without the app's dependencies.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _int(name: str, default: int) -> int:
    value = int(os.environ.get(name) or default)
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def _bind() -> str:
    address = os.environ.get("BIND_ADDRESS") or "127.0.0.1"
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"  # IPv6
    return f"{address}:{_int('PORT', 8000)}"


bind = [_bind()]
workers = _int("WEB_CONCURRENCY", 2)
worker_class = "uvicorn_worker.UvicornWorker"
graceful_timeout = _int("GRACEFUL_TIMEOUT", 30)
timeout = 60
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"
accesslog = "-"
errorlog = "-"
# The app's own loggers (prediction_api.*) go to stderr beside gunicorn's, at INFO. "loggers"
# is replaced, not merged: gunicorn sets up its own loggers (not propagating) itself.
logconfig_dict: dict[str, Any] = {
    "root": {"level": "INFO", "handlers": ["error_console"]},
    "loggers": {},
}
proc_name = "prediction-api"
# No control socket: two releases run side by side during a deploy and would share its path
# ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl); systemd signals are the control interface.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Start with an empty metrics directory: files of a previous run would be summed in."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """Retire a dead worker's live gauges (its counters stay summed in)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
