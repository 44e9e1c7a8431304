//! `GET /ui/tenants/T/plan[?ref=REF]`: what the next run would change —
//! the tenant's own ref planned now against the live world, or a preview
//! of another branch, tag or commit — with every change's fields and the
//! policies' findings. It is a preview ([`crate::preview`]): it writes
//! nothing and takes no lock, runs within the previews' limits, and any
//! daemon serves it.

use super::page::{self, Section};
use super::session::Viewer;
use crate::daemon::http::AppState;
use crate::daemon::preview::{status_of, within_limits};
use crate::preview::Preview;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

/// The most changes the page lists with their fields: past this they are
/// counted. A plan that large is read with `cairn plan`.
pub const MAX_CHANGES_SHOWN: usize = 1_000;

/// The plan page's query.
#[derive(Debug, Default, Deserialize)]
pub struct PlanQuery {
    /// The branch, tag or commit to preview; the tenant's ref when absent.
    #[serde(default, rename = "ref")]
    pub reference: String,
}

/// The handler.
pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Query(query): Query<PlanQuery>,
) -> Response {
    let Some(handle) = state.tenants.get(&name).filter(|_| viewer.sees(&name)) else {
        return page::no_tenant(&name);
    };
    let Some(tenant) = handle.tenant.read().expect("loaded tenant").clone() else {
        return page::refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("Tenant `{name}` has not loaded its plugins yet: try again shortly."),
        );
    };
    // The next run of a tenant a rollback holds reconciles the held
    // commit, not the ref's.
    let held = match state.store.tenant_state(&name).await {
        Ok(control) => control.held_commit,
        Err(error) => return page::store_failed(&error),
    };
    let (reference, own) = match (query.reference.trim(), held) {
        ("", Some(held)) => (held, true),
        ("", None) => (tenant.config.reference.clone(), true),
        (other, _) => (other.to_string(), false),
    };
    let preview =
        match within_limits(crate::preview::preview(&tenant, &state.store, &reference)).await {
            Ok(Ok(preview)) => preview,
            Ok(Err(error)) => {
                return page::refusal(
                    status_of(&error),
                    &format!("`{reference}` cannot be planned: {error}"),
                );
            }
            Err(refused) => return page::refusal(refused.status(), refused.message().trim()),
        };
    render(&viewer, &name, &preview, own).into_response()
}

/// The page of `preview`; `own`: it plans the tenant's own ref.
pub fn render(
    viewer: &Viewer,
    name: &str,
    preview: &Preview,
    own: bool,
) -> axum::response::Html<String> {
    let plan = &preview.plan;
    let base = format!("/ui/tenants/{}", page::path_segment(name));
    let title = match own {
        true => format!("Plan of {name}"),
        false => format!("Preview of {} for {name}", preview.reference),
    };
    let body = html! {
        p.crumbs { a href=(base) { "Tenant " (name) } }
        h1 { (title) }
        p {
            "Commit " code { (page::short(&plan.commit.id)) } " " (plan.commit.summary) " — " (plan.commit.author)
            ". Computed now; nothing was applied."
        }
        @if !preview.blocked_by.is_empty() {
            p.error { strong { "Blocked by policy " } (preview.blocked_by.join(", ")) }
        }
        @if !plan.blocked.is_empty() {
            p.error { strong { "Over the safety threshold: " } (plan.blocked.join("; ")) }
        }
        (super::tenant::findings(&plan.findings))
        @if plan.changes.is_empty() {
            p.notice { "No changes: the world matches " @if own { "Git" } @else { code { (preview.reference) } } " (" (plan.unchanged) " resources unchanged)." }
        } @else {
            p { (plan.changes.len()) " changes, " (plan.unchanged) " resources unchanged." }
            @for change in plan.changes.iter().take(MAX_CHANGES_SHOWN) {
                (change_block(change))
            }
            @if plan.changes.len() > MAX_CHANGES_SHOWN {
                p { "And " (plan.changes.len() - MAX_CHANGES_SHOWN) " more: see " code { "cairn plan" } "." }
            }
        }
        @for note in &plan.notes { p.warning { (note) } }
        @for diverged in &plan.diverged {
            p.warning { "Held, its provider did not converge: " code { (diverged.address) } ": " (diverged.reason) }
        }
    };
    page::shell(&title, viewer, Section::Tenants, None, body)
}

fn change_block(change: &crate::plan::PlannedChange) -> Markup {
    html! {
        article.change {
            h2 {
                (page::word_badge(change.action.as_str())) " " code { (change.address) }
                @if change.drift { " " span.badge.word-drifted { "repairs drift" } }
            }
            p { (change.summary) }
            (super::tenant::field_table(&format!("Fields of {}", change.address), &change.fields, "Now", "After"))
        }
    }
}
