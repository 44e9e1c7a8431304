//! The web dashboard, served by the daemon under `/ui/`: every tenant's
//! state at a glance ([`overview`]), a tenant's resources, drift, policy
//! findings, plan on demand and control ([`tenant`], [`plan`],
//! [`control`]), its history, runs and the difference between two runs'
//! commits ([`history`], [`diff`]), and the daemons and leases of the
//! cluster ([`cluster`]).
//!
//! Pages are rendered on the server (maud, checked at compile time) and
//! work without JavaScript; one small script of the dashboard's own
//! (`assets/live.js`) reloads a page's content when the daemon says a run
//! ended ([`live`]: server-sent events from the workers' own status
//! changes, not a poll of the store).
//!
//! Security rules ([`session`]): a session begins by signing in with an
//! API token (the operator's sees everything, a tenant's only its tenant),
//! kept in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` behind
//! HTTPS); the token itself never appears in a page, a URL or a log, and
//! a rotated token ends its sessions. Every form that changes anything
//! carries a CSRF token bound to the session. Every answer carries a
//! strict Content-Security-Policy and the usual security headers
//! ([`security_headers`]). With no token configured, the dashboard is open
//! and read-only unless `[daemon.dashboard] actions_without_token = true`.

pub mod cluster;
pub mod control;
pub mod diff;
pub mod history;
pub mod live;
pub mod overview;
pub mod page;
pub mod plan;
pub mod session;
pub mod state;
pub mod tenant;

use super::http::AppState;
use super::status::StatusChanges;
use crate::config::DashboardConfig;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

/// What the dashboard keeps while the daemon runs.
#[derive(Debug)]
pub struct Dashboard {
    /// `[daemon.dashboard]`.
    pub settings: DashboardConfig,
    /// The signed-in sessions.
    pub sessions: session::Sessions,
    /// Which tenant's status changed, for the live pages.
    pub changes: StatusChanges,
}

impl Dashboard {
    /// A dashboard with no session yet.
    pub fn new(settings: DashboardConfig, changes: StatusChanges) -> Self {
        Self {
            settings,
            sessions: session::Sessions::default(),
            changes,
        }
    }
}

/// The Content-Security-Policy of every answer: only the dashboard's own
/// stylesheet, script and event stream; no inline script or style, no
/// frame, no form sent elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's routes, under `/ui/`; none when it is disabled.
pub fn router(state: &AppState) -> Router<AppState> {
    if !state.dashboard.settings.enabled {
        return Router::new();
    }
    let pages = Router::new()
        .route("/ui/", get(overview::page))
        .route("/ui/cluster", get(cluster::page))
        .route("/ui/events", get(live::events))
        .route("/ui/sign-out", post(session::sign_out))
        .route("/ui/tenants/{tenant}", get(tenant::page))
        .route("/ui/tenants/{tenant}/plan", get(plan::page))
        .route("/ui/tenants/{tenant}/history", get(history::page))
        .route("/ui/tenants/{tenant}/runs/{run}", get(history::run_page))
        .route("/ui/tenants/{tenant}/diff", get(diff::page))
        .route("/ui/tenants/{tenant}/reconcile", post(control::reconcile))
        .route("/ui/tenants/{tenant}/suspend", post(control::suspend))
        .route("/ui/tenants/{tenant}/resume", post(control::resume))
        .route(
            "/ui/tenants/{tenant}/rollback",
            get(control::confirm_rollback).post(control::rollback),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::require_viewer,
        ));
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route(
            "/ui/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/ui/assets/dashboard.css", get(stylesheet))
        .route("/ui/assets/live.js", get(script))
        .merge(pages)
        .layer(axum::middleware::map_response(security_headers))
}

/// The headers every answer of the dashboard carries: the CSP, no
/// sniffing, no framing, no referrer, nothing cached but the assets.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

/// How long a browser may keep the stylesheet and script: short, so a
/// new daemon's assets are taken soon after an upgrade.
const ASSET_CACHE: &str = "public, max-age=300";

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, ASSET_CACHE),
        ],
        include_str!("assets/dashboard.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, ASSET_CACHE),
        ],
        include_str!("assets/live.js"),
    )
        .into_response()
}
