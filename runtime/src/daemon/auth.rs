//! Who may use the daemon's API. The operator's token (`[daemon]
//! api_token`) sees and triggers every tenant and reads the metrics; a
//! tenant's token (`[tenants.NAME] api_token`) sees and triggers only its
//! own tenant — other tenants do not exist for it. Tokens are secret
//! references, read on every request (so a rotated file takes effect at
//! once) and compared in constant time. With no token configured at all,
//! the API is open, as on a single operator's machine.

use super::http::AppState;
use crate::secrets::SecretRef;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a request may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Every tenant and the metrics: the operator's token, or no token
    /// configured anywhere.
    Everything,
    /// One tenant.
    Tenant(String),
}

impl Access {
    /// Whether the tenant `name` is visible.
    pub fn sees(&self, name: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::Tenant(own) => own == name,
        }
    }
}

/// Whether any token is configured, which closes the API.
pub fn required(state: &AppState) -> bool {
    state.operator_token.is_some() || state.tenants.values().any(|t| t.api_token.is_some())
}

/// Equal in constant time: the digests are compared, so neither the
/// token's length nor its first differing byte shows in the timing.
fn same(given: &str, expected: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    bool::from(given.ct_eq(&expected))
}

/// Whether `given` is the token `reference` holds; an unreadable or empty
/// secret matches nothing (and is logged).
fn matches(reference: &SecretRef, name: &str, given: &str) -> bool {
    match reference.resolve(name) {
        Ok(value) if !value.expose().is_empty() => same(given, value.expose()),
        Ok(_) => {
            tracing::error!(secret = name, "an API token is empty: it opens nothing");
            false
        }
        Err(error) => {
            tracing::error!(%error, "an API token cannot be read");
            false
        }
    }
}

/// Why a request was refused; answered with 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No bearer token was sent.
    Missing,
    /// The token is no one's.
    Invalid,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let message = match self {
            Self::Missing => {
                "this API needs a token: send `Authorization: Bearer TOKEN` (cairn status reads CAIRN_API_TOKEN)"
            }
            Self::Invalid => "the token is not valid for this daemon",
        };
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            format!("{message}\n"),
        )
            .into_response()
    }
}

/// The access the request's bearer token gives, or why it has none.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<Access, Refusal> {
    if !required(state) {
        return Ok(Access::Everything);
    }
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
    else {
        return Err(Refusal::Missing);
    };
    access_of(state, given).ok_or(Refusal::Invalid)
}

/// The access the token `given` gives: the operator's, a tenant's, or
/// none. Used by the API's bearer tokens and the dashboard's sign-in.
pub fn access_of(state: &AppState, given: &str) -> Option<Access> {
    if let Some(operator) = &state.operator_token
        && matches(operator, "daemon.api_token", given)
    {
        return Some(Access::Everything);
    }
    state.tenants.iter().find_map(|(name, tenant)| {
        let token = tenant.api_token.as_ref()?;
        matches(token, &format!("tenants.{name}.api_token"), given)
            .then(|| Access::Tenant(name.clone()))
    })
}

/// The digest of the token that gives `access` now, to tell whether a
/// dashboard session's token is still the configured one (a rotated or
/// removed token ends the sessions signed in with it). `None` when no
/// such token is configured or it cannot be read.
pub fn current_digest(state: &AppState, access: &Access) -> Option<[u8; 32]> {
    let (reference, name) = match access {
        Access::Everything => (
            state.operator_token.as_ref()?,
            "daemon.api_token".to_string(),
        ),
        Access::Tenant(tenant) => (
            state.tenants.get(tenant)?.api_token.as_ref()?,
            format!("tenants.{tenant}.api_token"),
        ),
    };
    let value = reference.resolve(&name).ok()?;
    (!value.expose().is_empty()).then(|| digest(value.expose()))
}

/// The SHA-256 of a token: what a dashboard session keeps of it.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Handlers take `Access` as an argument: a request without the right
/// token is answered 401 before the handler runs.
impl axum::extract::FromRequestParts<AppState> for Access {
    type Rejection = Refusal;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authorize(state, &parts.headers)
    }
}

/// `Option<Access>`: for the paths open to anyone (`/readyz`), which tell
/// more to a caller with a token. No token, or one that is no one's, is
/// `None` — never a refusal.
impl axum::extract::OptionalFromRequestParts<AppState> for Access {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(authorize(state, &parts.headers).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same("s3cret", "s3cret"));
        assert!(!same("s3cre", "s3cret"));
        assert!(!same("", "s3cret"));
    }

    #[test]
    fn a_tenant_token_sees_its_tenant_only() {
        let access = Access::Tenant("a".into());
        assert!(access.sees("a"));
        assert!(!access.sees("b"));
        assert!(Access::Everything.sees("b"));
    }
}
