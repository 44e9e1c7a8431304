//! The daemon's HTTP server: the accept loop and each connection's HTTP/1,
//! under the limits of [`limits`]. Requests go to the axum router of
//! [`super::http`].
//!
//! Anyone who can reach the listening address may connect, so nothing a
//! caller does alone may hold the daemon: connections are capped
//! ([`limits::MAX_CONNECTIONS`], and at the cap the connection that has
//! waited longest gives way — see [`connections`]); a request head must
//! come within [`limits::HEADER_READ_TIMEOUT`] (which also closes idle
//! kept-alive connections) and fit [`limits::MAX_CONNECTION_BUFFER_BYTES`];
//! webhook bodies are capped, timed and hashed as they come (see
//! [`super::webhook`]); and the warnings about refused callers go through
//! one [`Throttle`], so a flood writes a few lines and a count.

pub mod connections;
pub mod limits;

use super::metrics::Metrics;
use crate::log_throttle::Throttle;
use axum::Router;
use connections::{Admission, Connections};
use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use limits::{
    ACCEPT_ERROR_PAUSE, HEADER_READ_TIMEOUT, MAX_CONNECTION_BUFFER_BYTES, MAX_CONNECTIONS,
    WARNING_BURST, WARNING_WINDOW,
};
use std::convert::Infallible;
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The warnings the server writes about callers it refused (connections,
/// webhooks), rate-limited by kind.
pub static WARNINGS: Throttle = Throttle::new(WARNING_WINDOW, WARNING_BURST);

/// Serves `router` on `listener` until `shutdown`; then stops accepting,
/// lets every connection finish the request it is serving, and returns
/// when all are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let connections = Connections::new(MAX_CONNECTIONS);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_CONNECTION_BUFFER_BYTES);
    tokio::spawn(summarise_warnings(shutdown.clone()));
    // Each connection's task holds a sender: when every one is dropped,
    // every connection is closed.
    let (open, mut all_closed) = mpsc::channel::<Infallible>(1);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) if is_one_connections_error(&error) => continue,
            Err(error) => {
                const MESSAGE: &str = "cannot accept a connection";
                if WARNINGS.admit(MESSAGE, None) {
                    tracing::warn!(%error, "{MESSAGE}");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                }
            }
        };
        let (registration, close) = match connections.admit(Instant::now()) {
            Admission::Admitted {
                registration,
                close,
                evicted,
            } => {
                if evicted {
                    metrics.http_closed("gave-way");
                }
                (registration, close)
            }
            Admission::Refused => {
                metrics.http_closed("refused");
                const MESSAGE: &str =
                    "refused a connection: every open connection is serving a request";
                if WARNINGS.admit(MESSAGE, None) {
                    tracing::warn!(open = MAX_CONNECTIONS, "{MESSAGE}");
                }
                drop(stream);
                continue;
            }
        };
        metrics.set_http_connections(connections.open());
        let task = Connection {
            http: http.clone(),
            router: router.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            close,
            _open: open.clone(),
        };
        let connections = connections.clone();
        tokio::spawn(async move {
            let metrics = task.metrics.clone();
            task.serve(stream, registration).await;
            metrics.set_http_connections(connections.open());
        });
    }
    // New callers are refused by the system from here on, not queued.
    drop(listener);
    drop(open);
    let _ = all_closed.recv().await;
}

/// Whether an accept failed for that one connection only (the caller gave
/// up during the handshake): the next accept may succeed at once.
fn is_one_connections_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    )
}

/// Writes the counts of held-back warnings once a window, until `shutdown`.
async fn summarise_warnings(shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(WARNING_WINDOW);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticks.tick() => WARNINGS.summarise(),
        }
    }
    WARNINGS.summarise();
}

/// One admitted connection's task.
struct Connection {
    http: http1::Builder,
    router: Router,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    /// Cancelled when the connection gives way to a newer one.
    close: CancellationToken,
    /// Dropped when the task ends; see [`serve`].
    _open: mpsc::Sender<Infallible>,
}

impl Connection {
    /// Serves HTTP/1 on `stream` until the caller closes it, a limit closes
    /// it, it gives way, or the daemon shuts down (after the request being
    /// served, if any). Its place in the table is freed when this returns.
    async fn serve(self, stream: TcpStream, registration: connections::Registration) {
        let connection = registration.connection().clone();
        let router = self.router;
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let serving = connection.serve();
            request.extensions_mut().insert(connection.clone());
            let router = router.clone();
            // Serving ends once the answer is ready: while it is written
            // the connection waits on its caller, who may read slowly or
            // not at all, and may then give way like any other waiting
            // connection (a daemon stopping may cut such an answer).
            async move {
                let response = router.oneshot(request).await;
                drop(serving);
                response
            }
        });
        let served = self.http.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(served);
        let mut draining = false;
        loop {
            tokio::select! {
                result = served.as_mut() => {
                    match result {
                        Ok(()) => {}
                        Err(error) if error.is_timeout() => self.metrics.http_closed("header-timeout"),
                        Err(error) => tracing::debug!(%error, "an HTTP connection failed"),
                    }
                    break;
                }
                _ = self.close.cancelled() => break,
                // A connection waiting on its caller (for a head, or for
                // a webhook's body) is closed at once; one serving a
                // request closes once it has answered.
                _ = self.shutdown.cancelled(), if !draining => {
                    if !registration.connection().is_serving() {
                        break;
                    }
                    served.as_mut().graceful_shutdown();
                    draining = true;
                }
            }
        }
        drop(registration);
    }
}
