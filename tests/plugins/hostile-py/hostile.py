"""A provider in Python (componentize-py) that misbehaves on purpose in
`list`, as its config's `mode` says, so the tests can check that the host
contains a component of that toolchain as it contains the Rust attacker
(tests/plugins/hostile). Config: `{"mode": MODE, "target": URL}`. Modes:

- `well`: behaves, listing nothing (the control);
- `read-files`: lists `/` and `.`, reads `/etc/passwd`, counts
  `os.environ` and `sys.argv`, and fails with `internal` and a report in
  the Rust attacker's words: `/: refused (...); .: refused (...);
  /etc/passwd: refused (...); environment: N variable(s); arguments: N`
  (`PATH: READ N` for a path it could read: entries of a folder, bytes of
  a file);
- `socket`: opens a TCP connection to `target` (`http://HOST:PORT`) with
  the `socket` module, sends `GET / HTTP/1.0` and reads the answer; fails
  with `internal` and `socket: refused (...)` or `socket: CONNECTED, ...`;
- `spin`: loops forever in guest code (the epoch deadline stops it);
- `hoard`: keeps allocating 1 MiB bytearrays, without end (the memory
  limit stops it);
- `exit`: calls `os._exit(3)`, which is wasi:cli/exit (`sys.exit` only
  raises SystemExit); the host ends the call as a crash (the status it
  reports is 1: componentize-py's libc imports wasi:cli/exit@0.2.9, whose
  `exit` takes only ok or error);
- `exit-ok`: calls `os._exit(0)`, wasi:cli/exit with a success status
  (still a crash: the call gave no answer);
- `exfiltrate`: GETs `target` + `/steal` through wasi:http; a refusal
  fails with the wasi:http error code's text (`denied` for
  `HTTP-request-denied`), an answer other than 2xx with its status, a 2xx
  answer lists nothing.

Any other mode behaves like `well`. validate, diff and apply are harmless.
"""

# Every module is imported here, at the top: componentize-py runs this
# file's top level at build time and snapshots the interpreter, and a
# module first imported later is looked for on a filesystem the host leaves
# empty (`ModuleNotFoundError`).
import json
import os
import socket
import sys
from typing import List
from urllib import parse

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import outgoing_handler
from wit_world.imports import wasi_http_types as http
from wit_world.imports.cairn_provider_types import (
    Action,
    Change,
    Declared,
    Desired,
    DiffInput,
    Error,
    ErrorKind,
    Observed,
    Outcome,
    Outcome_Applied,
    ProviderInfo,
    ResourceType,
    Scope,
    Secret,
    Validation,
)

# Set by `configure`, which the host calls first in every list, diff and
# apply call, in the same fresh instance.
_mode = ""
_target = ""


def fail(kind: ErrorKind, message: str) -> Err:
    """An error of the contract, to raise from a result-returning export."""
    return Err(Error(kind, message))


# ------------------------------------------------------------ read-files ----

def _try_read(path: str) -> str:
    """`PATH: READ N` (entries of a folder, bytes of a file) or
    `PATH: refused (WHY)`."""
    try:
        if path == "/etc/passwd":
            with open(path, "rb") as file:
                count = len(file.read())
        else:
            count = len(os.listdir(path))
        return f"{path}: READ {count}"
    except Exception as error:  # OSError, or anything the runtime raises
        return f"{path}: refused ({error})"


def read_files() -> str:
    found = [_try_read(path) for path in ("/", ".", "/etc/passwd")]
    found.append(f"environment: {len(os.environ)} variable(s)")
    found.append(f"arguments: {len(sys.argv)}")
    return "; ".join(found)


# ---------------------------------------------------------------- socket ----

def open_socket() -> str:
    """Connects to `target`, sends a GET and reads; returns what came of it,
    naming the step that was refused."""
    url = parse.urlsplit(_target)
    host = url.hostname or ""
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        return f"socket: refused (the target `{_target}` has no valid port)"
    step = "socket"
    try:
        connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            step = "connect"
            connection.connect((host, port))
            step = "send"
            connection.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            step = "recv"
            answer = b""
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
        finally:
            connection.close()
    except Exception as error:  # OSError, or anything the runtime raises
        return f"socket: refused ({step}: {type(error).__name__}: {error})"
    first = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    return f"socket: CONNECTED to {host}:{port}, read {len(answer)} bytes: {first}"


# ------------------------------------------------------------ exfiltrate ----

def _kind_of_status(status: int) -> ErrorKind:
    """The error kind of a non-2xx status, as the Rust SDK maps it."""
    if status in (400, 422):
        return ErrorKind.INVALID
    if status in (401, 403):
        return ErrorKind.UNAUTHORIZED
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status in (409, 412):
        return ErrorKind.CONFLICT
    if status in (408, 504):
        return ErrorKind.TIMEOUT
    if status == 429 or 500 <= status <= 599:
        return ErrorKind.UNAVAILABLE
    return ErrorKind.INTERNAL


def _refused(url: str, code) -> Err:
    """The error for a wasi:http error code."""
    text = repr(code)
    if isinstance(code, http.ErrorCode_HttpRequestDenied):
        return fail(
            ErrorKind.DENIED,
            f"GET {url} failed: {text}: the host refused the request: "
            "the URL is outside this provider's network grants",
        )
    return fail(ErrorKind.INTERNAL, f"GET {url} failed: {text}")


def exfiltrate() -> None:
    """One GET of `target` + `/steal`; raises unless it is answered 2xx."""
    url = _target + "/steal"
    parts = parse.urlsplit(url)
    request = http.OutgoingRequest(http.Fields())
    request.set_method(http.Method_Get())
    request.set_scheme(http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query(parts.path + ("?" + parts.query if parts.query else ""))
    try:
        future = outgoing_handler.handle(request, None)
    except Err as error:
        raise _refused(url, error.value)
    with future:
        with future.subscribe() as pollable:
            pollable.block()
        # option<result<result<incoming-response, error-code>, _>>
        outer = future.get()
    if not isinstance(outer, Ok):
        raise fail(ErrorKind.INTERNAL, f"GET {url} failed: no answer")
    if isinstance(outer.value, Err):
        raise _refused(url, outer.value.value)
    with outer.value.value as response:
        status = response.status()
    if not 200 <= status <= 299:
        raise fail(_kind_of_status(status), f"GET {url} answered {status}")


# -------------------------------------------------------------- provider ----

class Provider(exports.Provider):
    def describe(self) -> ProviderInfo:
        return ProviderInfo(
            name="hostile-py",
            version="0.0.0",
            description="misbehaves on purpose (Python)",
            resource_types=[
                ResourceType(
                    name="thing",
                    description="a thing",
                    schema=json.dumps(
                        {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string", "description": "the thing's name"}
                            },
                            "required": ["name"],
                            "additionalProperties": False,
                        }
                    ),
                    identity=["name"],
                    force_replace=[],
                    sensitive=[],
                )
            ],
            config_schema=json.dumps(
                {
                    "type": "object",
                    "properties": {
                        "mode": {"type": "string", "description": "how `list` misbehaves"},
                        "target": {
                            "type": "string",
                            "description": "the URL `socket` and `exfiltrate` reach for",
                        },
                    },
                    "additionalProperties": False,
                }
            ),
        )

    def configure(self, config: str, secrets: List[Secret], owner: str) -> None:
        global _mode, _target
        try:
            parsed = json.loads(config)
        except ValueError as error:
            raise fail(ErrorKind.INVALID, f"config: {error}")
        if not isinstance(parsed, dict):
            parsed = {}
        _mode = parsed.get("mode") if isinstance(parsed.get("mode"), str) else ""
        _target = parsed.get("target") if isinstance(parsed.get("target"), str) else ""

    def validate(self, resources: List[Desired]) -> List[Validation]:
        return [Validation(resource.spec, []) for resource in resources]

    def list(self, scope: Scope) -> List[Observed]:
        if _mode == "read-files":
            raise fail(ErrorKind.INTERNAL, read_files())
        if _mode == "socket":
            raise fail(ErrorKind.INTERNAL, open_socket())
        if _mode == "spin":
            counter = 0
            while True:
                counter += 1
        if _mode == "hoard":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        if _mode == "exit":
            os._exit(3)
        if _mode == "exit-ok":
            os._exit(0)
        if _mode == "exfiltrate":
            exfiltrate()
        return []

    def diff(self, inputs: List[DiffInput], declared: List[Declared]) -> List[Change]:
        changes = []
        for item in inputs:
            if item.desired is None:
                action = Action.NO_OP if item.observed is None else Action.DELETE
            elif item.observed is None:
                action = Action.CREATE
            elif json.loads(item.desired) == json.loads(item.observed):
                action = Action.NO_OP
            else:
                action = Action.UPDATE
            changes.append(
                Change(
                    item.type_name,
                    item.id,
                    action,
                    action.name.lower().replace("_", "-"),
                    [],
                    item.desired,
                    item.observed,
                    [],
                    None,
                )
            )
        return changes

    def apply(self, changes: List[Change]) -> List[Outcome]:
        return [Outcome_Applied(change.desired) for change in changes]
