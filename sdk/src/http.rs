//! A small blocking HTTP client over `wasi:http`.
//!
//! Every request goes through the host's network gate: a URL outside the
//! operator's grants fails with [`ErrorKind::Denied`] before any connection
//! is made. Statuses map onto [`ErrorKind`]s so that the host can tell a
//! retryable failure from a permanent one.

use crate::{Error, ErrorKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;
use wasip2::http::outgoing_handler::{self, FutureIncomingResponse};
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method as WasiMethod, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// Default per-request timeouts. A provider call also has the host's own
/// deadline; these only make a hung server fail fast with `timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the first byte of a response.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes written per call: `blocking-write-and-flush` takes at most 4096.
const WRITE_CHUNK: usize = 4096;
/// Bytes asked for per read of a response body.
const READ_CHUNK: u64 = 64 * 1024;
/// Requests [`Client::send_all`] keeps open at once: enough that a server
/// with a few workers (an API server on two cores) has one in hand while
/// it answers another, half of the requests the host lets one call keep
/// open (16), so that a provider still has room for the rest of its work.
pub const REQUESTS_AT_ONCE: usize = 8;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    GET,
    /// POST
    POST,
    /// PUT
    PUT,
    /// PATCH
    PATCH,
    /// DELETE
    DELETE,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Method {
    fn to_wasi(self) -> WasiMethod {
        match self {
            Self::GET => WasiMethod::Get,
            Self::POST => WasiMethod::Post,
            Self::PUT => WasiMethod::Put,
            Self::PATCH => WasiMethod::Patch,
            Self::DELETE => WasiMethod::Delete,
        }
    }
}

/// A client with a base URL and headers sent on every request.
#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    headers: Vec<(String, String)>,
    /// The connect and first-byte timeouts, when not the defaults.
    timeout: Option<Duration>,
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// The parts of a URL that `wasi:http` takes separately.
struct Target {
    scheme: Scheme,
    authority: String,
    path_and_query: String,
}

fn split_url(url: &str) -> Option<Target> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return None,
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return None;
    }
    let path_and_query = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    Some(Target {
        scheme,
        authority: authority.to_string(),
        path_and_query,
    })
}

impl Client {
    /// A client for `base_url` (`http://127.0.0.1:8081/api/v1`); request
    /// paths are appended to it.
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            headers: Vec::new(),
            timeout: None,
        }
    }

    /// Gives up on a request whose connection or first response byte takes
    /// longer than `timeout` (the defaults are 10 s and 60 s): for a
    /// health probe, whose answer is useless once late.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a header sent with every request (an API key, say).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sends a request with an optional body `(content type, bytes)` and
    /// returns the response, whatever its status.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Response, Error> {
        let body = body
            .as_ref()
            .map(|(content_type, bytes)| (*content_type, bytes.as_slice()));
        self.start(method, path, body)?.finish()
    }

    /// Sends `requests`, up to [`REQUESTS_AT_ONCE`] of them open at a time,
    /// and returns each one's response (whatever its status) or failure,
    /// in `requests`' order: for many independent requests to one server,
    /// which answers them sooner side by side than one after the other.
    /// The host's limit on an endpoint's concurrency still applies: a
    /// request over it waits its turn there.
    pub fn send_all(&self, requests: Vec<Request>) -> Vec<Result<Response, Error>> {
        let mut results: Vec<Option<Result<Response, Error>>> =
            (0..requests.len()).map(|_| None).collect();
        let mut open: VecDeque<(usize, Pending)> = VecDeque::new();
        for (index, request) in requests.into_iter().enumerate() {
            if open.len() == REQUESTS_AT_ONCE
                && let Some((done, pending)) = open.pop_front()
            {
                results[done] = Some(pending.finish());
            }
            let body = request
                .body
                .as_ref()
                .map(|(content_type, bytes)| (content_type.as_str(), bytes.as_slice()));
            match self.start(request.method, &request.path, body) {
                Ok(pending) => open.push_back((index, pending)),
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        for (done, pending) in open {
            results[done] = Some(pending.finish());
        }
        results
            .into_iter()
            .map(|result| result.expect("every request was sent or failed"))
            .collect()
    }

    /// Sends a request without waiting for its answer.
    fn start(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Pending, Error> {
        let url = format!("{}{}", self.base_url, path);
        let fail = |kind: ErrorKind, reason: String| {
            Error::new(kind, format!("{method} {url} failed: {reason}"))
        };
        let target = split_url(&url).ok_or_else(|| {
            fail(
                ErrorKind::Invalid,
                "the URL is not an http or https URL".into(),
            )
        })?;
        let (content_type, bytes) = match body {
            Some((content_type, bytes)) => (Some(content_type), bytes),
            None => (None, &[][..]),
        };
        let mut headers: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone().into_bytes()))
            .collect();
        if let Some(content_type) = content_type {
            headers.push(("content-type".into(), content_type.as_bytes().to_vec()));
        }
        // An explicit length keeps the request from being sent chunked.
        headers.push((
            "content-length".into(),
            bytes.len().to_string().into_bytes(),
        ));
        let fields = Fields::from_list(&headers)
            .map_err(|error| fail(ErrorKind::Invalid, format!("bad header: {error:?}")))?;
        let request = OutgoingRequest::new(fields);
        let bad = |what: &str| fail(ErrorKind::Invalid, format!("the host refused the {what}"));
        request
            .set_method(&method.to_wasi())
            .map_err(|()| bad("method"))?;
        request
            .set_scheme(Some(&target.scheme))
            .map_err(|()| bad("scheme"))?;
        request
            .set_authority(Some(&target.authority))
            .map_err(|()| bad("authority"))?;
        request
            .set_path_with_query(Some(&target.path_and_query))
            .map_err(|()| bad("path"))?;
        let outgoing = request.body().map_err(|()| bad("body"))?;

        let options = RequestOptions::new();
        let connect = self.timeout.unwrap_or(CONNECT_TIMEOUT);
        let first_byte = self.timeout.unwrap_or(FIRST_BYTE_TIMEOUT);
        let _ = options.set_connect_timeout(Some(connect.as_nanos() as u64));
        let _ = options.set_first_byte_timeout(Some(first_byte.as_nanos() as u64));

        // An empty body is finished before the request leaves, so that a
        // server answering at once never races the end of the body.
        let pending_body = if bytes.is_empty() {
            OutgoingBody::finish(outgoing, None)
                .map_err(|error| transport(&method, &url, error))?;
            None
        } else {
            Some(outgoing)
        };
        let future = outgoing_handler::handle(request, Some(options))
            .map_err(|error| transport(&method, &url, error))?;
        if let Some(outgoing) = pending_body {
            write_body(outgoing, bytes);
        }
        Ok(Pending {
            method,
            url,
            future,
        })
    }

    /// GETs `path` and decodes a 2xx JSON answer.
    pub fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.send(Method::GET, path, None)?
            .error_for_status(&format!("GET {path}"))?
            .json()
    }

    /// Sends `value` as JSON and returns the response if its status is 2xx.
    pub fn send_json(
        &self,
        method: Method,
        path: &str,
        value: &impl Serialize,
    ) -> Result<Response, Error> {
        let what = format!("{method} {path}");
        self.request_json(method, path, Some(value))?
            .error_for_status(&what)
    }

    /// Sends a request with `value` as its JSON body, or none, and returns
    /// the response whatever its status: for an API whose answers other
    /// than 2xx say something (409 "already exists", 304 "already
    /// started").
    pub fn request_json(
        &self,
        method: Method,
        path: &str,
        value: Option<&impl Serialize>,
    ) -> Result<Response, Error> {
        match value {
            Some(value) => {
                let bytes = serde_json::to_vec(value)
                    .map_err(|error| Error::internal(format!("cannot encode JSON: {error}")))?;
                self.send(method, path, Some(("application/json", bytes)))
            }
            None => self.send(method, path, None),
        }
    }
}

/// A request sent whose answer is not read yet.
struct Pending {
    method: Method,
    url: String,
    future: FutureIncomingResponse,
}

impl Pending {
    /// Waits for the answer and reads it whole.
    fn finish(self) -> Result<Response, Error> {
        let Self {
            method,
            url,
            future,
        } = self;
        let fail = |kind: ErrorKind, reason: String| {
            Error::new(kind, format!("{method} {url} failed: {reason}"))
        };
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(error))) => return Err(transport(&method, &url, error)),
            Some(Err(())) | None => {
                return Err(fail(
                    ErrorKind::Internal,
                    "the response was already taken".into(),
                ));
            }
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    String::from_utf8_lossy(&value).into_owned(),
                )
            })
            .collect();
        let incoming = response.consume().map_err(|()| {
            fail(
                ErrorKind::Invalid,
                "the host refused the response body".into(),
            )
        })?;
        let body = read_body(&incoming).map_err(|reason| fail(ErrorKind::Unavailable, reason))?;
        drop(IncomingBody::finish(incoming));
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// One request of [`Client::send_all`].
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path (and query), appended to the client's base URL.
    pub path: String,
    /// The body: its content type and bytes.
    pub body: Option<(String, Vec<u8>)>,
}

impl Request {
    /// A request of `method` to `path`, without a body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            body: None,
        }
    }

    /// The same with a body of `content_type`.
    pub fn with_body(mut self, content_type: &str, bytes: Vec<u8>) -> Self {
        self.body = Some((content_type.to_string(), bytes));
        self
    }
}

impl Response {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text, lossily decoded.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Decodes the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|error| {
            Error::internal(format!(
                "the server's answer is not the JSON expected: {error}"
            ))
        })
    }

    /// Returns the response if its status is 2xx, otherwise an error whose
    /// kind follows the status and whose message names `what` was done and
    /// quotes the server's answer.
    pub fn error_for_status(self, what: &str) -> Result<Self, Error> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let kind = match self.status {
            400 | 422 => ErrorKind::Invalid,
            401 | 403 => ErrorKind::Unauthorized,
            404 => ErrorKind::NotFound,
            409 | 412 => ErrorKind::Conflict,
            408 | 504 => ErrorKind::Timeout,
            429 | 500..=599 => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        };
        const QUOTED_BODY_LIMIT: usize = 500; // enough for an API's error message
        let mut text = self.text();
        if text.len() > QUOTED_BODY_LIMIT {
            let cut = (0..=QUOTED_BODY_LIMIT)
                .rev()
                .find(|index| text.is_char_boundary(*index))
                .unwrap_or(0);
            text.truncate(cut);
            text.push('…');
        }
        Err(Error::new(
            kind,
            format!("{what} answered {}: {}", self.status, text.trim()),
        ))
    }
}

/// Writes a request body. A failed write is not reported here: a server
/// that stops reading has answered or failed, and the response says which.
fn write_body(outgoing: OutgoingBody, bytes: &[u8]) {
    if let Ok(stream) = outgoing.write() {
        for chunk in bytes.chunks(WRITE_CHUNK) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                return;
            }
        }
        drop(stream);
        let _ = OutgoingBody::finish(outgoing, None);
    }
}

/// Reads a response body to its end.
fn read_body(incoming: &IncomingBody) -> Result<Vec<u8>, String> {
    let stream = incoming
        .stream()
        .map_err(|()| "the response body cannot be read".to_string())?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(body),
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(format!(
                    "reading the response failed: {}",
                    error.to_debug_string()
                ));
            }
        }
    }
}

/// Maps a transport failure onto an error kind the host can act on.
fn transport(method: &Method, url: &str, error: ErrorCode) -> Error {
    let kind = match &error {
        ErrorCode::HttpRequestDenied => ErrorKind::Denied,
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout
        | ErrorCode::DnsTimeout => ErrorKind::Timeout,
        ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::DnsError(_)
        | ErrorCode::ConnectionLimitReached => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    let reason = match kind {
        ErrorKind::Denied => "the host refused the request: the URL is outside this provider's network grants (`allow` in cairn.toml)".to_string(),
        _ => format!("{error:?}"),
    };
    Error::new(kind, format!("{method} {url} failed: {reason}"))
}
