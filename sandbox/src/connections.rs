//! The connections one provider instance keeps alive between its requests.
//!
//! A plugin's requests to one server (a plan's `list`, `diff` and `apply`,
//! a batch of writes sent side by side) would each open a connection and,
//! over TLS, make a handshake: against a Kubernetes API server that is
//! about 4.5 ms of both sides' CPU per request, more than the request
//! itself. A connection whose answer was read to its end is kept for
//! the instance's next request to the same server, for a short while.
//!
//! Kept connections are the instance's own: never lent to another
//! instance or tenant, and only to a request the gate sent to the same
//! address, for the same host name, with the same trust. What a kept
//! connection costs the host (a socket and, over TLS, its buffers) is
//! bounded per server and lasts [`IDLE_FOR`] at most.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::time::Instant;
use wasmtime_wasi_http::WasiBody;

/// How long a connection is kept unused for the instance's next request.
/// Shorter than the time servers commonly keep an idle connection open
/// (gunicorn's default, 2 s, is among the shortest), so that a kept
/// connection is seldom closed by the server under a request; long enough
/// for the calls of one plan or apply, which follow each other within
/// milliseconds. An idle daemon holds none.
pub const IDLE_FOR: Duration = Duration::from_secs(1);

/// Connections kept unused per server: as many as a plugin keeps open at
/// once when it sends its requests side by side (the SDK's
/// `REQUESTS_AT_ONCE`); a connection beyond them is closed when its
/// answer ends.
pub const MAX_IDLE_PER_SERVER: usize = 8;

/// Connections kept unused per instance, whatever the servers: a plugin
/// granted many hosts (a wildcard) cannot make the host hold a connection
/// for each host it asked. Two servers' worth.
pub const MAX_IDLE_PER_INSTANCE: usize = 2 * MAX_IDLE_PER_SERVER;

/// A sender on an open HTTP/1.1 connection.
pub(crate) type Sender = hyper::client::conn::http1::SendRequest<WasiBody>;

/// What a kept connection may be used for again: the address the gate
/// checked, the host name the server was asked for (and its certificate
/// checked against), and the trust it was checked with (`None`: plain
/// HTTP).
#[derive(Clone)]
pub(crate) struct Server {
    pub address: SocketAddr,
    pub host: String,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl PartialEq for Server {
    fn eq(&self, other: &Self) -> bool {
        self.address == other.address
            && self.host == other.host
            && match (&self.tls, &other.tls) {
                (None, None) => true,
                (Some(mine), Some(theirs)) => Arc::ptr_eq(mine, theirs),
                _ => false,
            }
    }
}

impl Eq for Server {}

impl std::hash::Hash for Server {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.address.hash(state);
        self.host.hash(state);
        self.tls.as_ref().map(Arc::as_ptr).hash(state);
    }
}

/// One kept connection.
struct Idle {
    sender: Sender,
    since: Instant,
}

/// The kept connections of one provider instance.
#[derive(Default)]
pub struct Connections {
    idle: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    by_server: HashMap<Server, Vec<Idle>>,
    /// Whether a task is closing what stays unused past [`IDLE_FOR`].
    sweeping: bool,
}

impl Kept {
    /// How many connections are kept.
    fn count(&self) -> usize {
        self.by_server.values().map(Vec::len).sum()
    }
}

impl Connections {
    /// A kept connection to `server`, the most recently used first; those
    /// kept too long or closed by the server are dropped on the way.
    pub(crate) fn take(&self, server: &Server) -> Option<Sender> {
        let mut kept = self.idle.lock().expect("kept connections");
        let idle = kept.by_server.get_mut(server)?;
        let mut found = None;
        while let Some(candidate) = idle.pop() {
            if candidate.since.elapsed() < IDLE_FOR && !candidate.sender.is_closed() {
                found = Some(candidate.sender);
                break;
            }
        }
        if idle.is_empty() {
            kept.by_server.remove(server);
        }
        found
    }

    /// Keeps `sender`, whose last answer was read to its end, for the next
    /// request to `server`. Outside an async runtime, where nothing could
    /// close it once unused, it is not kept.
    pub(crate) fn keep(self: &Arc<Self>, server: Server, sender: Sender) {
        if sender.is_closed() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let mut kept = self.idle.lock().expect("kept connections");
        if kept.count() >= MAX_IDLE_PER_INSTANCE {
            return;
        }
        let idle = kept.by_server.entry(server).or_default();
        if idle.len() >= MAX_IDLE_PER_SERVER {
            return;
        }
        idle.push(Idle {
            sender,
            since: Instant::now(),
        });
        if !kept.sweeping {
            kept.sweeping = true;
            // The task holds the pool weakly: a dropped instance's
            // connections close with it.
            tokio::spawn(sweep(Arc::downgrade(self)));
        }
    }
}

/// Closes each connection of `connections` once it has been unused for
/// [`IDLE_FOR`], until none is kept.
async fn sweep(connections: Weak<Connections>) {
    let mut wake = Instant::now() + IDLE_FOR;
    loop {
        tokio::time::sleep_until(wake).await;
        let Some(connections) = connections.upgrade() else {
            return;
        };
        let mut kept = connections.idle.lock().expect("kept connections");
        kept.by_server.retain(|_, idle| {
            idle.retain(|idle| idle.since.elapsed() < IDLE_FOR);
            !idle.is_empty()
        });
        let oldest = kept
            .by_server
            .values()
            .flatten()
            .map(|idle| idle.since)
            .min();
        match oldest {
            Some(oldest) => wake = oldest + IDLE_FOR,
            None => {
                kept.sweeping = false;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sender on a connection whose server end is `server_end` (held
    /// open, never answering).
    async fn sender() -> (Sender, tokio::io::DuplexStream) {
        let (client_end, server_end) = tokio::io::duplex(1024);
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(client_end))
                .await
                .unwrap();
        tokio::spawn(connection);
        (sender, server_end)
    }

    fn server(port: u16) -> Server {
        Server {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            host: "127.0.0.1".into(),
            tls: None,
        }
    }

    #[tokio::test]
    async fn kept_connections_are_bounded_per_server_and_per_instance() {
        let connections = Arc::new(Connections::default());
        let mut server_ends = Vec::new();
        // One server: no more than MAX_IDLE_PER_SERVER.
        for _ in 0..MAX_IDLE_PER_SERVER + 3 {
            let (sender, server_end) = sender().await;
            server_ends.push(server_end);
            connections.keep(server(1), sender);
        }
        let count = || connections.idle.lock().unwrap().count();
        assert_eq!(count(), MAX_IDLE_PER_SERVER);
        // Many servers (a wildcard grant's hosts): no more than
        // MAX_IDLE_PER_INSTANCE in all.
        for port in 2..100 {
            let (sender, server_end) = sender().await;
            server_ends.push(server_end);
            connections.keep(server(port), sender);
        }
        assert_eq!(count(), MAX_IDLE_PER_INSTANCE);
        // Each is taken for its own server only.
        assert!(connections.take(&server(1)).is_some());
        assert!(connections.take(&server(100)).is_none());
        let other_trust = Server {
            tls: Some(crate::tls::public_roots()),
            ..server(1)
        };
        assert!(connections.take(&other_trust).is_none());
    }
}
