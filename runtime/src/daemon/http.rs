//! The daemon's HTTP surface: health, readiness, Prometheus metrics, the
//! JSON status API, the push webhooks and the dashboard under `/ui/`. The status API and the metrics
//! take bearer tokens (see [`super::auth`]); webhooks are signed per
//! tenant ([`super::webhook`]). The server these routes run in, and its
//! limits, are in [`super::server`].

use super::auth::Access;
use super::metrics::Metrics;
use super::status::TenantStatus;
use crate::secrets::SecretRef;
use crate::store::{LeaseRecord, ResourceStatusRecord, RunRecord, StateStore, TenantState};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// What the HTTP handlers share with the tenants' workers.
#[derive(Clone)]
pub struct AppState {
    /// Per tenant: its live status, its trigger and its webhook secret.
    pub tenants: Arc<BTreeMap<String, TenantHandle>>,
    /// The state store, for resource statuses and runs.
    pub store: StateStore,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// Whether every tenant has made its first attempt to load its
    /// plugins (see [`super::readiness`]).
    pub ready: Arc<AtomicBool>,
    /// The operator's API token, which sees everything.
    pub operator_token: Option<SecretRef>,
    /// This daemon's name among those sharing the store.
    pub daemon_id: String,
    /// Why the store is unreachable, while it is.
    pub health: super::lease::StoreHealth,
    /// The web dashboard's settings, sessions and live changes.
    pub dashboard: Arc<super::dashboard::Dashboard>,
}

/// A tenant as the HTTP side sees it.
#[derive(Clone)]
pub struct TenantHandle {
    /// Its live status.
    pub status: Arc<RwLock<TenantStatus>>,
    /// Wakes its worker.
    pub trigger: Arc<Notify>,
    /// Whether this daemon holds the tenant's lease (runs its worker).
    pub held: Arc<AtomicBool>,
    /// Its webhook secret, when webhooks are enabled.
    pub webhook_secret: Option<SecretRef>,
    /// How its webhooks carry the secret.
    pub webhook_style: crate::config::WebhookStyle,
    /// Its own API token, which sees only this tenant.
    pub api_token: Option<SecretRef>,
    /// The tenant with its plugins loaded, once they are: what a preview
    /// plans with, on any daemon, holding its lease or not.
    pub tenant: Arc<RwLock<Option<Arc<crate::tenant::Tenant>>>>,
    /// Told when its status changes (shared by every tenant).
    pub changes: super::status::StatusChanges,
}

/// The routes.
pub fn router(state: AppState) -> Router {
    let dashboard = super::dashboard::router(&state);
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(super::readiness::readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/cluster", get(cluster))
        .route("/api/v1/tenants", get(tenants))
        .route("/api/v1/tenants/{tenant}", get(tenant))
        .route("/api/v1/tenants/{tenant}/reconcile", post(reconcile))
        .route(
            "/api/v1/tenants/{tenant}/preview",
            post(super::preview::preview),
        )
        .route("/hooks/{tenant}", post(super::webhook::webhook))
        .merge(dashboard)
        // The webhook reads its body itself (see `super::webhook`); a
        // preview takes a small JSON one; none may buffer more than a
        // webhook.
        .layer(axum::extract::DefaultBodyLimit::max(
            super::server::limits::MAX_WEBHOOK_BYTES as usize,
        ))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>, access: Access) -> Response {
    match access {
        Access::Everything => {}
        Access::Tenant(_) => {
            return (
                StatusCode::FORBIDDEN,
                "the metrics cover every tenant: use the operator's token\n",
            )
                .into_response();
        }
    }
    let cluster = match super::metrics::cluster(&state.store).await {
        Ok(text) => text,
        Err(error) => {
            tracing::debug!(%error, "the cluster metrics are unavailable");
            String::new()
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode_with(&cluster),
    )
        .into_response()
}

/// Each tenant's status as the daemon holding it last saw it: this
/// daemon's own view for the tenants it holds, the holder's saved view for
/// the others; with the lease.
pub(super) async fn cluster_statuses(
    state: &AppState,
    names: &[&String],
) -> Result<Vec<TenantStatus>, crate::store::StoreError> {
    let leases: BTreeMap<String, LeaseRecord> = state
        .store
        .leases()
        .await?
        .into_iter()
        .map(|lease| (lease.tenant.clone(), lease))
        .collect();
    let saved: BTreeMap<String, String> = state
        .store
        .coordination()
        .live_statuses()
        .await?
        .into_iter()
        .map(|saved| (saved.tenant, saved.status))
        .collect();
    Ok(names
        .iter()
        .map(|name| {
            let handle = &state.tenants[*name];
            let mut status = if handle.held.load(Ordering::Relaxed) {
                handle.status.read().expect("tenant status").clone()
            } else {
                saved
                    .get(*name)
                    .and_then(|json| serde_json::from_str::<TenantStatus>(json).ok())
                    .unwrap_or_else(|| handle.status.read().expect("tenant status").clone())
            };
            let lease = leases.get(*name).filter(|lease| lease.live);
            status.holder = lease.map(|lease| lease.holder.clone());
            status.lease = lease.cloned();
            status
        })
        .collect())
}

/// `/api/v1/cluster`: this daemon's name, every daemon sharing the store
/// and every tenant's lease.
#[derive(Serialize)]
struct ClusterView {
    daemon: String,
    daemons: Vec<crate::store::DaemonRecord>,
    leases: Vec<LeaseRecord>,
}

async fn cluster(State(state): State<AppState>, access: Access) -> Response {
    if !matches!(access, Access::Everything) {
        return (
            StatusCode::FORBIDDEN,
            "the cluster view covers every tenant: use the operator's token\n",
        )
            .into_response();
    }
    let view = async {
        Ok::<_, crate::store::StoreError>(ClusterView {
            daemon: state.daemon_id.clone(),
            daemons: state.store.daemons().await?,
            leases: state.store.leases().await?,
        })
    };
    match view.await {
        Ok(view) => Json(view).into_response(),
        Err(error) => store_failed(&error),
    }
}

async fn tenants(State(state): State<AppState>, access: Access) -> Response {
    let names: Vec<&String> = state
        .tenants
        .keys()
        .filter(|name| access.sees(name))
        .collect();
    match cluster_statuses(&state, &names).await {
        Ok(statuses) => Json(statuses).into_response(),
        Err(error) => store_failed(&error),
    }
}

/// 503 while the store cannot be reached, 500 for any other failure.
fn store_failed(error: &crate::store::StoreError) -> Response {
    if error.is_unreachable() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the state store is unreachable: {error}\n"),
        )
            .into_response()
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response()
    }
}

/// Wakes the tenant's worker: here when this daemon holds it, otherwise
/// through the store's trigger queue, which the holder reads.
pub(super) async fn deliver(state: &AppState, name: &str, handle: &TenantHandle) -> Response {
    if handle.held.load(Ordering::Relaxed) {
        handle.trigger.notify_one();
    } else if let Err(error) = state.store.coordination().push_trigger(name).await {
        return store_failed(&error);
    }
    (StatusCode::ACCEPTED, "reconcile triggered\n").into_response()
}

/// `POST /api/v1/tenants/T/reconcile`: fetch and reconcile now.
async fn reconcile(
    State(state): State<AppState>,
    Path(name): Path<String>,
    access: Access,
) -> Response {
    match state.tenants.get(&name) {
        Some(handle) if access.sees(&name) => deliver(&state, &name, handle).await,
        _ => not_found(&name),
    }
}

/// `/api/v1/tenants/T`: the live status, the control state, the last run
/// recorded and every owned resource's status.
#[derive(Serialize)]
struct TenantDetail {
    #[serde(flatten)]
    status: TenantStatus,
    control: TenantState,
    last_recorded_run: Option<RunRecord>,
    resources: Vec<ResourceStatusRecord>,
}

async fn tenant(
    State(state): State<AppState>,
    Path(name): Path<String>,
    access: Access,
) -> Response {
    // A tenant outside the token's reach does not exist for it.
    if !state.tenants.contains_key(&name) || !access.sees(&name) {
        return not_found(&name);
    }
    let detail = async {
        let status = cluster_statuses(&state, &[&name]).await?.remove(0);
        Ok::<_, crate::store::StoreError>(TenantDetail {
            status,
            control: state.store.tenant_state(&name).await?,
            last_recorded_run: state.store.history(&name, 1).await?.into_iter().next(),
            resources: state.store.statuses(&name).await?,
        })
    };
    match detail.await {
        Ok(detail) => Json(detail).into_response(),
        Err(error) => store_failed(&error),
    }
}

fn not_found(name: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no tenant `{name}`\n")).into_response()
}
