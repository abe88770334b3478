"""Celery worker and beat (``prediction_api.worker:celery_app``), Redis as broker and backend.

The platform's Redis ACL for user ``app`` allows Celery's default key and channel names
(celery, _kombu.*, unacked*, celery-task-meta-*) and no scripting; so:

- ack emulation is off: kombu's redis transport would otherwise release its ``unacked_mutex``
  with a Lua script (EVALSHA), which the ACL refuses, and the worker dies at start. Prefetched
  messages are still handed back on a warm shutdown; a task running when a worker is killed
  is lost, which the tasks here tolerate (beat re-runs the recompute every minute).
- remote control, mingle and gossip are off (the consumer below drops the latter two, so no
  command-line flag can be forgotten): they PSUBSCRIBE (Redis matches patterns literally
  against the ACL) and reply through <uuid>.reply.celery.pidbox keys outside the allowed ones.
  ``celery inspect``/``control`` do not work; the ``release`` task shows what a worker runs.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

import redis
from celery import Celery
from celery.worker.consumer import Consumer
from sqlalchemy.orm import Session, sessionmaker

from prediction_api import cache as fp_cache
from prediction_api import store
from prediction_api.db import make_engine, make_sessionmaker
from prediction_api.release import SCHEMA_REVISION, VERSION, release_id
from prediction_api.schemas import PredictionOut
from prediction_api.settings import Settings

log = logging.getLogger("prediction_api.worker")

# Read at import: worker and beat start with the env file loaded; a missing REDIS_URL stops them.
settings = Settings.from_env()


class AclConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer without mingle and gossip, whatever the command line says."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "without_mingle": True, "without_gossip": True})


celery_app = Celery("prediction_api", broker=settings.redis_url, backend=settings.redis_url)
celery_app.conf.update(
    worker_enable_remote_control=False,
    worker_consumer=f"{__name__}:AclConsumer",
    broker_connection_retry_on_startup=True,
    broker_transport_options={"ack_emulation": False, "socket_timeout": 10},
    result_backend_transport_options={"socket_timeout": 10},
    result_expires=3600,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    beat_schedule_filename=os.environ.get("CELERY_BEAT_SCHEDULE_FILE", "celerybeat-schedule"),
    beat_schedule={
        "recompute-predictions": {
            "task": "prediction_api.recompute_predictions",
            "schedule": 60.0,
            # A run that waited longer than its period is pointless: the next one is queued.
            "options": {"expires": 55},
        },
    },
)


@cache
def _services() -> tuple[sessionmaker[Session], redis.Redis]:
    """A sessionmaker and a Redis client, made once per worker process (after the fork)."""
    return make_sessionmaker(make_engine()), fp_cache.make_redis(
        settings.redis_url, settings.check_timeout
    )


@celery_app.task(name="prediction_api.release")
def release() -> dict[str, str]:
    """Which code this worker runs: lets a deploy test prove the new release took over."""
    return {"release": release_id(), "version": VERSION, "schema": SCHEMA_REVISION}


@celery_app.task(name="prediction_api.recompute_predictions")
def recompute_predictions() -> dict[str, int]:
    """Recompute the predictions of upcoming matches; store those whose numbers changed,
    refresh their cache entries and publish a summary under ``fp:stats``."""
    sessions, client = _services()
    now = datetime.now(UTC)
    stored = 0
    with sessions() as session:
        matches = store.upcoming_matches(session, now)
        for match in matches:
            result = store.forecast(session, match)
            row = store.latest_prediction(session, match.id)
            if row is None or not store.same_forecast(row, result):
                row = store.save_prediction(session, match, result)
                stored += 1
            session.commit()
            fp_cache.store_prediction(client, PredictionOut.of(row), settings.prediction_ttl)
    stats = {"upcoming": len(matches), "stored": stored}
    client.set(
        fp_cache.STATS_KEY,
        json.dumps({**stats, "at": now.isoformat(), "release": release_id()}),
        ex=300,
    )
    log.info("recomputed predictions: %s", stats)
    return stats
