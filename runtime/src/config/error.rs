//! What can be wrong with `cairn.toml`: the file as a whole, or one of its
//! values, each error naming the table and key so that the operator finds
//! it.

use super::values::{DurationError, SizeError};
use crate::host::endpoints::MAX_CONCURRENCY_CEILING;
use crate::host::grants::GrantError;
use crate::host::tls::CaError;
use std::path::PathBuf;
use std::time::Duration;

/// Errors reading or checking `cairn.toml`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the expected shape.
    #[error("{path}: {}", describe_toml_error(.source, *.at))]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line and column of the problem, when the parser knows it.
        at: Option<(usize, usize)>,
        /// The parser's complaint (boxed, like [`ConfigError::Invalid`]'s).
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A value is out of range or inconsistent.
    #[error("{path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and where (boxed: the error stays small for the
        /// callers that pass it on).
        #[source]
        problem: Box<Invalid>,
    },
    /// `--tenant` names no tenant.
    #[error("there is no tenant `{name}` in {path}; the tenants are: {known}")]
    UnknownTenant {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The tenants the file declares.
        known: String,
    },
    /// Several tenants and no `--tenant`.
    #[error("{path} declares several tenants ({known}): choose one with --tenant NAME")]
    AmbiguousTenant {
        /// The file.
        path: PathBuf,
        /// The tenants the file declares.
        known: String,
    },
}

/// A TOML error with its line and column, without the source excerpt
/// that its own `Display` adds.
fn describe_toml_error(error: &toml::de::Error, at: Option<(usize, usize)>) -> String {
    let message = error.message().trim_end();
    match at {
        Some((line, column)) => format!("line {line}, column {column}: {message}"),
        None => message.to_string(),
    }
}

/// The rule a name breaks when it holds other characters.
const NAME_RULE: &str = "may hold only letters, digits, `-` and `_`";

/// A value of `cairn.toml` that is out of range or inconsistent, and where.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    /// `state` names a store Cairn cannot open.
    #[error(
        "state = \"{}\" is not supported: use \"sqlite:PATH\" or \"postgres://USER@HOST:PORT/DATABASE\"",
        super::display_url(.url)
    )]
    UnsupportedState {
        /// The URL as written.
        url: String,
    },
    /// No `[tenants.NAME]` table.
    #[error("no tenant is configured: add a [tenants.NAME] table with `repo`")]
    NoTenant,
    /// A tenant's name holds characters addresses and URLs cannot carry.
    #[error("tenant name `{name}` {NAME_RULE}")]
    TenantName {
        /// The name.
        name: String,
    },
    /// A provider instance's name holds characters addresses cannot carry.
    #[error("provider name `{name}` {NAME_RULE}")]
    ProviderName {
        /// The name.
        name: String,
    },
    /// A value of a provider instance.
    #[error("[tenants.{tenant}.providers.{provider}]: {problem}")]
    Provider {
        /// The tenant.
        tenant: String,
        /// The provider instance.
        provider: String,
        /// What is wrong.
        #[source]
        problem: ProviderProblem,
    },
    /// A policy's settings.
    #[error("{table}: {problem}")]
    Policy {
        /// The table, `[[policies]] number 2` or
        /// `[[tenants.web.policies]] number 1`.
        table: String,
        /// What is wrong.
        #[source]
        problem: super::PolicyProblem,
    },
    /// A tenant's interval (`interval`, `drift_interval`).
    #[error("[tenants.{tenant}] {key}: {source}")]
    TenantInterval {
        /// The tenant.
        tenant: String,
        /// The key.
        key: &'static str,
        /// What is wrong.
        #[source]
        source: DurationError,
    },
    /// `max_delete_percent` is not a percentage.
    #[error("[tenants.{tenant}] max_delete_percent = {percent} is above 100")]
    MaxDeletePercent {
        /// The tenant.
        tenant: String,
        /// The value.
        percent: u8,
    },
    /// A tenant's `allowed_signers` file cannot be read: no commit could be
    /// checked, so none would apply.
    #[error("[tenants.{tenant}] allowed_signers: {problem}")]
    AllowedSigners {
        /// The tenant.
        tenant: String,
        /// Why the file cannot be read.
        #[source]
        problem: crate::source::UnreadableSigners,
    },
    /// A tenant's `repo` no source reads.
    #[error("[tenants.{tenant}] repo: {problem}")]
    Repo {
        /// The tenant.
        tenant: String,
        /// What is wrong.
        problem: String,
    },
    /// A plain folder or a Mercurial repository: no signatures Cairn
    /// checks.
    #[error(
        "[tenants.{tenant}] allowed_signers: the tenant reads a plain folder or a Mercurial repository, which has no signatures Cairn checks; use a Git repository with signed commits or a signed OCI artifact, or remove allowed_signers"
    )]
    UnsignedSource {
        /// The tenant.
        tenant: String,
    },
    /// A plain folder in a multi-tenant daemon: it has no author and no
    /// history, so nothing it applies could be audited.
    #[error(
        "[tenants.{tenant}] repo = \"{repo}\": a plain folder is for development and is not auditable (no author, no history); a daemon with [daemon] multi_tenant = true reads only Git. Use a Git repository"
    )]
    FolderInMultiTenant {
        /// The tenant.
        tenant: String,
        /// Its repo.
        repo: String,
    },
    /// A size quota of a tenant.
    #[error("[tenants.{tenant}] quotas.{key}: {source}")]
    QuotaSize {
        /// The tenant.
        tenant: String,
        /// The quota's key.
        key: &'static str,
        /// What is wrong.
        #[source]
        source: SizeError,
    },
    /// A duration of `[daemon]` (`shutdown_grace`, `lease`).
    #[error("[daemon] {key}: {source}")]
    DaemonDuration {
        /// The key.
        key: &'static str,
        /// What is wrong.
        #[source]
        source: DurationError,
    },
    /// The lease is too short for the heartbeats that renew it.
    #[error("[daemon] lease: at least {minimum:?}, so that heartbeats keep up")]
    ShortLease {
        /// [`super::MIN_LEASE`].
        minimum: Duration,
    },
    /// The daemon's id holds characters it cannot carry.
    #[error("[daemon] id = \"{id}\": {NAME_RULE}")]
    DaemonId {
        /// The id.
        id: String,
    },
    /// Multi-tenant mode without every pin and token it needs.
    #[error(
        "[daemon] multi_tenant = true needs every plugin pinned and every API token set; missing:\n  - {}",
        .missing.join("\n  - ")
    )]
    MultiTenantGaps {
        /// What is missing, one line each.
        missing: Vec<String>,
    },
    /// An alert sink's URL is not HTTP.
    #[error("[[alerts]] number {number}: url = \"{url}\" is not an http or https URL")]
    AlertUrl {
        /// The sink's place in the file, from 1.
        number: usize,
        /// The URL.
        url: String,
    },
    /// An alert sink names an event that does not exist.
    #[error(
        "[[alerts]] number {number}: unknown event `{event}`; the events are {}",
        super::ALERT_EVENTS.join(", ")
    )]
    AlertEvent {
        /// The sink's place in the file, from 1.
        number: usize,
        /// The event.
        event: String,
    },
}

/// What is wrong with one provider instance's settings.
#[derive(Debug, thiserror::Error)]
pub enum ProviderProblem {
    /// The pinned digest is not a sha256.
    #[error("sha256 = \"{hex}\" is not 64 hexadecimal digits")]
    Sha256 {
        /// The digest as written, trimmed and lower-cased.
        hex: String,
    },
    /// A network grant does not parse.
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// A grant's CA bundle cannot be used (boxed: its causes are large).
    #[error(transparent)]
    Ca(Box<CaError>),
    /// `memory` is not a size.
    #[error(transparent)]
    Memory(SizeError),
    /// `memory` is above what the host gives any call.
    #[error("memory = \"{text}\" is above the host's ceiling of {ceiling_mib} MiB")]
    MemoryAboveCeiling {
        /// The value as written.
        text: String,
        /// [`crate::host::limits::MAX_MEMORY_BYTES`] in MiB.
        ceiling_mib: u64,
    },
    /// `timeout` is not a duration.
    #[error("timeout = \"{text}\": {source} (write it like \"30s\")")]
    Timeout {
        /// The value as written.
        text: String,
        /// The parser's complaint.
        #[source]
        source: humantime::DurationError,
    },
    /// `timeout` is zero.
    #[error("timeout must be more than zero")]
    ZeroTimeout,
    /// `max_concurrency` is out of range.
    #[error(
        "max_concurrency = {max}: write a number of requests from 1 to {MAX_CONCURRENCY_CEILING}"
    )]
    MaxConcurrency {
        /// The value as written.
        max: usize,
    },
    /// `max_concurrency` with `adaptive_concurrency = false`.
    #[error(
        "max_concurrency is the ceiling of the adaptive limit, which adaptive_concurrency = false turns off: remove one of them"
    )]
    MaxConcurrencyUnused,
    /// `config` holds a value JSON cannot express.
    #[error("config cannot be expressed as JSON: {0}")]
    NotJson(#[source] serde_json::Error),
}

impl From<CaError> for ProviderProblem {
    fn from(error: CaError) -> Self {
        Self::Ca(Box::new(error))
    }
}
