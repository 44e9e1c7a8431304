//! The operator's configuration of one cluster (one provider instance).

use cairn_sdk::{Error, Secrets, spec};
use serde::Deserialize;
use std::time::Duration;

/// How long a CustomResourceDefinition may take to become established
/// before its custom objects are applied, unless configured: the API
/// server establishes one in well under a second when it is healthy.
const DEFAULT_ESTABLISH_TIMEOUT_SECONDS: u64 = 30;

/// The `config` table of a `cluster-kubernetes` provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// The API server's URL, `https://HOST:PORT`.
    url: String,
    /// The tenant the objects belong to, written into each object's
    /// `cairn.dev/tenant` annotation.
    tenant: String,
    /// This provider instance's name in `cairn.toml`, the first part of
    /// the `cairn.dev/address` annotation.
    instance: String,
    /// Take fields another field manager applied (server-side apply with
    /// `force`). Fields changed by hand (`kubectl edit`, a PATCH) are drift
    /// and taken back whatever this says.
    #[serde(default)]
    force_conflicts: bool,
    /// Seconds to wait for a CustomResourceDefinition to be established.
    #[serde(default = "default_establish_timeout")]
    establish_timeout_seconds: u64,
}

fn default_establish_timeout() -> u64 {
    DEFAULT_ESTABLISH_TIMEOUT_SECONDS
}

/// A checked configuration with its secrets.
#[derive(Debug)]
pub struct Config {
    /// The API server's URL, without a trailing `/`.
    pub url: String,
    /// The tenant name.
    pub tenant: String,
    /// The provider instance's name.
    pub instance: String,
    /// Whether conflicts with other appliers are forced.
    pub force_conflicts: bool,
    /// How long to wait for a CRD to be established.
    pub establish_timeout: Duration,
    /// The bearer token.
    pub token: String,
    /// Every secret, for Secret objects' values.
    pub secrets: Secrets,
}

impl Config {
    /// Parses and checks the configuration; the token is the secret
    /// `token`.
    pub fn parse(config: &serde_json::Value, secrets: Secrets) -> Result<Self, Error> {
        let raw: RawConfig = spec::parse(config).map_err(|diagnostic| {
            Error::invalid(format!(
                "config `{}`: {}",
                diagnostic.path.replace('/', "."),
                diagnostic.message
            ))
        })?;
        if !raw.url.starts_with("https://") && !raw.url.starts_with("http://") {
            return Err(Error::invalid(format!(
                "config `url` is `{}`; it must be the API server's https:// URL",
                raw.url
            )));
        }
        for (field, value) in [("tenant", &raw.tenant), ("instance", &raw.instance)] {
            if value.is_empty() || value.contains('/') {
                return Err(Error::invalid(format!(
                    "config `{field}` must be a non-empty name without `/`"
                )));
            }
        }
        let token = secrets.require("token")?.trim().to_string();
        Ok(Self {
            url: raw.url.trim_end_matches('/').to_string(),
            tenant: raw.tenant,
            instance: raw.instance,
            force_conflicts: raw.force_conflicts,
            establish_timeout: Duration::from_secs(raw.establish_timeout_seconds),
            token,
            secrets,
        })
    }

    /// The Cairn address of a resource of this instance.
    pub fn address(&self, type_name: &str, id: &str) -> String {
        format!("{}/{type_name}/{id}", self.instance)
    }
}

/// The JSON Schema of the configuration, for `cairn plugin inspect`.
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "required": ["url", "tenant", "instance"],
        "additionalProperties": false,
        "properties": {
            "url": {"type": "string", "description": "the API server, https://HOST:PORT; grant it in `allow` with the cluster's CA"},
            "tenant": {"type": "string", "description": "the tenant written into every object's cairn.dev/tenant annotation"},
            "instance": {"type": "string", "description": "this provider instance's name, for the cairn.dev/address annotation"},
            "force_conflicts": {"type": "boolean", "default": false, "description": "take fields another applier owns"},
            "establish_timeout_seconds": {"type": "integer", "default": DEFAULT_ESTABLISH_TIMEOUT_SECONDS}
        }
    })
}
