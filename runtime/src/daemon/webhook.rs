//! `POST /hooks/NAME`: a push, proven to come from whoever holds the
//! tenant's secret in the form of the forge that sends it (the tenant's
//! `webhook_style`): GitHub's `X-Hub-Signature-256: sha256=HEX` (the
//! HMAC-SHA256 of the body), Bitbucket's `X-Hub-Signature: sha256=HEX`,
//! Gitea's and Forgejo's `X-Gitea-Signature` / `X-Forgejo-Signature: HEX`,
//! a generic `X-Signature: sha256=HEX` or `sha512=HEX`, GitLab's
//! `X-Gitlab-Token: SECRET` (the secret itself, compared in constant time),
//! or a CNCF registry's notification with `Authorization: Bearer SECRET`,
//! whose envelope must hold a push. A good proof triggers an immediate
//! fetch and reconcile (202); anything else changes nothing.
//!
//! The endpoint answers anyone, so it holds and tells an unauthenticated
//! caller as little as it can:
//! - the body is fed to the HMAC chunk by chunk as it arrives and never
//!   kept (a token's body is read the same way, and dropped; a
//!   notification's is kept to see whether it holds a push); it is capped
//!   at [`MAX_WEBHOOK_BYTES`] (a larger declared length is refused before
//!   reading, a streamed body as soon as it passes the cap) and must arrive
//!   within [`WEBHOOK_BODY_TIMEOUT`]; while it comes, its connection may
//!   give way to a newer one (see [`super::server::connections`]);
//! - a name that is no tenant's, a tenant without a `webhook_secret` and a
//!   tenant whose secret cannot be read all answer exactly as a bad
//!   signature does (401, same body, whatever the style), after the same
//!   work: the body is read and hashed with a random key of this process,
//!   which matches nothing. Only the operator's log and metrics tell them
//!   apart;
//! - every refusal's warning goes through the server's
//!   [`super::server::WARNINGS`]: a flood writes a few lines and a count.

use super::http::{AppState, deliver};
use super::server::WARNINGS;
use super::server::connections::Connection;
use super::server::limits::{MAX_WEBHOOK_BYTES, WEBHOOK_BODY_TIMEOUT};
use crate::config::WebhookStyle;
use crate::secrets::SecretValue;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use sha2::{Sha256, Sha512};
use std::sync::OnceLock;

type HmacSha256 = Hmac<Sha256>;
type HmacSha512 = Hmac<Sha512>;

/// Why a webhook was refused; each answers the same for every name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// A bad or missing signature or token, or a name no secret can sign
    /// for.
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
            Self::Signature => "refused a webhook with a bad or missing signature or token",
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
                "bad or missing webhook signature or token\n".to_string(),
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
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Tenant(secret) => secret.expose().as_bytes(),
            Self::Nobody => decoy_key(),
        }
    }
}

/// What a webhook shows to prove that whoever sent it holds the secret.
#[derive(Debug, PartialEq, Eq)]
enum Proof {
    /// The HMAC-SHA256 of the body.
    Sha256(Vec<u8>),
    /// The HMAC-SHA512 of the body.
    Sha512(Vec<u8>),
    /// The secret itself.
    Token(Vec<u8>),
    /// The secret itself, and the body tells whether to act: a
    /// registry's notification envelope.
    Notification(Vec<u8>),
}

/// What a proven webhook asks for.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    /// A fetch and reconcile.
    Trigger,
    /// Nothing: a registry's notification of no push.
    Ignore,
}

/// The proof a webhook of `style` carries in `headers`, if any.
fn proof(style: WebhookStyle, headers: &HeaderMap) -> Option<Proof> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let prefixed = |value: &str, prefix: &str| {
        value
            .trim()
            .strip_prefix(prefix)
            .and_then(|digest| hex::decode(digest).ok())
    };
    let bare = |value: &str| hex::decode(value.trim()).ok();
    match style {
        WebhookStyle::Github => text("x-hub-signature-256")
            .and_then(|value| prefixed(value, "sha256="))
            .map(Proof::Sha256),
        WebhookStyle::Bitbucket => text("x-hub-signature")
            .and_then(|value| prefixed(value, "sha256="))
            .map(Proof::Sha256),
        WebhookStyle::Gitea => text("x-gitea-signature")
            .or_else(|| text("x-forgejo-signature"))
            .and_then(bare)
            .map(Proof::Sha256),
        WebhookStyle::Forgejo => text("x-forgejo-signature")
            .or_else(|| text("x-gitea-signature"))
            .and_then(bare)
            .map(Proof::Sha256),
        WebhookStyle::Generic => text("x-signature").and_then(|value| {
            prefixed(value, "sha256=")
                .map(Proof::Sha256)
                .or_else(|| prefixed(value, "sha512=").map(Proof::Sha512))
        }),
        WebhookStyle::Gitlab => headers
            .get("x-gitlab-token")
            .map(|value| Proof::Token(value.as_bytes().to_vec())),
        WebhookStyle::Registry => headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
            .map(|token| Proof::Notification(token.to_vec())),
    }
}

/// Whether `token` is `key`, in constant time whatever their lengths:
/// both are hashed with [`decoy_key`] and the digests compared.
fn token_matches(key: &[u8], token: &[u8]) -> bool {
    let digest = |bytes: &[u8]| {
        let mut mac =
            HmacSha256::new_from_slice(decoy_key()).expect("HMAC takes keys of any length");
        mac.update(bytes);
        mac
    };
    digest(token)
        .verify_slice(&digest(key).finalize().into_bytes())
        .is_ok()
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
    let style = handle.map_or(WebhookStyle::default(), |handle| handle.webhook_style);
    let (parts, body) = request.into_parts();
    let checked = check(
        key.bytes(),
        style,
        &parts.headers,
        body,
        connection.map(|c| c.0),
    )
    .await;
    let refusal = match (checked, &key, handle) {
        (Ok(Delivery::Trigger), Key::Tenant(_), Some(handle)) => {
            return deliver(&state, &name, handle).await;
        }
        (Ok(Delivery::Ignore), Key::Tenant(_), Some(_)) => {
            return (StatusCode::OK, "no push event: nothing to do\n").into_response();
        }
        (Ok(_), _, _) => Refusal::Signature,
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

/// Checks a webhook's size, reads its body into the HMAC keyed with `key`
/// and checks the proof its `style` carries.
async fn check(
    key: &[u8],
    style: WebhookStyle,
    headers: &HeaderMap,
    body: Body,
    connection: Option<Connection>,
) -> Result<Delivery, Refusal> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_WEBHOOK_BYTES) {
        return Err(Refusal::TooLarge);
    }
    let proof = proof(style, headers).ok_or(Refusal::Signature)?;
    // Until the proof is checked the caller is anyone: its connection may
    // give way to a newer one meanwhile.
    let _waiting = connection.as_ref().map(Connection::await_caller);
    let proven = match proof {
        Proof::Sha256(signature) => read_into(mac::<HmacSha256>(key), body, None)
            .await?
            .verify_slice(&signature)
            .is_ok(),
        Proof::Sha512(signature) => read_into(mac::<HmacSha512>(key), body, None)
            .await?
            .verify_slice(&signature)
            .is_ok(),
        Proof::Token(token) => {
            read_into(mac::<HmacSha256>(key), body, None).await?;
            token_matches(key, &token)
        }
        Proof::Notification(token) => {
            let mut kept = Vec::new();
            read_into(mac::<HmacSha256>(key), body, Some(&mut kept)).await?;
            if !token_matches(key, &token) {
                return Err(Refusal::Signature);
            }
            return Ok(match has_push(&kept) {
                true => Delivery::Trigger,
                false => Delivery::Ignore,
            });
        }
    };
    proven
        .then_some(Delivery::Trigger)
        .ok_or(Refusal::Signature)
}

/// Whether a registry's notification envelope (`{"events": [{"action":
/// "push", …}]}`) holds a push. A body that is not one holds none.
fn has_push(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Envelope {
        events: Vec<Event>,
    }
    #[derive(serde::Deserialize)]
    struct Event {
        action: String,
    }
    serde_json::from_slice::<Envelope>(body)
        .is_ok_and(|envelope| envelope.events.iter().any(|event| event.action == "push"))
}

/// An HMAC keyed with `key`.
fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> M {
    <M as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// Feeds `body` to `mac` as it arrives, within the size and time limits,
/// keeping it in `kept` when given (a registry's notification, whose
/// content decides), else none of it.
async fn read_into<M: Mac>(
    mut mac: M,
    mut body: Body,
    mut kept: Option<&mut Vec<u8>>,
) -> Result<M, Refusal> {
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
            if let Some(kept) = kept.as_deref_mut() {
                kept.extend_from_slice(&data);
            }
        }
    }
}

/// A caller's name for the log: at most 64 characters (written escaped).
fn shorten(name: &str) -> &str {
    name.char_indices()
        .nth(64)
        .map_or(name, |(end, _)| &name[..end])
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

    /// Each style's header in its real form: GitHub's documented example
    /// (its prefix and hex), then the same HMAC in the other styles'
    /// forms; each forged (the body changed, another secret, the wrong
    /// header or prefix) is refused.
    #[tokio::test]
    async fn every_style_takes_its_own_proof_and_refuses_a_forged_one() {
        let sha256 = GITHUB_EXAMPLE.trim_start_matches("sha256=");
        let sha512 = {
            let mut mac = HmacSha512::new_from_slice(GITHUB_SECRET).unwrap();
            mac.update(b"Hello, World!");
            hex::encode(mac.finalize().into_bytes())
        };
        let secret = std::str::from_utf8(GITHUB_SECRET).unwrap();
        let sha256_prefixed = format!("sha256={sha256}");
        let sha512_prefixed = format!("sha512={sha512}");
        let good: [(WebhookStyle, &str, &str); 8] = [
            (WebhookStyle::Github, "x-hub-signature-256", GITHUB_EXAMPLE),
            (WebhookStyle::Bitbucket, "x-hub-signature", &sha256_prefixed),
            (WebhookStyle::Gitea, "x-gitea-signature", sha256),
            (WebhookStyle::Gitea, "x-forgejo-signature", sha256),
            (WebhookStyle::Forgejo, "x-forgejo-signature", sha256),
            (WebhookStyle::Generic, "x-signature", &sha256_prefixed),
            (WebhookStyle::Generic, "x-signature", &sha512_prefixed),
            (WebhookStyle::Gitlab, "x-gitlab-token", secret),
        ];
        let run =
            |style, name: &'static str, value: &str, secret: &'static [u8], body: &'static str| {
                let headers = headers(&[(name, value)]);
                async move { check(secret, style, &headers, Body::from(body), None).await }
            };
        for (style, name, value) in good {
            let what = format!("{} with {name}: {value}", style.as_str());
            assert_eq!(
                run(style, name, value, GITHUB_SECRET, "Hello, World!").await,
                Ok(Delivery::Trigger),
                "{what}"
            );
            let forged = run(style, name, value, b"another secret", "Hello, World!").await;
            assert_eq!(forged, Err(Refusal::Signature), "another secret: {what}");
            if style != WebhookStyle::Gitlab {
                let tampered = run(style, name, value, GITHUB_SECRET, "Hello, World?").await;
                assert_eq!(tampered, Err(Refusal::Signature), "another body: {what}");
            }
        }
        // Another style's header, a prefix the style does not use, SHA-1,
        // a token that is a prefix of the secret, bad hex: refused.
        let wrong: [(WebhookStyle, &str, &str); 7] = [
            (WebhookStyle::Github, "x-hub-signature", &sha256_prefixed),
            (
                WebhookStyle::Bitbucket,
                "x-hub-signature-256",
                GITHUB_EXAMPLE,
            ),
            (WebhookStyle::Gitea, "x-gitea-signature", &sha256_prefixed),
            (WebhookStyle::Generic, "x-signature", sha256),
            (
                WebhookStyle::Generic,
                "x-signature",
                "sha1=0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33",
            ),
            (WebhookStyle::Gitlab, "x-gitlab-token", "It's a Secret"),
            (WebhookStyle::Github, "x-hub-signature-256", "sha256=zz"),
        ];
        for (style, name, value) in wrong {
            assert_eq!(
                run(style, name, value, GITHUB_SECRET, "Hello, World!").await,
                Err(Refusal::Signature),
                "{} with {name}: {value}",
                style.as_str()
            );
        }
        // A registry's notification: its bearer token, and a push in the
        // envelope; a pull (Cairn's own) is proven and asks for nothing.
        let bearer = format!("Bearer {secret}");
        let registry = |token: &str, body: &'static str| {
            let headers = headers(&[("authorization", token)]);
            async move {
                check(
                    GITHUB_SECRET,
                    WebhookStyle::Registry,
                    &headers,
                    Body::from(body),
                    None,
                )
                .await
            }
        };
        let push = r#"{"events":[{"action":"pull"},{"action":"push","target":{"repository":"zones","tag":"v1"}}]}"#;
        let pull = r#"{"events":[{"action":"pull","target":{"repository":"zones"}}]}"#;
        assert_eq!(registry(&bearer, push).await, Ok(Delivery::Trigger));
        assert_eq!(registry(&bearer, pull).await, Ok(Delivery::Ignore));
        assert_eq!(registry(&bearer, "not json").await, Ok(Delivery::Ignore));
        assert_eq!(
            registry("Bearer forged", push).await,
            Err(Refusal::Signature)
        );
        assert_eq!(registry(secret, push).await, Err(Refusal::Signature));

        // A GitLab token checked against the decoy key matches nothing.
        assert!(!token_matches(Key::Nobody.bytes(), GITHUB_SECRET));
        assert!(token_matches(GITHUB_SECRET, GITHUB_SECRET));
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
        let key = || GITHUB_SECRET;
        let github = WebhookStyle::Github;
        let signed = headers(&[("x-hub-signature-256", GITHUB_EXAMPLE)]);
        let pieces = Body::from_stream(futures::stream::iter(
            ["Hello", ", ", "World!"].map(|piece| Ok::<_, std::io::Error>(Bytes::from(piece))),
        ));
        assert_eq!(
            check(key(), github, &signed, pieces, None).await,
            Ok(Delivery::Trigger)
        );
        // The decoy key signs nothing anyone knows.
        assert_eq!(
            check(
                Key::Nobody.bytes(),
                github,
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
            check(key(), github, &signed, streamed(over, chunk), None).await,
            Err(Refusal::TooLarge)
        );
        let declared = headers(&[
            ("x-hub-signature-256", GITHUB_EXAMPLE),
            ("content-length", &(MAX_WEBHOOK_BYTES + 1).to_string()),
        ]);
        assert_eq!(
            check(key(), github, &declared, Body::empty(), None).await,
            Err(Refusal::TooLarge)
        );
        // At the cap, the body is read and the signature decides.
        assert_eq!(
            check(
                key(),
                github,
                &signed,
                streamed(MAX_WEBHOOK_BYTES as usize / chunk, chunk),
                None
            )
            .await,
            Err(Refusal::Signature)
        );
        // No signature: refused before the body is read.
        assert_eq!(
            check(
                key(),
                github,
                &HeaderMap::new(),
                streamed(over, chunk),
                None
            )
            .await,
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
            check(
                Key::Nobody.bytes(),
                WebhookStyle::Github,
                &signed,
                Body::from_stream(slow),
                None
            )
            .await,
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
