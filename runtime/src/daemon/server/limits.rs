//! Every limit the daemon's HTTP server holds anonymous callers to, in one
//! place, with its reason. `/healthz`, `/readyz` and `/hooks/NAME` answer
//! anyone who can reach the listening address, so each thing a caller can
//! make the daemon hold — a connection, a buffer, a body, a log line — has
//! a cap here.

use std::time::Duration;

/// Connections the server keeps open at once. Under `ulimit -n 1024` (a
/// common default) this leaves half the descriptors to the state store,
/// Git fetches, plugins' outgoing requests and the log; a health checker,
/// a Prometheus scraper, webhooks and a few API clients need tens. When
/// every one is taken, a new connection takes the place of the one that
/// has waited longest without a request being served (half-sent heads,
/// idle keep-alives, webhook bodies not yet authenticated), so a flood of
/// slow callers cannot keep `/healthz` out; when all are busy serving
/// requests, the new one is closed at once.
pub const MAX_CONNECTIONS: usize = 512;

/// How long a connection may take to send a request's head (the request
/// line and headers), counted from when the server starts waiting for it:
/// from the accept on a new connection, from the end of the last response
/// on a kept-alive one (so it is the idle keep-alive timeout too). A real
/// client sends its head in one packet; GitHub gives a whole webhook
/// delivery 10 s. A connection that takes longer is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The most a connection buffers of what its client sends: the request
/// head (a longer one is refused with 431) and body bytes the handler has
/// not taken yet. Real heads are under 2 KiB (a webhook's, with its
/// signature and GitHub's headers); 16 KiB is what common proxies allow.
pub const MAX_CONNECTION_BUFFER_BYTES: usize = 16 << 10;

/// The largest webhook body accepted. A push's payload lists at most 20
/// commits with their changed paths: a few KiB, a few hundred for a commit
/// touching thousands of files. GitHub's own cap, 25 MiB, is for every
/// kind of event; a push refused here (413) is still picked up by the
/// tenant's next poll. The body is hashed as it arrives and never kept, so
/// this bounds the hashing an anonymous caller can ask for, not memory; a
/// declared `Content-Length` over it is refused before the body is read,
/// and a streamed body as soon as it passes it.
pub const MAX_WEBHOOK_BYTES: u64 = 1 << 20;

/// How long a webhook's body may take to arrive, from the end of its head:
/// GitHub gives up on a delivery after 10 s, and a body that has not come
/// whole by then is a caller holding a connection open. Answered 408.
pub const WEBHOOK_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes from unauthenticated callers the server holds at once:
/// every connection's buffer full. Nothing else is kept before a caller
/// is authenticated — a webhook's body goes through the HMAC chunk by
/// chunk and is dropped — so 40 callers sending 24 MiB bodies at once hold
/// no more than this (8 MiB).
pub const MAX_UNAUTHENTICATED_BYTES: usize = MAX_CONNECTIONS * MAX_CONNECTION_BUFFER_BYTES;

/// The window of the warnings the server writes about refused callers: in
/// each, the first [`WARNING_BURST`] of a kind are written and the rest
/// counted in one line ("N more like this in the last 10 s").
pub const WARNING_WINDOW: Duration = Duration::from_secs(10);

/// Warnings of one kind written per [`WARNING_WINDOW`]: enough to show a
/// few examples with their fields (which tenant, which address); a flood
/// of bad webhooks wrote 600 lines a second without a cap.
pub const WARNING_BURST: u32 = 5;

/// How long the server waits after a failed accept (out of descriptors,
/// say) before the next: a failing accept returns at once, and retrying in
/// a loop would take a core.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
