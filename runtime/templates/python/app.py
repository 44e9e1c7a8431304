"""{{name}}: a Cairn provider of key/value entries kept by an HTTP service
at `{url}/entries/{key}`, written by `cairn plugin new`.

It follows every rule of the contract (`cairn:provider@{{contract}}`);
replace the service's calls with your own server's and keep the rules:
- `validate` returns the canonical spec (the key lower-cased), which
  `list` reads back in the same shape, so an unchanged repository plans
  nothing and an applied change converges;
- the id is the identity field (`key`), built by the host;
- `apply` is idempotent: a delete of an entry already gone succeeds;
- errors carry their kind (`unauthorized`, `unavailable`, `conflict`...),
  which the SDK's HTTP client derives from the status;
- every entry it writes carries the owner mark `configure` receives, and
  `list` vouches for the entries that bear it;
- the token is a secret: it goes into a header, never into a state or a
  log.

`python3 build.py` builds it into `{{wasm}}`.
"""

# Import every module here, at the top: the plugin holds only the modules
# imported while componentize-py initialises the app, so one imported
# inside a function is missing when the function runs.
from urllib.parse import quote

import cairn_provider as cairn
from cairn_provider import Action, Diagnostic, Invalid, Observed, ProviderError, log, spec
from cairn_provider.http import Client

#: The resource type this provider manages.
ENTRY = "entry"

#: An entry as Git declares it and as `list` observes it: `describe`
#: publishes it, and the default `validate` checks specs against it.
ENTRY_SCHEMA = {
    "type": "object",
    "properties": {
        "key": {"type": "string", "description": "the entry's key, any case; compared lower-cased"},
        "value": {"type": "string", "description": "what the entry holds"},
    },
    "required": ["key", "value"],
    "additionalProperties": False,
}

#: The operator's `config` table.
CONFIG_SCHEMA = {
    "type": "object",
    "properties": {"url": {"type": "string", "description": "the service's root URL"}},
    "required": ["url"],
    "additionalProperties": False,
}


class Entries(cairn.Provider):
    """A configured provider: a client of the service, and the owner mark."""

    def __init__(self, client: Client, owner: str):
        super().__init__(owner=owner)
        self.client = client

    @classmethod
    def describe(cls):
        """The provider and its one resource type."""
        return cairn.ProviderInfo(
            name="{{name}}",
            version="0.1.0",
            description="key/value entries of an HTTP service",
            resource_types=[cairn.ResourceType(ENTRY, "one key and its value", ENTRY_SCHEMA, identity=["key"])],
            config_schema=CONFIG_SCHEMA,
        )

    @classmethod
    def configure(cls, config, secrets, owner):
        """A client of the service at the configured URL, with the token."""
        config = spec.checked(config, CONFIG_SCHEMA, "config")
        token = secrets.require("token")
        client = Client(config["url"], headers={"authorization": f"Bearer {token}"})
        return cls(client, owner)

    @classmethod
    def validate(cls, type_name, entry):
        """An entry with a key, the key lower-cased as the service keeps it."""
        entry = super().validate(type_name, entry)  # the schema's checks
        if not entry["key"].strip():
            raise Invalid(Diagnostic("key", "the key is empty", help='give the entry a key such as "greeting"'))
        return {"key": entry["key"].lower(), "value": entry["value"]}

    def list(self, scope):
        """Every entry of the service, vouched for when it bears the mark."""
        if not scope.wants(ENTRY):
            return []
        stored = self.client.get_json("/entries")
        log.debug("listed the entries", count=len(stored))
        owner = self.owner  # read once, not once per entry
        return [
            Observed(
                ENTRY,
                entry["key"],
                {"key": entry["key"], "value": entry["value"]},
                vouched=entry.get("made_by") == owner,
            )
            for entry in stored
        ]

    # `diff` keeps the SDK's default: a field-by-field comparison of the
    # canonical spec with the observed state. `apply` keeps the default
    # too: each change through `apply_change`, failing on its own.

    def apply_change(self, change):
        """Makes one change; returns the entry's new state."""
        path = "/entries/" + quote(change.id, safe="")
        if change.action is Action.NO_OP:
            return change.observed
        if change.action is Action.DELETE:
            # Idempotent: an entry already gone is deleted.
            response = self.client.send("DELETE", path)
            if response.status != 404:
                response.error_for_status(f"DELETE {path}")
            return None
        desired = change.desired
        if change.action is Action.CREATE:
            self.refuse_someone_elses(path)
        stored = {"key": desired["key"], "value": desired["value"], "made_by": self.owner}
        self.client.send_json("PUT", path, stored)
        return {"key": desired["key"], "value": desired["value"]}

    def refuse_someone_elses(self, path):
        """A create finds an entry made by someone else: a conflict, and
        nothing is made."""
        response = self.client.send("GET", path)
        if response.status == 404:
            return
        existing = response.error_for_status(f"GET {path}").json()
        if existing.get("made_by") != self.owner:
            raise ProviderError.conflict(f"the entry `{existing['key']}` exists and this provider did not make it")


# The class componentize-py exports: the SDK drives `Entries` through it.
Provider = cairn.export(Entries)
