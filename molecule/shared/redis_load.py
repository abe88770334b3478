"""The load the sentinel scenario's failover test and benchmarks/sentinel_failover.py put on the
app host, and how its logs are read. Both sides use these, so the test and the figures measure
the same thing."""

from __future__ import annotations

# ENDPOINT_WRITER SECONDS PORT PREFIX: one SET per connection through the Redis endpoint every
# 0.1 s, as a web request's cache write would be; "<n> <epoch seconds> ok|err" per attempt.
ENDPOINT_WRITER = """#!/bin/bash
end=$((SECONDS + $1)); n=0
while [ $SECONDS -lt $end ]; do
    n=$((n + 1))
    out=$(timeout 3 redis-cli --no-auth-warning -h 127.0.0.1 -p $2 --user app SET $3:$n $n 2>&1)
    if [ "$out" = OK ]; then echo "$n $(date +%s.%N) ok"; else echo "$n $(date +%s.%N) err"; fi
    sleep 0.1
done
"""

# CELERY_LOOP SECONDS, run by the release's venv with the app's environment: one `release` task
# at a time through Celery (Redis broker and result backend); "<start> <end> ok|err" per task.
CELERY_LOOP = """import sys, time
from prediction_api.worker import release
end = time.time() + float(sys.argv[1])
while time.time() < end:
    start = time.time()
    try:
        release.apply_async(retry=False).get(timeout=3)
        print(f"{start:.3f} {time.time():.3f} ok", flush=True)
    except Exception:
        print(f"{start:.3f} {time.time():.3f} err", flush=True)
        time.sleep(0.2)
"""


def celery_figures(log: str, killed_at: float) -> dict[str, float | int]:
    """From CELERY_LOOP's log: seconds from the kill until a task was answered after the last
    failure (-1 when none was), the tasks that failed after the kill, and all tasks. Tasks sent
    just after the kill may still succeed, before it lands: the last failure is what counts."""
    tasks = [line.split() for line in log.splitlines() if line.strip()]
    failed = [t for t in tasks if t[2] == "err" and float(t[1]) > killed_at]
    last_failure = max((float(t[1]) for t in failed), default=killed_at)
    resumed = [float(t[1]) for t in tasks if t[2] == "ok" and float(t[0]) >= last_failure]
    return {
        "resumed_s": round(resumed[0] - killed_at, 2) if resumed else -1,
        "failed": len(failed),
        "total": len(tasks),
    }
