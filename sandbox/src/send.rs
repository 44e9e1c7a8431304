//! Sending a plugin's request once the gate allowed it: to the address the
//! gate checked (never a second lookup), over TLS with the grant's trust,
//! with the connect and first-byte timeouts the plugin asked for (capped).

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

/// Sends `request` to `address`. `tls` is `None` for `http`; for `https`
/// the certificate must be valid for `host`.
pub async fn send(
    mut request: http::Request<WasiBody>,
    options: RequestOptions,
    address: SocketAddr,
    host: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<http::Response<WasiBody>, HttpError> {
    let connect_timeout = options
        .connect_timeout
        .unwrap_or(limits::HTTP_CONNECT_TIMEOUT);
    let timeouts = Timeouts {
        first_byte: options
            .first_byte_timeout
            .unwrap_or(DEFAULT_FIRST_BYTE_TIMEOUT),
        between_bytes: options
            .between_bytes_timeout
            .unwrap_or(DEFAULT_BETWEEN_BYTES_TIMEOUT)
            .max(Duration::from_millis(1)),
    };
    let stream = tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::ConnectionRefused => HttpError::ConnectionRefused,
            _ => HttpError::Connect(error),
        })?;
    // A request is written in pieces (head, body); with Nagle's algorithm
    // the second waits for the server's delayed ACK, 40 ms a request.
    stream.set_nodelay(true).map_err(HttpError::Connect)?;
    let uri = request.uri().clone();
    // Origin form on the wire: the authority travels in the Host header.
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(uri.path_and_query().map_or("/", |p| p.as_str()))
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let response = match tls {
        None => exchange(hyper_util::rt::TokioIo::new(stream), request, timeouts).await?,
        Some(config) => {
            let name = match host.parse::<std::net::IpAddr>() {
                Ok(address) => ServerName::from(address),
                Err(_) => ServerName::try_from(host.to_string())
                    .map_err(|_| HttpError::HttpRequestUriInvalid)?,
            };
            let connector = tokio_rustls::TlsConnector::from(config);
            let stream = tokio::time::timeout(connect_timeout, connector.connect(name, stream))
                .await
                .map_err(|_| HttpError::ConnectionTimeout)?
                .map_err(|_| HttpError::TlsCertificateError)?;
            exchange(hyper_util::rt::TokioIo::new(stream), request, timeouts).await?
        }
    };
    Ok(response)
}

/// One HTTP/1.1 exchange over an open stream; the connection is driven on
/// its own task until the response body is read.
async fn exchange<S>(
    io: hyper_util::rt::TokioIo<S>,
    request: http::Request<WasiBody>,
    timeouts: Timeouts,
) -> Result<http::Response<WasiBody>, HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_headers(limits::MAX_HTTP_RESPONSE_HEADERS)
        .handshake(io)
        .await
        .map_err(HttpError::from)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = tokio::time::timeout(timeouts.first_byte, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)?
        .map_err(|error| {
            // More than MAX_HTTP_RESPONSE_HEADERS headers (or a head too
            // large to parse): name the limit, not a protocol error.
            if error.is_parse_too_large() {
                return HttpError::HttpResponseHeaderSectionSize(None);
            }
            // A body the gate cut (over its size, or stopped by the call's
            // guard) fails the exchange: give the plugin the gate's error,
            // not hyper's wrapper of it.
            let cause = std::error::Error::source(&error)
                .and_then(|source| source.downcast_ref::<HttpError>());
            match cause {
                Some(HttpError::HttpRequestBodySize(size)) => HttpError::HttpRequestBodySize(*size),
                Some(HttpError::InternalError(reason)) => HttpError::InternalError(reason.clone()),
                _ => HttpError::from(error),
            }
        })?;
    Ok(response.map(|body| {
        StallGuard {
            sleep: Box::pin(tokio::time::sleep(timeouts.between_bytes)),
            limit: timeouts.between_bytes,
            inner: body,
        }
        .boxed_unsync()
    }))
}

/// The waits a response may take.
#[derive(Clone, Copy)]
struct Timeouts {
    first_byte: Duration,
    between_bytes: Duration,
}

/// A response body that fails when it stalls longer than `limit` between
/// two frames.
struct StallGuard {
    inner: hyper::body::Incoming,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
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
                Poll::Ready(frame.map(|frame| frame.map_err(HttpError::from)))
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
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
