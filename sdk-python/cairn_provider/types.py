"""The contract's values as plain Python types.

These mirror the records of `cairn:provider@0.2.0` (`wit/provider.wit`),
with every spec, state and field value as a Python value (`dict`, `list`,
`str`, numbers, `bool`, `None`) rather than JSON text: the SDK converts
at the boundary. `None` stands for an absent value (no desired spec, no
observed state, a field that is not set).
"""

from __future__ import annotations

import enum
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import jsonvalue

#: A JSON value as Python holds it.
Json = Any


class Severity(enum.Enum):
    """How serious a diagnostic is."""

    #: The resource is invalid; nothing of the commit is applied.
    ERROR = "error"
    #: The resource is accepted, but something is probably wrong.
    WARNING = "warning"


#: Shorthands for `Diagnostic(..., severity=ERROR)`.
ERROR = Severity.ERROR
WARNING = Severity.WARNING


@dataclass
class Diagnostic:
    """A problem found in one resource: the `/`-separated path of the
    offending field (`members/2`, empty for the resource as a whole), what is
    wrong in one sentence, and what to do about it when the provider can
    say."""

    path: str
    message: str
    help: Optional[str] = None
    severity: Severity = Severity.ERROR

    @classmethod
    def error(cls, path: str, message: str, help: Optional[str] = None) -> "Diagnostic":
        """An error: the resource is refused."""
        return cls(path, message, help, Severity.ERROR)

    @classmethod
    def warning(cls, path: str, message: str, help: Optional[str] = None) -> "Diagnostic":
        """A warning: the resource is accepted and the warning shown."""
        return cls(path, message, help, Severity.WARNING)

    @property
    def is_error(self) -> bool:
        """Whether it is an error."""
        return self.severity is Severity.ERROR


class ErrorKind(enum.Enum):
    """Why a change or a call failed, so the host knows what to do next."""

    #: The desired state or configuration is wrong; retrying won't help.
    INVALID = "invalid"
    #: The server refused the credentials or the permission.
    UNAUTHORIZED = "unauthorized"
    #: The object changed or exists in a way that conflicts.
    CONFLICT = "conflict"
    #: An object the change needs does not exist.
    NOT_FOUND = "not-found"
    #: The host's network gate refused the request.
    DENIED = "denied"
    #: The server could not be reached or answered 5xx; worth retrying.
    UNAVAILABLE = "unavailable"
    #: The server did not answer in time; worth retrying.
    TIMEOUT = "timeout"
    #: Anything else: a bug or an answer the provider did not expect.
    INTERNAL = "internal"

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed."""
        return self in (ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT)


class ProviderError(Exception):
    """An error a provider raises (or the SDK raises for it): its kind and a
    message for the operator. Never put a secret into the message."""

    def __init__(self, kind: Union[ErrorKind, str], message: str):
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} ({self.kind.value})"

    def __repr__(self) -> str:
        return f"ProviderError({self.kind.value!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ProviderError)
            and other.kind is self.kind
            and other.message == self.message
        )

    __hash__ = Exception.__hash__

    def context(self, what: str) -> "ProviderError":
        """The same error with `what` was being done before its message."""
        return ProviderError(self.kind, f"{what}: {self.message}")

    @classmethod
    def from_exception(cls, error: BaseException) -> "ProviderError":
        """`error` itself when it is a `ProviderError`; otherwise an
        `internal` error naming the exception, its message and where it was
        raised, so that a bug in a provider reaches the operator as a
        message rather than as a crash."""
        if isinstance(error, ProviderError):
            return error
        message = f"unexpected {type(error).__name__} in the provider"
        text = str(error)
        if text:
            message += f": {text}"
        frames = traceback.extract_tb(error.__traceback__)
        if frames:
            last = frames[-1]
            message += f" (at {os.path.basename(last.filename)}:{last.lineno}, in {last.name})"
        return cls(ErrorKind.INTERNAL, message)

    @classmethod
    def invalid(cls, message: str) -> "ProviderError":
        """The desired state or configuration is wrong."""
        return cls(ErrorKind.INVALID, message)

    @classmethod
    def unauthorized(cls, message: str) -> "ProviderError":
        """The server refused the credentials or the permission."""
        return cls(ErrorKind.UNAUTHORIZED, message)

    @classmethod
    def conflict(cls, message: str) -> "ProviderError":
        """The object exists in a way that conflicts (someone else's)."""
        return cls(ErrorKind.CONFLICT, message)

    @classmethod
    def not_found(cls, message: str) -> "ProviderError":
        """An object the change needs does not exist."""
        return cls(ErrorKind.NOT_FOUND, message)

    @classmethod
    def denied(cls, message: str) -> "ProviderError":
        """The host's network gate refused the request."""
        return cls(ErrorKind.DENIED, message)

    @classmethod
    def unavailable(cls, message: str) -> "ProviderError":
        """The server could not be reached or answered 5xx."""
        return cls(ErrorKind.UNAVAILABLE, message)

    @classmethod
    def timeout(cls, message: str) -> "ProviderError":
        """The server did not answer in time."""
        return cls(ErrorKind.TIMEOUT, message)

    @classmethod
    def internal(cls, message: str) -> "ProviderError":
        """Anything else: a bug or an unexpected answer."""
        return cls(ErrorKind.INTERNAL, message)


class Invalid(Exception):
    """Raised by `Provider.validate`: the resource is refused, with these
    diagnostics (at least one of them an error)."""

    def __init__(self, diagnostics: Union[Diagnostic, Sequence[Diagnostic]]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: List[Diagnostic] = list(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))


class MissingIdentity(ValueError):
    """An identity field a spec lacks, holds empty, or holds as something
    other than a string or a number; `field` is its `/`-separated path."""

    def __init__(self, field: str):
        super().__init__(f"no `{field}`")
        self.field = field


#: Where an identity field marks itself optional: `metadata/namespace?`.
OPTIONAL_SUFFIX = "?"
#: What separates the parts of an id, and the steps of a field's path.
SEPARATOR = "/"


@dataclass
class ResourceType:
    """One kind of object a provider manages, such as a DNS `record`.

    `schema` is the JSON Schema of the spec (a `dict`); `identity` the spec
    fields whose values, joined by `/`, form the id (a field may be a
    `/`-path into nested objects, and one ending in `?` is optional);
    `force_replace` the fields whose change replaces the object;
    `sensitive` the fields holding secrets.
    """

    name: str
    description: str
    schema: Dict[str, Any]
    identity: Sequence[str]
    force_replace: Sequence[str] = ()
    sensitive: Sequence[str] = ()

    def id_of(self, spec: Json) -> str:
        """The id the host builds from `spec`: the identity fields' values
        joined by `/`. A string must be non-empty; a number is written as
        JSON writes it; an optional field that is absent or `null` is left
        out. Raises `MissingIdentity` for any other value."""
        identity = self.identity
        # One plain field holding a string (`key`, `name`): the common
        # identity, read without splitting a path or joining parts. It runs
        # for every spec `validate` accepts and every input `diff` refuses
        # or accepts.
        if isinstance(identity, (list, tuple)) and len(identity) == 1:
            name = identity[0]
            plain = isinstance(name, str) and SEPARATOR not in name and not name.endswith(OPTIONAL_SUFFIX)
            if plain and isinstance(spec, dict):
                value = spec.get(name)
                if isinstance(value, str) and value:
                    return value
        parts = []
        for name in self.identity:
            optional = name.endswith(OPTIONAL_SUFFIX)
            path = name[: -len(OPTIONAL_SUFFIX)] if optional else name
            value = _lookup(spec, path)
            if isinstance(value, str) and value:
                parts.append(value)
            elif jsonvalue.is_number(value):
                try:
                    parts.append(jsonvalue.number_text(value))
                except jsonvalue.NotJson:
                    raise MissingIdentity(path) from None
            elif value is None and optional:
                continue
            else:
                raise MissingIdentity(path)
        return SEPARATOR.join(parts)


def _lookup(value: Json, path: str) -> Json:
    """The value at the `/`-separated `path` inside nested objects, or
    `None` when a step is missing or is not an object."""
    for key in path.split(SEPARATOR):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


@dataclass
class ProviderInfo:
    """What a provider is and what it manages. `config_schema` is the JSON
    Schema (a `dict`) of the operator's `config` table."""

    name: str
    version: str
    description: str
    resource_types: Sequence[ResourceType]
    config_schema: Dict[str, Any]

    def resource_type(self, name: str) -> Optional[ResourceType]:
        """The resource type called `name`, if the provider has it."""
        for resource_type in self.resource_types:
            if resource_type.name == name:
                return resource_type
        return None


class Secrets:
    """The secrets the operator referenced for this provider instance, by
    name. Their values never appear in `repr` or `str`."""

    def __init__(self, pairs: Union[Mapping[str, str], Iterable[Tuple[str, str]]] = ()):
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        self._values: Dict[str, str] = {}
        for name, value in items:
            self._values.setdefault(name, value)

    def get(self, name: str) -> Optional[str]:
        """The value of the secret `name`, if the operator gave one."""
        return self._values.get(name)

    def require(self, name: str) -> str:
        """The value of the secret `name`; raises `invalid` telling the
        operator how to reference it when it is missing."""
        value = self._values.get(name)
        if value is None:
            reference = "secrets = { " + name + ' = { env = "VAR" } }'
            raise ProviderError.invalid(
                f"the secret `{name}` is missing: add `{reference}` to this provider in cairn.toml"
            )
        return value

    def names(self) -> List[str]:
        """The names of the secrets given."""
        return list(self._values)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Secrets(names={self.names()!r})"

    __str__ = __repr__


@dataclass
class Scope:
    """Which objects the host wants to see in `list`: the types, and the ids
    of interest (a provider may list more)."""

    type_names: List[str]
    ids: List[str] = field(default_factory=list)

    def wants(self, type_name: str) -> bool:
        """Whether the scope asks for objects of `type_name`."""
        return type_name in self.type_names


@dataclass
class Observed:
    """An object as it is in the real world: its type, id, state (shaped
    like the spec, canonical), and whether the provider vouches that this
    provider instance made it (it bears the owner mark; never a guess)."""

    type_name: str
    id: str
    state: Json
    vouched: bool = False


class Action(enum.Enum):
    """What a change does."""

    #: Nothing differs.
    NO_OP = "no-op"
    #: The object does not exist and will be created.
    CREATE = "create"
    #: The object exists and will be changed in place.
    UPDATE = "update"
    #: The object will be deleted and created again.
    REPLACE = "replace"
    #: The object will be deleted.
    DELETE = "delete"


@dataclass
class FieldChange:
    """One field that differs: its `/`-path, the observed value and the
    desired one (`None` when not set), and whether they are secret."""

    path: str
    before: Json = None
    after: Json = None
    sensitive: bool = False


@dataclass
class Change:
    """A change `diff` proposes for one resource and `apply` carries out.

    `diagnostics` are problems only the real world reveals (a reference to
    an object neither the commit nor the server has); `recheck_after` asks
    the host to compare the resource again after that many seconds.
    """

    type_name: str
    id: str
    action: Action
    summary: str
    fields: List[FieldChange] = field(default_factory=list)
    desired: Json = None
    observed: Json = None
    diagnostics: List[Diagnostic] = field(default_factory=list)
    recheck_after: Optional[int] = None


@dataclass
class DiffInput:
    """What `diff` compares for one resource: the canonical desired spec
    (`None` when the host wants the object deleted), the observed state
    (`None` when it does not exist) and the state after the last apply."""

    type_name: str
    id: str
    desired: Json = None
    observed: Json = None
    prior: Json = None

    def to_change(self, action: Action, summary: str, fields: Sequence[FieldChange] = ()) -> Change:
        """A change for this input, carrying its desired and observed state."""
        return Change(
            type_name=self.type_name,
            id=self.id,
            action=action,
            summary=summary,
            fields=list(fields),
            desired=self.desired,
            observed=self.observed,
        )


@dataclass(frozen=True)
class Declared:
    """A resource of the commit, by its type and id."""

    type_name: str
    id: str


class Declarations:
    """Every resource of this provider instance the commit declares: the
    `diff` inputs with a desired spec and the others the host named. A
    reference resolves when its target is declared here or exists in the
    real world; any other is an error diagnostic on the change."""

    def __init__(self, inputs: Iterable[DiffInput] = (), others: Iterable[Declared] = ()):
        self._ids: Dict[str, set] = {}
        for item in inputs:
            if item.desired is not None:
                self._ids.setdefault(item.type_name, set()).add(item.id)
        for declared in others:
            self._ids.setdefault(declared.type_name, set()).add(declared.id)

    def contains(self, type_name: str, id: str) -> bool:
        """Whether the commit declares the resource `type_name`/`id`."""
        return id in self._ids.get(type_name, ())

    def ids(self, type_name: str) -> Iterator[str]:
        """The ids the commit declares of `type_name`, sorted."""
        return iter(sorted(self._ids.get(type_name, ())))

    def __repr__(self) -> str:
        declared = {name: sorted(ids) for name, ids in sorted(self._ids.items())}
        return f"Declarations({declared!r})"


@dataclass
class Validation:
    """What `validate` may return instead of a bare canonical spec: the
    canonical spec with warnings beside it."""

    canonical: Json
    diagnostics: List[Diagnostic] = field(default_factory=list)


@dataclass
class Applied:
    """The outcome of a change that was made: the object's new state
    (`None` after a delete)."""

    state: Json = None


@dataclass
class Failed:
    """The outcome of a change that was not made, and why."""

    error: ProviderError


@dataclass
class Skipped:
    """The outcome of a change not attempted because another change it was
    batched with failed first."""

    reason: str


#: What `apply` returns for each change.
Outcome = Union[Applied, Failed, Skipped]
