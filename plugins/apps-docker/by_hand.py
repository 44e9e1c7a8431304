#!/usr/bin/env python3
"""Changes a Docker Engine API behind Cairn's back, for the provider's
conformance file (cairn-test.toml): stops the containers of an app.
Python's standard library only.

    by_hand.py DOCKER_URL stop APP
"""

import json
import sys
import urllib.parse
import urllib.request


def main():
    url, action, app = sys.argv[1:4]
    if action != "stop":
        sys.exit(f"unknown action {action}")
    filters = urllib.parse.quote(json.dumps({"label": [f"cairn.app={app}"]}))
    with urllib.request.urlopen(f"{url}/v1.41/containers/json?filters={filters}", timeout=30) as response:
        containers = json.load(response)
    if not containers:
        sys.exit(f"no container of app {app}")
    for container in containers:
        request = urllib.request.Request(
            f"{url}/v1.41/containers/{container['Id']}/stop?t=1", method="POST"
        )
        urllib.request.urlopen(request, timeout=60).close()


if __name__ == "__main__":
    main()
