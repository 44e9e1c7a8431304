#!/usr/bin/env python3
"""A tiny stand-in for the service {{name}} talks to, for trying and
testing the provider: key/value entries at /entries/{key}, kept in memory,
behind a bearer token. Python's standard library only.

    python3 fake_server.py --port 8780 --token "$(cat token.secret)"
"""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENTRIES = {}


class Handler(BaseHTTPRequestHandler):
    token = ""

    def _answer(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _allowed(self):
        if self.headers.get("authorization") == f"Bearer {self.token}":
            return True
        self._answer(401, {"error": "a valid bearer token is required"})
        return False

    def _key(self):
        prefix = "/entries/"
        return self.path[len(prefix):] if self.path.startswith(prefix) else None

    def do_GET(self):
        if not self._allowed():
            return
        if self.path == "/entries":
            return self._answer(200, sorted(ENTRIES.values(), key=lambda e: e["key"]))
        key = self._key()
        if key in ENTRIES:
            return self._answer(200, ENTRIES[key])
        self._answer(404, {"error": f"no entry {key}"})

    def do_PUT(self):
        if not self._allowed():
            return
        key = self._key()
        length = int(self.headers.get("content-length") or 0)
        try:
            entry = json.loads(self.rfile.read(length) or b"null")
            assert isinstance(entry, dict) and isinstance(entry.get("value"), str)
        except (ValueError, AssertionError):
            return self._answer(400, {"error": "the body must be {\"key\", \"value\"}"})
        if not key:
            return self._answer(404, {"error": "no such path"})
        entry["key"] = key
        created = key not in ENTRIES
        ENTRIES[key] = entry
        self._answer(201 if created else 200, entry)

    def do_DELETE(self):
        if not self._allowed():
            return
        key = self._key()
        if ENTRIES.pop(key, None) is None:
            return self._answer(404, {"error": f"no entry {key}"})
        self._answer(204)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8780)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    Handler.token = args.token
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
