"""The provider's resource types and configuration, as `describe` publishes
them: one JSON Schema per type drives the host's checks, the reference page
`cairn plugin docs` prints, and `validate`.
"""

import cairn_provider as cairn

#: The observed-only field of a user that follows its password hash.
PASSWORD_FINGERPRINT = "password_fingerprint"

#: The resource types' names.
VHOST = "vhost"
USER = "user"
PERMISSION = "permission"
QUEUE = "queue"
EXCHANGE = "exchange"

#: The longest vhost, queue or exchange name, in bytes of UTF-8: AMQP 0-9-1
#: carries each as a short string (at most 255 bytes), so a longer one could
#: be made over HTTP but never named by a client.
NAME_MAX_BYTES = 255

#: The exchange types RabbitMQ always has; a plugin's own types (such as
#: `x-delayed-message` or `x-consistent-hash`) begin with `x-`.
BUILTIN_EXCHANGE_TYPES = ("direct", "fanout", "topic", "headers")

#: The prefix of the exchange types that plugins add.
PLUGIN_EXCHANGE_TYPE_PREFIX = "x-"

#: The prefix RabbitMQ reserves for its own queue and exchange names: a
#: client may not declare one (the API answers 401 "Access refused").
RESERVED_PREFIX = "amq."


def _name(what: str) -> dict:
    """The schema of a vhost, queue or exchange name."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_MAX_BYTES,
        "description": f"The {what}'s name, case-sensitive, at most {NAME_MAX_BYTES} bytes of UTF-8.",
    }


def _vhost_reference(what: str) -> dict:
    """The schema of the field naming the vhost an object lives in."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_MAX_BYTES,
        "description": (
            f"The vhost the {what} belongs to (`/` is the default vhost); it must be declared in the "
            "same commit or exist on the server."
        ),
    }


def _tags(what: str) -> dict:
    """The schema of a vhost's or a user's tags."""
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "default": [],
        "description": (
            f"The {what}'s tags, a set: surrounding spaces are trimmed, the list is sorted and duplicates "
            "are dropped. A tag holds no comma, and tags of the form `cairn-` and 24 hex digits are "
            "owner marks, which the provider writes itself."
        ),
    }


def _arguments(what: str) -> dict:
    """The schema of a queue's or an exchange's optional arguments."""
    return {
        "type": "object",
        "default": {},
        "description": (
            f"The {what}'s optional arguments (`x-arguments`), any JSON values; RabbitMQ cannot change "
            "them in place, so a change replaces the "
            f"{what}. `x-cairn-owner` is the provider's owner mark and cannot be set here."
        ),
    }


VHOST_SCHEMA = {
    "type": "object",
    "properties": {
        "name": _name("vhost"),
        "description": {"type": "string", "default": "", "description": "A free-form description; empty when absent."},
        "tags": _tags("vhost"),
        "tracing": {
            "type": "boolean",
            "default": False,
            "description": "Whether the firehose tracer copies every message of the vhost to `amq.rabbitmq.trace`.",
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}

USER_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "The user's name (its login), case-sensitive."},
        "password": {
            "type": "object",
            "properties": {
                "secret": {
                    "type": "string",
                    "minLength": 1,
                    "description": "The name of a secret of this provider instance that holds the password.",
                },
            },
            "required": ["secret"],
            "additionalProperties": False,
            "writeOnly": True,
            "description": (
                '`{ secret = "NAME" }`: the password is the operator\'s secret NAME, never a value in Git. '
                "Only a salted SHA-256 hash of it is sent; drift is found by checking the server's hash "
                "against it. Without it the user has no password (it can log in only through another "
                "mechanism, such as x509 certificates)."
            ),
        },
        "tags": _tags("user"),
        "password_fingerprint": {
            "type": "string",
            "readOnly": True,
            "description": (
                "Observed only: a short digest of the password hash the server holds, absent when the user "
                "has no password. Any new password, set by Cairn or by hand, changes it, which makes the "
                "host compare the user again; it tells nothing of the password."
            ),
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}

PERMISSION_SCHEMA = {
    "type": "object",
    "properties": {
        "vhost": _vhost_reference("permission"),
        "user": {
            "type": "string",
            "minLength": 1,
            "description": "The user granted; it must be declared in the same commit or exist on the server.",
        },
        "configure": {
            "type": "string",
            "description": (
                'The regular expression of the names the user may declare and delete; `""` for none, `".*"` for all.'
            ),
        },
        "write": {
            "type": "string",
            "description": "The regular expression of the names the user may publish to (exchanges) or bind to.",
        },
        "read": {
            "type": "string",
            "description": "The regular expression of the names the user may consume from (queues) or bind from.",
        },
    },
    "required": ["vhost", "user", "configure", "write", "read"],
    "additionalProperties": False,
}

QUEUE_SCHEMA = {
    "type": "object",
    "properties": {
        "vhost": _vhost_reference("queue"),
        "name": _name("queue"),
        "durable": {
            "type": "boolean",
            "default": True,
            "description": "Whether the queue survives a broker restart; a change replaces the queue.",
        },
        "auto_delete": {
            "type": "boolean",
            "default": False,
            "description": "Whether the queue is deleted when its last consumer leaves; a change replaces the queue.",
        },
        "arguments": _arguments("queue"),
    },
    "required": ["vhost", "name"],
    "additionalProperties": False,
}

EXCHANGE_SCHEMA = {
    "type": "object",
    "properties": {
        "vhost": _vhost_reference("exchange"),
        "name": _name("exchange"),
        "type": {
            "type": "string",
            "pattern": "^(direct|fanout|topic|headers|x-.+)$",
            "description": (
                "`direct`, `fanout`, `topic` or `headers`, or a plugin's type beginning `x-` "
                "(which the server must have enabled); a change replaces the exchange."
            ),
        },
        "durable": {
            "type": "boolean",
            "default": True,
            "description": "Whether the exchange survives a broker restart; a change replaces the exchange.",
        },
        "auto_delete": {
            "type": "boolean",
            "default": False,
            "description": (
                "Whether the exchange is deleted when its last binding goes; a change replaces the exchange."
            ),
        },
        "internal": {
            "type": "boolean",
            "default": False,
            "description": (
                "Whether clients cannot publish to it (only other exchanges can); a change replaces the exchange."
            ),
        },
        "arguments": _arguments("exchange"),
    },
    "required": ["vhost", "name", "type"],
    "additionalProperties": False,
}

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "url": {
            "type": "string",
            "minLength": 1,
            "description": (
                "The root of RabbitMQ's management HTTP API, such as `http://127.0.0.1:15672` (a trailing "
                "`/api` is accepted); grant it in `allow`. The secrets `username` and `password` log in "
                "with HTTP Basic authentication, as a user with the `administrator` tag."
            ),
        },
    },
    "required": ["url"],
    "additionalProperties": False,
}

#: What `describe` lists, in the order a commit usually needs them made.
RESOURCE_TYPES = [
    cairn.ResourceType(
        VHOST,
        "a virtual host: a namespace of queues, exchanges and permissions",
        VHOST_SCHEMA,
        identity=["name"],
    ),
    cairn.ResourceType(
        USER,
        "a user who logs in to the broker, with its tags and password",
        USER_SCHEMA,
        identity=["name"],
        sensitive=["password"],
    ),
    cairn.ResourceType(
        PERMISSION,
        "what one user may configure, write and read in one vhost",
        PERMISSION_SCHEMA,
        identity=["vhost", "user"],
    ),
    cairn.ResourceType(
        QUEUE,
        "a queue of a vhost, replaced when a property RabbitMQ cannot change differs",
        QUEUE_SCHEMA,
        identity=["vhost", "name"],
        force_replace=["durable", "auto_delete", "arguments"],
    ),
    cairn.ResourceType(
        EXCHANGE,
        "an exchange of a vhost, replaced when a property RabbitMQ cannot change differs",
        EXCHANGE_SCHEMA,
        identity=["vhost", "name"],
        force_replace=["type", "durable", "auto_delete", "internal", "arguments"],
    ),
]
