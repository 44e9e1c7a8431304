#!/usr/bin/env python3
"""Changes a SCIM server behind Cairn's back, for the provider's
conformance file (cairn-test.toml): a token by the OAuth client
credentials grant, then one change. Python's standard library only.

    by_hand.py TOKEN_URL CLIENT_ID CLIENT_SECRET SCIM_URL drift USER_NAME
    by_hand.py TOKEN_URL CLIENT_ID CLIENT_SECRET SCIM_URL create USER_NAME
"""

import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def call(method, url, token=None, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if token:
        request.add_header("authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("content-type", "application/scim+json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        sys.exit(f"{method} {url} answered {error.code}: {error.read().decode(errors='replace')}")


def main():
    token_url, client_id, client_secret, scim, action, user_name = sys.argv[1:7]
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    request = urllib.request.Request(
        token_url,
        data=b"grant_type=client_credentials",
        headers={"authorization": f"Basic {basic}",
                 "content-type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        token = json.load(response)["access_token"]
    if action == "create":
        call("POST", f"{scim}/Users", token, {
            "schemas": [USER_SCHEMA],
            "userName": user_name,
            "name": {"formatted": f"{user_name} By Hand", "givenName": user_name, "familyName": "By Hand"},
            "emails": [{"value": f"{user_name}@example.org"}],
            "active": True,
            "displayName": f"{user_name} By Hand",
        })
        return
    query = urllib.parse.urlencode({"filter": f'userName eq "{user_name}"'})
    found = call("GET", f"{scim}/Users?{query}", token)["Resources"]
    if not found:
        sys.exit(f"no user {user_name}")
    call("PATCH", f"{scim}/Users/{found[0]['id']}", token, {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "replace", "path": "title", "value": "Changed by hand"}],
    })


if __name__ == "__main__":
    main()
