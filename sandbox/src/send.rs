//! Sending a plugin's request once the gate allowed it: to the address the
//! gate checked (never a second lookup), over TLS with the grant's trust,
//! with the connect and first-byte timeouts the plugin asked for (capped),
//! on a connection the provider instance kept from its last request to the
//! same server when it has one ([`Connections`]).

use super::connections::{Connections, Sender, Server};
use super::limits;
use http_body_util::BodyExt;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// How long the first byte of a response may take when the plugin does
/// not say: as long as a plugin call may last.
const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a response body may stall between two chunks when the plugin
/// does not say.
const DEFAULT_BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(600);

/// Sends `request` to `address`, on a connection `connections` kept for
/// this server or a new one. `tls` is `None` for `http`; for `https` the
/// certificate must be valid for `host`.
pub async fn send(
    mut request: http::Request<WasiBody>,
    options: RequestOptions,
    address: SocketAddr,
    host: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    connections: &Arc<Connections>,
) -> Result<http::Response<WasiBody>, HttpError> {
    let timeouts = Timeouts {
        first_byte: options
            .first_byte_timeout
            .unwrap_or(DEFAULT_FIRST_BYTE_TIMEOUT),
        between_bytes: options
            .between_bytes_timeout
            .unwrap_or(DEFAULT_BETWEEN_BYTES_TIMEOUT)
            .max(Duration::from_millis(1)),
    };
    let uri = request.uri().clone();
    // Origin form on the wire: the authority travels in the Host header.
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(uri.path_and_query().map_or("/", |p| p.as_str()))
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let server = Server {
        address,
        host: host.to_string(),
        tls,
    };
    while let Some(mut sender) = connections.take(&server) {
        // Kept once its last answer ended, a connection is ready at once,
        // or was closed by the server meanwhile.
        let ready = std::future::poll_fn(|cx| std::task::Poll::Ready(sender.poll_ready(cx))).await;
        if !matches!(ready, std::task::Poll::Ready(Ok(()))) {
            continue;
        }
        let sending = sender.try_send_request(request);
        match tokio::time::timeout(timeouts.first_byte, sending).await {
            Err(_) => return Err(HttpError::ConnectionReadTimeout),
            Ok(Ok(response)) => {
                let kept = Kept {
                    connections: connections.clone(),
                    server,
                    sender,
                };
                return Ok(answer(response, timeouts, kept));
            }
            // Closed before the request went out: it goes on another.
            Ok(Err(mut failed)) => match failed.take_message() {
                Some(unsent) => request = unsent,
                None => return Err(send_error(failed.into_error())),
            },
        }
    }
    let connect_timeout = options
        .connect_timeout
        .unwrap_or(limits::HTTP_CONNECT_TIMEOUT);
    let mut sender = connect(&server, connect_timeout).await?;
    let response = tokio::time::timeout(timeouts.first_byte, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)?
        .map_err(send_error)?;
    let kept = Kept {
        connections: connections.clone(),
        server,
        sender,
    };
    Ok(answer(response, timeouts, kept))
}

/// A new HTTP/1.1 connection to `server`, driven on its own task for as
/// long as a sender or an answer's body uses it.
async fn connect(server: &Server, connect_timeout: Duration) -> Result<Sender, HttpError> {
    let stream = tokio::time::timeout(
        connect_timeout,
        tokio::net::TcpStream::connect(server.address),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)?
    .map_err(|error| match error.kind() {
        std::io::ErrorKind::ConnectionRefused => HttpError::ConnectionRefused,
        _ => HttpError::Connect(error),
    })?;
    // A request is written in pieces (head, body); with Nagle's algorithm
    // the second waits for the server's delayed ACK, 40 ms a request.
    stream.set_nodelay(true).map_err(HttpError::Connect)?;
    match &server.tls {
        None => handshake(hyper_util::rt::TokioIo::new(stream)).await,
        Some(config) => {
            let name = match server.host.parse::<std::net::IpAddr>() {
                Ok(address) => ServerName::from(address),
                Err(_) => ServerName::try_from(server.host.clone())
                    .map_err(|_| HttpError::HttpRequestUriInvalid)?,
            };
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            let stream = tokio::time::timeout(connect_timeout, connector.connect(name, stream))
                .await
                .map_err(|_| HttpError::ConnectionTimeout)?
                .map_err(|_| HttpError::TlsCertificateError)?;
            handshake(hyper_util::rt::TokioIo::new(stream)).await
        }
    }
}

/// HTTP/1.1 over an open stream; the connection runs on its own task.
async fn handshake<S>(io: hyper_util::rt::TokioIo<S>) -> Result<Sender, HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_headers(limits::MAX_HTTP_RESPONSE_HEADERS)
        .handshake(io)
        .await
        .map_err(HttpError::from)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The error a plugin sees for an exchange that failed.
fn send_error(error: hyper::Error) -> HttpError {
    // More than MAX_HTTP_RESPONSE_HEADERS headers (or a head too large to
    // parse): name the limit, not a protocol error.
    if error.is_parse_too_large() {
        return HttpError::HttpResponseHeaderSectionSize(None);
    }
    // A body the gate cut (over its size, or stopped by the call's guard)
    // fails the exchange: give the plugin the gate's error, not hyper's
    // wrapper of it.
    let cause =
        std::error::Error::source(&error).and_then(|source| source.downcast_ref::<HttpError>());
    match cause {
        Some(HttpError::HttpRequestBodySize(size)) => HttpError::HttpRequestBodySize(*size),
        Some(HttpError::InternalError(reason)) => HttpError::InternalError(reason.clone()),
        _ => HttpError::from(error),
    }
}

/// `response` with its body guarded against stalls; its connection is
/// kept once the body has been read to its end.
fn answer(
    response: http::Response<hyper::body::Incoming>,
    timeouts: Timeouts,
    kept: Kept,
) -> http::Response<WasiBody> {
    response.map(|body| {
        let mut guarded = StallGuard {
            sleep: Box::pin(tokio::time::sleep(timeouts.between_bytes)),
            limit: timeouts.between_bytes,
            inner: body,
            kept: Some(kept),
        };
        // An answer without a body (a 204, a zero length) has ended already.
        if http_body::Body::is_end_stream(&guarded.inner) {
            guarded.keep_connection();
        }
        guarded.boxed_unsync()
    })
}

/// A connection in use for an answer, to keep once the answer ends.
struct Kept {
    connections: Arc<Connections>,
    server: Server,
    sender: Sender,
}

/// The waits a response may take.
#[derive(Clone, Copy)]
struct Timeouts {
    first_byte: Duration,
    between_bytes: Duration,
}

/// A response body that fails when it stalls longer than `limit` between
/// two frames, and gives its connection back to be kept when it ends.
struct StallGuard {
    inner: hyper::body::Incoming,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
    kept: Option<Kept>,
}

impl StallGuard {
    /// The answer ended: its connection may carry the next request.
    fn keep_connection(&mut self) {
        if let Some(kept) = self.kept.take() {
            kept.connections.keep(kept.server, kept.sender);
        }
    }
}

impl http_body::Body for StallGuard {
    type Data = bytes::Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let deadline = tokio::time::Instant::now() + self.limit;
                self.sleep.as_mut().reset(deadline);
                match &frame {
                    None => self.keep_connection(),
                    Some(Ok(_)) if self.inner.is_end_stream() => self.keep_connection(),
                    Some(Ok(_)) => {}
                    // A connection that failed is not used again.
                    Some(Err(_)) => self.kept = None,
                }
                Poll::Ready(frame.map(|frame| frame.map_err(HttpError::from)))
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    // A stalled connection is not used again.
                    self.kept = None;
                    Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
