"""Structured logging to the host (`cairn:provider/log`).

Records go to the host's log, attributed to the tenant, provider instance
and call; `cairn plugin call` and `cairn plugin test --verbose` show them.
Fields are written as they are: never log a secret (`cairn plugin test`
fails `secrets-hidden` when a record holds one).

    log.info("listed the entries", count=len(entries))

Outside a component (unit tests under plain CPython) the records go to
Python's `logging`, logger `cairn_provider`.
"""

from __future__ import annotations

from typing import Any

#: The host's levels by name, and the `logging` level each falls back to
#: (`logging.DEBUG` is 10, and TRACE is finer still).
_LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40}


# The generated import exists only in componentize-py's build, which keeps
# of the bindings only the modules imported while it initialises the app:
# it is imported here, at the app's import.
try:
    from wit_world.imports import log as _host_log
except ModuleNotFoundError as _missing:
    if _missing.name not in ("wit_world", "wit_world.imports"):
        raise
    _host_log = None

#: The logger used when there is no host to write to (plain CPython); a
#: component does not need `logging`, and does not carry it.
FALLBACK = None
if _host_log is None:
    import logging

    FALLBACK = logging.getLogger("cairn_provider")


def log(level: str, message: str, /, **fields: Any) -> None:
    """Writes one record at `level` (`TRACE`, `DEBUG`, `INFO`, `WARN` or
    `ERROR`) with key/value fields, each value written with `str`."""
    name = level.upper()
    if name not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(_LEVELS)}")
    pairs = [(str(key), str(value)) for key, value in fields.items()]
    host = _host_log
    if host is None:
        shown = " ".join(f"{key}={value}" for key, value in pairs)
        FALLBACK.log(_LEVELS[name], "%s%s", message, f" {shown}" if shown else "")
    else:
        host.log(host.Level[name], str(message), pairs)


def trace(message: str, /, **fields: Any) -> None:
    """Fine-grained detail for debugging a provider."""
    log("TRACE", message, **fields)


def debug(message: str, /, **fields: Any) -> None:
    """Detail useful when something goes wrong."""
    log("DEBUG", message, **fields)


def info(message: str, /, **fields: Any) -> None:
    """Normal progress."""
    log("INFO", message, **fields)


def warn(message: str, /, **fields: Any) -> None:
    """Something unexpected that the provider handled."""
    log("WARN", message, **fields)


def error(message: str, /, **fields: Any) -> None:
    """Something failed."""
    log("ERROR", message, **fields)
