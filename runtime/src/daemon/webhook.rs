//! `POST /hooks/NAME`: a push, signed GitHub-style with the tenant's
//! secret (`X-Hub-Signature-256: sha256=HEX`, HMAC-SHA256 of the body). A
//! good signature triggers an immediate fetch and reconcile (202);
//! anything else changes nothing.
//!
//! The endpoint answers anyone, so it holds and tells an unauthenticated
//! caller as little as it can:
//! - the body is fed to the HMAC chunk by chunk as it arrives and never
//!   kept; it is capped at [`MAX_WEBHOOK_BYTES`] (a larger declared length
//!   is refused before reading, a streamed body as soon as it passes the
//!   cap) and must arrive within [`WEBHOOK_BODY_TIMEOUT`]; while it comes,
//!   its connection may give way to a newer one (see
//!   [`super::server::connections`]);
//! - a name that is no tenant's, a tenant without a `webhook_secret` and a
//!   tenant whose secret cannot be read all answer exactly as a bad
//!   signature does (401, same body), after the same work: the body is
//!   read and hashed with a random key of this process, which matches
//!   nothing. Only the operator's log and metrics tell them apart;
//! - every refusal's warning goes through the server's
//!   [`super::server::WARNINGS`]: a flood writes a few lines and a count.

use super::http::{AppState, deliver};
use super::server::WARNINGS;
use super::server::connections::Connection;
use super::server::limits::{MAX_WEBHOOK_BYTES, WEBHOOK_BODY_TIMEOUT};
use crate::secrets::SecretValue;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use sha2::Sha256;
use std::sync::OnceLock;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook was refused; each answers the same for every name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// A bad or missing signature, or a name no secret can sign for.
    Signature,
    /// A body over [`MAX_WEBHOOK_BYTES`].
    TooLarge,
    /// A body that did not arrive within [`WEBHOOK_BODY_TIMEOUT`].
    BodyTimeout,
    /// A body cut off or malformed by its caller.
    BodyError,
}

impl Refusal {
    /// The label of `cairn_webhooks_refused_total`.
    fn reason(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::TooLarge => "too-large",
            Self::BodyTimeout => "body-timeout",
            Self::BodyError => "body-error",
        }
    }

    /// The warning written (rate-limited) for a tenant's refusal.
    fn warning(self) -> &'static str {
        match self {
            Self::Signature => "refused a webhook with a bad or missing signature",
            Self::TooLarge => "refused a webhook body over the size limit",
            Self::BodyTimeout => "refused a webhook whose body came too slowly",
            Self::BodyError => "refused a webhook whose body could not be read",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Signature => (
                StatusCode::UNAUTHORIZED,
                "bad or missing X-Hub-Signature-256\n".to_string(),
            ),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "webhook bodies are limited to {} KiB\n",
                    MAX_WEBHOOK_BYTES >> 10
                ),
            ),
            Self::BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} s\n",
                    WEBHOOK_BODY_TIMEOUT.as_secs()
                ),
            ),
            Self::BodyError => (
                StatusCode::BAD_REQUEST,
                "the body could not be read\n".to_string(),
            ),
        }
        .into_response()
    }
}

/// The key a webhook for a name is checked with.
enum Key {
    /// The tenant's webhook secret.
    Tenant(SecretValue),
    /// No key can sign for the name: checked against [`decoy_key`], and
    /// refused whatever the check says.
    Nobody,
}

impl Key {
    fn mac(&self) -> HmacSha256 {
        let key = match self {
            Self::Tenant(secret) => secret.expose().as_bytes(),
            Self::Nobody => decoy_key(),
        };
        HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
    }
}

/// A random key of this process, for names that have no secret: their
/// webhooks cost the same work as a tenant's and match nothing.
fn decoy_key() -> &'static [u8] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(rand::random)
}

/// `POST /hooks/NAME`.
pub async fn webhook(
    State(state): State<AppState>,
    Path(name): Path<String>,
    connection: Option<Extension<Connection>>,
    request: Request,
) -> Response {
    let handle = state.tenants.get(&name);
    let key = match handle {
        Some(handle) => tenant_key(&name, handle.webhook_secret.as_ref()),
        None => {
            const MESSAGE: &str = "refused a webhook for a name that is no tenant's";
            if WARNINGS.admit(MESSAGE, None) {
                tracing::warn!(name = ?shorten(&name), "{MESSAGE}");
            }
            Key::Nobody
        }
    };
    let (parts, body) = request.into_parts();
    let checked = check(key.mac(), &parts.headers, body, connection.map(|c| c.0)).await;
    let refusal = match (checked, &key, handle) {
        (Ok(()), Key::Tenant(_), Some(handle)) => return deliver(&state, &name, handle).await,
        (Ok(()), _, _) => Refusal::Signature,
        (Err(refusal), _, _) => refusal,
    };
    state.metrics.webhook_refused(refusal.reason());
    if matches!(key, Key::Tenant(_)) {
        if refusal == Refusal::Signature {
            state.metrics.error(&name, "webhook-signature");
        }
        let message = refusal.warning();
        if WARNINGS.admit(message, Some(&name)) {
            tracing::warn!(tenant = %name, "{message}");
        }
    }
    refusal.into_response()
}

/// The key of tenant `name`, or [`Key::Nobody`] (with an error in the
/// log) when it has no usable secret.
fn tenant_key(name: &str, secret: Option<&crate::secrets::SecretRef>) -> Key {
    let Some(secret) = secret else {
        const MESSAGE: &str = "refused a webhook for a tenant without webhook_secret";
        if WARNINGS.admit(MESSAGE, Some(name)) {
            tracing::warn!(tenant = %name, "{MESSAGE}");
        }
        return Key::Nobody;
    };
    match secret.resolve("webhook_secret") {
        Ok(secret) if !secret.expose().is_empty() => Key::Tenant(secret),
        Ok(_) => {
            const MESSAGE: &str =
                "the webhook secret is empty: refusing every webhook (anyone could sign with it)";
            if WARNINGS.admit(MESSAGE, Some(name)) {
                tracing::error!(tenant = %name, "{MESSAGE}");
            }
            Key::Nobody
        }
        Err(error) => {
            const MESSAGE: &str = "cannot check a webhook: the webhook secret is unavailable";
            if WARNINGS.admit(MESSAGE, Some(name)) {
                tracing::error!(tenant = %name, %error, "{MESSAGE}");
            }
            Key::Nobody
        }
    }
}

/// Checks a webhook's size, reads its body into the HMAC and checks its
/// signature.
async fn check(
    mac: HmacSha256,
    headers: &HeaderMap,
    body: Body,
    connection: Option<Connection>,
) -> Result<(), Refusal> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_WEBHOOK_BYTES) {
        return Err(Refusal::TooLarge);
    }
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|value| value.to_str().ok())
        .and_then(parse_signature)
        .ok_or(Refusal::Signature)?;
    // Until the signature is checked the caller is anyone: its connection
    // may give way to a newer one meanwhile.
    let _waiting = connection.as_ref().map(Connection::await_caller);
    let mac = read_into(mac, body).await?;
    mac.verify_slice(&signature).map_err(|_| Refusal::Signature)
}

/// The digest of a `sha256=HEX` header.
fn parse_signature(header: &str) -> Option<Vec<u8>> {
    hex::decode(header.trim().strip_prefix("sha256=")?).ok()
}

/// Feeds `body` to `mac` as it arrives, keeping none of it, within the
/// size and time limits.
async fn read_into(mut mac: HmacSha256, mut body: Body) -> Result<HmacSha256, Refusal> {
    let deadline = tokio::time::Instant::now() + WEBHOOK_BODY_TIMEOUT;
    let mut read: u64 = 0;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(Refusal::BodyTimeout),
            Ok(None) => return Ok(mac),
            Ok(Some(Err(_))) => return Err(Refusal::BodyError),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            read += data.len() as u64;
            if read > MAX_WEBHOOK_BYTES {
                return Err(Refusal::TooLarge);
            }
            mac.update(&data);
        }
    }
}

/// A caller's name for the log: at most 64 characters (written escaped).
fn shorten(name: &str) -> &str {
    name.char_indices()
        .nth(64)
        .map_or(name, |(end, _)| &name[..end])
}

/// Checks `sha256=HEX` against HMAC-SHA256 of `body`, in constant time.
pub fn signature_is_valid(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(expected) = header.and_then(parse_signature) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// GitHub's documented example: secret "It's a Secret to Everybody",
    /// payload "Hello, World!".
    const GITHUB_EXAMPLE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";

    #[test]
    fn signatures_are_checked_against_the_body() {
        let header = GITHUB_EXAMPLE;
        let secret = GITHUB_SECRET;
        assert!(signature_is_valid(secret, b"Hello, World!", Some(header)));
        assert!(!signature_is_valid(secret, b"Hello, World?", Some(header)));
        assert!(!signature_is_valid(
            b"another secret",
            b"Hello, World!",
            Some(header)
        ));
        assert!(!signature_is_valid(secret, b"Hello, World!", None));
        assert!(!signature_is_valid(
            secret,
            b"Hello, World!",
            Some("sha1=abc")
        ));
        assert!(!signature_is_valid(
            secret,
            b"Hello, World!",
            Some("sha256=zz")
        ));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    /// A body streamed in `chunks` pieces of `size` bytes, without a
    /// declared length.
    fn streamed(chunks: usize, size: usize) -> Body {
        let pieces =
            (0..chunks).map(move |_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; size])));
        Body::from_stream(futures::stream::iter(pieces))
    }

    #[tokio::test]
    async fn a_body_is_signed_in_pieces_and_refused_past_the_cap() {
        let key = || HmacSha256::new_from_slice(GITHUB_SECRET).unwrap();
        let signed = headers(&[("x-hub-signature-256", GITHUB_EXAMPLE)]);
        let pieces = Body::from_stream(futures::stream::iter(
            ["Hello", ", ", "World!"].map(|piece| Ok::<_, std::io::Error>(Bytes::from(piece))),
        ));
        assert_eq!(check(key(), &signed, pieces, None).await, Ok(()));
        // The decoy key signs nothing anyone knows.
        assert_eq!(
            check(
                Key::Nobody.mac(),
                &signed,
                Body::from("Hello, World!"),
                None
            )
            .await,
            Err(Refusal::Signature)
        );
        // Past the cap, streamed or declared.
        let chunk = 64 << 10;
        let over = (MAX_WEBHOOK_BYTES as usize) / chunk + 1;
        assert_eq!(
            check(key(), &signed, streamed(over, chunk), None).await,
            Err(Refusal::TooLarge)
        );
        let declared = headers(&[
            ("x-hub-signature-256", GITHUB_EXAMPLE),
            ("content-length", &(MAX_WEBHOOK_BYTES + 1).to_string()),
        ]);
        assert_eq!(
            check(key(), &declared, Body::empty(), None).await,
            Err(Refusal::TooLarge)
        );
        // At the cap, the body is read and the signature decides.
        assert_eq!(
            check(
                key(),
                &signed,
                streamed(MAX_WEBHOOK_BYTES as usize / chunk, chunk),
                None
            )
            .await,
            Err(Refusal::Signature)
        );
        // No signature: refused before the body is read.
        assert_eq!(
            check(key(), &HeaderMap::new(), streamed(over, chunk), None).await,
            Err(Refusal::Signature)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_comes_too_slowly_is_refused() {
        let slow = futures::stream::unfold(0, |sent| async move {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), sent + 1))
        });
        let signed = headers(&[("x-hub-signature-256", GITHUB_EXAMPLE)]);
        assert_eq!(
            check(Key::Nobody.mac(), &signed, Body::from_stream(slow), None).await,
            Err(Refusal::BodyTimeout)
        );
    }

    #[test]
    fn every_refusal_answers_alike_for_every_name() {
        // The answer depends on the refusal only: there is no name in it.
        let signature = Refusal::Signature.into_response();
        assert_eq!(signature.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(shorten(&"é".repeat(100)).chars().count(), 64);
        assert_eq!(shorten("default"), "default");
    }
}
