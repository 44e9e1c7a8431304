"""Changes an etcd behind Cairn's back, through its JSON gateway, for the
conformance file (`cairn-test.toml`): with authentication enabled a change
takes a token first, so one HTTP request cannot make it.

    python3 by_hand.py URL USERNAME PASSWORD enable-auth
    python3 by_hand.py URL USERNAME PASSWORD put KEY VALUE

`enable-auth` readies a fresh etcd for the conformance run: it adds the
user USERNAME (which must be `root`) with PASSWORD, the role `root`, grants
it, and enables authentication; an etcd whose authentication is already
enabled and takes the credentials is left as it is. `put` sets KEY (a full
etcd key) to VALUE as USERNAME. Python's standard library only.
"""

import base64
import json
import sys
import urllib.error
import urllib.request

# How long one request may take: the conformance runner gives a command 60 s.
TIMEOUT_SECONDS = 10

# etcd's superuser, which must exist, with the role of the same name,
# before authentication can be enabled.
ROOT = "root"


def b64(text):
    """`text` as the gateway takes keys and values: UTF-8, in base64."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def call(url, path, body, token=None):
    """POSTs `body` to /v3/PATH; returns (status, answer as JSON)."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/v3/{path}",
        data=json.dumps(body).encode("utf-8"),
        headers={"content-type": "application/json", **({"authorization": token} if token else {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def must(url, path, body, token=None):
    """POSTs `body` to /v3/PATH and returns the answer; exits 1 on a refusal."""
    status, answer = call(url, path, body, token)
    if status != 200:
        sys.exit(f"by_hand.py: etcd refused /v3/{path}: {answer.get('message', status)}")
    return answer


def token_of(url, username, password):
    """A token for the user, or None when etcd runs without authentication."""
    status, answer = call(url, "auth/authenticate", {"name": username, "password": password})
    if status == 200:
        return answer["token"]
    if "authentication is not enabled" in answer.get("message", ""):
        return None
    sys.exit(f"by_hand.py: etcd refused the credentials: {answer.get('message', status)}")


def enable_auth(url, username, password):
    """Adds root and its role and enables authentication, unless it is on."""
    if username != ROOT:
        sys.exit(f"by_hand.py: enable-auth makes the user `{ROOT}`, not `{username}`")
    if token_of(url, username, password) is not None:
        return
    for path, body in [
        ("auth/user/add", {"name": ROOT, "password": password}),
        ("auth/role/add", {"name": ROOT}),
        ("auth/user/grant", {"user": ROOT, "role": ROOT}),
    ]:
        status, answer = call(url, path, body)
        if status != 200 and "already exists" not in answer.get("message", ""):
            sys.exit(f"by_hand.py: etcd refused /v3/{path}: {answer.get('message', status)}")
    must(url, "auth/enable", {})
    token_of(url, username, password)


def main(arguments):
    """Runs the command the arguments name."""
    if len(arguments) < 4:
        sys.exit(__doc__)
    url, username, password, command, *rest = arguments
    if command == "enable-auth" and not rest:
        enable_auth(url, username, password)
    elif command == "put" and len(rest) == 2:
        key, value = rest
        must(url, "kv/put", {"key": b64(key), "value": b64(value)}, token_of(url, username, password))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
