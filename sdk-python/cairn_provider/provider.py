"""The class a provider subclasses."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import addressed, diff as diffing, spec as specs
from .types import (
    Applied,
    Change,
    Declarations,
    DiffInput,
    Failed,
    Invalid,
    Observed,
    Outcome,
    ProviderError,
    ProviderInfo,
    ResourceType,
    Scope,
    Secrets,
)


#: Where `described` keeps a provider class's description and its types by
#: name, in the class's own namespace (a subclass describes itself).
_DESCRIBED = "_cairn_provider_described"


def described(provider_class: type) -> Tuple[ProviderInfo, Dict[str, ResourceType]]:
    """What `provider_class.describe()` returns, asked once per class, and
    its resource types by name (the first of a name, as
    `ProviderInfo.resource_type` finds it).

    `describe` does no I/O and does not depend on the configuration, so its
    answer does not change; the default `validate` needs a resource type for
    every spec of a call, and a `describe` that builds its `ProviderInfo`
    anew would be run a thousand times for a thousand specs.
    """
    found = provider_class.__dict__.get(_DESCRIBED)
    if found is None:
        info = provider_class.describe()
        types: Dict[str, ResourceType] = {}
        for resource_type in info.resource_types:
            types.setdefault(resource_type.name, resource_type)
        found = (info, types)
        setattr(provider_class, _DESCRIBED, found)
    return found


class Provider:
    """A provider: how to describe, validate, observe, compare and change one
    family of real-world objects.

    Each call from the host runs in a fresh instance of the component:
    `configure` builds the provider from the operator's configuration, then
    exactly one of `list`, `diff` or `apply` runs on what it returned.
    Nothing survives between calls. `describe` and `validate` are class
    methods: they run without a configuration and must do no I/O.

    Subclass it, write `describe`, `configure` (or keep the default, which
    keeps the configuration, secrets and owner mark as attributes),
    `validate` (the default checks the spec against its type's schema),
    `list`, and `apply` or `apply_change`; `diff` has a field-by-field
    default. Then hand the class to `cairn_provider.export`.

    Raise `ProviderError` (`ProviderError.conflict(...)`, ...) for a failure
    the operator should read; any other exception becomes an `internal`
    error with its message.
    """

    def __init__(self, config: Any = None, secrets: Optional[Secrets] = None, owner: str = ""):
        #: The operator's `config` table, as the host checked it against the
        #: config schema.
        self.config = config
        #: The secrets the operator referenced.
        self.secrets = secrets if secrets is not None else Secrets()
        #: This provider instance's owner mark: write it on every object
        #: made, and vouch in `list` for the objects that bear it.
        self.owner = owner

    @classmethod
    def describe(cls) -> ProviderInfo:
        """Describes the provider and its resource types. No I/O, and no
        dependence on the configuration."""
        raise NotImplementedError(f"{cls.__name__} must define `describe`")

    @classmethod
    def configure(cls, config: Any, secrets: Secrets, owner: str) -> "Provider":
        """Builds a configured provider from the operator's `config` table
        (checked by the host against the config schema), the secrets and the
        owner mark (`cairn-` and 24 hex digits, the same across restarts).
        Raise `ProviderError.invalid` for a configuration that is wrong. The
        default keeps the three as attributes."""
        return cls(config, secrets, owner)

    @classmethod
    def resource_type(cls, type_name: str) -> ResourceType:
        """The resource type `type_name` that `describe` lists; raises
        `invalid` when there is none."""
        info, types = described(cls)
        found = types.get(type_name)
        return found if found is not None else addressed.known(info, type_name)

    @classmethod
    def validate(cls, type_name: str, spec: Any) -> Any:
        """Checks one desired resource of a type `describe` lists (the SDK
        refuses other types before this runs) and returns its canonical
        spec: names folded as the server stores them, defaults filled in.
        Raise `Invalid([Diagnostic(...)])` for a resource that is wrong;
        return a `Validation` to add warnings. No I/O.

        The default checks the spec against the type's schema
        (`spec.check`) and returns it unchanged: override it, call it
        through `super().validate(type_name, spec)`, and canonicalise what
        it returns.
        """
        schema = cls.resource_type(type_name).schema
        # The compiled test answers for a spec that conforms; only one it
        # refuses is walked for its problems.
        if specs.conforms(spec, schema):
            return spec
        problems = specs.check(spec, schema)
        if problems:
            raise Invalid(problems)
        return spec

    def list(self, scope: Scope) -> List[Observed]:
        """Observes every object of the scope's types the provider can see,
        Cairn's or not, in canonical form (shaped like the spec), each with
        the id the host would build from it, and `vouched` set only on the
        objects that bear the owner mark."""
        raise NotImplementedError(f"{type(self).__name__} must define `list`")

    def diff(self, inputs: Sequence[DiffInput], declarations: Declarations) -> List[Change]:
        """Compares desired and observed state, one change per input in
        order. A reference to another object that neither `declarations` nor
        the real world holds is an error diagnostic on the change
        (`Change.diagnostics`), found here rather than by `apply`.

        The default compares each input field by field (`diff.compare`),
        replacing the object when a `force_replace` field differs and
        marking `sensitive` ones. Override it to write better summaries or
        to compare fields that need more than equality.
        """
        info = self.describe()
        return [diffing.compare(item, info.resource_type(item.type_name)) for item in inputs]

    def apply(self, changes: Sequence[Change]) -> List[Outcome]:
        """Makes the changes, one outcome per change in order; must be
        idempotent (a change already in effect succeeds).

        The default makes them one by one with `apply_change`: its returned
        state is `Applied`, a raised error `Failed` for that change alone.
        Override `apply` itself to batch server calls, reporting truthfully
        what was made (`Skipped` for what a failure kept from being tried).
        """
        outcomes: List[Outcome] = []
        for change in changes:
            try:
                outcomes.append(Applied(self.apply_change(change)))
            except Exception as error:  # each change fails on its own
                outcomes.append(Failed(ProviderError.from_exception(error)))
        return outcomes

    def apply_change(self, change: Change) -> Any:
        """Makes one change and returns the object's new state, canonical
        (`None` after a delete); raises `ProviderError` when it cannot. Used
        by the default `apply`."""
        raise NotImplementedError(f"{type(self).__name__} must define `apply` or `apply_change`")

