"""Glue between componentize-py's generated bindings and a `Provider`.

`export(Entries)` returns the class componentize-py calls for the
component's `cairn:provider/provider` export: the app module binds it to
the name `Provider` (`Provider = export(Entries)`). Around the provider's
own code it

- converts the WIT records to and from the plain types, and JSON text to
  and from Python values;
- refuses, with `invalid` and before the provider's code runs, a `diff`
  input or a change whose type `describe` does not list or whose id is not
  the one its spec's identity fields give (the whole `diff` fails; in
  `apply` only that change fails, and the others are made);
- checks that `diff` returns one change per input, for the same resource,
  and `apply` one outcome per change;
- turns any exception into an error (`internal`, with its message) rather
  than a crash: a failed call, a failed change or an error diagnostic.

The bindings (`wit_world`, `componentize_py_types`) exist only inside
componentize-py's build; they are imported when `export` is called, so the
rest of the package runs under plain CPython for tests.
"""

from __future__ import annotations

import gc
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type, Union

from . import addressed, jsonvalue, log
from . import diff as diffing
from . import spec as specs
from .provider import Provider
from .types import (
    Action,
    Applied,
    Change,
    Declarations,
    Declared,
    Diagnostic,
    DiffInput,
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

#: The modules componentize-py generates for the build; without them the
#: package runs under plain CPython, where there is nothing to export.
_BINDINGS = ("componentize_py_types", "wit_world", "wit_world.imports", "wit_world.exports")

#: The largest `recheck_after` the contract carries (a WIT `u32`).
MAX_RECHECK_AFTER = 2**32 - 1


def export(provider_class: Type[Provider]) -> type:
    """The class componentize-py exports as `cairn:provider/provider`,
    driving `provider_class`. Bind it to the name `Provider` in the app
    module that `componentize-py componentize` builds:

        Provider = export(Entries)

    Under plain CPython, where the bindings do not exist, it returns
    `provider_class` itself, so that the app module imports in unit tests.
    """
    try:
        from componentize_py_types import Err  # noqa: PLC0415 (exists only in the build)
        from wit_world import exports  # noqa: PLC0415
        from wit_world.imports import cairn_provider_types as wit  # noqa: PLC0415
    except ModuleNotFoundError as missing:
        if missing.name not in _BINDINGS:
            raise
        # Plain CPython (the provider's own unit tests): no component to
        # export, and the provider class stays usable as it is.
        Calls(provider_class)  # still refuses what is not a provider
        return provider_class
    exported = exported_class(provider_class, exports.Provider, wit, Err)
    # The app module is imported now: componentize-py snapshots the memory
    # after it, and every call starts from that snapshot. Its objects (the
    # interpreter's, the modules', the provider's description) live as long
    # as the call, and the cyclic garbage collector would walk them again
    # and again while a call of a thousand resources allocates (a fifth of
    # the time of a plan of unchanged resources): frozen, they are left out
    # of its collections, and what a call makes is collected as before.
    gc.freeze()
    return exported


class Calls:
    """The calls of the contract on plain types, for one provider class:
    what the exported class does between converting its arguments and its
    answer. It keeps the provider `configure` built, for the one call that
    follows in the same instance."""

    def __init__(self, provider_class: Type[Provider]):
        if not (isinstance(provider_class, type) and issubclass(provider_class, Provider)):
            raise TypeError(f"export needs a subclass of cairn_provider.Provider, not {provider_class!r}")
        self.provider_class = provider_class
        self.configured: Optional[Provider] = None
        self._info: Optional[ProviderInfo] = None
        #: The resource types by name (the first of a name, as
        #: `ProviderInfo.resource_type` finds it), once described.
        self._types: Dict[str, ResourceType] = {}

    def describe(self) -> ProviderInfo:
        """The provider's description, asked once: `describe` does no I/O
        and does not depend on the configuration, and `validate` and `diff`
        need it for every resource of a call."""
        if self._info is not None:
            return self._info
        info = self.provider_class.describe()
        if not isinstance(info, ProviderInfo):
            raise TypeError(f"describe returned {type(info).__name__}, not a ProviderInfo")
        types: Dict[str, ResourceType] = {}
        for resource_type in info.resource_types:
            types.setdefault(resource_type.name, resource_type)
        self._info, self._types = info, types
        return info

    def resource_type(self, type_name: str) -> ResourceType:
        """The resource type `type_name`; raises `invalid` naming the types
        there are when the provider has no such type."""
        found = self._types.get(type_name) if self._info is not None else None
        return found if found is not None else addressed.known(self.describe(), type_name)

    def diffs_by_default(self) -> bool:
        """Whether the configured provider keeps the default `diff` (the
        SDK's field-by-field comparison); `False` before `configure`."""
        return self.configured is not None and type(self.configured).diff is Provider.diff

    def configure(self, config: Any, secrets: Secrets, owner: str) -> None:
        """Builds and keeps the configured provider; raises `ProviderError`."""
        try:
            provider = self.provider_class.configure(config, secrets, owner)
        except Exception as error:
            raise ProviderError.from_exception(error) from None
        if not isinstance(provider, self.provider_class):
            raise ProviderError.internal(
                f"configure returned {type(provider).__name__}, not the configured "
                f"{self.provider_class.__name__}: end it with `return cls(...)`"
            )
        self.configured = provider

    def provider(self) -> Provider:
        """The configured provider; raises `internal` before `configure`."""
        if self.configured is None:
            raise ProviderError.internal("the host called the provider before `configure`")
        return self.configured

    def validate(self, type_name: str, spec: Any) -> Validation:
        """The validation of one resource: its canonical spec, or error
        diagnostics (an unknown type, what the provider raised)."""
        try:
            self.resource_type(type_name)
            answer = self.provider_class.validate(type_name, spec)
        except Invalid as invalid:
            diagnostics = list(invalid.diagnostics)
            if not any(d.severity is Severity.ERROR for d in diagnostics):
                diagnostics.append(Diagnostic.error("", "the provider refused the resource without an error"))
            return Validation(None, diagnostics)
        except Exception as error:
            return Validation(None, [Diagnostic.error("", ProviderError.from_exception(error).message)])
        if not isinstance(answer, Validation):
            # A bare canonical spec, the common answer: no warnings.
            if answer is None:
                return Validation(None, [Diagnostic.error("", _NO_CANONICAL)])
            return Validation(answer, [])
        validation = answer
        if any(d.severity is Severity.ERROR for d in validation.diagnostics):
            return Validation(None, list(validation.diagnostics))
        if validation.canonical is None:
            return Validation(None, [Diagnostic.error("", _NO_CANONICAL)])
        return validation

    def list(self, scope: Scope) -> List[Observed]:
        """The objects the provider observes; raises `ProviderError`."""
        provider = self.provider()
        try:
            observed = provider.list(scope)
        except Exception as error:
            raise ProviderError.from_exception(error) from None
        observed = _as_list(observed, "list")
        for item in observed:
            if not isinstance(item, Observed):
                raise ProviderError.internal(f"list returned {type(item).__name__}, not an Observed")
        return observed

    def diff(self, inputs: Sequence[DiffInput], declared: Sequence[Declared]) -> List[Change]:
        """One change per input, after refusing inputs for objects other
        than the ones they name; raises `ProviderError`."""
        info = self.describe()
        for item in inputs:
            error = addressed.refusal(info, item.type_name, item.id, item.desired, item.observed)
            if error is not None:
                raise error
        provider = self.provider()
        declarations = Declarations(inputs, declared)
        try:
            changes = provider.diff(list(inputs), declarations)
        except Exception as error:
            raise ProviderError.from_exception(error) from None
        changes = _as_list(changes, "diff")
        if len(changes) != len(inputs):
            raise ProviderError.internal(f"diff returned {len(changes)} changes for {len(inputs)} inputs")
        for position, (item, change) in enumerate(zip(inputs, changes)):
            if not isinstance(change, Change):
                raise ProviderError.internal(f"diff returned {type(change).__name__}, not a Change")
            if (change.type_name, change.id) != (item.type_name, item.id):
                raise ProviderError.internal(
                    f"diff returned a change for {change.type_name} `{change.id}` at position {position}, "
                    f"whose input is {item.type_name} `{item.id}`: one change per input, in order"
                )
        return changes

    def apply(self, changes: Sequence[Any]) -> List[Outcome]:
        """One outcome per change. `changes` may hold a `ProviderError` in
        place of a change the host sent unreadable; such a change, and one
        for an object other than the one it names, fails on its own, and
        the provider makes the rest."""
        info = self.describe()
        refusals: List[Optional[ProviderError]] = []
        for change in changes:
            if isinstance(change, ProviderError):
                refusals.append(change)
            else:
                refusals.append(
                    addressed.refusal(info, change.type_name, change.id, change.desired, change.observed)
                )
        accepted = [change for change, refusal in zip(changes, refusals) if refusal is None]
        outcomes: List[Outcome] = []
        if accepted:
            try:
                outcomes = _as_list(self.provider().apply(accepted), "apply")
                if len(outcomes) != len(accepted):
                    raise ProviderError.internal(
                        f"apply returned {len(outcomes)} outcomes for {len(accepted)} changes"
                    )
            except Exception as error:
                failure = Failed(ProviderError.from_exception(error))
                return [Failed(refusal) if refusal else failure for refusal in refusals]
        answers = iter(outcomes)
        merged: List[Outcome] = []
        for refusal in refusals:
            if refusal is not None:
                merged.append(Failed(refusal))
                continue
            outcome = next(answers)
            if not isinstance(outcome, (Applied, Failed, Skipped)):
                outcome = Failed(
                    ProviderError.internal(
                        f"apply returned {type(outcome).__name__}, not Applied, Failed or Skipped"
                    )
                )
            elif isinstance(outcome, Failed) and not isinstance(outcome.error, ProviderError):
                outcome = Failed(ProviderError.from_exception(outcome.error))
            merged.append(outcome)
        return merged


#: Why a validation without a canonical spec is refused.
_NO_CANONICAL = "validate returned no canonical spec: it must return the spec"


def _as_list(answer: Any, call: str) -> list:
    """`answer` as a list; raises `internal` when it is not a sequence."""
    if isinstance(answer, (list, tuple)):
        return list(answer)
    raise ProviderError.internal(f"{call} returned {type(answer).__name__}, not a list")


def _log_unexpected(call: str, error: BaseException) -> None:
    """Logs where an exception that is not a `ProviderError` came from, at
    debug level (`cairn plugin test --verbose` shows it)."""
    if not isinstance(error, ProviderError):
        where = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        log.debug(f"{call} raised an unexpected exception", traceback=where)


#: What a message calls a value: the words, or a function making them, so
#: that converting a thousand values builds no message for those that
#: convert.
What = Union[str, Callable[[], str]]


class WitConversion:
    """Converts between the plain types and the generated WIT records of
    `wit` (the module `wit_world.imports.cairn_provider_types`). JSON that
    cannot be read or written raises `internal`."""

    def __init__(self, wit: Any):
        self.wit = wit

    @staticmethod
    def text(value: Any, what: What) -> str:
        """The JSON text of `value`."""
        try:
            return jsonvalue.dumps(value)
        except jsonvalue.NotJson as error:
            named = what() if callable(what) else what
            raise ProviderError.internal(f"{named} is not JSON: {error}") from None

    def optional_text(self, value: Any, what: What) -> Optional[str]:
        """The JSON text of `value`, or `None` when it is absent."""
        return None if value is None else self.text(value, what)

    @staticmethod
    def value(text: Optional[str], what: str) -> Any:
        """The value of JSON text the host sent (`None` when absent)."""
        if text is None:
            return None
        try:
            return jsonvalue.loads(text)
        except jsonvalue.NotJson as error:
            raise ProviderError.internal(f"the host sent {what} that is not JSON: {error}") from None

    def error(self, error: ProviderError) -> Any:
        """A WIT `error`."""
        return self.wit.Error(kind=self.wit.ErrorKind[error.kind.name], message=str(error.message))

    def provider_info(self, info: ProviderInfo) -> Any:
        """A WIT `provider-info`."""
        return self.wit.ProviderInfo(
            name=info.name,
            version=info.version,
            description=info.description,
            resource_types=[
                self.wit.ResourceType(
                    name=t.name,
                    description=t.description,
                    schema=self.text(t.schema, f"the schema of `{t.name}`"),
                    identity=list(t.identity),
                    force_replace=list(t.force_replace),
                    sensitive=list(t.sensitive),
                )
                for t in info.resource_types
            ],
            config_schema=self.text(info.config_schema, "the config schema"),
        )

    def diagnostic(self, diagnostic: Diagnostic) -> Any:
        """A WIT `diagnostic`."""
        return self.wit.Diagnostic(
            path=str(diagnostic.path),
            severity=self.wit.Severity[Severity(diagnostic.severity).name],
            message=str(diagnostic.message),
            help=None if diagnostic.help is None else str(diagnostic.help),
        )

    def diagnostic_from(self, diagnostic: Any) -> Diagnostic:
        """A plain `Diagnostic` from a WIT one."""
        return Diagnostic(
            path=diagnostic.path,
            message=diagnostic.message,
            help=diagnostic.help,
            severity=Severity[diagnostic.severity.name],
        )

    def validation(self, validation: Validation) -> Any:
        """A WIT `validation`."""
        canonical, diagnostics = validation.canonical, validation.diagnostics
        if canonical is not None:
            try:
                canonical = jsonvalue.dumps(canonical)
            except jsonvalue.NotJson as error:
                raise ProviderError.internal(f"the canonical spec is not JSON: {error}") from None
        return self.wit.Validation(
            canonical=canonical,
            diagnostics=[self.diagnostic(d) for d in diagnostics] if diagnostics else [],
        )

    def observed(self, observed: Observed) -> Any:
        """A WIT `observed`."""
        try:
            state = jsonvalue.dumps(observed.state)
        except jsonvalue.NotJson as error:
            what = f"the state of {observed.type_name} `{observed.id}`"
            raise ProviderError.internal(f"{what} is not JSON: {error}") from None
        return self.wit.Observed(
            type_name=observed.type_name,
            id=str(observed.id),
            state=state,
            vouched=bool(observed.vouched),
        )

    def diff_input_from(self, item: Any) -> DiffInput:
        """A plain `DiffInput` from a WIT one."""
        return DiffInput(
            type_name=item.type_name,
            id=item.id,
            desired=self.value(item.desired, "a desired spec"),
            observed=self.value(item.observed, "an observed state"),
            prior=self.value(item.prior, "a prior state"),
        )

    def change(self, change: Change, sent: Optional[Tuple[Any, DiffInput]] = None) -> Any:
        """A WIT `change`. `sent`, given for a change the SDK's own
        comparison made (which passes its input's values through as they
        are), is that input as the host sent it and as it was read: a
        desired spec or observed state that is the input's own value is
        given back as the host's text rather than written again."""
        recheck = change.recheck_after
        if recheck is not None:
            if not isinstance(recheck, int) or isinstance(recheck, bool) or not 0 <= recheck <= MAX_RECHECK_AFTER:
                raise ProviderError.internal(
                    f"the change of {change.type_name} `{change.id}` asks for a recheck after {recheck!r}: "
                    f"it must be whole seconds, 0 to {MAX_RECHECK_AFTER}"
                )
        what = lambda: f"{change.type_name} `{change.id}`"  # noqa: E731 (only for a message)
        field_value = lambda: f"a field value of {what()}"  # noqa: E731
        desired = observed = None
        if sent is not None:
            wit_input, plain = sent
            if change.desired is not None and change.desired is plain.desired:
                desired = wit_input.desired
            if change.observed is not None and change.observed is plain.observed:
                observed = wit_input.observed
        return self.wit.Change(
            type_name=change.type_name,
            id=change.id,
            action=self.wit.Action[Action(change.action).name],
            summary=str(change.summary),
            fields=[
                self.wit.FieldChange(
                    path=str(f.path),
                    before=self.optional_text(f.before, field_value),
                    after=self.optional_text(f.after, field_value),
                    sensitive=bool(f.sensitive),
                )
                for f in change.fields
            ],
            desired=desired or self.optional_text(change.desired, lambda: f"the desired spec of {what()}"),
            observed=observed or self.optional_text(change.observed, lambda: f"the observed state of {what()}"),
            diagnostics=[self.diagnostic(d) for d in change.diagnostics],
            recheck_after=recheck,
        )

    def change_from(self, change: Any) -> Change:
        """A plain `Change` from a WIT one."""
        return Change(
            type_name=change.type_name,
            id=change.id,
            action=Action[change.action.name],
            summary=change.summary,
            fields=[
                FieldChange(
                    path=f.path,
                    before=self.value(f.before, "a field value"),
                    after=self.value(f.after, "a field value"),
                    sensitive=f.sensitive,
                )
                for f in change.fields
            ],
            desired=self.value(change.desired, "a desired spec"),
            observed=self.value(change.observed, "an observed state"),
            diagnostics=[self.diagnostic_from(d) for d in change.diagnostics],
            recheck_after=change.recheck_after,
        )

    def outcome(self, outcome: Outcome) -> Any:
        """A WIT `outcome`."""
        if isinstance(outcome, Applied):
            return self.wit.Outcome_Applied(self.optional_text(outcome.state, "an applied state"))
        if isinstance(outcome, Skipped):
            return self.wit.Outcome_Skipped(str(outcome.reason))
        return self.wit.Outcome_Failed(self.error(outcome.error))


def exported_class(provider_class: Type[Provider], base: type, wit: Any, err: Callable[[Any], BaseException]) -> type:
    """The exported class for `provider_class`, subclassing `base` (the
    generated `wit_world.exports.Provider`), with records of the module
    `wit` and failures raised as `err(wit.Error)`. `export` passes the
    generated ones; tests pass stand-ins."""
    calls = Calls(provider_class)
    convert = WitConversion(wit)
    # `describe` is asked now, while the app module is imported:
    # componentize-py builds the component from a snapshot of the memory
    # after that, so every call starts with the description (and the
    # compiled schemas of its types) made. A describe that fails is asked
    # again, and reported, by the first call that needs it.
    try:
        for resource_type in calls.describe().resource_types:
            specs.prepare(resource_type.schema)
    except Exception:  # noqa: BLE001
        pass
    no_changes = diffing.summarize(Action.NO_OP, [])

    def fail(call: str, error: BaseException) -> BaseException:
        """The `Err` to raise for `error` in `call`."""
        _log_unexpected(call, error)
        return err(convert.error(ProviderError.from_exception(error)))

    class Exported(base):  # type: ignore[misc, valid-type]
        """`cairn:provider/provider`, implemented by the SDK around the
        provider class given to `export`."""

        def describe(self) -> Any:
            """Describes the provider and its resource types."""
            return convert.provider_info(calls.describe())

        def configure(self, config: str, secrets: List[Any], owner: str) -> None:
            """Builds the configured provider for this call."""
            try:
                pairs: List[Tuple[str, str]] = [(secret.name, secret.value) for secret in secrets]
                calls.configure(convert.value(config, "a config"), Secrets(pairs), owner)
            except Exception as error:
                raise fail("configure", error) from None

        def validate(self, resources: List[Any]) -> List[Any]:
            """One validation per resource, in order."""
            answers = []
            for resource in resources:
                try:
                    spec = convert.value(resource.spec, "a spec")
                    answer = convert.validation(calls.validate(resource.type_name, spec))
                except Exception as error:
                    _log_unexpected("validate", error)
                    message = ProviderError.from_exception(error).message
                    answer = convert.validation(Validation(None, [Diagnostic.error("", message)]))
                answers.append(answer)
            return answers

        def list(self, scope: Any) -> List[Any]:
            """The objects of the scope's types the provider observes."""
            try:
                observed = calls.list(Scope(list(scope.type_names), list(scope.ids)))
                return [convert.observed(item) for item in observed]
            except Exception as error:
                raise fail("list", error) from None

        def diff(self, inputs: List[Any], declared: List[Any]) -> List[Any]:
            """One change per input, in order."""
            try:
                if calls.diffs_by_default():
                    return default_diff(inputs)
                plain = [convert.diff_input_from(item) for item in inputs]
                others = [Declared(d.type_name, d.id) for d in declared]
                return [convert.change(change) for change in calls.diff(plain, others)]
            except Exception as error:
                raise fail("diff", error) from None

        def apply(self, changes: List[Any]) -> List[Any]:
            """One outcome per change, in order."""
            plain: List[Any] = []
            for change in changes:
                try:
                    plain.append(convert.change_from(change))
                except Exception as error:
                    plain.append(ProviderError.from_exception(error))
            try:
                outcomes = calls.apply(plain)
            except Exception as error:  # describe failed: nothing was tried
                _log_unexpected("apply", error)
                outcomes = [Failed(ProviderError.from_exception(error)) for _ in plain]
            answers = []
            for outcome in outcomes:
                try:
                    answers.append(convert.outcome(outcome))
                except Exception as error:
                    _log_unexpected("apply", error)
                    answers.append(convert.outcome(Failed(ProviderError.from_exception(error))))
            return answers

    def default_diff(inputs: List[Any]) -> List[Any]:
        """The changes of the default `diff`, for a provider that keeps it:
        what `Calls.diff` and `Provider.diff` give, after the same
        refusals, made without a round trip through plain changes.

        The host writes an input's desired spec and observed state with
        serde_json from its values, so equal values give equal texts, and
        equal texts are equal values: no field differs, and the change is
        what comparing them gives (`no-op`, `no changes`, no fields),
        carrying the texts the host sent. In a plan of unchanged resources
        every input is one of these: its observed state is not read, as it
        is the desired spec. An input whose texts differ is compared field
        by field (`diff.compare`)."""
        value = convert.value
        read = []
        for item in inputs:
            desired = value(item.desired, "a desired spec")
            same = item.observed is not None and item.observed == item.desired
            observed = desired if same else value(item.observed, "an observed state")
            read.append((desired, observed, value(item.prior, "a prior state")))
        info = calls.describe()
        for item, (desired, observed, _) in zip(inputs, read):
            # The usual input, accepted at once: a known type whose desired
            # spec gives the input's id. Any other goes through `refusal`,
            # which decides, and says why it refuses.
            if desired is not None:
                try:
                    if calls.resource_type(item.type_name).id_of(desired) == item.id:
                        continue
                except (ProviderError, MissingIdentity):
                    pass
            error = addressed.refusal(info, item.type_name, item.id, desired, observed)
            if error is not None:
                raise error
        no_op = wit.Action.NO_OP
        changes = []
        for item, (desired, observed, prior) in zip(inputs, read):
            if desired is not None and observed is desired:
                changes.append(
                    wit.Change(
                        type_name=item.type_name,
                        id=item.id,
                        action=no_op,
                        summary=no_changes,
                        fields=[],
                        desired=item.desired,
                        observed=item.observed,
                        diagnostics=[],
                        recheck_after=None,
                    )
                )
            else:
                plain = DiffInput(item.type_name, item.id, desired, observed, prior)
                change = diffing.compare(plain, calls.resource_type(item.type_name))
                changes.append(convert.change(change, (item, plain)))
        return changes

    Exported.__name__ = Exported.__qualname__ = "Provider"
    return Exported
