//! Every limit the plugin host enforces, in one place, with its reason.

use std::time::Duration;

/// Linear memory a call gets when the operator sets no `memory`: enough for a
/// provider holding the JSON of tens of thousands of objects at once.
pub const DEFAULT_MEMORY_BYTES: u64 = 64 << 20;

/// The most linear memory an operator may grant one call. The pooling
/// allocator reserves address space for this much per slot, so it bounds
/// the host's virtual memory, not its resident memory.
pub const MAX_MEMORY_BYTES: u64 = 1 << 30;

/// How long a call may run when the operator sets no `timeout`: a batched
/// apply against a slow API can take this long, a hung one should not.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the epoch ticker advances: a guest yields to the async
/// executor this often, and a runaway guest is stopped at most this long
/// after its deadline; shorter costs more wake-ups.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Grace the outer (wall-clock) timeout gives beyond the epoch deadline, so
/// that the epoch trap (the more precise error) fires first when the guest
/// itself is spinning, and the outer timeout catches waits on the host.
pub const OUTER_TIMEOUT_GRACE: Duration = Duration::from_millis(500);

/// Table elements per table: Rust components need a few thousand for their
/// function tables; more is a sign of a hostile plugin.
pub const MAX_TABLE_ELEMENTS: usize = 20_000;

/// Core instances, tables and memories per store. A Rust component built for
/// `wasm32-wasip2` uses a handful of core instances and one memory.
pub const MAX_INSTANCES_PER_STORE: usize = 32;
/// See [`MAX_INSTANCES_PER_STORE`].
pub const MAX_TABLES_PER_STORE: usize = 32;
/// See [`MAX_INSTANCES_PER_STORE`].
pub const MAX_MEMORIES_PER_STORE: usize = 4;

/// Plugin calls that may run at once in one process; the pooling allocator
/// preallocates slots for this many stores, and calls beyond it wait for a
/// slot rather than fail.
pub const MAX_CONCURRENT_CALLS: u32 = 64;

/// Plugin calls one tenant may run at once: its providers run in parallel
/// (a plan lists with each), but a tenant whose plugin loops or hangs holds
/// at most this share of [`MAX_CONCURRENT_CALLS`], and the other tenants'
/// calls go on.
pub const MAX_CALLS_PER_TENANT: usize = 4;

/// A wait for a call slot this long is logged (at debug level).
pub const SLOW_QUEUE: Duration = Duration::from_millis(100);

/// Bytes of a plugin's stderr kept for error messages (panics print there).
pub const STDERR_CAPTURE_BYTES: usize = 16 << 10;

/// The largest plugin file the host loads; real providers are a few MiB.
pub const MAX_PLUGIN_BYTES: u64 = 64 << 20;

/// How long an outgoing HTTP request may wait for a connection; a provider
/// call has its own, longer deadline.
pub const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest HTTP response body a plugin may receive: 10,000 DNS records
/// are about 2 MiB of JSON; beyond this a server is answering nonsense.
pub const MAX_HTTP_RESPONSE_BYTES: u64 = 64 << 20;

/// The most a call may return, counted as the bytes of every string of its
/// result (states, summaries, messages): 10,000 DNS records observed are
/// about 3 MiB, 500 Kubernetes objects a few MiB. Beyond this the plugin is
/// answering nonsense, and the planner, the state store and the audit
/// trail would each keep a copy. (The lifted result itself is bounded by
/// the call's memory limit: it is copied out of the guest's memory.)
pub const MAX_RESULT_BYTES: usize = 64 << 20;

/// The largest HTTP request body a plugin may send: a batch of 10,000 DNS
/// records or 500 Kubernetes objects is a few MiB.
pub const MAX_HTTP_REQUEST_BYTES: u64 = 16 << 20;

/// Headers a plugin's request may carry: real APIs need a handful (auth,
/// content type, ETag); hundreds are an attempt to exhaust the server or
/// the host.
pub const MAX_HTTP_REQUEST_HEADERS: usize = 64;

/// Headers a response may carry before the host stops reading it.
pub const MAX_HTTP_RESPONSE_HEADERS: usize = 100;

/// Outgoing requests one call may have open at once (sent and not yet read
/// to the end): providers batch their work; a plugin opening thousands of
/// connections is attacking the server or the host.
pub const MAX_OPEN_REQUESTS_PER_CALL: usize = 16;

/// Log records one call may write: a provider logs a few per object at
/// most; past this, records are dropped (and counted) so that a plugin
/// cannot flood the host's log.
pub const MAX_LOG_RECORDS_PER_CALL: usize = 10_000;

/// Bytes of log one call may write (messages and fields as written): a
/// provider's ordinary logging is a few KiB; past this, records are
/// dropped and counted, like those past [`MAX_LOG_RECORDS_PER_CALL`].
pub const MAX_LOG_BYTES_PER_CALL: usize = 1 << 20;

/// Warnings about one call's requests (refused by the gate, cut at a cap,
/// stopped by the guard) written to the log: enough to show what a
/// misconfigured grant refuses; past it they are counted and reported in
/// one line when the call ends.
pub const MAX_REQUEST_WARNINGS_PER_CALL: usize = 20;

/// Host resources (handles) one call may hold at once: every `wasi:http`
/// header set, request, response, body, stream and pollable is one. A
/// provider with [`MAX_OPEN_REQUESTS_PER_CALL`] requests open needs about
/// a dozen each; a plugin creating thousands is trying to make the host
/// hold what its own memory limit would not let it hold.
pub const MAX_RESOURCES_PER_CALL: usize = 1_024;

/// Bytes one header set may take in the host (names and values, plus
/// wasmtime's per-entry allowance): real APIs send a few headers and a
/// token of a few KiB. With [`MAX_RESOURCES_PER_CALL`], the header sets a
/// call makes the host hold come to at most 16 MiB.
pub const MAX_HEADER_SET_BYTES: usize = 16 << 10;

/// The longest log message kept, in bytes; longer ones are cut.
pub const MAX_LOG_MESSAGE_BYTES: usize = 4 << 10;

/// The most bytes a log record's fields may take together (`key=value`
/// pairs as written); past it they are cut. With the message's own cap and
/// [`MAX_LOG_RECORDS_PER_CALL`], one call writes at most about 80 MiB of
/// log, and an ordinary one a few KiB.
pub const MAX_LOG_FIELDS_BYTES: usize = 4 << 10;
