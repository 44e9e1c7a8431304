"""Canonical forms: what `validate` makes of a spec (defaults filled in,
sets sorted, mistakes found before anything is sent) and what `list` makes
of the server's answer, in the same shape, so that an unchanged repository
plans nothing.
"""

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from cairn_provider import Diagnostic

from . import marks, passwords
from .schemas import (
    BUILTIN_EXCHANGE_TYPES,
    EXCHANGE,
    NAME_MAX_BYTES,
    PASSWORD_FINGERPRINT,
    PERMISSION,
    PLUGIN_EXCHANGE_TYPE_PREFIX,
    QUEUE,
    RESERVED_PREFIX,
    USER,
    VHOST,
)

#: A check of one known queue argument's value: the problem, or `None`.
Check = Callable[[Any], Optional[str]]


def _integer(least: int, most: Optional[int] = None) -> Check:
    """A check that the value is an integer within bounds."""

    def check(value: Any) -> Optional[str]:
        """The problem with `value`, if any."""
        if not isinstance(value, int) or isinstance(value, bool):
            return "must be an integer"
        if value < least or (most is not None and value > most):
            bound = f"from {least} to {most}" if most is not None else f"at least {least}"
            return f"must be {bound}"
        return None

    return check


def _one_of(*allowed: str) -> Check:
    """A check that the value is one of `allowed`."""

    def check(value: Any) -> Optional[str]:
        """The problem with `value`, if any."""
        if value not in allowed:
            return "must be one of " + ", ".join(f"`{item}`" for item in allowed)
        return None

    return check


def _string(value: Any) -> Optional[str]:
    """The problem with a value that must be a string."""
    return None if isinstance(value, str) else "must be a string"


def _boolean(value: Any) -> Optional[str]:
    """The problem with a value that must be a boolean."""
    return None if isinstance(value, bool) else "must be a boolean"


#: The largest `x-max-priority` RabbitMQ accepts (priorities are a byte).
MAX_PRIORITY = 255

#: The queue types, set by `x-queue-type`.
CLASSIC, QUORUM, STREAM = "classic", "quorum", "stream"

#: The optional queue arguments RabbitMQ 3.10 interprets, each with the
#: check of its value the broker would make when the queue is declared;
#: checked here, a mistake is found when planning rather than half-way
#: through an apply. Other arguments are stored as they are.
QUEUE_ARGUMENTS: Dict[str, Check] = {
    "x-message-ttl": _integer(0),
    "x-expires": _integer(1),
    "x-max-length": _integer(0),
    "x-max-length-bytes": _integer(0),
    "x-overflow": _one_of("drop-head", "reject-publish", "reject-publish-dlx"),
    "x-dead-letter-exchange": _string,
    "x-dead-letter-routing-key": _string,
    "x-dead-letter-strategy": _one_of("at-most-once", "at-least-once"),
    "x-max-priority": _integer(1, MAX_PRIORITY),
    "x-queue-mode": _one_of("default", "lazy"),
    "x-queue-type": _one_of(CLASSIC, QUORUM, STREAM),
    "x-single-active-consumer": _boolean,
    "x-delivery-limit": _integer(0),
    "x-quorum-initial-group-size": _integer(1),
    "x-initial-cluster-size": _integer(1),
    "x-max-age": _string,
    "x-stream-max-segment-size-bytes": _integer(1),
    "x-queue-master-locator": _string,
    "x-queue-leader-locator": _string,
}

#: The optional exchange arguments RabbitMQ interprets, checked likewise.
EXCHANGE_ARGUMENTS: Dict[str, Check] = {
    "alternate-exchange": _string,
}

#: The argument naming a queue's dead-letter exchange and an exchange's
#: alternate exchange: references `diff` looks for.
DEAD_LETTER_EXCHANGE = "x-dead-letter-exchange"
ALTERNATE_EXCHANGE = "alternate-exchange"

#: The exchanges every vhost has from its creation: a reference to one
#: always resolves.
BUILTIN_EXCHANGES = ("", "amq.direct", "amq.fanout", "amq.headers", "amq.match", "amq.topic", "amq.rabbitmq.trace")


def _name_problems(path: str, name: str, what: str, reserved: bool) -> List[Diagnostic]:
    """The problems of a vhost, queue or exchange name."""
    problems = []
    if len(name.encode("utf-8")) > NAME_MAX_BYTES:
        problems.append(
            Diagnostic.error(
                path,
                f"the {what} name is {len(name.encode('utf-8'))} bytes long: AMQP allows at most {NAME_MAX_BYTES}",
            )
        )
    if reserved and name.startswith(RESERVED_PREFIX):
        problems.append(
            Diagnostic.error(
                path,
                f"names beginning `{RESERVED_PREFIX}` are RabbitMQ's own: it refuses to declare a {what} named so",
                help=f"give the {what} a name that does not begin with `{RESERVED_PREFIX}`",
            )
        )
    return problems


def _tags(path: str, tags: List[str], problems: List[Diagnostic]) -> List[str]:
    """The canonical tags (trimmed, sorted, without duplicates); a tag that
    is empty, holds a comma or is an owner mark is a problem."""
    kept = set()
    for index, tag in enumerate(tags):
        trimmed = tag.strip()
        where = f"{path}/{index}"
        if not trimmed:
            problems.append(Diagnostic.error(where, "a tag cannot be empty"))
        elif "," in trimmed:
            problems.append(
                Diagnostic.error(
                    where,
                    f"the tag `{trimmed}` holds a comma: RabbitMQ's tools separate tags with commas",
                    help="write each tag as its own item",
                )
            )
        elif marks.is_mark(trimmed):
            problems.append(
                Diagnostic.error(
                    where,
                    f"`{trimmed}` is an owner mark, which the provider writes itself",
                    help="remove the tag",
                )
            )
        else:
            kept.add(trimmed)
    return sorted(kept)


def _arguments(
    path: str, arguments: Mapping[str, Any], known: Mapping[str, Check], problems: List[Diagnostic]
) -> dict:
    """The arguments as they are, each known one's value checked and the
    mark refused."""
    for key, value in arguments.items():
        where = f"{path}/{key}"
        if key == marks.MARK_ARGUMENT:
            problems.append(
                Diagnostic.error(
                    where, f"`{key}` is the provider's owner mark, which it writes itself", help="remove it"
                )
            )
            continue
        check = known.get(key)
        problem = check(value) if check is not None else None
        if problem:
            problems.append(Diagnostic.error(where, f"`{key}` {problem}"))
    return dict(arguments)


def vhost(spec: Mapping[str, Any]) -> Tuple[dict, List[Diagnostic]]:
    """The canonical vhost and its problems."""
    problems = _name_problems("name", spec["name"], "vhost", reserved=False)
    canonical = {
        "name": spec["name"],
        "description": spec.get("description", ""),
        "tags": _tags("tags", spec.get("tags", []), problems),
        "tracing": spec.get("tracing", False),
    }
    return canonical, problems


def user(spec: Mapping[str, Any]) -> Tuple[dict, List[Diagnostic]]:
    """The canonical user and its problems."""
    problems: List[Diagnostic] = []
    if PASSWORD_FINGERPRINT in spec:
        problems.append(
            Diagnostic.error(
                PASSWORD_FINGERPRINT,
                f"`{PASSWORD_FINGERPRINT}` is observed, never set: it follows the hash the server holds",
                help="remove it",
            )
        )
    canonical = {"name": spec["name"], "tags": _tags("tags", spec.get("tags", []), problems)}
    if spec.get("password") is not None:
        canonical["password"] = {"secret": spec["password"]["secret"]}
    return canonical, problems


def permission(spec: Mapping[str, Any]) -> Tuple[dict, List[Diagnostic]]:
    """The canonical permission and its problems (the regular expressions
    are RabbitMQ's, PCRE, which the server checks when they are written)."""
    canonical = {key: spec[key] for key in ("vhost", "user", "configure", "write", "read")}
    return canonical, _name_problems("vhost", spec["vhost"], "vhost", reserved=False)


def queue(spec: Mapping[str, Any]) -> Tuple[dict, List[Diagnostic]]:
    """The canonical queue and its problems: its name, its arguments, and
    the properties a quorum queue or a stream requires."""
    problems = _name_problems("vhost", spec["vhost"], "vhost", reserved=False)
    problems += _name_problems("name", spec["name"], "queue", reserved=True)
    canonical = {
        "vhost": spec["vhost"],
        "name": spec["name"],
        "durable": spec.get("durable", True),
        "auto_delete": spec.get("auto_delete", False),
        "arguments": _arguments("arguments", spec.get("arguments", {}), QUEUE_ARGUMENTS, problems),
    }
    kind = canonical["arguments"].get("x-queue-type")
    if kind in (QUORUM, STREAM):
        if not canonical["durable"]:
            problems.append(
                Diagnostic.error("durable", f"a {kind} queue is always durable", help="remove `durable = false`")
            )
        if canonical["auto_delete"]:
            problems.append(
                Diagnostic.error(
                    "auto_delete", f"a {kind} queue cannot be auto-deleted", help="remove `auto_delete = true`"
                )
            )
    return canonical, problems


def exchange(spec: Mapping[str, Any]) -> Tuple[dict, List[Diagnostic]]:
    """The canonical exchange and its problems."""
    problems = _name_problems("vhost", spec["vhost"], "vhost", reserved=False)
    problems += _name_problems("name", spec["name"], "exchange", reserved=True)
    kind = spec["type"]
    if kind not in BUILTIN_EXCHANGE_TYPES and not (
        kind.startswith(PLUGIN_EXCHANGE_TYPE_PREFIX) and len(kind) > len(PLUGIN_EXCHANGE_TYPE_PREFIX)
    ):
        problems.append(
            Diagnostic.error(
                "type",
                f"unknown exchange type `{kind}`: expected one of {', '.join(BUILTIN_EXCHANGE_TYPES)}, "
                f"or a plugin's type beginning `{PLUGIN_EXCHANGE_TYPE_PREFIX}`",
            )
        )
    canonical = {
        "vhost": spec["vhost"],
        "name": spec["name"],
        "type": kind,
        "durable": spec.get("durable", True),
        "auto_delete": spec.get("auto_delete", False),
        "internal": spec.get("internal", False),
        "arguments": _arguments("arguments", spec.get("arguments", {}), EXCHANGE_ARGUMENTS, problems),
    }
    return canonical, problems


#: Each type's canonicaliser.
CANONICAL = {VHOST: vhost, USER: user, PERMISSION: permission, QUEUE: queue, EXCHANGE: exchange}


def server_tags(value: Any) -> List[str]:
    """Tags as the server returns them: a list (3.9 and later) or a
    comma-separated string (older)."""
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    if isinstance(value, list):
        return [tag for tag in value if isinstance(tag, str)]
    return []


def observed_vhost(raw: Mapping[str, Any]) -> dict:
    """A vhost the server returned, in canonical form."""
    return {
        "name": raw["name"],
        "description": raw.get("description") or "",
        "tags": marks.tags_without_marks(server_tags(raw.get("tags"))),
        "tracing": bool(raw.get("tracing", False)),
    }


def observed_user(raw: Mapping[str, Any]) -> dict:
    """A user the server returned, in canonical form: no password, which
    the server never returns (`diff` checks its hash), but the fingerprint
    of the hash, which follows every change of it."""
    state = {"name": raw["name"], "tags": marks.tags_without_marks(server_tags(raw.get("tags")))}
    print_of_hash = passwords.fingerprint(raw.get("password_hash") or "")
    if print_of_hash is not None:
        state[PASSWORD_FINGERPRINT] = print_of_hash
    return state


def observed_permission(raw: Mapping[str, Any]) -> dict:
    """A permission the server returned, in canonical form."""
    return {key: raw.get(key, "") for key in ("vhost", "user", "configure", "write", "read")}


def observed_queue(raw: Mapping[str, Any]) -> dict:
    """A queue the server returned, in canonical form."""
    return {
        "vhost": raw["vhost"],
        "name": raw["name"],
        "durable": bool(raw.get("durable", False)),
        "auto_delete": bool(raw.get("auto_delete", False)),
        "arguments": marks.arguments_without_mark(raw.get("arguments") or {}),
    }


def observed_exchange(raw: Mapping[str, Any]) -> dict:
    """An exchange the server returned, in canonical form."""
    return {
        "vhost": raw["vhost"],
        "name": raw["name"],
        "type": raw.get("type", ""),
        "durable": bool(raw.get("durable", False)),
        "auto_delete": bool(raw.get("auto_delete", False)),
        "internal": bool(raw.get("internal", False)),
        "arguments": marks.arguments_without_mark(raw.get("arguments") or {}),
    }


def applied(type_name: str, desired: Mapping[str, Any], password_hash: str = "") -> dict:
    """The state `list` will observe once `desired` is applied: the
    canonical spec, less what no observation shows (a user's password),
    with what only the server's answer gives (the fingerprint of the hash
    written, for a user)."""
    if type_name != USER:
        return dict(desired)
    state = {key: value for key, value in desired.items() if key != "password"}
    print_of_hash = passwords.fingerprint(password_hash)
    if print_of_hash is not None:
        state[PASSWORD_FINGERPRINT] = print_of_hash
    return state
