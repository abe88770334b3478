"""The observability scenario's webhook receiver: Alertmanager's notifications, one JSON line
each (with the Authorization header it came with) appended to a file the tests read.

    python webhook_sink.py ADDRESS PORT FILE
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LOCK = threading.Lock()


def main() -> None:
    address, port, path = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            record = {
                "received": time.time(),
                "path": self.path,
                "authorization": self.headers.get("Authorization", ""),
                "payload": json.loads(body or b"{}"),
            }
            with LOCK, path.open("a") as out:
                out.write(json.dumps(record) + "\n")
            self.send_response(200)
            self.end_headers()

        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

    ThreadingHTTPServer((address, port), Sink).serve_forever()


if __name__ == "__main__":
    main()
