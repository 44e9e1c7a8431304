//! The daemon's Prometheus metrics, served at `/metrics` in the text
//! exposition format.

use crate::host::PluginHost;
use crate::host::endpoints::EndpointLoad;
use crate::store::{StateStore, StoreError};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabel {
    tenant: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    tenant: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    tenant: String,
    action: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    tenant: String,
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    tenant: String,
    severity: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tenant: String,
    provider: String,
    function: String,
    result: String,
}

/// Reconcile and plugin-call durations: from 5 ms to about 40 s.
fn duration_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Plugin-call durations: from 100 µs to about 6.5 s.
fn call_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// Every metric the daemon exports.
pub struct Metrics {
    registry: Registry,
    runs: Family<OutcomeLabels, Counter>,
    durations: Family<TenantLabel, Histogram, fn() -> Histogram>,
    checks: Family<TenantLabel, Histogram, fn() -> Histogram>,
    changes: Family<ActionLabels, Counter>,
    drift: Family<TenantLabel, Counter>,
    errors: Family<ErrorLabels, Counter>,
    calls: Family<CallLabels, Histogram, fn() -> Histogram>,
    last_success: Family<TenantLabel, Gauge<f64, AtomicU64>>,
    ready: Gauge,
    http_open: Gauge,
    http_closed: Family<ReasonLabel, Counter>,
    webhooks_refused: Family<ReasonLabel, Counter>,
    loaded: Family<TenantLabel, Gauge>,
    policy_blocked: Family<TenantLabel, Gauge>,
    policy_findings: Family<SeverityLabels, Gauge>,
    experiments_running: Family<TenantLabel, Gauge>,
    runs_in_progress: Gauge,
    runs_waiting: Gauge,
    /// Where the endpoints' adaptive limits are read at each scrape.
    endpoints: OnceLock<Arc<PluginHost>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("cairn");
        let runs = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "reconcile_runs",
            "Reconcile runs by tenant and outcome",
            runs.clone(),
        );
        let durations = Family::<TenantLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_buckets,
        );
        registry.register(
            "reconcile_duration_seconds",
            "How long reconcile runs take",
            durations.clone(),
        );
        let checks =
            Family::<TenantLabel, Histogram, fn() -> Histogram>::new_with_constructor(call_buckets);
        registry.register(
            "reconcile_check_duration_seconds",
            "Runs that found nothing to do (commit unchanged, nothing due): no plugin is called",
            checks.clone(),
        );
        let changes = Family::<ActionLabels, Counter>::default();
        registry.register(
            "changes_applied",
            "Changes applied with success, by action",
            changes.clone(),
        );
        let drift = Family::<TenantLabel, Counter>::default();
        registry.register(
            "drift_detected",
            "Owned objects found drifted or vanished",
            drift.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "errors",
            "Errors by kind: load, source, invalid, plugin, plan, apply, converge, store, lease, webhook-signature",
            errors.clone(),
        );
        let calls =
            Family::<CallLabels, Histogram, fn() -> Histogram>::new_with_constructor(call_buckets);
        registry.register(
            "plugin_call_duration_seconds",
            "Plugin calls: sandbox set-up and the call",
            calls.clone(),
        );
        let last_success = Family::<TenantLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "last_success_timestamp_seconds",
            "When the tenant's last commit was applied with success (Unix time)",
            last_success.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 once every tenant has made its first attempt to load its plugins (loaded or not: see tenant_loaded)",
            ready.clone(),
        );
        let runs_in_progress = Gauge::default();
        registry.register(
            "reconcile_runs_in_progress",
            "Runs planning or applying, each holding one of the daemon's run slots",
            runs_in_progress.clone(),
        );
        let runs_waiting = Gauge::default();
        registry.register(
            "reconcile_runs_waiting",
            "Runs with something to plan waiting for one of the daemon's run slots",
            runs_waiting.clone(),
        );
        let http_open = Gauge::default();
        registry.register(
            "http_connections_open",
            "Connections the HTTP server holds open",
            http_open.clone(),
        );
        let http_closed = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "http_connections_closed",
            "Connections the HTTP server closed on a limit: header-timeout (no request head in time, or idle), gave-way (waited longest when a new one came at the cap), refused (came at the cap with every connection serving)",
            http_closed.clone(),
        );
        let webhooks_refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "webhooks_refused",
            "Webhooks refused, for any name, known tenant or not: signature (bad, missing, or no tenant's), too-large, body-timeout, body-error",
            webhooks_refused.clone(),
        );
        let loaded = Family::<TenantLabel, Gauge>::default();
        registry.register(
            "tenant_loaded",
            "1 while the tenant's plugins are loaded; 0 while they load or after an attempt failed",
            loaded.clone(),
        );
        let policy_blocked = Family::<TenantLabel, Gauge>::default();
        registry.register(
            "policy_blocked",
            "1 while the tenant's last plan is blocked by a policy (a mandatory policy's error finding, or a soft-mandatory one's not overridden); 0 otherwise",
            policy_blocked.clone(),
        );
        let policy_findings = Family::<SeverityLabels, Gauge>::default();
        registry.register(
            "policy_findings",
            "What the tenant's policies found in its last plan, by severity (error, warning, info)",
            policy_findings.clone(),
        );
        let experiments_running = Family::<TenantLabel, Gauge>::default();
        registry.register(
            "chaos_experiments_running",
            "Chaos experiments holding the tenant's resources (a run in progress or recovering), as its last plan found them",
            experiments_running.clone(),
        );
        Self {
            registry,
            experiments_running,
            runs_in_progress,
            runs_waiting,
            endpoints: OnceLock::new(),
            policy_blocked,
            policy_findings,
            runs,
            durations,
            checks,
            changes,
            drift,
            errors,
            calls,
            last_success,
            ready,
            http_open,
            http_closed,
            webhooks_refused,
            loaded,
        }
    }
}

impl Metrics {
    /// Counts a reconcile run and its duration.
    pub fn run(&self, tenant: &str, outcome: &str, duration: Duration) {
        self.runs
            .get_or_create(&OutcomeLabels {
                tenant: tenant.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.durations
            .get_or_create(&TenantLabel {
                tenant: tenant.to_string(),
            })
            .observe(duration.as_secs_f64());
    }

    /// Observes a run that found nothing to do.
    pub fn check(&self, tenant: &str, duration: Duration) {
        self.checks
            .get_or_create(&TenantLabel {
                tenant: tenant.to_string(),
            })
            .observe(duration.as_secs_f64());
    }

    /// Counts a change applied with success.
    pub fn change(&self, tenant: &str, action: &str) {
        self.changes
            .get_or_create(&ActionLabels {
                tenant: tenant.to_string(),
                action: action.to_string(),
            })
            .inc();
    }

    /// Counts objects found drifted.
    pub fn drift(&self, tenant: &str, count: u64) {
        self.drift
            .get_or_create(&TenantLabel {
                tenant: tenant.to_string(),
            })
            .inc_by(count);
    }

    /// Counts an error of `kind`.
    pub fn error(&self, tenant: &str, kind: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                tenant: tenant.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Observes one plugin call.
    pub fn call(&self, tenant: &str, provider: &str, function: &str, ok: bool, duration: Duration) {
        self.calls
            .get_or_create(&CallLabels {
                tenant: tenant.to_string(),
                provider: provider.to_string(),
                function: function.to_string(),
                result: if ok { "ok" } else { "error" }.to_string(),
            })
            .observe(duration.as_secs_f64());
    }

    /// Records a successful apply now.
    pub fn success(&self, tenant: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.last_success
            .get_or_create(&TenantLabel {
                tenant: tenant.to_string(),
            })
            .set(now);
    }

    /// Counts a run waiting for a run slot, until the guard is dropped.
    pub fn run_waiting(&self) -> Counted {
        Counted::new(&self.runs_waiting)
    }

    /// Counts a run holding a run slot, until the guard is dropped.
    pub fn run_in_progress(&self) -> Counted {
        Counted::new(&self.runs_in_progress)
    }

    /// Sets readiness.
    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }

    /// Sets how many connections the HTTP server holds open.
    pub fn set_http_connections(&self, open: usize) {
        self.http_open.set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// Counts a connection the HTTP server closed on a limit (`reason`).
    pub fn http_closed(&self, reason: &str) {
        self.http_closed
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts a refused webhook (`reason`).
    pub fn webhook_refused(&self, reason: &str) {
        self.webhooks_refused
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Sets what the tenant's policies found in its last plan.
    pub fn set_findings(&self, tenant: &str, findings: &[crate::plan::PolicyFinding]) {
        use cairn_contract::FindingSeverity;
        let blocked = findings.iter().any(|finding| finding.blocks());
        self.policy_blocked
            .get_or_create(&TenantLabel {
                tenant: tenant.to_string(),
            })
            .set(i64::from(blocked));
        for severity in [
            FindingSeverity::Error,
            FindingSeverity::Warning,
            FindingSeverity::Info,
        ] {
            let count = findings
                .iter()
                .filter(|finding| finding.finding.severity == severity)
                .count();
            self.policy_findings
                .get_or_create(&SeverityLabels {
                    tenant: tenant.to_string(),
                    severity: severity.as_str().to_string(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Sets how many of the tenant's resources hold others (running chaos
    /// experiments).
    pub fn set_experiments_running(&self, tenant: &str, running: usize) {
        self.experiments_running
            .get_or_create(&TenantLabel {
                tenant: tenant.to_string(),
            })
            .set(i64::try_from(running).unwrap_or(i64::MAX));
    }

    /// Sets whether the tenant's plugins are loaded.
    pub fn set_loaded(&self, tenant: &str, loaded: bool) {
        self.loaded
            .get_or_create(&TenantLabel {
                tenant: tenant.to_string(),
            })
            .set(i64::from(loaded));
    }

    /// Reads `host`'s endpoint limits at every scrape from now on.
    pub fn watch_endpoints(&self, host: Arc<PluginHost>) {
        let _ = self.endpoints.set(host);
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let own = exposition(&self.registry);
        match self.endpoints.get() {
            Some(host) => joined(&own, &endpoints(&host.endpoint_loads())),
            None => own,
        }
    }

    /// This daemon's metrics followed by `cluster`'s (see [`cluster`]), in
    /// one exposition with one end marker.
    pub fn encode_with(&self, cluster: &str) -> String {
        joined(&self.encode(), cluster)
    }
}

/// The text exposition of `registry`, with its end marker.
fn exposition(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)
        .expect("writing to a String cannot fail");
    text
}

/// Two expositions as one, with one end marker: `first`'s is dropped
/// (`then` carries its own). An empty `then` leaves `first` as it is.
fn joined(first: &str, then: &str) -> String {
    if then.is_empty() {
        return first.to_string();
    }
    let body = first.strip_suffix("# EOF\n").unwrap_or(first);
    format!("{body}{then}")
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: String,
}

/// The adaptive limit and load of each endpoint plugins talk to (see
/// `cairn_sandbox::endpoints`), as one exposition.
fn endpoints(loads: &[EndpointLoad]) -> String {
    let mut registry = Registry::with_prefix("cairn_endpoint");
    let limit = Family::<EndpointLabel, Gauge<f64, AtomicU64>>::default();
    let ceiling = Family::<EndpointLabel, Gauge>::default();
    let open = Family::<EndpointLabel, Gauge>::default();
    let waiting = Family::<EndpointLabel, Gauge>::default();
    let overloads = Family::<EndpointLabel, Counter>::default();
    let decreases = Family::<EndpointLabel, Counter>::default();
    let expired = Family::<EndpointLabel, Counter>::default();
    for load in loads {
        let label = EndpointLabel {
            endpoint: load.endpoint.clone(),
        };
        limit.get_or_create(&label).set(load.limit);
        ceiling.get_or_create(&label).set(load.ceiling as i64);
        open.get_or_create(&label).set(load.open as i64);
        waiting.get_or_create(&label).set(load.waiting as i64);
        overloads.get_or_create(&label).inc_by(load.overloads);
        decreases.get_or_create(&label).inc_by(load.decreases);
        expired.get_or_create(&label).inc_by(load.expired);
    }
    registry.register(
        "concurrency_limit",
        "Requests every tenant's plugins may have open at once at the endpoint: grows while they succeed, halves on 5xx, 429 and failed requests",
        limit,
    );
    registry.register(
        "concurrency_ceiling",
        "The highest the endpoint's limit may grow: the smallest max_concurrency of the provider instances using it",
        ceiling,
    );
    registry.register("requests_open", "Requests open at the endpoint now", open);
    registry.register(
        "requests_waiting",
        "Requests waiting for a turn under the endpoint's limit now",
        waiting,
    );
    registry.register(
        "overloads",
        "Answers from the endpoint that counted as overload: 5xx, 429, a request failed without an answer",
        overloads,
    );
    registry.register(
        "limit_decreases",
        "Times the endpoint's limit was halved",
        decreases,
    );
    registry.register(
        "turns_expired",
        "Turns given back for being held past their bound (eight times the answers' moving average, 250 ms to 10 s): a body written slowly, a stalled server",
        expired,
    );
    exposition(&registry)
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HolderLabels {
    tenant: String,
    daemon: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    tenant: String,
    status: String,
}

/// Metrics of every tenant and daemon sharing the store, read from it at
/// each scrape, so that any daemon answers for the whole cluster: daemons
/// alive, who holds each tenant and with which token, owned resources by
/// status, changes in flight, last successful apply.
pub async fn cluster(store: &StateStore) -> Result<String, StoreError> {
    let daemons = store.daemons().await?;
    let leases = store.leases().await?;
    let counts = store.tenant_counts().await?;
    let mut registry = Registry::with_prefix("cairn_cluster");
    let alive = Gauge::<i64>::default();
    alive.set(daemons.iter().filter(|d| d.alive).count() as i64);
    registry.register("daemons", "Daemons alive on this state store", alive);
    let holders = Family::<HolderLabels, Gauge>::default();
    let tokens = Family::<TenantLabel, Gauge>::default();
    for lease in leases.iter().filter(|lease| lease.live) {
        holders
            .get_or_create(&HolderLabels {
                tenant: lease.tenant.clone(),
                daemon: lease.holder.clone(),
            })
            .set(1);
        tokens
            .get_or_create(&TenantLabel {
                tenant: lease.tenant.clone(),
            })
            .set(lease.token);
    }
    registry.register(
        "tenant_holder",
        "1 for the daemon holding each tenant's lease",
        holders,
    );
    registry.register(
        "lease_token",
        "The fencing token of each tenant's lease",
        tokens,
    );
    let resources = Family::<StatusLabels, Gauge>::default();
    for (tenant, status, count) in counts.resources {
        resources
            .get_or_create(&StatusLabels {
                tenant,
                status: status.to_string(),
            })
            .set(count);
    }
    registry.register(
        "resources",
        "Owned resources by status: in-sync, drifted, failed, pending",
        resources,
    );
    let in_flight = Family::<TenantLabel, Gauge>::default();
    for (tenant, count) in counts.intents {
        in_flight.get_or_create(&TenantLabel { tenant }).set(count);
    }
    registry.register(
        "changes_in_flight",
        "Changes journaled and not yet recorded (a holder died during them)",
        in_flight,
    );
    let applied = Family::<TenantLabel, Gauge<f64, AtomicU64>>::default();
    for (tenant, at) in counts.last_applied {
        applied
            .get_or_create(&TenantLabel { tenant })
            .set(at as f64 / 1000.0);
    }
    registry.register(
        "last_applied_timestamp_seconds",
        "When each tenant's last commit was applied with success (Unix time)",
        applied,
    );
    Ok(exposition(&registry))
}

/// One count in a gauge, taken back when dropped.
#[derive(Debug)]
pub struct Counted(Gauge);

impl Counted {
    fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}
