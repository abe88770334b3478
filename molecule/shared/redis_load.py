"""The load the sentinel scenario's failover test and benchmarks/sentinel_failover.py put on the
app host, and how its logs are read. Both sides use these, so the test and the figures measure
the same thing."""

from __future__ import annotations

# redis-cli's options for the cache hosts' own ports: the sentinel scenario runs redis_tls, and
# the server is checked against the internal CA. The endpoint (127.0.0.1:6380) stays plain.
REDIS_CLI_TLS = "--tls --cacert /etc/fpops/pki/ca.crt"

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
    """From CELERY_LOOP's log: seconds from the kill until the app's tasks were answered again
    (-1 when none was after it), the longest pause between two answered tasks around the kill,
    the tasks that failed after it, and all tasks. A task either fails (the endpoint refused) or
    waits (HAProxy holds a new connection until a server is up): the longest pause covers both,
    and "answered again" is the end of the task that closed it."""
    tasks = [line.split() for line in log.splitlines() if line.strip()]
    answered = sorted(float(t[1]) for t in tasks if t[2] == "ok" and float(t[1]) > killed_at - 2)
    failed = sum(1 for t in tasks if t[2] == "err" and float(t[1]) > killed_at)
    if not answered or answered[-1] <= killed_at:
        return {"resumed_s": -1, "pause_s": -1, "failed": failed, "total": len(tasks)}
    # Pairs of consecutive answers; a first answer after the kill with none before pairs with it.
    pairs = list(zip([killed_at, *answered], answered, strict=False))
    before, after = max(pairs, key=lambda pair: pair[1] - pair[0])
    return {
        "resumed_s": round(after - killed_at, 2),
        "pause_s": round(after - before, 2),
        "failed": failed,
        "total": len(tasks),
    }
