"""cairn_provider: write a Cairn provider plugin in Python.

A provider is a WebAssembly component that manages one family of
real-world objects for Cairn (DNS records, users, containers). Cairn reads
the desired state from Git and asks the provider to `validate` it, `list`
what exists, `diff` the two and `apply` the changes; the provider runs
sandboxed, with HTTP only to the hosts the operator granted.

This package hides componentize-py's generated bindings of
`cairn:provider@0.2.0`: subclass `Provider`, export it from the app module
that componentize-py builds, and write only the provider's logic.

    import cairn_provider as cairn

    class Entries(cairn.Provider):
        @classmethod
        def describe(cls): ...
        @classmethod
        def configure(cls, config, secrets, owner): ...
        @classmethod
        def validate(cls, type_name, spec): ...
        def list(self, scope): ...
        def apply_change(self, change): ...

    Provider = cairn.export(Entries)   # the name componentize-py looks for

Specs, states and field values are Python values (`dict`, `list`, ...);
`spec.check` validates them against the schema `describe` publishes,
`http.Client` talks to the server, `log` writes to the host's log.

The rules a provider follows (Cairn's guide for provider authors says why
each exists):

- **Canonical form.** `validate` returns the spec in canonical form and
  `list` returns observed state in the same form, with the spec's field
  names, so that an unchanged repository plans nothing.
- **Identity.** The fields a type's `identity` names make the id
  (`ResourceType.id_of` builds it as the host does).
- **Only the objects named.** A `diff` input or a change whose type
  `describe` does not list, or whose id its spec does not give, is refused
  with `invalid` before your code sees it: the SDK checks both.
- **No policy.** Ownership, pruning, ordering, retries and audit belong to
  the host; `list` reports everything it sees.
- **Idempotent apply**, one outcome per change; a delete of an object
  already gone succeeds.
- **Typed errors.** Raise `ProviderError` with the right kind:
  `unavailable` and `timeout` are retried, `invalid` is not; a failed
  create that made nothing because the object is someone else's is a
  `conflict`.
- **References resolve at plan time**: an unresolved one is an error
  `Diagnostic` on the change `diff` returns.
- **Vouch only from a mark**: write the owner mark `configure` receives
  on every object made, and set `Observed.vouched` on those that bear it.
- **Secrets** stay out of states, summaries, errors and logs.
"""

from . import diff, http, log, spec
from .export import export
from .provider import Provider
from .types import (
    ERROR,
    WARNING,
    Action,
    Applied,
    Change,
    Declarations,
    Declared,
    Diagnostic,
    DiffInput,
    ErrorKind,
    Failed,
    FieldChange,
    Invalid,
    MissingIdentity,
    Observed,
    Outcome,
    ProviderError,
    ProviderInfo,
    ResourceType,
    Scope,
    Secrets,
    Severity,
    Skipped,
    Validation,
)

#: The contract this package builds plugins of.
CONTRACT = "cairn:provider@0.2.0"

#: The package's version: its major and minor are the contract's.
__version__ = "0.2.0"

__all__ = [
    "CONTRACT",
    "ERROR",
    "WARNING",
    "Action",
    "Applied",
    "Change",
    "Declarations",
    "Declared",
    "Diagnostic",
    "DiffInput",
    "ErrorKind",
    "Failed",
    "FieldChange",
    "Invalid",
    "MissingIdentity",
    "Observed",
    "Outcome",
    "Provider",
    "ProviderError",
    "ProviderInfo",
    "ResourceType",
    "Scope",
    "Secrets",
    "Severity",
    "Skipped",
    "Validation",
    "diff",
    "export",
    "http",
    "log",
    "spec",
]
