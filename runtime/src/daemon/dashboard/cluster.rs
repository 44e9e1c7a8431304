//! `GET /ui/cluster`: the daemons sharing the store with their
//! heartbeats, and every tenant's lease — who holds what, since when,
//! until when. The operator's only: it covers every tenant.

use super::page::{self, Section};
use super::session::Viewer;
use crate::daemon::http::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

/// The handler.
pub async fn page(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    if !viewer.is_operator() {
        return page::refusal(
            StatusCode::FORBIDDEN,
            "The cluster covers every tenant: sign in with the operator's token.",
        );
    }
    let seen = state.dashboard.changes.count();
    let read = async {
        Ok::<_, crate::store::StoreError>((
            state.store.daemons().await?,
            state.store.leases().await?,
        ))
    };
    let (daemons, leases) = match read.await {
        Ok(read) => read,
        Err(error) => return page::store_failed(&error),
    };
    let now = crate::store::now_ms();
    let body = html! {
        h1 { "Cluster" }
        p { "This page is served by daemon " strong { (state.daemon_id) } "." }
        @if let Some(error) = state.health.read().expect("store health").unreachable.clone() {
            p.error { "The state store is unreachable from this daemon: " (error) }
        }
        section aria-labelledby="daemons-title" {
            h2 #daemons-title { "Daemons (" (daemons.len()) ")" }
            (page::scrolling("Daemons", html! {
                table {
                    thead { tr {
                        th scope="col" { "Daemon" }
                        th scope="col" { "Address" }
                        th scope="col" { "State" }
                        th scope="col" { "Last heartbeat" }
                        th scope="col" { "Started" }
                        th scope="col" { "Leases held" }
                    } }
                    tbody {
                        @for daemon in &daemons {
                            tr {
                                th scope="row" { (daemon.id) @if daemon.id == state.daemon_id { " (this one)" } }
                                td { code { (daemon.address) } }
                                td { @if daemon.alive { (page::word_badge("alive")) } @else { (page::word_badge("gone")) } }
                                td { (page::age_ms(daemon.heartbeat_at)) }
                                td { (page::time_ms(daemon.started_at)) }
                                td { (leases.iter().filter(|lease| lease.live && lease.holder == daemon.id).count()) }
                            }
                        }
                    }
                }
            }))
        }
        section aria-labelledby="leases-title" {
            h2 #leases-title { "Leases (" (leases.len()) ")" }
            (page::scrolling("Leases", html! {
                table {
                    thead { tr {
                        th scope="col" { "Tenant" }
                        th scope="col" { "Holder" }
                        th scope="col" { "State" }
                        th scope="col" { "Fencing token" }
                        th scope="col" { "Taken" }
                        th scope="col" { "Runs out" }
                    } }
                    tbody {
                        @for lease in &leases {
                            tr {
                                th scope="row" { a href={ "/ui/tenants/" (page::path_segment(&lease.tenant)) } { (lease.tenant) } }
                                td { (lease.holder) }
                                td { @if lease.live { (page::word_badge("held")) } @else { (page::word_badge("free")) } }
                                td { (lease.token) }
                                td { (page::age_ms(lease.acquired_at)) }
                                td {
                                    @if !lease.live { "—" }
                                    @else { "in " (((lease.expires_at - now).max(0) + 999) / 1000) " s" }
                                }
                            }
                        }
                    }
                }
            }))
        }
    };
    page::shell(
        "Cluster",
        &viewer,
        Section::Cluster,
        Some(page::Live { scope: "*", seen }),
        body,
    )
    .into_response()
}
