"""The sample app and its Celery worker on app1 reach Redis through the app host's endpoint:
REDIS_URL is the app role's app_redis_url, 127.0.0.1:6380 in sentinel mode. The failover under
the app's load is in test_failover.py."""

from __future__ import annotations

import json

from conftest import SRV, app_python, app_url

# One `release` task through Celery (Redis broker and result backend), answered by the worker.
RELEASE_TASK = """import json
from prediction_api.worker import release
print(json.dumps(release.delay().get(timeout=30)))
"""


def test_the_app_reaches_redis_through_the_endpoint(app):
    env = app.file(f"{SRV}/shared/app.env")
    assert (env.user, env.mode) == ("root", 0o640)
    assert "@127.0.0.1:6380/0" in env.content_string
    health = json.loads(app.check_output(f"curl -s --max-time 5 {app_url(app, '/health')}"))
    assert health["status"] == "ok", health
    assert health["checks"]["redis"] == "ok", health


def test_a_celery_task_makes_the_round_trip(app):
    answer = json.loads(app_python(app, RELEASE_TASK))
    assert answer["version"] == "2.0.0", answer
