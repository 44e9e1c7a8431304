//! `GET /readyz`: whether the daemon is ready, and — to a caller with a
//! token — which tenants do not run and why.
//!
//! Ready (200) means: every tenant has finished its first attempt to load
//! its plugins, loaded or not ([`super::loading`]), the state store
//! answers, and this daemon is registered there — listed among the daemons
//! sharing the store (`/api/v1/cluster`), so that a load balancer or a
//! rolling upgrade that waits for ready waits for the other daemons to
//! count it. A tenant whose plugins failed to load does not make the daemon
//! unready — the daemon serves the others, and tries that one again — but
//! it is listed, with its error, to a caller who may see it: the operator's
//! token lists every tenant, a tenant's token its own tenant only. Anyone
//! else (no token, or a token that is no one's) gets the bare verdict, with
//! no tenant name and no error text. With no token configured anywhere the
//! API is open, and everyone sees everything.

use super::auth::Access;
use super::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering;

/// A tenant whose plugins are not loaded, as `/readyz` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLoaded {
    /// The tenant.
    pub name: String,
    /// Why its last attempt failed; `None` while the first one runs.
    pub error: Option<String>,
}

/// The handler.
pub async fn readyz(State(state): State<AppState>, access: Option<Access>) -> Response {
    let standing = state.health.read().expect("store health").clone();
    let not_loaded: Vec<NotLoaded> = match &access {
        None => Vec::new(),
        Some(access) => state
            .tenants
            .iter()
            .filter(|(name, _)| access.sees(name))
            .filter_map(|(name, handle)| {
                let status = handle.status.read().expect("tenant status");
                (!status.loaded).then(|| NotLoaded {
                    name: name.clone(),
                    error: status.load_error.clone(),
                })
            })
            .collect(),
    };
    report(
        standing.unreachable.as_deref(),
        standing.registered,
        state.ready.load(Ordering::Relaxed),
        &not_loaded,
        access.is_some(),
    )
    .into_response()
}

/// The answer: the status and the body. `registered` says whether this
/// daemon is listed in the store, `ready` whether every tenant made its
/// first attempt to load; `not_loaded` holds the tenants the caller may
/// see; `authorised` says whether it may see details at all.
pub fn report(
    store_error: Option<&str>,
    registered: bool,
    ready: bool,
    not_loaded: &[NotLoaded],
    authorised: bool,
) -> (StatusCode, String) {
    let (status, mut body) = match (store_error, registered, ready) {
        (Some(error), _, _) if authorised => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: the state store is unreachable, nothing is applied until it answers: {error}\n"
            ),
        ),
        (Some(_), _, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the state store is unreachable\n".to_string(),
        ),
        (None, false, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: this daemon is not registered in the state store (it is starting or stopping)\n".to_string(),
        ),
        (None, true, false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: tenants are loading their plugins\n".to_string(),
        ),
        (None, true, true) => (StatusCode::OK, "ready\n".to_string()),
    };
    if authorised && !not_loaded.is_empty() {
        body.push_str("tenants not loaded:\n");
        for tenant in not_loaded {
            let why = tenant.error.as_deref().unwrap_or("loading");
            body.push_str(&format!("{}: {why}\n", tenant.name));
        }
    }
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (store error, registered, ready, authorised) → status, whole body.
    type Row = (Option<&'static str>, bool, bool, bool, StatusCode, String);

    #[test]
    fn details_go_only_to_callers_who_may_see_them() {
        let broken = [
            NotLoaded {
                name: "bad".into(),
                error: Some("plugin refused: sha256 mismatch".into()),
            },
            NotLoaded {
                name: "slow".into(),
                error: None,
            },
        ];
        const ALL_BROKEN: &str =
            "tenants not loaded:\nbad: plugin refused: sha256 mismatch\nslow: loading\n";
        // (store error, registered, ready, authorised) → status, whole body.
        let cases: [Row; 10] = [
            (None, true, true, false, StatusCode::OK, "ready\n".into()),
            (
                None,
                true,
                true,
                true,
                StatusCode::OK,
                format!("ready\n{ALL_BROKEN}"),
            ),
            (
                None,
                true,
                false,
                false,
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: tenants are loading their plugins\n".into(),
            ),
            (
                None,
                true,
                false,
                true,
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: tenants are loading their plugins\n{ALL_BROKEN}"),
            ),
            // Not listed among the daemons sharing the store yet (or any
            // more, as it stops): not ready, however far loading got.
            (
                None,
                false,
                true,
                false,
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: this daemon is not registered in the state store (it is starting or stopping)\n".into(),
            ),
            (
                None,
                false,
                false,
                true,
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "not ready: this daemon is not registered in the state store (it is starting or stopping)\n{ALL_BROKEN}"
                ),
            ),
            (
                Some("db.internal:5432 refused"),
                true,
                true,
                false,
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the state store is unreachable\n".into(),
            ),
            (
                Some("db.internal:5432 refused"),
                true,
                true,
                true,
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "not ready: the state store is unreachable, nothing is applied until it answers: db.internal:5432 refused\n{ALL_BROKEN}"
                ),
            ),
            (
                Some("db.internal:5432 refused"),
                false,
                true,
                false,
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the state store is unreachable\n".into(),
            ),
            (
                Some("db.internal:5432 refused"),
                false,
                false,
                true,
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "not ready: the state store is unreachable, nothing is applied until it answers: db.internal:5432 refused\n{ALL_BROKEN}"
                ),
            ),
        ];
        for (store, registered, ready, authorised, status, body) in cases {
            // The handler gives an anonymous caller no tenant at all; the
            // report must not need that to stay quiet.
            let answer = report(store, registered, ready, &broken, authorised);
            assert_eq!(
                answer,
                (status, body),
                "{store:?} registered {registered} ready {ready} authorised {authorised}"
            );
        }
        assert_eq!(
            report(None, true, true, &[], true),
            (StatusCode::OK, "ready\n".to_string())
        );
    }
}
