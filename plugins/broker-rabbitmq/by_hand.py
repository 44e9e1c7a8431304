#!/usr/bin/env python3
"""Changes a RabbitMQ broker behind Cairn's back, for `cairn plugin test`
(`[drift]` and `[conflict]` in cairn-test.toml): sends each request given
to the management API with HTTP Basic authentication, and exits 1 on the
first that does not answer 2xx.

    python3 by_hand.py URL METHOD PATH BODY [METHOD PATH BODY ...]

URL is the API's root (`http://127.0.0.1:15672`), PATH below it
(`/api/vhosts/conformance`), BODY JSON text or `-` for none. The login is
read from the environment variables RABBITMQ_USERNAME and
RABBITMQ_PASSWORD, the ones the conformance file's secrets name, rather
than from the command line, where other users of the machine could see
it. A conformance request cannot send Basic authentication itself: its
header is the base64 of both secrets, which the file cannot compute.
"""

import base64
import os
import sys
import urllib.error
import urllib.request

#: The environment variables holding the login.
USERNAME_VARIABLE = "RABBITMQ_USERNAME"
PASSWORD_VARIABLE = "RABBITMQ_PASSWORD"

#: How long one request may take: the runner gives a command 60 seconds.
TIMEOUT_SECONDS = 20

#: The arguments each request takes: method, path, body.
REQUEST_ARGUMENTS = 3


def send(root: str, authorization: str, method: str, path: str, body: str) -> None:
    """Sends one request; exits 1 with the server's answer unless 2xx."""
    data = None if body == "-" else body.encode("utf-8")
    request = urllib.request.Request(root.rstrip("/") + path, data=data, method=method.upper())
    request.add_header("authorization", authorization)
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):
            return
    except urllib.error.HTTPError as error:
        answer = error.read().decode("utf-8", errors="replace")
        sys.exit(f"by_hand.py: {method} {path} answered {error.code}: {answer}")
    except OSError as error:
        sys.exit(f"by_hand.py: {method} {path} failed: {error}")


def main() -> None:
    """Sends the requests of the command line in order."""
    arguments = sys.argv[1:]
    if len(arguments) < 1 + REQUEST_ARGUMENTS or (len(arguments) - 1) % REQUEST_ARGUMENTS:
        sys.exit(__doc__)
    missing = [name for name in (USERNAME_VARIABLE, PASSWORD_VARIABLE) if name not in os.environ]
    if missing:
        sys.exit(f"by_hand.py: set {' and '.join(missing)}")
    login = f"{os.environ[USERNAME_VARIABLE]}:{os.environ[PASSWORD_VARIABLE]}".encode("utf-8")
    authorization = "Basic " + base64.b64encode(login).decode("ascii")
    root, requests = arguments[0], arguments[1:]
    for start in range(0, len(requests), REQUEST_ARGUMENTS):
        send(root, authorization, *requests[start : start + REQUEST_ARGUMENTS])


if __name__ == "__main__":
    main()
