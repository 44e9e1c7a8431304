//! `POST /api/v1/tenants/T/preview`: a preview of a branch, tag or commit
//! (`crate::preview`), for a CI job or a forge's webhook relay, with the
//! tenant's own token. Any daemon serves it, holding the tenant's lease or
//! not: a preview writes nothing and takes no lock.
//!
//! The body is `{"ref": "feature/x", "format": "json" | "markdown"}`
//! (`json` when absent): the answer is the preview's JSON, or the
//! Markdown of a pull-request comment.

use super::auth::Access;
use super::http::AppState;
use crate::preview;
use crate::reconcile::ReconcileError;
use crate::source::SourceError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::time::Duration;

/// Previews running at once in one daemon: each observes the world
/// through the tenant's providers (within its call slots) and holds a
/// commit's desired state and a plan; more wait for none and are told to
/// come back (429), so that callers cannot queue work without bound.
pub const MAX_PREVIEWS_AT_ONCE: usize = 2;

/// The longest a preview may take: a fetch, a load and a plan of a large
/// tenant take seconds; past this the caller is answered with 504 and the
/// work is dropped.
pub const PREVIEW_TIMEOUT: Duration = Duration::from_secs(120);

/// The slots of [`MAX_PREVIEWS_AT_ONCE`].
static PREVIEW_SLOTS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(MAX_PREVIEWS_AT_ONCE);

/// The request's body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The branch, tag or commit.
    #[serde(rename = "ref")]
    reference: String,
    /// `json` (the default) or `markdown`.
    #[serde(default)]
    format: Option<String>,
}

/// The handler.
pub async fn preview(
    State(state): State<AppState>,
    Path(name): Path<String>,
    access: Access,
    request: Result<Json<PreviewRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(handle) = state.tenants.get(&name).filter(|_| access.sees(&name)) else {
        return (StatusCode::NOT_FOUND, format!("no tenant `{name}`\n")).into_response();
    };
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => {
            return (
                StatusCode::BAD_REQUEST,
                format!(
                    "{rejection}: send {{\"ref\": \"BRANCH, TAG OR COMMIT\", \"format\": \"json\" or \"markdown\"}}\n"
                ),
            )
                .into_response();
        }
    };
    let markdown = match request.format.as_deref() {
        None | Some("json") => false,
        Some("markdown") => true,
        Some(other) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("format `{other}`: use \"json\" or \"markdown\"\n"),
            )
                .into_response();
        }
    };
    let Some(tenant) = handle.tenant.read().expect("loaded tenant").clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("tenant `{name}` has not loaded its plugins yet: try again shortly\n"),
        )
            .into_response();
    };
    let work = preview::preview(&tenant, &state.store, &request.reference);
    let outcome = match within_limits(work).await {
        Ok(outcome) => outcome,
        Err(refused) => return refused.into_response(),
    };
    match outcome {
        Ok(preview) if markdown => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            preview::markdown::render(&preview),
        )
            .into_response(),
        Ok(preview) => Json(preview).into_response(),
        Err(error) => (status_of(&error), format!("{error}\n")).into_response(),
    }
}

/// Why work on the preview's limits did not run to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// [`MAX_PREVIEWS_AT_ONCE`] are running.
    Busy,
    /// It took longer than [`PREVIEW_TIMEOUT`] and was dropped.
    TimedOut,
}

impl Refused {
    /// The HTTP status that says so.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Busy => StatusCode::TOO_MANY_REQUESTS,
            Self::TimedOut => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// What the caller reads.
    pub fn message(self) -> String {
        match self {
            Self::Busy => {
                format!("{MAX_PREVIEWS_AT_ONCE} previews are running: try again in a few seconds\n")
            }
            Self::TimedOut => {
                format!("the preview took longer than {PREVIEW_TIMEOUT:?} and was stopped\n")
            }
        }
    }
}

/// 429 with `Retry-After`, or 504.
impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::Busy => {
                (self.status(), [(header::RETRY_AFTER, "5")], self.message()).into_response()
            }
            Self::TimedOut => (self.status(), self.message()).into_response(),
        }
    }
}

/// Runs `work` (a preview, the dashboard's plan or comparison: each
/// loads a commit and observes the world) in one of the
/// [`MAX_PREVIEWS_AT_ONCE`] slots and within [`PREVIEW_TIMEOUT`].
pub async fn within_limits<F: std::future::Future>(work: F) -> Result<F::Output, Refused> {
    let Ok(_slot) = PREVIEW_SLOTS.try_acquire() else {
        return Err(Refused::Busy);
    };
    tokio::time::timeout(PREVIEW_TIMEOUT, work)
        .await
        .map_err(|_| Refused::TimedOut)
}

/// The status of a preview that failed.
pub fn status_of(error: &ReconcileError) -> StatusCode {
    match error {
        ReconcileError::Source(SourceError::UnknownRef { .. }) => StatusCode::NOT_FOUND,
        ReconcileError::Load(_) | ReconcileError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ReconcileError::Source(_) | ReconcileError::Plan(_) => StatusCode::BAD_GATEWAY,
        ReconcileError::Store(error) if error.is_unreachable() => StatusCode::SERVICE_UNAVAILABLE,
        ReconcileError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
