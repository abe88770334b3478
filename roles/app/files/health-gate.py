# The health gate, run on the app host in one round trip (a gate is on a rollback's critical
# path): GET URL until it answers 200 and, when FIELD is set, its JSON FIELD equals VALUE, or
# until TIMEOUT seconds have passed; every INTERVAL seconds. Prints the last answer as JSON
# ({"healthy", "status", "body", "seconds"}); exit 0 when healthy.
#   python3 -c "<this>" URL FIELD VALUE TIMEOUT INTERVAL
import json
import sys
import time
import urllib.error
import urllib.request

url, field, value = sys.argv[1], sys.argv[2], sys.argv[3]
timeout, interval = float(sys.argv[4]), float(sys.argv[5])
# No proxy from the environment: the release listens on this host's own address.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def ask() -> tuple[int, str]:
    try:
        with opener.open(url, timeout=2) as answer:
            return answer.status, answer.read(4096).decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(4096).decode(errors="replace")
    except OSError as error:
        return 0, str(error)


def healthy(status: int, body: str) -> bool:
    if status != 200:
        return False
    if not field:
        return True
    try:
        return str(json.loads(body).get(field)) == value
    except (ValueError, AttributeError):
        return False


started = time.monotonic()
while True:
    status, body = ask()
    ok = healthy(status, body)
    waited = time.monotonic() - started
    if ok or waited >= timeout:
        result = {"healthy": ok, "status": status, "body": body, "seconds": round(waited, 2)}
        print(json.dumps(result))
        sys.exit(0 if ok else 1)
    time.sleep(interval)
