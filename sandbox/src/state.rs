//! What one plugin call's `Store` holds: an empty WASI context (no files, no
//! environment, no arguments), the HTTP context with the network gate, the
//! resource limits and the attribution of log records.

use super::bindings::{v0_1, v0_2, v0_3};
use super::connections::Connections;
use super::endpoints::{self, EndpointLimits};
use super::grants::{self, Decision, Grant};
use super::guard::SendGuard;
use super::limits;
use super::tls;
use super::{ip_policy, send};
use http_body_util::BodyExt;
use std::sync::Arc;
use v0_3::cairn::provider::log::Level;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

/// The target of the records a plugin logs (`CAIRN_LOG=cairn::plugin=debug`
/// selects them), apart from the host's own.
pub const PLUGIN_LOG_TARGET: &str = "cairn::plugin";

/// Whom a call's log records and network decisions are attributed to.
#[derive(Debug, Clone)]
pub struct CallLabel {
    /// The tenant.
    pub tenant: Arc<str>,
    /// The provider instance.
    pub provider: Arc<str>,
    /// The exported function called.
    pub function: &'static str,
    /// The call's warnings about its requests, shared by every clone.
    pub warnings: WarningBudget,
}

/// Counts a call's warnings about its requests (refused, cut, stopped):
/// the first [`limits::MAX_REQUEST_WARNINGS_PER_CALL`] are written, the
/// rest only counted and reported once when the call ends, so that a
/// plugin looping on a refused request cannot flood the host's log.
#[derive(Debug, Clone, Default)]
pub struct WarningBudget(Arc<std::sync::atomic::AtomicUsize>);

impl WarningBudget {
    /// Whether one more warning may be written.
    pub fn take(&self) -> bool {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            < limits::MAX_REQUEST_WARNINGS_PER_CALL
    }

    /// The warnings not written.
    pub fn suppressed(&self) -> usize {
        self.0
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_sub(limits::MAX_REQUEST_WARNINGS_PER_CALL)
    }
}

/// The `T` of `Store<T>` for a plugin call.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    gate: NetworkGate,
    pub(super) limits: StoreLimits,
    pub(super) label: CallLabel,
    pub(super) stderr: MemoryOutputPipe,
    /// Log records written by this call, kept or not.
    log_records: usize,
    /// Bytes of log written by this call (messages and fields, as kept).
    log_bytes: usize,
    /// Log records dropped past [`limits::MAX_LOG_BYTES_PER_CALL`].
    log_dropped_for_bytes: usize,
}

impl CallState {
    /// A fresh state for one call; `guard`, when given, is asked before
    /// each outgoing request.
    pub fn new(
        label: CallLabel,
        grants: Arc<[Grant]>,
        memory_bytes: u64,
        endpoints: Option<(Arc<EndpointLimits>, usize)>,
        connections: Arc<Connections>,
        guard: Option<Arc<dyn SendGuard>>,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(limits::STDERR_CAPTURE_BYTES);
        let mut wasi = WasiCtx::builder();
        wasi.stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(memory_bytes).unwrap_or(usize::MAX))
            .table_elements(limits::MAX_TABLE_ELEMENTS)
            .instances(limits::MAX_INSTANCES_PER_STORE)
            .tables(limits::MAX_TABLES_PER_STORE)
            .memories(limits::MAX_MEMORIES_PER_STORE)
            .trap_on_grow_failure(true)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits::MAX_RESOURCES_PER_CALL);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(limits::MAX_HEADER_SET_BYTES);
        Self {
            wasi: wasi.build(),
            table,
            http,
            gate: NetworkGate {
                grants,
                guard,
                endpoints,
                label: label.clone(),
                open_requests: Arc::new(tokio::sync::Semaphore::new(
                    limits::MAX_OPEN_REQUESTS_PER_CALL,
                )),
                connections,
            },
            limits,
            label,
            stderr,
            log_records: 0,
            log_bytes: 0,
            log_dropped_for_bytes: 0,
        }
    }

    /// Log records the call wrote and the host dropped: past
    /// [`limits::MAX_LOG_RECORDS_PER_CALL`], and past
    /// [`limits::MAX_LOG_BYTES_PER_CALL`].
    pub fn dropped_log_records(&self) -> (usize, usize) {
        let past_count = self
            .log_records
            .saturating_sub(limits::MAX_LOG_RECORDS_PER_CALL);
        (past_count, self.log_dropped_for_bytes)
    }

    /// What the plugin wrote to stderr (a panic message, say), trimmed.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.gate,
        }
    }
}

/// Checks every outgoing request against the provider instance's grants
/// before any connection is made, and caps what one call may send, receive
/// and hold open. The guest cannot set `Host` (wasmtime-wasi-http's
/// forbidden headers): it always names the granted authority.
struct NetworkGate {
    grants: Arc<[Grant]>,
    /// Asked first: whether the call may still send at all.
    guard: Option<Arc<dyn SendGuard>>,
    /// The host's endpoint limits and this call's ceiling for them.
    endpoints: Option<(Arc<EndpointLimits>, usize)>,
    label: CallLabel,
    /// One permit per request open (sent, response not yet read whole).
    open_requests: Arc<tokio::sync::Semaphore>,
    /// The connections the provider instance keeps between requests.
    connections: Arc<Connections>,
}

type ResponseFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for NetworkGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_done: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> ResponseFuture {
        let uri = request.uri().clone();
        // Logged without its query string, which may carry a credential.
        let url = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map_or("", |a| a.as_str()),
            uri.path()
        );
        // `user@host` would be sent as the Host header: the server would see
        // another name than the one the gate checks.
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return self.refuse(
                &url,
                "its authority carries user information (`NAME@`); send credentials in a header"
                    .into(),
                wasmtime_wasi_http::Error::HttpRequestUriInvalid,
            );
        }
        if let Some(Err(why)) = self.guard.as_ref().map(|guard| guard.may_send()) {
            return self.refuse(
                &url,
                why.clone(),
                wasmtime_wasi_http::Error::InternalError(Some(why)),
            );
        }
        if request.headers().len() > limits::MAX_HTTP_REQUEST_HEADERS {
            return self.refuse(
                &url,
                format!("more than {} headers", limits::MAX_HTTP_REQUEST_HEADERS),
                wasmtime_wasi_http::Error::HttpRequestHeaderSectionSize(None),
            );
        }
        let declared_length = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared_length.is_some_and(|length| length > limits::MAX_HTTP_REQUEST_BYTES) {
            return self.refuse(
                &url,
                format!("a body over {} bytes", limits::MAX_HTTP_REQUEST_BYTES),
                wasmtime_wasi_http::Error::HttpRequestBodySize(Some(
                    limits::MAX_HTTP_REQUEST_BYTES,
                )),
            );
        }
        let Ok(permit) = self.open_requests.clone().try_acquire_owned() else {
            return self.refuse(
                &url,
                format!(
                    "{} requests of this call are already open",
                    limits::MAX_OPEN_REQUESTS_PER_CALL
                ),
                wasmtime_wasi_http::Error::ConnectionLimitReached,
            );
        };
        let guard = self.guard.clone();
        let (label, guarded_url) = (self.label.clone(), url.clone());
        let (cut_label, cut_url) = (self.label.clone(), url.clone());
        let request = request.map(|body| {
            let limited =
                http_body_util::Limited::new(body, limits::MAX_HTTP_REQUEST_BYTES as usize)
                    .map_err(move |_| {
                        if cut_label.warnings.take() {
                            tracing::warn!(
                                tenant = %cut_label.tenant,
                                provider = %cut_label.provider,
                                url = %cut_url,
                                "cut a plugin's HTTP request: its streamed body went over {} bytes",
                                limits::MAX_HTTP_REQUEST_BYTES
                            );
                        }
                        wasmtime_wasi_http::Error::HttpRequestBodySize(Some(
                            limits::MAX_HTTP_REQUEST_BYTES,
                        ))
                    })
                    .boxed_unsync();
            // The guard is asked again before each piece of the body goes
            // out: a call paused while it wrote its body cannot complete
            // the request once the guard says no.
            match guard {
                Some(guard) => GuardedBody {
                    inner: limited,
                    guard,
                    label,
                    url: guarded_url,
                }
                .boxed_unsync(),
                None => limited,
            }
        });
        match grants::check(&self.grants, &uri) {
            Decision::Denied => {
                if self.label.warnings.take() {
                    let granted: Vec<String> =
                        self.grants.iter().map(ToString::to_string).collect();
                    tracing::warn!(
                        tenant = %self.label.tenant,
                        provider = %self.label.provider,
                        url = %url,
                        grants = ?granted,
                        "refused a plugin's HTTP request: no network grant matches"
                    );
                }
                Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
            }
            Decision::Allowed(grant) => {
                tracing::debug!(
                    tenant = %self.label.tenant,
                    provider = %self.label.provider,
                    url = %url,
                    %grant,
                    "plugin HTTP request"
                );
                let options = RequestOptions {
                    connect_timeout: Some(
                        options
                            .and_then(|o| o.connect_timeout)
                            .map_or(limits::HTTP_CONNECT_TIMEOUT, |t| {
                                t.min(limits::HTTP_CONNECT_TIMEOUT)
                            }),
                    ),
                    ..options.unwrap_or_default()
                };
                let tls = match (uri.scheme_str(), grant.ca()) {
                    (Some("http"), _) => None,
                    (_, Some(ca)) => Some(ca.client_config()),
                    (_, None) => Some(tls::public_roots()),
                };
                let host = uri
                    .host()
                    .unwrap_or_default()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                let port = uri
                    .port_u16()
                    .unwrap_or(if tls.is_some() { 443 } else { 80 });
                let label = self.label.clone();
                let connections = self.connections.clone();
                // Every tenant's requests to this server take turns under
                // one adaptive limit (`endpoints`).
                let endpoint = self.endpoints.as_ref().and_then(|(limits, max)| {
                    limits.limit_for(&endpoints::endpoint_of(&uri), *max)
                });
                Box::new(async move {
                    let address = checked_address(&grant, &host, port, &label, &url).await?;
                    let sending = send::send(request, options, address, &host, tls, &connections);
                    let response = match endpoint {
                        Some(limit) => {
                            endpoints::in_turn(limit, label.tenant.clone(), sending).await
                        }
                        None => sending.await,
                    }?;
                    let response = response.map(|body| {
                        http_body_util::Limited::new(body, limits::MAX_HTTP_RESPONSE_BYTES as usize)
                            .map_err(|_| {
                                wasmtime_wasi_http::Error::HttpResponseBodySize(Some(
                                    limits::MAX_HTTP_RESPONSE_BYTES,
                                ))
                            })
                            // The request stays open until its body is read
                            // or dropped.
                            .map_frame(move |frame| {
                                let _open = &permit;
                                frame
                            })
                            .boxed_unsync()
                    });
                    let done = async { Ok(()) };
                    Ok((
                        response,
                        Box::new(done) as Box<dyn Future<Output = _> + Send>,
                    ))
                })
            }
        }
    }
}

/// A request body that asks its call's guard before each frame goes out,
/// and fails the request when the guard says no: the server never sees
/// the whole body, so it acts on nothing.
struct GuardedBody {
    inner: WasiBody,
    guard: Arc<dyn SendGuard>,
    /// Whose request it is, and where it goes, for the log.
    label: CallLabel,
    url: String,
}

impl http_body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let frame = std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_frame(cx));
        std::task::Poll::Ready(match frame {
            Some(Ok(frame)) => match self.guard.may_send() {
                Ok(()) => Some(Ok(frame)),
                Err(why) => {
                    if self.label.warnings.take() {
                        tracing::warn!(
                            tenant = %self.label.tenant,
                            provider = %self.label.provider,
                            url = %self.url,
                            "stopped a plugin's request mid-body: {why}"
                        );
                    }
                    Some(Err(wasmtime_wasi_http::Error::InternalError(Some(why))))
                }
            },
            other => other,
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl NetworkGate {
    /// Refuses a request that breaks a cap, logging why with whom.
    fn refuse(&self, url: &str, why: String, error: wasmtime_wasi_http::Error) -> ResponseFuture {
        if self.label.warnings.take() {
            tracing::warn!(
                tenant = %self.label.tenant,
                provider = %self.label.provider,
                url = %url,
                "refused a plugin's HTTP request: {why}"
            );
        }
        Box::new(async { Err(error) })
    }
}

/// The address to connect to: the host's own if it is one, or the first
/// address its name resolves to that the grant lets the request reach.
/// Addresses inside the machine or its private networks need a grant that
/// names them (see [`ip_policy`]).
async fn checked_address(
    grant: &Grant,
    host: &str,
    port: u16,
    label: &CallLabel,
    url: &str,
) -> Result<std::net::SocketAddr, wasmtime_wasi_http::Error> {
    let candidates: Vec<std::net::SocketAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![std::net::SocketAddr::new(ip, port)],
        Err(_) => tokio::time::timeout(
            limits::HTTP_CONNECT_TIMEOUT,
            tokio::net::lookup_host((host, port)),
        )
        .await
        .map_err(|_| wasmtime_wasi_http::Error::DnsTimeout)?
        .map_err(|_| wasmtime_wasi_http::Error::DnsError {
            rcode: None,
            info_code: None,
        })?
        .collect(),
    };
    let mut refused = None;
    for candidate in candidates {
        match ip_policy::inside(candidate.ip()) {
            Some(kind) if !grant.names_address(candidate.ip()) => {
                refused = Some((candidate.ip(), kind));
            }
            _ => return Ok(candidate),
        }
    }
    match refused {
        Some((ip, kind)) => {
            if label.warnings.take() {
                tracing::warn!(
                    tenant = %label.tenant,
                    provider = %label.provider,
                    url = %url,
                    %grant,
                    address = %ip,
                    "refused a plugin's HTTP request: the name resolves to {kind} address {ip}, which only a grant naming the address itself (or its network) allows"
                );
            }
            Err(wasmtime_wasi_http::Error::DestinationIpProhibited)
        }
        None => Err(wasmtime_wasi_http::Error::DestinationNotFound),
    }
}

/// Cuts `text` to at most `limit` bytes (at a character boundary), marking
/// the cut with `…`.
fn cut_at(text: &mut String, limit: usize) {
    if text.len() > limit {
        let cut = (0..=limit)
            .rev()
            .find(|&index| text.is_char_boundary(index))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
}

impl CallState {
    /// Writes one log record of the plugin's, within the call's budgets.
    fn log(&mut self, level: Level, mut message: String, fields: Vec<(String, String)>) {
        self.log_records += 1;
        if self.log_records > limits::MAX_LOG_RECORDS_PER_CALL {
            return;
        }
        if self.log_bytes >= limits::MAX_LOG_BYTES_PER_CALL {
            self.log_dropped_for_bytes += 1;
            return;
        }
        cut_at(&mut message, limits::MAX_LOG_MESSAGE_BYTES);
        let label = &self.label;
        // The fields of a record share one budget: the ones past it are cut.
        let mut fields = fields
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(" ");
        cut_at(&mut fields, limits::MAX_LOG_FIELDS_BYTES);
        self.log_bytes += message.len() + fields.len();
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(
                    target: PLUGIN_LOG_TARGET,
                    tenant = %label.tenant,
                    provider = %label.provider,
                    call = label.function,
                    fields = %fields,
                    "{message}"
                )
            };
        }
        match level {
            Level::Trace => emit!(trace),
            Level::Debug => emit!(debug),
            Level::Info => emit!(info),
            Level::Warn => emit!(warn),
            Level::Error => emit!(error),
        }
    }
}

impl v0_3::cairn::provider::log::Host for CallState {
    fn log(&mut self, level: Level, message: String, fields: Vec<(String, String)>) {
        CallState::log(self, level, message, fields);
    }
}

/// The `log` of an older contract version: the same levels, another type.
macro_rules! older_log {
    ($version:ident) => {
        impl $version::cairn::provider::log::Host for CallState {
            fn log(
                &mut self,
                level: $version::cairn::provider::log::Level,
                message: String,
                fields: Vec<(String, String)>,
            ) {
                use $version::cairn::provider::log::Level as Old;
                let level = match level {
                    Old::Trace => Level::Trace,
                    Old::Debug => Level::Debug,
                    Old::Info => Level::Info,
                    Old::Warn => Level::Warn,
                    Old::Error => Level::Error,
                };
                CallState::log(self, level, message, fields);
            }
        }
    };
}

older_log!(v0_1);
older_log!(v0_2);

impl super::bindings::policy_v0_1::cairn::policy::log::Host for CallState {
    fn log(
        &mut self,
        level: super::bindings::policy_v0_1::cairn::policy::log::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) {
        use super::bindings::policy_v0_1::cairn::policy::log::Level as Policy;
        let level = match level {
            Policy::Trace => Level::Trace,
            Policy::Debug => Level::Debug,
            Policy::Info => Level::Info,
            Policy::Warn => Level::Warn,
            Policy::Error => Level::Error,
        };
        CallState::log(self, level, message, fields);
    }
}
