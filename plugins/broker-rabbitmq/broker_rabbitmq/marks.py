"""Where the provider writes its owner mark, and how it reads it back.

The mark (`cairn-` and 24 hex digits, from `configure`) goes on the object
itself wherever RabbitMQ keeps something free-form, so that it lives and
dies with the object and a later object of the same name made by hand
never bears it:

- a vhost and a user carry it as one of their tags (RabbitMQ gives an
  unknown tag no meaning);
- a queue and an exchange carry it as the optional argument
  `x-cairn-owner`, which RabbitMQ stores and ignores;
- a permission has no free-form field at all: it carries no mark, and is
  never vouched for.

The observed state leaves every mark out (the spec never holds one), and
`validate` refuses a spec that sets one.
"""

import re
from typing import Any, Iterable, List, Mapping

#: The argument of a queue or an exchange that holds the owner mark.
MARK_ARGUMENT = "x-cairn-owner"

#: What an owner mark looks like (the host's format): a tag of this form is
#: a mark, this provider instance's or another's.
MARK_PATTERN = re.compile(r"cairn-[0-9a-f]{24}")


def is_mark(tag: str) -> bool:
    """Whether `tag` is an owner mark."""
    return MARK_PATTERN.fullmatch(tag) is not None


def tags_without_marks(tags: Iterable[str]) -> List[str]:
    """The tags a spec would hold: every owner mark left out, sorted,
    without duplicates."""
    return sorted({tag for tag in tags if not is_mark(tag)})


def tags_with_mark(tags: Iterable[str], owner: str) -> List[str]:
    """The tags to write: the spec's, and this instance's mark (any other
    mark is dropped: the object is this instance's from now on)."""
    written = tags_without_marks(tags)
    if owner:
        written.append(owner)
    return written


def tags_bear(tags: Iterable[str], owner: str) -> bool:
    """Whether the tags hold this instance's mark."""
    return bool(owner) and owner in list(tags)


def arguments_without_mark(arguments: Mapping[str, Any]) -> dict:
    """The arguments a spec would hold: the mark left out."""
    return {key: value for key, value in arguments.items() if key != MARK_ARGUMENT}


def arguments_with_mark(arguments: Mapping[str, Any], owner: str) -> dict:
    """The arguments to write: the spec's, and the mark."""
    written = arguments_without_mark(arguments)
    if owner:
        written[MARK_ARGUMENT] = owner
    return written


def arguments_bear(arguments: Mapping[str, Any], owner: str) -> bool:
    """Whether the arguments hold this instance's mark."""
    return bool(owner) and arguments.get(MARK_ARGUMENT) == owner
