"""FootballPrediction API: a small FastAPI + Celery service that fpops deploys as a wheel."""

from prediction_api.release import VERSION

__version__ = VERSION
