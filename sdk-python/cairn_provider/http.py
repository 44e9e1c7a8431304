"""A small blocking HTTP client over `wasi:http`.

Every request goes through the host's network gate: a URL outside the
operator's grants (`allow` in cairn.toml) fails with `denied` before any
connection is made. Statuses and transport failures map onto error kinds,
so that the host can tell a failure worth retrying (`unavailable`,
`timeout`) from a permanent one.

    client = Client("http://127.0.0.1:8780", headers={"authorization": f"Bearer {token}"})
    entries = client.get_json("/entries")
    client.send_json("PUT", "/entries/greeting", {"value": "hello"})
    response = client.send("DELETE", "/entries/greeting")
    if response.status != 404:
        response.error_for_status("DELETE /entries/greeting")

The values of the client's headers (tokens, API keys) never appear in the
errors it raises, even when a server quotes them back; keep secrets out of
URLs, which errors do show.
"""

from __future__ import annotations

import json as jsonlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .types import ErrorKind, ProviderError

# The generated bindings exist only in componentize-py's build, which keeps
# of them only the modules imported while it initialises the app: they are
# imported here, at the app's import, not when the first request is made.
# Under plain CPython (unit tests) there are none, and `send` cannot run.
try:
    from componentize_py_types import Err as _Err
    from wit_world.imports import outgoing_handler as _outgoing_handler
    from wit_world.imports import streams as _streams
    from wit_world.imports import wasi_http_types as _http
except ModuleNotFoundError as _missing:
    if _missing.name not in ("componentize_py_types", "wit_world", "wit_world.imports"):
        raise
    _Err = _outgoing_handler = _streams = _http = None

#: How long to wait for a connection. A provider call also has the host's
#: own deadline (`timeout` in cairn.toml); this only makes a server that
#: does not answer fail fast, with `timeout`.
CONNECT_TIMEOUT_SECONDS = 10
#: How long to wait for the first byte of a response, for the same reason.
FIRST_BYTE_TIMEOUT_SECONDS = 60
#: Bytes written per call: `blocking-write-and-flush` takes at most 4096.
WRITE_CHUNK = 4096
#: Bytes asked for per read of a response body.
READ_CHUNK = 64 * 1024
#: How much of a failed response's body an error quotes: enough for an
#: API's error message, short enough for one line of a plan.
QUOTED_BODY_LIMIT = 500
#: What stands in an error for a header value the client sends.
REDACTED = "(redacted)"
#: Parts of a header value shorter than this (`Bearer`, `Basic`) are
#: words, not secrets, and are not redacted on their own.
MIN_REDACTED_PART = 6
#: Nanoseconds per second, for `wasi:http`'s durations.
NANOS = 1_000_000_000

#: HTTP statuses and the error kind each means.
STATUS_KINDS = {
    400: ErrorKind.INVALID,
    401: ErrorKind.UNAUTHORIZED,
    403: ErrorKind.UNAUTHORIZED,
    404: ErrorKind.NOT_FOUND,
    408: ErrorKind.TIMEOUT,
    409: ErrorKind.CONFLICT,
    412: ErrorKind.CONFLICT,
    422: ErrorKind.INVALID,
    429: ErrorKind.UNAVAILABLE,
    504: ErrorKind.TIMEOUT,
}

#: `wasi:http` error codes (the case names of `error-code`) and the error
#: kind each means; any other is `internal`.
TRANSPORT_KINDS = {
    "HttpRequestDenied": ErrorKind.DENIED,
    "ConnectionTimeout": ErrorKind.TIMEOUT,
    "ConnectionReadTimeout": ErrorKind.TIMEOUT,
    "ConnectionWriteTimeout": ErrorKind.TIMEOUT,
    "HttpResponseTimeout": ErrorKind.TIMEOUT,
    "DnsTimeout": ErrorKind.TIMEOUT,
    "ConnectionRefused": ErrorKind.UNAVAILABLE,
    "ConnectionTerminated": ErrorKind.UNAVAILABLE,
    "ConnectionLimitReached": ErrorKind.UNAVAILABLE,
    "DestinationNotFound": ErrorKind.UNAVAILABLE,
    "DestinationUnavailable": ErrorKind.UNAVAILABLE,
    "DestinationIpUnroutable": ErrorKind.UNAVAILABLE,
    "DnsError": ErrorKind.UNAVAILABLE,
}

#: Why a request the network gate refused failed, for the operator.
DENIED_REASON = (
    "the host refused the request: the URL is outside this provider's network grants (`allow` in cairn.toml)"
)

#: The HTTP methods `wasi:http` names; others travel as `other`.
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")


def status_kind(status: int) -> Optional[ErrorKind]:
    """The error kind an HTTP status means: `None` for a 2xx; `STATUS_KINDS`
    for those it lists; `unavailable` for another 5xx; `internal` for
    anything else (another 4xx, and a 1xx or 3xx, which `wasi:http` does not
    follow)."""
    if 200 <= status < 300:
        return None
    if status in STATUS_KINDS:
        return STATUS_KINDS[status]
    return ErrorKind.UNAVAILABLE if 500 <= status < 600 else ErrorKind.INTERNAL


def transport_kind(code: Any) -> ErrorKind:
    """The error kind of a `wasi:http` `error-code` value (its generated
    class is `ErrorCode_NAME`)."""
    return TRANSPORT_KINDS.get(_code_name(code), ErrorKind.INTERNAL)


def _code_name(code: Any) -> str:
    """The case name of an `error-code` value: `ConnectionRefused`."""
    return type(code).__name__.rpartition("ErrorCode_")[2]


def transport_error(method: str, url: str, code: Any) -> ProviderError:
    """The error for a request that failed before a response came: its
    kind follows the `error-code`, and a refusal of the network gate says
    which setting grants the URL."""
    kind = transport_kind(code)
    if kind is ErrorKind.DENIED:
        reason = DENIED_REASON
    else:
        reason = _code_name(code)
        payload = getattr(code, "value", None)
        if payload is not None:
            reason += f" ({payload})"
    return ProviderError(kind, f"{method} {url} failed: {reason}")


def split_url(url: str) -> Optional[Tuple[str, str, str]]:
    """`(scheme, authority, path-with-query)` of an `http` or `https` URL,
    as `wasi:http` takes them; `None` for any other."""
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in ("http", "https"):
        return None
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if not authority:
        return None
    if not path:
        path = "/"
    elif path.startswith("?"):
        path = "/" + path
    return scheme, authority, path


def shown_url(url: str) -> str:
    """`url` for a message: without a `user:password@` part."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = authority.rpartition("@")[2]
    return f"{scheme}://{authority}{slash}{tail}"


class Response:
    """A response, read whole: its status, headers (names in lower case)
    and body (bytes)."""

    def __init__(self, status: int, headers: Sequence[Tuple[str, str]], body: bytes, redact: Sequence[str] = ()):
        self.status = status
        self.headers: List[Tuple[str, str]] = [(name.lower(), value) for name, value in headers]
        self.body = body
        self._redact = list(redact)

    def __repr__(self) -> str:
        return f"Response(status={self.status}, {len(self.body)} bytes)"

    def header(self, name: str) -> Optional[str]:
        """The first header called `name`, in any case."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    def text(self) -> str:
        """The body as text (UTF-8, invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body's JSON value; raises `internal` when it is not JSON."""
        try:
            return jsonlib.loads(self.body)
        except ValueError as error:
            raise ProviderError.internal(f"the server's answer is not the JSON expected: {error}") from None

    def error_for_status(self, what: str) -> "Response":
        """The response itself when its status is 2xx; otherwise raises
        an error whose kind follows the status (`status_kind`) and whose
        message says `what` was done, the status, and the start of the
        server's answer."""
        kind = status_kind(self.status)
        if kind is None:
            return self
        text = redact(self.text(), self._redact).strip()
        if len(text) > QUOTED_BODY_LIMIT:
            text = text[:QUOTED_BODY_LIMIT] + "…"
        message = f"{what} answered {self.status}"
        raise ProviderError(kind, f"{message}: {text}" if text else message)


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every one of `secrets` replaced by `REDACTED`, longest
    first."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class Client:
    """A blocking HTTP client for `base_url` (`http://127.0.0.1:8081/api`),
    to which request paths are appended, sending `headers` with every
    request (an `authorization` token, say)."""

    def __init__(self, base_url: str, headers: Optional[Mapping[str, str]] = None):
        self.base_url = base_url.rstrip("/")
        self.headers: Dict[str, str] = {name.lower(): value for name, value in (headers or {}).items()}

    def __repr__(self) -> str:
        return f"Client({shown_url(self.base_url)!r}, headers={sorted(self.headers)!r})"

    def _secrets(self) -> List[str]:
        """What errors must not show: each header value, and each part of
        one long enough to be a token (`Bearer TOKEN`)."""
        found = []
        for value in self.headers.values():
            found.append(value)
            found.extend(part for part in value.split() if len(part) >= MIN_REDACTED_PART)
        return found

    def send(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        body: Optional[bytes] = None,
        content_type: Optional[str] = None,
    ) -> Response:
        """Sends a request and returns the response, whatever its status.
        `json` is sent as a JSON body; `body` sends bytes as they are (with
        `content_type`). Raises a `ProviderError` when no response comes:
        `denied` by the network gate, `unavailable` (refused, unreachable,
        DNS), `timeout`, `invalid` (a URL that is not http or https), or
        `internal`."""
        method = method.upper()
        url = self.base_url + path
        shown = redact(shown_url(url), self._secrets())
        if json is not None and body is not None:
            raise ProviderError.internal(f"{method} {shown}: give `json` or `body`, not both")
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
            content_type = content_type or "application/json"
        target = split_url(url)
        if target is None:
            raise ProviderError.invalid(f"{method} {shown} failed: the URL is not an http or https URL")
        headers = [(name, value.encode()) for name, value in self.headers.items()]
        if "accept" not in self.headers:
            headers.append(("accept", b"application/json"))
        if content_type is not None:
            headers.append(("content-type", content_type.encode()))
        # An explicit length keeps the request from being sent chunked, which
        # simple servers (Python's http.server among them) do not read.
        headers.append(("content-length", str(len(body or b"")).encode()))
        try:
            status, answer_headers, answer = self._exchange(method, target, headers, body or b"")
        except _TransportFailure as failure:
            raise transport_error(method, shown, failure.code) from None
        except ProviderError as error:
            raise ProviderError(error.kind, redact(f"{method} {shown} failed: {error.message}", self._secrets())) from None
        return Response(status, answer_headers, answer, self._secrets())

    def get_json(self, path: str) -> Any:
        """GETs `path` and returns the JSON of a 2xx answer."""
        return self.send("GET", path).error_for_status(f"GET {path}").json()

    def send_json(self, method: str, path: str, value: Any) -> Response:
        """Sends `value` as JSON and returns the response when its status is
        2xx; raises as `Response.error_for_status` otherwise."""
        method = method.upper()
        return self.send(method, path, json=value).error_for_status(f"{method} {path}")

    def _exchange(
        self, method: str, target: Tuple[str, str, str], headers: List[Tuple[str, bytes]], body: bytes
    ) -> Tuple[int, List[Tuple[str, str]], bytes]:
        """Makes the request through `wasi:http`: `(status, headers, body)`.
        Raises `_TransportFailure` with the `error-code` when no response
        came, `ProviderError` for anything else."""
        return _wasi_exchange(method, target, headers, body)


class _TransportFailure(Exception):
    """A `wasi:http` `error-code` in place of a response."""

    def __init__(self, code: Any):
        super().__init__(_code_name(code))
        self.code = code


def _wasi_exchange(
    method: str, target: Tuple[str, str, str], headers: List[Tuple[str, bytes]], body: bytes
) -> Tuple[int, List[Tuple[str, str]], bytes]:
    """One request and its whole response over `wasi:http`, blocking on the
    host's pollables. Resources are dropped children first, as the host
    requires."""
    if _http is None:
        raise ProviderError.internal("there is no wasi:http outside a component: build the plugin to send requests")
    Err, http, streams, outgoing_handler = _Err, _http, _streams, _outgoing_handler

    def refused(what: str) -> ProviderError:
        """The error for a part of the request the host would not take."""
        return ProviderError.invalid(f"the host refused the {what}")

    scheme, authority, path_with_query = target
    try:
        fields = http.Fields.from_list(headers)
    except Err as error:
        names = ", ".join(name for name, _ in headers)
        raise ProviderError.invalid(f"a header is not valid ({type(error.value).__name__}; headers: {names})") from None
    request = http.OutgoingRequest(fields)
    steps = (
        ("method", lambda: request.set_method(_wasi_method(http, method))),
        ("scheme", lambda: request.set_scheme(http.Scheme_Https() if scheme == "https" else http.Scheme_Http())),
        ("authority", lambda: request.set_authority(authority)),
        ("path", lambda: request.set_path_with_query(path_with_query)),
    )
    for what, step in steps:
        try:
            step()
        except Err:
            raise refused(what) from None
    outgoing = request.body()
    options = http.RequestOptions()
    for setter, seconds in (
        (options.set_connect_timeout, CONNECT_TIMEOUT_SECONDS),
        (options.set_first_byte_timeout, FIRST_BYTE_TIMEOUT_SECONDS),
    ):
        try:
            setter(seconds * NANOS)
        except Err:
            pass  # the host does not support it: its own deadline applies
    try:
        # An empty body is finished before the request leaves, so that a
        # server answering at once never races the end of the body.
        if not body:
            http.OutgoingBody.finish(outgoing, None)
            outgoing = None
        future = outgoing_handler.handle(request, options)
    except Err as error:
        raise _TransportFailure(error.value) from None
    if outgoing is not None:
        _write_body(http, outgoing, body, Err)
    with future.subscribe() as pollable:
        pollable.block()
    result = future.get()
    future.__exit__(None, None, None)
    if result is None or isinstance(result, Err):
        raise ProviderError.internal("the response was already taken")
    if isinstance(result.value, Err):
        raise _TransportFailure(result.value.value)
    response = result.value.value
    status = response.status()
    with response.headers() as answer_fields:
        answer_headers = [(name, value.decode("utf-8", errors="replace")) for name, value in answer_fields.entries()]
    incoming = response.consume()
    stream = incoming.stream()
    chunks = []
    while True:
        try:
            chunks.append(stream.blocking_read(READ_CHUNK))
        except Err as error:
            if isinstance(error.value, streams.StreamError_Closed):
                break
            reason = error.value.value.to_debug_string()
            raise ProviderError.unavailable(f"reading the response failed: {reason}") from None
    stream.__exit__(None, None, None)
    http.IncomingBody.finish(incoming).__exit__(None, None, None)
    response.__exit__(None, None, None)
    return status, answer_headers, b"".join(chunks)


def _write_body(http: Any, outgoing: Any, body: bytes, err: type) -> None:
    """Writes a request body and finishes it. A failed write is not reported
    here: a server that stops reading has answered or failed, and the
    response says which."""
    try:
        stream = outgoing.write()
    except err:
        return
    try:
        for start in range(0, len(body), WRITE_CHUNK):
            stream.blocking_write_and_flush(body[start : start + WRITE_CHUNK])
    except err:
        return
    finally:
        stream.__exit__(None, None, None)
    try:
        http.OutgoingBody.finish(outgoing, None)
    except err:
        pass


def _wasi_method(http: Any, method: str) -> Any:
    """The generated `method` value for `method`."""
    if method in METHODS:
        return getattr(http, f"Method_{method.capitalize()}")()
    return http.Method_Other(method)
