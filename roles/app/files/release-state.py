# Prints, as one JSON object, what the app role reads of a host's releases before it acts:
# the live slot, the release `current` points at, the history of releases that went live, and
# which releases are complete or marked bad. Run with `python3 -c` (one round trip, no file on
# the host): python3 -c "<this>" APP_ROOT
import json
import os
import sys

root = sys.argv[1]
releases = os.path.join(root, "releases")


def read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


current = os.path.join(root, "current")
names = sorted(os.listdir(releases)) if os.path.isdir(releases) else []


def marked(mark: str) -> list[str]:
    return [name for name in names if os.path.exists(os.path.join(releases, name, mark))]


print(
    json.dumps(
        {
            "live_slot": read(os.path.join(root, "shared", "live-slot")).strip(),
            "current": os.path.basename(os.readlink(current)) if os.path.islink(current) else "",
            "history": read(os.path.join(root, "shared", "history")).split(),
            "complete": marked(".complete"),
            "bad": marked(".bad"),
        }
    )
)
