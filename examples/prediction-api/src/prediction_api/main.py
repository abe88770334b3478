"""The HTTP API (``prediction_api.main:app``), served by gunicorn with uvicorn workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import redis
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from prediction_api import cache, store
from prediction_api.db import make_engine, make_sessionmaker
from prediction_api.health import OK, run_checks
from prediction_api.metrics import PREDICTIONS_FAILED, PREDICTIONS_SERVED, MetricsMiddleware, render
from prediction_api.models import Match, Team
from prediction_api.release import VERSION
from prediction_api.schemas import MatchIn, MatchOut, PredictionOut, TeamIn, TeamOut
from prediction_api.settings import Settings

log = logging.getLogger("prediction_api")


@dataclass
class Services:
    """What a request needs, made from the environment when the app starts."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis


async def health_report(services: Services) -> tuple[int, dict[str, Any]]:
    """The /health body and its HTTP status (200 only when every check is ok)."""
    checks = await run_checks(services.engine, services.redis, services.settings.check_timeout)
    healthy = all(value == OK for value in checks.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "release": services.settings.release,
        "version": VERSION,
        "checks": checks,
    }
    return (200 if healthy else 503), body


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the services (a bad setting stops the worker from booting) and log the startup
    check, so a release that can never become healthy says why in its log."""
    settings = Settings.from_env()
    engine = make_engine()
    client = cache.make_redis(settings.redis_url, settings.check_timeout)
    services = Services(settings, engine, make_sessionmaker(engine), client)
    app.state.services = services
    status, body = await health_report(services)
    if status == 200:
        log.info("release %s started, dependencies ok", settings.release)
    else:
        log.warning("release %s started degraded: %s", settings.release, body["checks"])
    yield
    services.redis.close()
    engine.dispose()


app = FastAPI(title="FootballPrediction API", version=VERSION, lifespan=lifespan)
app.add_middleware(MetricsMiddleware)


def get_services(request: Request) -> Services:
    """The services built at startup."""
    services: Services = request.app.state.services
    return services


def get_session(services: Annotated[Services, Depends(get_services)]) -> Iterator[Session]:
    """One session (and transaction) per request, committed by the endpoint."""
    with services.sessions() as session:
        yield session


ServicesDep = Annotated[Services, Depends(get_services)]
SessionDep = Annotated[Session, Depends(get_session)]


@app.exception_handler(OperationalError)
async def database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
    """A lost database is the platform's failure, not a bug: 503, so clients may retry."""
    log.error("database error on %s: %s", request.url.path, exc.orig)
    return JSONResponse({"detail": "database unavailable"}, status_code=503)


@app.get("/health")
async def health(services: ServicesDep) -> JSONResponse:
    """Real checks of PostgreSQL, Redis and the schema revision; 503 unless all are ok."""
    status, body = await health_report(services)
    return JSONResponse(body, status_code=status)


@app.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition text."""
    payload, content_type = render()
    return Response(payload, media_type=content_type)


@app.post("/teams", status_code=201)
def create_team(body: TeamIn, session: SessionDep) -> TeamOut:
    """Create a team; 409 if the name is taken."""
    if session.scalar(select(Team).where(Team.name == body.name)) is not None:
        raise HTTPException(409, f"team {body.name!r} exists")
    team = Team(name=body.name)
    session.add(team)
    try:
        session.commit()
    except IntegrityError as exc:
        raise HTTPException(409, f"team {body.name!r} exists") from exc
    return TeamOut(id=team.id, name=team.name)


@app.post("/matches", status_code=201)
def create_match(body: MatchIn, session: SessionDep) -> MatchOut:
    """Create a match; teams named in it are created if missing."""
    match = Match(
        home_team=store.get_or_create_team(session, body.home_team),
        away_team=store.get_or_create_team(session, body.away_team),
        kickoff=body.kickoff,
        home_score=body.home_score,
        away_score=body.away_score,
    )
    session.add(match)
    session.commit()
    return MatchOut.of(match)


def _match(session: Session, match_id: int) -> Match:
    match = session.get(Match, match_id)
    if match is None:
        raise HTTPException(404, f"no match {match_id}")
    return match


@app.get("/matches/{match_id}")
def get_match(match_id: int, session: SessionDep) -> MatchOut:
    """One match."""
    return MatchOut.of(_match(session, match_id))


@app.post("/matches/{match_id}/predictions", status_code=201)
def create_prediction(match_id: int, session: SessionDep, services: ServicesDep) -> Any:
    """Compute the match's prediction from both teams' history, store it and cache it."""
    match = _match(session, match_id)
    try:
        row = store.save_prediction(session, match, store.forecast(session, match))
        session.commit()
    except Exception:
        PREDICTIONS_FAILED.labels("compute").inc()
        raise
    prediction = PredictionOut.of(row)
    try:
        cache.store_prediction(services.redis, prediction, services.settings.prediction_ttl)
    except redis.RedisError as exc:  # the database has it; the cache is an optimisation
        log.warning("could not cache the prediction of match %s: %s", match_id, exc)
    return prediction.public()


@app.get("/matches/{match_id}/prediction")
def get_prediction(
    match_id: int, session: SessionDep, services: ServicesDep, response: Response
) -> Any:
    """The current prediction: from Redis when cached, else from the database (and cached)."""
    try:
        prediction = cache.cached_prediction(services.redis, match_id)
    except redis.RedisError as exc:
        log.warning("prediction cache unavailable: %s", exc)
        prediction = None
    source = "cache"
    if prediction is None:
        source = "database"
        try:
            row = store.latest_prediction(session, match_id)
        except Exception:
            PREDICTIONS_FAILED.labels("serve").inc()
            raise
        if row is None:
            raise HTTPException(404, f"no prediction for match {match_id}")
        prediction = PredictionOut.of(row)
        try:
            cache.store_prediction(services.redis, prediction, services.settings.prediction_ttl)
        except redis.RedisError as exc:
            log.warning("could not cache the prediction of match %s: %s", match_id, exc)
    PREDICTIONS_SERVED.labels(source).inc()
    response.headers["X-Prediction-Source"] = source
    return prediction.public()
