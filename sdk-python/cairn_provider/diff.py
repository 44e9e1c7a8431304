"""Compares canonical JSON documents and builds changes: the default
`Provider.diff`, and helpers for a provider that writes its own.

A `null` field and an absent one are alike (the host treats them so), and
values compare as JSON does: `True` is not `1`, `1` is not `1.0`.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from . import jsonvalue
from .types import Action, Change, DiffInput, FieldChange, ResourceType, SEPARATOR


def field_changes(before: Any, after: Any, path: str = "") -> List[FieldChange]:
    """The fields that differ between `before` (observed) and `after`
    (desired), recursing into objects; arrays and scalars are compared
    whole. Paths are `/`-separated and sorted by key."""
    changes: List[FieldChange] = []
    _collect(path, before, after, changes)
    return changes


def _collect(path: str, before: Any, after: Any, out: List[FieldChange]) -> None:
    """Appends the differences between `before` and `after` at `path`."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            child = f"{path}{SEPARATOR}{key}" if path else key
            _collect(child, before.get(key), after.get(key), out)
    elif not jsonvalue.equal(before, after):
        out.append(FieldChange(path=path, before=before, after=after))


def action(desired: bool, observed: bool, fields: Sequence[FieldChange]) -> Action:
    """The action for an object desired or not, observed or not, with these
    differing fields: create, delete, update, or no-op when nothing differs
    (or nothing is there and nothing is wanted)."""
    if desired and not observed:
        return Action.CREATE
    if observed and not desired:
        return Action.DELETE
    if desired and observed and fields:
        return Action.UPDATE
    return Action.NO_OP


def names_field(listed: Sequence[str], path: str) -> bool:
    """Whether the field at `path` is one of `listed` or lies inside one of
    them (`auth/password` inside `auth`)."""
    return any(path == name or path.startswith(name + SEPARATOR) for name in listed)


def compare(item: DiffInput, rules: Optional[ResourceType] = None) -> Change:
    """Compares one input generically: create when nothing is observed,
    delete when nothing is desired, replace when a `force_replace` field of
    `rules` differs, update when another field differs, no-op otherwise.
    Fields listed as `sensitive` (or lying inside one) are marked so the
    host never shows their values. The change carries the input's desired
    and observed state."""
    desired, observed = item.desired is not None, item.observed is not None
    # A create or a delete lists each field of the object it makes or
    # removes (against an empty object), so that a sensitive one is marked
    # by its own name rather than shown inside the whole document.
    before = item.observed if observed or not isinstance(item.desired, dict) else {}
    after = item.desired if desired or not isinstance(item.observed, dict) else {}
    fields = field_changes(before, after)
    verb = action(desired, observed, fields)
    if rules is not None:
        if verb is Action.UPDATE and any(names_field(rules.force_replace, f.path) for f in fields):
            verb = Action.REPLACE
        for field in fields:
            field.sensitive = names_field(rules.sensitive, field.path)
    return item.to_change(verb, summarize(verb, fields), fields)


def summarize(verb: Action, fields: Sequence[FieldChange]) -> str:
    """A one-line summary of a change, such as `update ttl: 300 → 600`; a
    sensitive field shows only its name."""
    if verb is Action.NO_OP:
        return "no changes"
    if verb is Action.CREATE:
        return "create"
    if verb is Action.DELETE:
        return "delete"
    parts = []
    for field in fields:
        if field.sensitive:
            parts.append(f"{field.path} (sensitive)")
        else:
            parts.append(f"{field.path}: {_show(field.before)} → {_show(field.after)}")
    return f"{verb.value} {', '.join(parts)}".rstrip()


def _show(value: Any) -> str:
    """A field's value in a summary: its JSON, or `(unset)`."""
    if value is None:
        return "(unset)"
    try:
        return jsonvalue.dumps(value)
    except jsonvalue.NotJson:
        return repr(value)
