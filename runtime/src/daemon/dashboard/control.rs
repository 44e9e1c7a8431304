//! The dashboard's buttons: reconcile now, suspend, resume, and roll back
//! (after a confirmation page that names the commit). Each is a form that
//! carries the session's CSRF token, and works only for a viewer who may
//! act on the tenant.
//!
//! A rollback from the dashboard sets the tenant's hold at the chosen
//! commit and wakes the daemon holding the tenant, whose worker applies
//! it as a `rollback` run under its lease — the same hold `cairn rollback`
//! leaves, ended by `resume` or a new commit on the ref. Which commit is
//! [`crate::rollback`]'s choice, as on the command line.

use super::page::{self, Section};
use super::session::{CsrfOnly, Viewer};
use crate::daemon::auth::Access;
use crate::daemon::http::{AppState, TenantHandle, deliver};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;

/// Who the history names for an action taken from the dashboard.
fn actor(viewer: &Viewer) -> String {
    match &viewer.access {
        Access::Everything if viewer.signed_in => "the operator's token (dashboard)".to_string(),
        Access::Everything => "an unauthenticated dashboard user".to_string(),
        Access::Tenant(name) => format!("tenant {name}'s token (dashboard)"),
    }
}

/// The tenant `name` when the viewer sees it.
fn visible<'a>(state: &'a AppState, viewer: &Viewer, name: &str) -> Option<&'a TenantHandle> {
    state.tenants.get(name).filter(|_| viewer.sees(name))
}

/// Back to the tenant page, saying what was done.
fn done(name: &str, what: &str) -> Response {
    Redirect::to(&format!(
        "/ui/tenants/{}?done={what}",
        page::path_segment(name)
    ))
    .into_response()
}

/// `POST /ui/tenants/T/reconcile`.
pub async fn reconcile(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let Some(handle) = visible(&state, &viewer, &name) else {
        return page::no_tenant(&name);
    };
    if let Err(refused) = viewer.check_form(&form.csrf) {
        return refused.into_response();
    }
    let delivered = deliver(&state, &name, handle).await;
    if delivered.status() != StatusCode::ACCEPTED {
        return page::refusal(
            delivered.status(),
            "The reconcile could not be asked for: the state store is unreachable. Try again shortly.",
        );
    }
    done(&name, "reconcile")
}

/// Suspension or resumption, as asked from the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    Suspend,
    Resume,
}

/// `POST /ui/tenants/T/suspend`.
pub async fn suspend(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    switch(&state, &viewer, &name, &form, Switch::Suspend).await
}

/// `POST /ui/tenants/T/resume`.
pub async fn resume(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    switch(&state, &viewer, &name, &form, Switch::Resume).await
}

/// Suspends or resumes `name` ([`crate::control`], recorded with who
/// asked), and wakes its worker so that it plans at once.
async fn switch(
    state: &AppState,
    viewer: &Viewer,
    name: &str,
    form: &CsrfOnly,
    switch: Switch,
) -> Response {
    let Some(handle) = visible(state, viewer, name) else {
        return page::no_tenant(name);
    };
    if let Err(refused) = viewer.check_form(&form.csrf) {
        return refused.into_response();
    }
    let by = actor(viewer);
    let (switched, word) = match switch {
        Switch::Suspend => (
            crate::control::suspend(&state.store, name, &by).await,
            "suspend",
        ),
        Switch::Resume => (
            crate::control::resume(&state.store, name, &by).await,
            "resume",
        ),
    };
    if let Err(error) = switched {
        return page::store_failed(&error);
    }
    tracing::info!(tenant = %name, by = %by, "{word} from the dashboard");
    let _ = deliver(state, name, handle).await;
    done(name, word)
}

/// The rollback's query: `?to=COMMIT` (default: one further back).
#[derive(Debug, Default, Deserialize)]
pub struct RollbackQuery {
    /// The commit to return to.
    #[serde(default)]
    pub to: String,
}

/// The commit a rollback of `name` goes to: `to` when given (it must
/// have been applied with success), else one further back; with its
/// summary.
async fn chosen(state: &AppState, name: &str, to: &str) -> Result<(String, String), Response> {
    let store = async {
        Ok::<_, crate::store::StoreError>((
            state.store.tenant_state(name).await?,
            state.store.applied_commits(name).await?,
        ))
    };
    let (control, applied) = store.await.map_err(|error| page::store_failed(&error))?;
    let refuse = |error: crate::rollback::RollbackError| {
        page::refusal(StatusCode::CONFLICT, &error.to_string())
    };
    let commit = match to.trim() {
        "" => crate::rollback::previous(name, &applied, &control).map_err(refuse)?,
        to => {
            let found = applied
                .iter()
                .find(|commit| commit.id == to || (to.len() >= 7 && commit.id.starts_with(to)));
            let id = found.map_or(to, |commit| commit.id.as_str());
            crate::rollback::check_chosen(name, &applied, id).map_err(refuse)?;
            found.expect("a commit check_chosen accepts was applied")
        }
    };
    Ok((commit.id.clone(), commit.summary.clone()))
}

/// `GET /ui/tenants/T/rollback`: the confirmation, naming the commit.
pub async fn confirm_rollback(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Query(query): Query<RollbackQuery>,
) -> Response {
    if visible(&state, &viewer, &name).is_none() {
        return page::no_tenant(&name);
    }
    let (commit, summary) = match chosen(&state, &name, &query.to).await {
        Ok(chosen) => chosen,
        Err(response) => return response,
    };
    let base = format!("/ui/tenants/{}", page::path_segment(&name));
    let body = html! {
        p.crumbs { a href=(base) { "Tenant " (name) } }
        h1 { "Roll " (name) " back?" }
        p.warning {
            "This applies commit " code { (page::short(&commit)) } " (" (summary) ") to tenant " (name)
            " and holds it there until it is resumed or a new commit arrives on its ref."
        }
        @if viewer.can_act {
            form method="post" action={ (base) "/rollback" } {
                (page::csrf_field(&viewer))
                input type="hidden" name="commit" value=(commit);
                button.danger type="submit" { "Roll back to " (page::short(&commit)) }
                " "
                a href=(base) { "Cancel" }
            }
        } @else {
            p { "This dashboard is read-only." }
        }
    };
    page::shell(
        &format!("Roll {name} back"),
        &viewer,
        Section::Tenants,
        None,
        body,
    )
    .into_response()
}

/// The rollback form's body.
#[derive(Debug, Deserialize)]
pub struct RollbackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    commit: String,
}

/// `POST /ui/tenants/T/rollback`.
pub async fn rollback(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Form(form): Form<RollbackForm>,
) -> Response {
    let Some(handle) = visible(&state, &viewer, &name) else {
        return page::no_tenant(&name);
    };
    if let Err(refused) = viewer.check_form(&form.csrf) {
        return refused.into_response();
    }
    let (commit, _) = match chosen(&state, &name, &form.commit).await {
        Ok(chosen) => chosen,
        Err(response) => return response,
    };
    let Some(tenant) = handle.tenant.read().expect("loaded tenant").clone() else {
        return page::refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "Tenant `{name}` has not loaded its plugins yet: try again shortly. Nothing was changed."
            ),
        );
    };
    // The hold lasts while the ref stays where it is now.
    let head = match tenant.source.head().await {
        Ok(head) => head,
        Err(error) => {
            return page::refusal(
                StatusCode::BAD_GATEWAY,
                &format!("The repository cannot be read: {error}. Nothing was changed."),
            );
        }
    };
    if let Err(error) = state.store.set_hold(&name, Some((&commit, &head.id))).await {
        return page::store_failed(&error);
    }
    tracing::info!(tenant = %name, commit = %commit, by = %actor(&viewer), "rollback asked for from the dashboard");
    let _ = deliver(&state, &name, handle).await;
    done(&name, "rollback")
}
