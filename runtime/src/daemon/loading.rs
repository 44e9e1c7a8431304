//! Loading each tenant's plugins on its own.
//!
//! Every tenant gets a task that loads its plugins and hands the tenant to
//! the cluster ([`super::cluster`]) the moment they are loaded, so it
//! starts then, whatever the other tenants are doing. A tenant whose
//! plugins fail to load (refused pin, unreadable or invalid file, a
//! `describe` that traps or loops until its deadline) or take longer than
//! [`LOAD_TIMEOUT`] is reported — its status's `load_error`, a
//! `plugin-failed` alert, `cairn_errors_total{kind="load"}` and
//! `cairn_tenant_loaded` at 0 — and tries again with backoff (1 s,
//! doubling, at most [`LOAD_RETRY_CAP`]), so a plugin file that is fixed or
//! replaced is picked up without a restart; the others run meanwhile.
//!
//! The daemon is ready ([`FirstAttempts`]) once every tenant has finished
//! its first attempt, loaded or not: one broken plugin does not keep the
//! daemon from serving the others.

use super::alerts::{AlertKind, Alerts};
use super::backoff::Backoff;
use super::http::TenantHandle;
use super::metrics::Metrics;
use crate::config::{Config, TenantConfig};
use crate::host::PluginHost;
use crate::store::StateStore;
use crate::tenant::{Tenant, TenantError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long one attempt to load a tenant's plugins may take. The shipped
/// providers (0.3–0.9 MB) compile in about 0.2–0.3 s here, so even the
/// largest file accepted (`MAX_PLUGIN_BYTES`, 64 MiB) should compile in
/// well under this, waiting for a compile slot included, and each
/// `describe` has its own 10 s deadline; an attempt still running after
/// this is stuck (a file on a hung mount, say), and is reported as a
/// failure and tried again.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// The longest a tenant whose plugins failed to load waits before it tries
/// again, as a failing tenant's runs do.
pub const LOAD_RETRY_CAP: Duration = Duration::from_secs(300);

/// The alert key of a tenant's load failure, apart from its runs' own.
const LOAD_KEY: &str = "load";

/// Counts the tenants that have yet to finish their first attempt to load;
/// when the last one does, the daemon is ready.
#[derive(Debug, Clone)]
pub struct FirstAttempts {
    pending: Arc<AtomicUsize>,
    ready: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl FirstAttempts {
    /// Waits for `tenants` first attempts; sets `ready` (and the readiness
    /// metric) after the last. With no tenant, ready at once.
    pub fn new(tenants: usize, ready: Arc<AtomicBool>, metrics: Arc<Metrics>) -> Self {
        let first = Self {
            pending: Arc::new(AtomicUsize::new(tenants)),
            ready,
            metrics,
        };
        first.ready.store(tenants == 0, Ordering::Relaxed);
        first.metrics.set_ready(tenants == 0);
        first
    }

    fn done(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.ready.store(true, Ordering::Relaxed);
            self.metrics.set_ready(true);
            tracing::info!("every tenant has made its first attempt to load its plugins; ready");
        }
    }
}

/// What every tenant's loading task shares.
#[derive(Clone)]
pub struct Loader {
    /// The operator's configuration.
    pub config: Arc<Config>,
    /// The plugin host.
    pub host: Arc<PluginHost>,
    /// The state store, where tenants' sources remember release tags.
    pub store: StateStore,
    /// Alert sinks.
    pub alerts: Alerts,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Where loaded tenants go: the cluster, which starts them.
    pub loaded: mpsc::UnboundedSender<Arc<Tenant>>,
    /// Readiness.
    pub first: FirstAttempts,
    /// The daemon's shutdown, which ends the loading.
    pub shutdown: CancellationToken,
}

impl Loader {
    /// Loads `tenant` on a task of its own until it is loaded (or the
    /// daemon stops), reporting each failure on `handle`.
    pub fn spawn(&self, tenant: TenantConfig, handle: TenantHandle) {
        let loader = self.clone();
        tokio::spawn(async move { loader.load(tenant, handle).await });
    }

    async fn load(self, tenant: TenantConfig, handle: TenantHandle) {
        let name = tenant.name.clone();
        self.metrics.set_loaded(&name, false);
        let mut backoff = Backoff::new(LOAD_RETRY_CAP);
        let mut first = Some(self.first.clone());
        loop {
            let attempt = tokio::time::timeout(
                LOAD_TIMEOUT,
                Tenant::open(&self.config, &tenant, &self.host, &self.store),
            );
            let outcome = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                outcome = attempt => outcome,
            };
            let (error, retry) = match outcome {
                Ok(Ok(loaded)) => {
                    {
                        let mut status = handle.status.write().expect("tenant status");
                        status.loaded = true;
                        status.load_error = None;
                    }
                    self.metrics.set_loaded(&name, true);
                    self.alerts.clear(
                        &name,
                        AlertKind::PluginFailed,
                        LOAD_KEY,
                        None,
                        None,
                        "the tenant's plugins load again",
                    );
                    tracing::info!(tenant = %name, "the tenant's plugins are loaded");
                    let loaded = Arc::new(loaded);
                    // Previews use it whether this daemon holds it or not.
                    *handle.tenant.write().expect("loaded tenant") = Some(loaded.clone());
                    handle.changes.changed(&name);
                    // A send fails only when the cluster has stopped.
                    let _ = self.loaded.send(loaded);
                    if let Some(first) = first.take() {
                        first.done();
                    }
                    return;
                }
                // Only the operator's file can mend this one; it is read
                // once, at start.
                Ok(Err(error @ TenantError::MemoryOverQuota { .. })) => (error.to_string(), false),
                Ok(Err(error)) => (error.to_string(), true),
                Err(_) => (
                    format!(
                        "loading the plugins of tenant `{name}` took longer than {LOAD_TIMEOUT:?}"
                    ),
                    true,
                ),
            };
            self.metrics.error(&name, "load");
            handle.status.write().expect("tenant status").load_error = Some(error.clone());
            handle.changes.changed(&name);
            self.alerts.raise(
                &name,
                AlertKind::PluginFailed,
                LOAD_KEY,
                None,
                None,
                &format!("the tenant does not run: {error}"),
            );
            if let Some(first) = first.take() {
                first.done();
            }
            if !retry {
                tracing::error!(tenant = %name, %error, "cannot load the tenant's plugins; it does not run until cairn.toml is fixed and the daemon restarted");
                return;
            }
            let delay = backoff.fail(());
            tracing::error!(tenant = %name, %error, retry_in = ?delay, "cannot load the tenant's plugins; trying again");
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}
