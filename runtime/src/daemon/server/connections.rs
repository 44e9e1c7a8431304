//! The server's open connections: the cap on them, and which one gives way
//! when a new connection comes at the cap.
//!
//! A connection is *serving* while a request of its is being handled, and
//! *waiting* otherwise: for its first request head, for the next one on a
//! kept-alive connection, or for the body of a request whose caller is not
//! authenticated yet (a webhook before its signature is checked). Waiting
//! costs the daemon a descriptor and a buffer and depends only on the
//! caller, so at the cap the connection that has waited longest is closed
//! to admit the new one; serving connections are never closed for another.
//! A slow caller can therefore only push other slow callers out, and a
//! health check — which sends its head at once and is served at once — is
//! always admitted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// The open connections, at most `cap`.
#[derive(Debug)]
pub struct Connections {
    cap: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    open: BTreeMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    /// Requests being served (0 or 1 on HTTP/1, but counted).
    serving: u32,
    /// Since when nothing has been served.
    waiting_since: Instant,
    /// Cancelled to close the connection.
    close: CancellationToken,
}

/// What [`Connections::admit`] decided.
#[derive(Debug)]
pub enum Admission {
    /// The connection is open; serve it until `close` is cancelled.
    Admitted {
        /// Its place in the table, freed when dropped.
        registration: Registration,
        /// Cancelled when it must give way to a newer connection.
        close: CancellationToken,
        /// Whether an older, waiting connection was closed to make room.
        evicted: bool,
    },
    /// Every connection is serving a request: close the new one.
    Refused,
}

impl Connections {
    /// A table admitting at most `cap` connections.
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap,
            table: Mutex::new(Table::default()),
        })
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        self.table.lock().expect("connection table").open.len()
    }

    /// Admits a new connection at `now`: under the cap at once; at the cap
    /// by closing the connection that has waited longest, if any waits.
    pub fn admit(self: &Arc<Self>, now: Instant) -> Admission {
        let mut table = self.table.lock().expect("connection table");
        let mut evicted = false;
        if table.open.len() >= self.cap {
            let oldest = table
                .open
                .iter()
                .filter(|(_, entry)| entry.serving == 0)
                .min_by_key(|(id, entry)| (entry.waiting_since, **id))
                .map(|(id, _)| *id);
            let Some(oldest) = oldest else {
                return Admission::Refused;
            };
            if let Some(entry) = table.open.remove(&oldest) {
                entry.close.cancel();
            }
            evicted = true;
        }
        let id = table.next_id;
        table.next_id += 1;
        let close = CancellationToken::new();
        table.open.insert(
            id,
            Entry {
                serving: 0,
                waiting_since: now,
                close: close.clone(),
            },
        );
        Admission::Admitted {
            registration: Registration {
                connection: Connection {
                    connections: self.clone(),
                    id,
                },
            },
            close,
            evicted,
        }
    }

    /// Adds `delta` to the requests connection `id` is serving; when that
    /// falls to none, it waits from now on.
    fn serving(&self, id: u64, delta: i32) {
        let mut table = self.table.lock().expect("connection table");
        if let Some(entry) = table.open.get_mut(&id) {
            entry.serving = entry.serving.saturating_add_signed(delta);
            if entry.serving == 0 {
                entry.waiting_since = Instant::now();
            }
        }
    }
}

/// A connection's place in the table; dropping it (when the connection's
/// task ends) frees the place.
#[derive(Debug)]
pub struct Registration {
    connection: Connection,
}

impl Registration {
    /// The connection, to hand to its requests.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Connection { connections, id } = &self.connection;
        connections
            .table
            .lock()
            .expect("connection table")
            .open
            .remove(id);
    }
}

/// A handle on an open connection, carried by its requests (as a request
/// extension) so that a handler can say when it waits on its caller.
#[derive(Debug, Clone)]
pub struct Connection {
    connections: Arc<Connections>,
    id: u64,
}

impl Connection {
    /// Whether a request of this connection is being served (and not
    /// waiting on its caller).
    pub fn is_serving(&self) -> bool {
        let table = self.connections.table.lock().expect("connection table");
        table
            .open
            .get(&self.id)
            .is_some_and(|entry| entry.serving > 0)
    }

    /// Marks a request as being served until the guard is dropped: the
    /// connection does not give way meanwhile.
    pub fn serve(&self) -> Serving {
        self.connections.serving(self.id, 1);
        Serving(self.clone())
    }

    /// Marks the request being served as waiting on its unauthenticated
    /// caller (for a body) until the guard is dropped: meanwhile the
    /// connection may give way to a newer one, like a connection waiting
    /// for its head.
    pub fn await_caller(&self) -> AwaitingCaller {
        self.connections.serving(self.id, -1);
        AwaitingCaller(self.clone())
    }
}

/// See [`Connection::serve`].
#[derive(Debug)]
pub struct Serving(Connection);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.connections.serving(self.0.id, -1);
    }
}

/// See [`Connection::await_caller`].
#[derive(Debug)]
pub struct AwaitingCaller(Connection);

impl Drop for AwaitingCaller {
    fn drop(&mut self) {
        self.0.connections.serving(self.0.id, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn admitted(admission: Admission) -> (Registration, CancellationToken, bool) {
        match admission {
            Admission::Admitted {
                registration,
                close,
                evicted,
            } => (registration, close, evicted),
            Admission::Refused => panic!("refused"),
        }
    }

    #[test]
    fn at_the_cap_the_longest_waiting_connection_gives_way() {
        let connections = Connections::new(3);
        // Admissions in the past: a request that ends now waits from now.
        let start = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .expect("the clock is past one second");
        let at = |ms| start + Duration::from_millis(ms);
        let (first, first_closed, _) = admitted(connections.admit(at(0)));
        let (second, second_closed, _) = admitted(connections.admit(at(1)));
        let (_third, third_closed, evicted) = admitted(connections.admit(at(2)));
        assert!(!evicted);
        // The first is serving a request: the second, waiting longest, goes.
        let serving = first.connection().serve();
        let (_fourth, _, evicted) = admitted(connections.admit(at(3)));
        assert!(evicted);
        assert!(second_closed.is_cancelled());
        assert!(!first_closed.is_cancelled() && !third_closed.is_cancelled());
        assert_eq!(connections.open(), 3);
        drop(second);
        assert_eq!(connections.open(), 3, "a closed place is not freed twice");
        // Done serving, the first waits from now: the third is older.
        drop(serving);
        let (_fifth, _, _) = admitted(connections.admit(at(4)));
        assert!(third_closed.is_cancelled());
        assert!(!first_closed.is_cancelled());
    }

    #[test]
    fn when_every_connection_serves_a_new_one_is_refused() {
        let connections = Connections::new(2);
        let now = Instant::now();
        let (a, _, _) = admitted(connections.admit(now));
        let (b, _, _) = admitted(connections.admit(now));
        let _serving = (a.connection().serve(), b.connection().serve());
        assert!(matches!(connections.admit(now), Admission::Refused));
        // A webhook waiting on its caller's body may give way.
        let waiting = b.connection().await_caller();
        assert!(a.connection().is_serving() && !b.connection().is_serving());
        let (_c, _, evicted) = admitted(connections.admit(now));
        assert!(evicted);
        drop(waiting);
        drop(a);
        assert_eq!(connections.open(), 1);
    }
}
