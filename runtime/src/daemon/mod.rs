//! `cairn daemon`: the agent that keeps every tenant reconciled.
//!
//! Each tenant loads its plugins on its own ([`loading`]) and starts as
//! soon as they are loaded; a tenant whose plugins fail to load is reported
//! and tried again while the others run. Each tenant whose lease this
//! daemon holds ([`lease`]: one daemon, or several sharing a store) gets
//! a worker ([`worker`]) that polls its repository, reacts to signed push
//! webhooks, re-diffs on the drift schedule, and applies — with
//! per-resource retries, the safety threshold, suspension and rollback
//! holds honoured. Alerts go to the operator's sinks ([`alerts`]); the HTTP
//! surface ([`http`]) serves health, readiness ([`readiness`]), metrics,
//! status, webhooks and the web dashboard ([`dashboard`]). On SIGTERM or SIGINT the daemon stops taking
//! triggers, lets runs in flight finish within the grace period, and exits;
//! a change cut off by the exit is journaled and found out on the next
//! start.

pub mod alerts;
pub mod auth;
pub mod backoff;
pub mod dashboard;
pub mod http;
pub mod lease;
pub mod loading;
pub mod metrics;
pub mod preview;
pub mod readiness;
pub mod server;
pub mod status;
pub mod trim;
pub mod webhook;
pub mod worker;

use crate::config::Config;
use crate::host::{CacheKeyError, PluginError, PluginHost};
use crate::store::{StateStore, StoreError};
use http::{AppState, TenantHandle};
use metrics::Metrics;
use status::TenantStatus;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The plugin host could not start.
    #[error(transparent)]
    Host(#[from] PluginError),
    /// The compiled-code cache's key is missing, unreadable or unsafe.
    #[error(transparent)]
    CacheKey(#[from] CacheKeyError),
    /// The HTTP listener could not be bound.
    #[error("cannot listen on {address}: {source}. Choose another address with --listen")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// Waiting for signals failed.
    #[error("cannot wait for signals: {0}")]
    Signals(std::io::Error),
}

/// Options of `cairn daemon` that are not in `cairn.toml`.
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    /// Overrides `[daemon] listen`.
    pub listen: Option<String>,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config, options: DaemonOptions) -> Result<(), DaemonError> {
    // Signals are caught from the start: a SIGTERM while plugins load still
    // stops the daemon gracefully.
    let shutdown = CancellationToken::new();
    let signals = signal_streams().map_err(DaemonError::Signals)?;
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal(signals).await;
        tracing::info!("shutting down: no new runs; waiting for runs in flight");
        on_signal.cancel();
    });
    let store = StateStore::open(&config.state).await?;
    store.open_every_connection().await?;
    let health: lease::StoreHealth = Arc::default();
    let metrics = Arc::new(Metrics::default());
    let mut host = PluginHost::new(Some(crate::tenant::compiled_cache(&config)?))?;
    let observed = metrics.clone();
    host.set_call_observer(Arc::new(move |tenant, provider, function, ok, duration| {
        observed.call(tenant, provider, function, ok, duration);
    }));
    let host = Arc::new(host);
    metrics.watch_endpoints(host.clone());
    let alerts = alerts::Alerts::start(config.alerts.clone());
    let ready = Arc::new(AtomicBool::new(false));

    let changes = status::StatusChanges::default();
    let mut handles = BTreeMap::new();
    for (name, tenant) in &config.tenants {
        handles.insert(
            name.clone(),
            TenantHandle {
                status: Arc::new(RwLock::new(TenantStatus::new(name, &tenant.reference))),
                trigger: Arc::new(Notify::new()),
                held: Arc::new(AtomicBool::new(false)),
                webhook_secret: tenant.webhook_secret.clone(),
                webhook_style: tenant.webhook_style,
                api_token: tenant.api_token.clone(),
                tenant: Arc::default(),
                changes: changes.clone(),
            },
        );
    }
    let handles = Arc::new(handles);

    let address = options
        .listen
        .unwrap_or_else(|| config.daemon.listen.clone());
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|source| DaemonError::Listen {
            address: address.clone(),
            source,
        })?;
    let local: SocketAddr = listener
        .local_addr()
        .map_err(|source| DaemonError::Listen {
            address: address.clone(),
            source,
        })?;
    let daemon_id = config
        .daemon
        .id
        .clone()
        .unwrap_or_else(|| lease::default_id(local));
    tracing::info!(address = %local, daemon = %daemon_id, tenants = config.tenants.len(), "cairn daemon listening");
    let app_state = AppState {
        tenants: handles.clone(),
        store: store.clone(),
        metrics: metrics.clone(),
        ready: ready.clone(),
        operator_token: config.daemon.api_token.clone(),
        daemon_id: daemon_id.clone(),
        health: health.clone(),
        dashboard: Arc::new(dashboard::Dashboard::new(config.daemon.dashboard, changes)),
    };
    if !auth::required(&app_state) {
        tracing::warn!(
            address = %local,
            "the status API and metrics are open to anyone who can reach this address: set [daemon] api_token (and api_token per tenant)"
        );
    }
    if config.daemon.dashboard.enabled {
        tracing::info!(url = %format!("http://{local}/ui/"), "the dashboard is served");
    }
    let app = http::router(app_state);
    let server = tokio::spawn(server::serve(
        listener,
        app,
        metrics.clone(),
        shutdown.clone(),
    ));

    // Each tenant loads its plugins on its own and is handed to the
    // cluster as soon as they are loaded; the cluster then starts a worker
    // for each tenant whose lease this daemon holds.
    let (loaded_sender, loaded) = tokio::sync::mpsc::unbounded_channel();
    let loader = loading::Loader {
        config: Arc::new(config.clone()),
        host: host.clone(),
        store: store.clone(),
        alerts: alerts.clone(),
        metrics: metrics.clone(),
        loaded: loaded_sender,
        first: loading::FirstAttempts::new(config.tenants.len(), ready.clone(), metrics.clone()),
        shutdown: shutdown.clone(),
    };
    for (name, tenant_config) in &config.tenants {
        loader.spawn(tenant_config.clone(), handles[name].clone());
    }
    drop(loader);

    tokio::spawn(trim::return_freed_memory(shutdown.clone()));

    let context = lease::WorkerContext {
        store,
        alerts,
        metrics,
        handles,
        shutdown: shutdown.clone(),
        host,
        keep_inventory_from: config.daemon.keep_inventory_from,
    };
    let leases = lease::TenantLeases::new(
        daemon_id,
        local.to_string(),
        config.daemon.lease,
        context,
        config.tenants.keys().cloned(),
        loaded,
        health,
    );
    let grace = config.daemon.shutdown_grace;
    leases.run(grace).await;
    if tokio::time::timeout(grace, server).await.is_err() {
        tracing::warn!(
            ?grace,
            "requests were still in flight after the grace period"
        );
    }
    Ok(())
}

/// The SIGTERM and SIGINT streams, registered before anything else starts.
type Signals = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);

fn signal_streams() -> std::io::Result<Signals> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok((
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    ))
}

async fn wait_for_signal((mut terminate, mut interrupt): Signals) {
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}
