//! Authentication: a static bearer token, or OAuth 2.0 client credentials
//! (RFC 6749 §4.4) with the token kept until it expires.
//!
//! A provider instance lives for one call, so "kept" means for the whole
//! call: one token request per `list` or `apply`, however many SCIM
//! requests follow.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_sdk::http::{Client, Method};
use cairn_sdk::{Error, ErrorKind, Secrets};
use serde::Deserialize;
use std::cell::RefCell;
use std::time::{Duration, Instant};

/// A token is renewed this long before the server says it expires, so that
/// a request never leaves with a token about to lapse.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// How long a token whose answer gives no `expires_in` is used.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (the default).
    ClientSecretBasic,
    /// The client id and secret in the form body.
    ClientSecretPost,
}

/// Where bearer tokens come from.
pub enum Auth {
    /// A token the operator gave.
    Static(String),
    /// Tokens from an OAuth 2.0 token endpoint.
    ClientCredentials {
        /// The token endpoint's client.
        endpoint: Client,
        /// The endpoint's URL, for messages.
        token_url: String,
        client_id: String,
        client_secret: String,
        scope: Option<String>,
        method: ClientAuth,
        token: RefCell<Option<Token>>,
    },
}

/// A token and when to stop using it.
#[derive(Clone)]
pub struct Token {
    value: String,
    renew_at: Instant,
}

/// A token endpoint's answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Auth {
    /// Client credentials when the operator gave a token endpoint; the
    /// secret `token` otherwise.
    pub fn from_config(
        token_url: Option<&str>,
        scope: Option<String>,
        method: ClientAuth,
        secrets: &Secrets,
    ) -> Result<Self, Error> {
        match token_url {
            Some(token_url) => Ok(Self::ClientCredentials {
                endpoint: Client::new(token_url).with_header("accept", "application/json"),
                token_url: token_url.to_string(),
                client_id: secrets.require("client_id")?.to_string(),
                client_secret: secrets.require("client_secret")?.to_string(),
                scope,
                method,
                token: RefCell::new(None),
            }),
            None => Ok(Self::Static(secrets.require("token")?.to_string())),
        }
    }

    /// Whether a refused token can be replaced by a fresh one.
    pub fn renewable(&self) -> bool {
        matches!(self, Self::ClientCredentials { .. })
    }

    /// The `Authorization` header's value; `fresh` asks for a new token.
    pub fn header(&self, fresh: bool) -> Result<String, Error> {
        match self {
            Self::Static(token) => Ok(format!("Bearer {token}")),
            Self::ClientCredentials { token, .. } => {
                let cached = token.borrow().clone();
                let current = match cached {
                    Some(current) if !fresh && Instant::now() < current.renew_at => current,
                    _ => {
                        let new = self.request_token()?;
                        *token.borrow_mut() = Some(new.clone());
                        new
                    }
                };
                Ok(format!("Bearer {}", current.value))
            }
        }
    }

    fn request_token(&self) -> Result<Token, Error> {
        let Self::ClientCredentials {
            endpoint,
            token_url,
            client_id,
            client_secret,
            scope,
            method,
            ..
        } = self
        else {
            unreachable!("only client credentials request tokens");
        };
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if let Some(scope) = scope {
            form.append_pair("scope", scope);
        }
        let mut endpoint = endpoint.clone();
        match method {
            ClientAuth::ClientSecretBasic => {
                // RFC 6749 §2.3.1: both parts are form-encoded first.
                let encode = |text: &str| {
                    form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
                };
                let pair = format!("{}:{}", encode(client_id), encode(client_secret));
                endpoint = endpoint
                    .with_header("authorization", &format!("Basic {}", STANDARD.encode(pair)));
            }
            ClientAuth::ClientSecretPost => {
                form.append_pair("client_id", client_id);
                form.append_pair("client_secret", client_secret);
            }
        }
        let body = form.finish().into_bytes();
        let response = endpoint.send(
            Method::POST,
            "",
            Some(("application/x-www-form-urlencoded", body)),
        )?;
        if matches!(response.status, 400 | 401 | 403) {
            // The answer names the OAuth error (`invalid_client`), never the
            // secret, which is not quoted here either.
            let reason = response
                .json::<serde_json::Value>()
                .ok()
                .and_then(|body| body.get("error").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or_else(|| format!("status {}", response.status));
            return Err(Error::new(
                ErrorKind::Unauthorized,
                format!(
                    "the token endpoint {token_url} refused the client credentials of client `{client_id}` ({reason}): check the secrets `client_id` and `client_secret` of this provider in cairn.toml"
                ),
            ));
        }
        let response = response.error_for_status(&format!("POST {token_url}"))?;
        let answer: TokenResponse = response.json()?;
        let lifetime = answer
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        Ok(Token {
            value: answer.access_token,
            renew_at: Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN),
        })
    }
}
