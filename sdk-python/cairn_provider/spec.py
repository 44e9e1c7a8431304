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

from typing import Any, Dict, List

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
