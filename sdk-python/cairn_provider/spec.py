"""Checks a spec (or a configuration) against the JSON Schema that
`describe` publishes, so that one schema drives the host's checks, the
reference page `cairn plugin docs` prints, and `validate`.

`check` understands the subset of JSON Schema a provider's specs need:
`type` (`object`, `array`, `string`, `integer`, `number`, `boolean`,
`null`, or a list of them), `properties`, `required`,
`additionalProperties` (`false` or a schema), `items`, `enum`, `const`,
`minLength`, `maxLength`, `minItems`, `maxItems`, `minimum`, `maximum`,
`exclusiveMinimum` and `exclusiveMaximum`. Any other keyword (`pattern`,
`oneOf`, `$ref`, ...) is not checked here: put such a rule into
`validate` as code, or leave it to the schema's readers.

Every problem is a `Diagnostic` whose path names the field, `/`-separated
(`members/2/name`), which the host turns into the file, line and column of
the resource in Git.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import jsonvalue
from .types import Diagnostic, ProviderError

#: The help of a diagnostic for a field the schema does not allow.
UNKNOWN_FIELD_HELP = "remove the key or fix its spelling"

#: How many allowed names or values a message lists before it stops: a
#: diagnostic is one line, and a long list hides the problem.
MAX_LISTED = 12

#: A JSON Schema type and how a message names a value of it.
_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


def check(spec: Any, schema: Dict[str, Any], path: str = "") -> List[Diagnostic]:
    """The problems of `spec` against `schema`, each an error `Diagnostic`
    with the path of its field; empty when the spec is acceptable. `path`
    is where `spec` sits in a larger document."""
    # Most specs conform: the compiled test answers for them without
    # building a diagnostic, a path or a message. Only a spec it refuses is
    # walked, to say where and why.
    if conforms(spec, schema):
        return []
    problems: List[Diagnostic] = []
    _check(spec, schema, path, problems)
    return problems


def checked(value: Any, schema: Dict[str, Any], what: str = "config") -> Any:
    """`value` itself when `schema` accepts it; otherwise raises an
    `invalid` `ProviderError` naming each problem (`config \\`url\\`:
    invalid type: ...`). Meant for `configure`, whose failures are errors
    rather than diagnostics."""
    problems = check(value, schema)
    if problems:
        raise ProviderError.invalid(
            "; ".join(
                f"{what} `{problem.path}`: {problem.message}" if problem.path else f"{what}: {problem.message}"
                for problem in problems
            )
        )
    return value


def _child(path: str, key: Any) -> str:
    """The path of `key` inside the value at `path`."""
    return f"{path}/{key}" if path else str(key)


def _listed(items: List[str]) -> str:
    """Names joined for a message, at most `MAX_LISTED` of them."""
    if len(items) > MAX_LISTED:
        return ", ".join(items[:MAX_LISTED]) + f", ... ({len(items) - MAX_LISTED} more)"
    return ", ".join(items)


def _matches_type(value: Any, name: str) -> bool:
    """Whether `value` is of the JSON Schema type `name`. An integer is a
    Python `int` (not a `bool`, and not a float such as `1.0`)."""
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return jsonvalue.is_number(value)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    return True  # a type this subset does not know is not held against it


def _describe(value: Any) -> str:
    """How a message names a value found: `integer \\`5\\``, `string "x"`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"number `{jsonvalue.number_text(value)}`" if value == value else "a number"
    if isinstance(value, str):
        return f"string {jsonvalue.dumps(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _shown(value: Any) -> str:
    """A value in a message: a string as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return jsonvalue.dumps(value)
    except jsonvalue.NotJson:
        return repr(value)


def _check(value: Any, schema: Any, path: str, problems: List[Diagnostic]) -> None:
    """Appends the problems of `value` at `path` against `schema`."""
    if schema is False:
        problems.append(Diagnostic.error(path, "no value is allowed here"))
        return
    if not isinstance(schema, dict):
        return  # `true`, or something that is no schema: anything goes

    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_matches_type(value, name) for name in names):
            expected = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
            problems.append(Diagnostic.error(path, f"invalid type: {_describe(value)}, expected {expected}"))
            return

    if "const" in schema and not jsonvalue.equal(value, schema["const"]):
        problems.append(Diagnostic.error(path, f"invalid value `{_shown(value)}`: expected `{_shown(schema['const'])}`"))
    if "enum" in schema and not any(jsonvalue.equal(value, allowed) for allowed in schema["enum"]):
        allowed = _listed([_shown(item) for item in schema["enum"]])
        problems.append(Diagnostic.error(path, f"unknown value `{_shown(value)}`: expected one of {allowed}"))

    if isinstance(value, str):
        _check_string(value, schema, path, problems)
    elif jsonvalue.is_number(value):
        _check_number(value, schema, path, problems)
    elif isinstance(value, list):
        _check_array(value, schema, path, problems)
    elif isinstance(value, dict):
        _check_object(value, schema, path, problems)


def _check_string(value: str, schema: Dict[str, Any], path: str, problems: List[Diagnostic]) -> None:
    """`minLength` and `maxLength`, counted in characters."""
    least = schema.get("minLength")
    if isinstance(least, int) and len(value) < least:
        if least == 1:
            message = "must not be empty"
        else:
            message = f"is {len(value)} characters long: at least {least} are needed"
        problems.append(Diagnostic.error(path, message))
    most = schema.get("maxLength")
    if isinstance(most, int) and len(value) > most:
        problems.append(Diagnostic.error(path, f"is {len(value)} characters long: at most {most} are allowed"))


def _check_number(value: Any, schema: Dict[str, Any], path: str, problems: List[Diagnostic]) -> None:
    """`minimum`, `maximum` and their exclusive forms."""
    shown = jsonvalue.number_text(value)
    bounds = (
        ("minimum", lambda bound: value < bound, "must be at least"),
        ("maximum", lambda bound: value > bound, "must be at most"),
        ("exclusiveMinimum", lambda bound: value <= bound, "must be more than"),
        ("exclusiveMaximum", lambda bound: value >= bound, "must be less than"),
    )
    for keyword, breaks, words in bounds:
        bound = schema.get(keyword)
        if jsonvalue.is_number(bound) and breaks(bound):
            problems.append(Diagnostic.error(path, f"{shown} {words} {jsonvalue.number_text(bound)}"))


def _check_array(value: List[Any], schema: Dict[str, Any], path: str, problems: List[Diagnostic]) -> None:
    """`minItems`, `maxItems`, and `items` for every element."""
    least = schema.get("minItems")
    if isinstance(least, int) and len(value) < least:
        problems.append(Diagnostic.error(path, f"has {len(value)} items: at least {least} are needed"))
    most = schema.get("maxItems")
    if isinstance(most, int) and len(value) > most:
        problems.append(Diagnostic.error(path, f"has {len(value)} items: at most {most} are allowed"))
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            _check(item, items, _child(path, index), problems)


def _check_object(value: Dict[str, Any], schema: Dict[str, Any], path: str, problems: List[Diagnostic]) -> None:
    """`properties`, `additionalProperties` and `required`: unknown fields
    first, in the spec's order, then missing ones, in the schema's."""
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    additional = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], _child(path, key), problems)
        elif additional is False:
            expected = _listed(list(properties)) if properties else "none: this object takes no fields"
            problems.append(
                Diagnostic.error(
                    _child(path, key),
                    f"unknown field `{key}`: expected one of {expected}",
                    UNKNOWN_FIELD_HELP,
                )
            )
        elif isinstance(additional, dict):
            _check(item, additional, _child(path, key), problems)
    for key in schema.get("required", ()):
        if key not in value:
            problems.append(Diagnostic.error(path, f"missing field `{key}`"))


#: A compiled schema: whether a value conforms.
Test = Callable[[Any], bool]

#: Compiled schemas by the `id` of their schema, each beside its schema,
#: which the entry keeps alive so that the `id` is not reused. A schema is
#: compiled the first time it is checked against and then treated as
#: read-only, as the schemas `describe` publishes are.
_COMPILED: Dict[int, Tuple[Any, Test]] = {}

#: Schemas compiled before the cache starts again: a provider has a few,
#: and a program making schemas on the fly must not fill the memory.
MAX_COMPILED = 256


def conforms(value: Any, schema: Any) -> bool:
    """Whether `value` conforms to `schema`: whether `check` finds no
    problem, answered by a test compiled once per schema.

    Checking a thousand specs against one schema is the common case of
    `validate`: the walk of `check` looks every keyword up, and makes the
    type names and each field's path, for every spec; the compiled test
    read the keywords once, when it was made. It answers `True` only where
    the walk finds nothing; where it answers `False` (or where the walk
    would raise, for a malformed schema or a value that is not JSON) the
    walk runs and has the last word.
    """
    if schema is False:
        return False
    if not isinstance(schema, dict):
        return True
    entry = _COMPILED.get(id(schema))
    test = entry[1] if entry is not None and entry[0] is schema else _compiled(schema)
    try:
        return test(value)
    except Exception:  # noqa: BLE001 (the walk raises it, or reports it)
        return False


def prepare(schema: Any) -> None:
    """Compiles `schema` now rather than at its first check (nothing for
    one compiled already, or for `true` and `false`): the SDK prepares the
    schemas `describe` publishes while the app module is imported, so that
    they are compiled in the component's snapshot."""
    if isinstance(schema, dict):
        _compiled(schema)


def _compiled(schema: Dict[str, Any]) -> Test:
    """The compiled test of `schema`, from the cache or made now."""
    entry = _COMPILED.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    if len(_COMPILED) >= MAX_COMPILED:
        _COMPILED.clear()
    # A schema that contains itself meets its own test while it is being
    # compiled: that one goes through this stand-in, which calls the test
    # once it is made.
    made: List[Test] = []
    _COMPILED[id(schema)] = (schema, lambda value: made[0](value))
    try:
        test = _compile(schema)
    except Exception:  # noqa: BLE001 (a malformed keyword: the walk says what)
        test = _never
    made.append(test)
    _COMPILED[id(schema)] = (schema, test)
    return test


def _always(value: Any) -> bool:
    """The test of a schema that allows anything (`true`, `{}`)."""
    return True


def _never(value: Any) -> bool:
    """The test of `false`, and of a schema `check` cannot read: the walk
    decides."""
    return False


def _subschema(schema: Any) -> Test:
    """The test of a subschema, as `_check` treats it: `false` allows
    nothing, anything else that is not an object allows everything."""
    if schema is False:
        return _never
    if not isinstance(schema, dict):
        return _always
    return _compiled(schema)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_array(value: Any) -> bool:
    return isinstance(value, list)


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _is_null(value: Any) -> bool:
    return value is None


#: The test of each JSON Schema type `_matches_type` knows.
_TYPE_TESTS: Dict[str, Test] = {
    "object": _is_object,
    "array": _is_array,
    "string": _is_string,
    "integer": _is_integer,
    "number": jsonvalue.is_number,
    "boolean": _is_boolean,
    "null": _is_null,
}


#: Compiled tests that are one `isinstance`, and its class: a plain
#: string's (`{"type": "string"}` and words for readers) is `_is_string`.
_PLAIN_TYPES: Dict[Test, type] = {_is_string: str}


def _writable_number(value: Any) -> bool:
    """Whether `jsonvalue.number_text` writes `value`, as `_check_number`
    does for every number (it raises for NaN, the infinities, and an
    integer too large for a float)."""
    if isinstance(value, int) and jsonvalue.SMALLEST_INTEGER <= value <= jsonvalue.LARGEST_INTEGER:
        return True
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _compile(schema: Dict[str, Any]) -> Test:
    """The test of one schema object: each keyword `_check` reads, read the
    same way, asking what `_check` asks, so that it passes exactly when
    `_check` finds no problem (and raises nothing)."""
    type_test: Optional[Test] = None
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        # A type name the subset does not know allows anything.
        if all(isinstance(name, str) and name in _TYPE_TESTS for name in names):
            tests = [_TYPE_TESTS[name] for name in names]
            if len(tests) == 1:
                type_test = tests[0]
            else:
                type_test = lambda value: any(test(value) for test in tests)  # noqa: E731

    has_const = "const" in schema
    const = schema.get("const")
    options: Optional[Tuple[Any, ...]] = tuple(schema["enum"]) if "enum" in schema else None

    least_length, most_length = schema.get("minLength"), schema.get("maxLength")
    least_length = least_length if isinstance(least_length, int) else None
    most_length = most_length if isinstance(most_length, int) else None

    bounds = [
        (bound, keyword)
        for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        for bound in (schema.get(keyword),)
        if jsonvalue.is_number(bound)
    ]

    least_items, most_items = schema.get("minItems"), schema.get("maxItems")
    least_items = least_items if isinstance(least_items, int) else None
    most_items = most_items if isinstance(most_items, int) else None
    items = schema.get("items")
    item_test = _compiled(items) if isinstance(items, dict) else None

    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    fields = {key: _subschema(sub) for key, sub in properties.items()}
    # A field whose schema is only a type among these is tested in the
    # loop over the object's fields, without calling its test.
    field_types = {key: _PLAIN_TYPES[test] for key, test in fields.items() if test in _PLAIN_TYPES}
    additional = schema.get("additionalProperties", True)
    closed = additional is False
    additional_test = _compiled(additional) if isinstance(additional, dict) else None
    required = tuple(schema.get("required", ()))
    # Required names that are all strings are looked for at once, as a set.
    required_names = frozenset(required) if all(isinstance(key, str) for key in required) else None

    def string_ok(value: str) -> bool:
        if least_length is not None and len(value) < least_length:
            return False
        return most_length is None or len(value) <= most_length

    def number_ok(value: Any) -> bool:
        if not _writable_number(value):
            return False
        for bound, keyword in bounds:
            if keyword == "minimum":
                if value < bound:
                    return False
            elif keyword == "maximum":
                if value > bound:
                    return False
            elif keyword == "exclusiveMinimum":
                if value <= bound:
                    return False
            elif value >= bound:
                return False
        return True

    def array_ok(value: List[Any]) -> bool:
        if least_items is not None and len(value) < least_items:
            return False
        if most_items is not None and len(value) > most_items:
            return False
        if item_test is not None:
            for item in value:
                if not item_test(item):
                    return False
        return True

    def object_ok(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        for key, item in value.items():
            kind = field_types.get(key)
            if kind is not None:
                if not isinstance(item, kind):
                    return False
                continue
            field = fields.get(key)
            if field is not None:
                if not field(item):
                    return False
            elif closed:
                return False
            elif additional_test is not None and not additional_test(item):
                return False
        if required_names is not None:
            return value.keys() >= required_names
        for key in required:
            if key not in value:
                return False
        return True

    string_plain = least_length is None and most_length is None
    object_plain = not fields and not closed and additional_test is None and not required

    def test(value: Any) -> bool:
        if type_test is not None and not type_test(value):
            return False
        if has_const and not jsonvalue.equal(value, const):
            return False
        if options is not None and not any(jsonvalue.equal(value, option) for option in options):
            return False
        if isinstance(value, str):
            return string_plain or string_ok(value)
        if jsonvalue.is_number(value):
            return number_ok(value)
        if isinstance(value, list):
            return array_ok(value)
        if isinstance(value, dict):
            return object_plain or object_ok(value)
        return True

    # The shapes nearly every spec is made of, tested with nothing more
    # than they need: an object of known fields, a plain string.
    if not has_const and options is None:
        if type_test is _is_object:
            return object_ok
        if type_test is _is_string:
            if string_plain:
                return _is_string
            return lambda value: isinstance(value, str) and string_ok(value)
    return test
