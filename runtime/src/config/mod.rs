//! The operator's configuration file, `cairn.toml`.
//!
//! Tenants never grant themselves anything: plugins, network grants, secrets
//! and limits come from this file, which the operator owns. Relative paths in
//! it are relative to the file's own folder.
//!
//! This module is plain settings and their checks. It knows the vocabulary
//! of its values — quotas, secret references, and the sandbox's network
//! grants and limits — and nothing of the modules that use the settings:
//! each of them turns its settings into what it runs (the tenant into a
//! source and provider instances, the daemon into its server), and the
//! store opens the `state` URL checked here.

mod error;
pub mod policy;
pub mod schema;
mod values;

pub use error::{ConfigError, Invalid, ProviderProblem};
pub use policy::{Enforcement, PolicyConfig, PolicyFile, PolicyProblem};
pub use values::{DurationError, SizeError, parse_size};

use crate::host::endpoints::{Concurrency, DEFAULT_MAX_CONCURRENCY, MAX_CONCURRENCY_CEILING};
use crate::host::grants::Grant;
use crate::host::limits;
use crate::host::tls::TrustedCa;
use crate::quota::Quotas;
use crate::secrets::SecretRef;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use values::{is_valid_name, parse_interval};

/// `cairn.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    cache_dir: Option<String>,
    #[serde(default)]
    cache_key: Option<String>,
    #[serde(default)]
    daemon: Option<RawDaemon>,
    #[serde(default)]
    alerts: Vec<RawAlert>,
    #[serde(default)]
    policies: Vec<policy::RawPolicy>,
    #[serde(default)]
    tenants: BTreeMap<String, RawTenant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    api_token: Option<SecretRef>,
    #[serde(default)]
    multi_tenant: bool,
    #[serde(default)]
    shutdown_grace: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    lease: Option<String>,
    #[serde(default)]
    keep_inventory_from: Option<usize>,
    #[serde(default)]
    dashboard: Option<RawDashboard>,
}

/// `[daemon.dashboard]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDashboard {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    actions_without_token: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    url: String,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    secret: Option<SecretRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    username: String,
    password: SecretRef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    repo: String,
    #[serde(default, rename = "ref")]
    reference: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    drift_interval: Option<String>,
    #[serde(default)]
    webhook_secret: Option<SecretRef>,
    #[serde(default)]
    webhook_style: WebhookStyle,
    #[serde(default)]
    registry_credentials: Option<RawCredentials>,
    #[serde(default)]
    api_token: Option<SecretRef>,
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    self_heal: bool,
    #[serde(default)]
    chaos: bool,
    #[serde(default)]
    max_delete_percent: Option<u8>,
    #[serde(default)]
    allowed_signers: Option<String>,
    #[serde(default)]
    allow_adopt: Option<bool>,
    #[serde(default)]
    quotas: Option<RawQuotas>,
    #[serde(default)]
    providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    policies: Vec<policy::RawPolicy>,
}

/// `[tenants.NAME.quotas]`; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuotas {
    resources: Option<usize>,
    values: Option<usize>,
    repository_files: Option<usize>,
    repository_bytes: Option<String>,
    manifest_bytes: Option<String>,
    plan_changes: Option<usize>,
    plugin_memory: Option<String>,
}

impl RawQuotas {
    /// The quotas of `tenant`, defaults filled in.
    fn resolve(self, tenant: &str) -> Result<Quotas, Invalid> {
        let defaults = Quotas::default();
        let size = |key: &'static str, text: Option<String>, default: u64| match text {
            Some(text) => parse_size(&text).map_err(|source| Invalid::QuotaSize {
                tenant: tenant.to_string(),
                key,
                source,
            }),
            None => Ok(default),
        };
        Ok(Quotas {
            resources: self.resources.unwrap_or(defaults.resources),
            values: self.values.unwrap_or(defaults.values),
            repository_files: self.repository_files.unwrap_or(defaults.repository_files),
            repository_bytes: size(
                "repository_bytes",
                self.repository_bytes,
                defaults.repository_bytes,
            )?,
            manifest_bytes: size(
                "manifest_bytes",
                self.manifest_bytes,
                defaults.manifest_bytes,
            )?,
            plan_changes: self.plan_changes.unwrap_or(defaults.plan_changes),
            plugin_memory: size("plugin_memory", self.plugin_memory, defaults.plugin_memory)?,
        })
    }
}

/// A grant: a pattern, or a table naming the CA bundle its HTTPS requests
/// trust.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a network grant: \"scheme://host:port\", or { url = \"https://host:port\", ca = \"ca.crt\" } to trust a private CA"
)]
pub(crate) enum RawGrant {
    Pattern(String),
    WithCa(RawGrantWithCa),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrantWithCa {
    url: String,
    ca: String,
}

impl RawGrant {
    /// The grant, a CA file read relative to `base`.
    pub(crate) fn resolve(&self, base: &Path) -> Result<Grant, ProviderProblem> {
        match self {
            RawGrant::Pattern(pattern) => Ok(Grant::parse(pattern)?),
            RawGrant::WithCa(RawGrantWithCa { url, ca }) => {
                let ca = TrustedCa::load(&base.join(ca))?;
                Ok(Grant::parse(url).and_then(|grant| grant.with_ca(ca))?)
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    pub(super) plugin: String,
    #[serde(default)]
    pub(super) sha256: Option<String>,
    #[serde(default)]
    pub(super) allow: Vec<RawGrant>,
    #[serde(default)]
    pub(super) memory: Option<String>,
    #[serde(default)]
    pub(super) timeout: Option<String>,
    #[serde(default)]
    pub(super) max_concurrency: Option<usize>,
    #[serde(default)]
    pub(super) adaptive_concurrency: Option<bool>,
    #[serde(default)]
    pub(super) config: Option<toml::Table>,
    #[serde(default)]
    pub(super) secrets: BTreeMap<String, SecretRef>,
}

/// The whole operator configuration, checked, with paths made absolute.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The state store URL: `sqlite:PATH` or `postgres://…`.
    pub state: String,
    /// Where remote repositories are cloned (`repos/`) and compiled plugins
    /// kept (`compiled/`).
    pub cache_dir: PathBuf,
    /// The key that vouches for compiled plugins in the cache; outside
    /// `cache_dir`, beside the state by default.
    pub cache_key: PathBuf,
    /// The daemon's settings.
    pub daemon: DaemonConfig,
    /// Where alerts go.
    pub alerts: Vec<AlertSink>,
    /// The tenants, by name.
    pub tenants: BTreeMap<String, TenantConfig>,
}

/// Settings of `cairn daemon`.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The address of the HTTP API, metrics and webhooks.
    pub listen: String,
    /// How long shutdown waits for in-flight reconciles.
    pub shutdown_grace: Duration,
    /// The operator's token for the status API and metrics; with no token
    /// here or on any tenant, the API is open.
    pub api_token: Option<SecretRef>,
    /// The daemon serves several parties: every plugin is pinned by
    /// sha256 and every API token is set (checked when the file is read).
    pub multi_tenant: bool,
    /// This daemon's name among those sharing the store; `None`: the host
    /// name and the port it listens on.
    pub id: Option<String>,
    /// How long a tenant's lease lasts: a daemon that stops renewing its
    /// leases has its tenants taken over within this period.
    pub lease: Duration,
    /// A held tenant whose inventory has at least this many objects has it
    /// kept in memory while the lease is held
    /// ([`crate::store::StateStore::keeping_inventory`]).
    pub keep_inventory_from: usize,
    /// The web dashboard under `/ui/`.
    pub dashboard: DashboardConfig,
}

/// `[daemon.dashboard]`: the web dashboard the daemon serves under `/ui/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DashboardConfig {
    /// Whether `/ui/` is served (default: yes).
    pub enabled: bool,
    /// With no API token configured anywhere, whether the dashboard's
    /// buttons (reconcile, suspend, resume, roll back) work for anyone who
    /// can reach it; by default such a dashboard is read-only. With
    /// tokens, whoever signs in may act on what the token sees.
    pub actions_without_token: bool,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            actions_without_token: false,
        }
    }
}

/// One alert sink: a URL that receives alert events as JSON.
#[derive(Debug, Clone)]
pub struct AlertSink {
    /// Where alerts are POSTed.
    pub url: String,
    /// The kinds of event sent (all when empty).
    pub events: Vec<String>,
    /// When set, each body is signed with HMAC-SHA256 in
    /// `X-Cairn-Signature-256: sha256=HEX`.
    pub secret: Option<SecretRef>,
}

/// How a tenant's push webhook proves it comes from whoever holds the
/// secret: the form of the forge or registry that sends it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookStyle {
    /// GitHub: `X-Hub-Signature-256: sha256=HEX`, the HMAC-SHA256 of the
    /// body (the default).
    #[default]
    Github,
    /// GitLab: `X-Gitlab-Token: SECRET`, the secret itself, compared in
    /// constant time (GitLab signs nothing).
    Gitlab,
    /// Gitea: `X-Gitea-Signature: HEX`, the HMAC-SHA256 of the body
    /// (Forgejo's `X-Forgejo-Signature` is taken too).
    Gitea,
    /// Forgejo: `X-Forgejo-Signature: HEX`, the HMAC-SHA256 of the body
    /// (its `X-Gitea-Signature` is taken too).
    Forgejo,
    /// Bitbucket: `X-Hub-Signature: sha256=HEX`, the HMAC-SHA256 of the
    /// body.
    Bitbucket,
    /// Any sender that signs: `X-Signature: sha256=HEX` or `sha512=HEX`,
    /// the HMAC of the body (Flux's generic-hmac receiver; SHA-1 is not
    /// taken).
    Generic,
    /// The CNCF distribution registry's notifications, for an OCI
    /// source: `Authorization: Bearer SECRET` (the header the operator
    /// sets on the registry's endpoint), compared in constant time; only
    /// an envelope with a `push` event triggers (a pull, Cairn's own
    /// included, does not).
    Registry,
}

impl WebhookStyle {
    /// Its name in `cairn.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Gitea => "gitea",
            Self::Forgejo => "forgejo",
            Self::Bitbucket => "bitbucket",
            Self::Generic => "generic",
            Self::Registry => "registry",
        }
    }
}

/// What the daemon does with a tenant's plans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Apply every plan (the default).
    #[default]
    Apply,
    /// Plan and report only; never apply.
    PlanOnly,
}

/// One tenant: a repository and the provider instances its resources use.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    /// The tenant's name.
    pub name: String,
    /// A local path or a URL (`file://`, `git://`, `http(s)://`).
    pub repo: String,
    /// A branch, tag or commit.
    pub reference: String,
    /// The folder of the repository holding the resource files.
    pub path: String,
    /// How often the daemon fetches the repository.
    pub interval: Duration,
    /// How often the daemon re-diffs when Git did not move, to find drift.
    pub drift_interval: Duration,
    /// The secret of the tenant's push webhook.
    pub webhook_secret: Option<SecretRef>,
    /// How its webhooks carry the secret.
    pub webhook_style: WebhookStyle,
    /// The tenant's own token for the status API: it sees and triggers
    /// only this tenant.
    pub api_token: Option<SecretRef>,
    /// Apply, or plan only.
    pub mode: Mode,
    /// Whether drift is repaired, not only reported.
    pub self_heal: bool,
    /// Whether the tenant may run chaos experiments: its plans may hold
    /// its objects away from their desired state (contract 0.3.0's
    /// holds), and it may load a provider that describes itself as
    /// `chaos`. Off unless the operator turns it on.
    pub chaos: bool,
    /// The largest share (percent) of a provider's owned objects one plan may
    /// delete or replace before it is blocked.
    pub max_delete_percent: u8,
    /// The operator's quotas for the tenant.
    pub quotas: Quotas,
    /// An `allowed_signers` file (the format of `ssh-keygen -Y verify`):
    /// when set, only commits signed by one of its keys are applied.
    pub allowed_signers: Option<PathBuf>,
    /// The operator's credentials for the registry of an OCI artifact.
    pub registry_credentials: Option<crate::source::oci::Credentials>,
    /// Whether the tenant's resources may say `adopt = true` and take over
    /// objects Cairn did not create for it. The operator's call: on a
    /// shared server, an adopted object may be another tenant's. Defaults
    /// to true, and to false with `[daemon] multi_tenant = true`.
    pub allow_adopt: bool,
    /// Provider instances by the name resource files use (`[[NAME.TYPE]]`).
    pub providers: BTreeMap<String, ProviderConfig>,
    /// The policies that check its plans: the shared `[[policies]]`,
    /// then its own `[[tenants.NAME.policies]]`.
    pub policies: Vec<PolicyConfig>,
}

/// One provider instance of a tenant.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The instance's name.
    pub name: String,
    /// The plugin's `.wasm` file.
    pub plugin: PathBuf,
    /// The plugin's required sha256, lower-case hex.
    pub sha256: Option<String>,
    /// Network grants: the only URLs the plugin may reach.
    pub allow: Vec<Grant>,
    /// The most linear memory one call may use.
    pub memory: u64,
    /// The longest one call may take.
    pub timeout: Duration,
    /// How its requests share the servers they go to with every other
    /// tenant's: an adaptive limit per endpoint, by default.
    pub concurrency: Concurrency,
    /// The plugin's configuration, as JSON.
    pub config: serde_json::Value,
    /// Secrets by the name the plugin knows them by.
    pub secrets: BTreeMap<String, SecretRef>,
}

/// How often a tenant's repository is fetched when `interval` is omitted.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// How often drift is looked for when `drift_interval` is omitted.
pub const DEFAULT_DRIFT_INTERVAL: Duration = Duration::from_secs(300);

/// The delete/replace share that blocks a plan when `max_delete_percent` is
/// omitted (octoDNS uses the same 30%).
pub const DEFAULT_MAX_DELETE_PERCENT: u8 = 30;

/// The shortest interval accepted: a tighter loop only loads the server.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// How long a tenant's lease lasts by default: a daemon killed has its
/// tenants taken over within this period; renewals cost a few queries
/// every fifth of it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// The shortest lease: a renewal every fifth of it must fit in it with
/// room for slow queries, and a stuck PostgreSQL session is ended (1 s)
/// well before four fifths of it.
pub const MIN_LEASE: Duration = Duration::from_secs(2);

/// Where the daemon listens when neither `--listen` nor `[daemon] listen`
/// says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8420";

/// How long shutdown waits for in-flight reconciles by default.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The state store used when `state` is omitted, relative to `cairn.toml`.
pub const DEFAULT_STATE: &str = "sqlite:.cairn/state.db";

/// Where remote repositories are cloned and compiled plugins kept when
/// `cache_dir` is omitted.
pub const DEFAULT_CACHE_DIR: &str = ".cairn/cache";

/// The file name of the compiled-code cache's key when `cache_key` is
/// omitted: it is made beside an SQLite state store, or in `.cairn/` beside
/// `cairn.toml` with PostgreSQL — with the state, outside the cache.
pub const DEFAULT_CACHE_KEY: &str = "compiled-code.key";

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses the text of a `cairn.toml` read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            at: source
                .span()
                .map(|span| crate::lines::line_column(text, span.start)),
            source: Box::new(source),
        })?;
        Self::check(path, raw).map_err(|problem| ConfigError::Invalid {
            path: path.to_path_buf(),
            problem: Box::new(problem),
        })
    }

    /// Checks the file as written and makes its paths absolute.
    fn check(path: &Path, raw: RawConfig) -> Result<Self, Invalid> {
        let base = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());

        let state = raw.state.unwrap_or_else(|| DEFAULT_STATE.to_string());
        let state = match state.strip_prefix("sqlite:") {
            Some(file) => format!("sqlite:{}", base.join(file).display()),
            None if STATE_URL_PREFIXES
                .iter()
                .any(|prefix| state.starts_with(prefix)) =>
            {
                state
            }
            None => return Err(Invalid::UnsupportedState { url: state }),
        };
        let cache_dir = base.join(raw.cache_dir.as_deref().unwrap_or(DEFAULT_CACHE_DIR));
        let cache_key = match (&raw.cache_key, state.strip_prefix("sqlite:")) {
            (Some(file), _) => base.join(file),
            (None, Some(database)) => Path::new(database)
                .parent()
                .unwrap_or(&base)
                .join(DEFAULT_CACHE_KEY),
            (None, None) => base.join(".cairn").join(DEFAULT_CACHE_KEY),
        };

        if raw.tenants.is_empty() {
            return Err(Invalid::NoTenant);
        }
        let shared_policies = policy::shared(raw.policies, &base)?;
        let mut tenants = BTreeMap::new();
        let mut allow_adopt: BTreeMap<String, Option<bool>> = BTreeMap::new();
        for (name, tenant) in raw.tenants {
            allow_adopt.insert(name.clone(), tenant.allow_adopt);
            if !is_valid_name(&name) {
                return Err(Invalid::TenantName { name });
            }
            let mut providers = BTreeMap::new();
            for (provider_name, provider) in tenant.providers {
                if !is_valid_name(&provider_name) {
                    return Err(Invalid::ProviderName {
                        name: provider_name,
                    });
                }
                let provider = ProviderConfig::from_raw(&provider_name, provider, &base).map_err(
                    |problem| Invalid::Provider {
                        tenant: name.clone(),
                        provider: provider_name.clone(),
                        problem,
                    },
                )?;
                providers.insert(provider_name, provider);
            }
            let interval_of = |key: &'static str, text: Option<&str>, default| {
                parse_interval(text, default).map_err(|source| Invalid::TenantInterval {
                    tenant: name.clone(),
                    key,
                    source,
                })
            };
            let interval = interval_of("interval", tenant.interval.as_deref(), DEFAULT_INTERVAL)?;
            let drift_interval = interval_of(
                "drift_interval",
                tenant.drift_interval.as_deref(),
                DEFAULT_DRIFT_INTERVAL,
            )?;
            let max_delete_percent = tenant
                .max_delete_percent
                .unwrap_or(DEFAULT_MAX_DELETE_PERCENT);
            if max_delete_percent > 100 {
                return Err(Invalid::MaxDeletePercent {
                    tenant: name,
                    percent: max_delete_percent,
                });
            }
            let quotas = tenant.quotas.unwrap_or_default().resolve(&name)?;
            let policies = policy::of_tenant(&name, &shared_policies, tenant.policies, &base)?;
            let allowed_signers = tenant.allowed_signers.map(|path| base.join(path));
            let repo = resolve_repo(&tenant.repo, &base);
            let is_oci = repo.starts_with(crate::source::oci::artifact::OCI_PREFIX);
            if is_oci {
                crate::source::oci::artifact::Address::parse(&repo).map_err(|bad| {
                    Invalid::Repo {
                        tenant: name.clone(),
                        problem: bad.to_string(),
                    }
                })?;
            }
            if !is_oci && tenant.registry_credentials.is_some() {
                return Err(Invalid::Repo {
                    tenant: name.clone(),
                    problem: "registry_credentials are for an OCI artifact (repo = \"oci://…\"), and this tenant reads another source: remove them".into(),
                });
            }
            let is_folder = repo.starts_with(crate::source::FOLDER_PREFIX);
            if (is_folder || crate::source::is_mercurial(&repo)) && allowed_signers.is_some() {
                return Err(Invalid::UnsignedSource { tenant: name });
            }
            if let Some(path) = &allowed_signers {
                crate::source::check_allowed_signers(path).map_err(|problem| {
                    Invalid::AllowedSigners {
                        tenant: name.clone(),
                        problem,
                    }
                })?;
            }
            tenants.insert(
                name.clone(),
                TenantConfig {
                    reference: tenant
                        .reference
                        .unwrap_or_else(|| crate::source::default_reference(&repo).into()),
                    repo,
                    path: tenant.path.unwrap_or_else(|| ".".into()),
                    interval,
                    drift_interval,
                    webhook_secret: anchored(tenant.webhook_secret, &base),
                    webhook_style: tenant.webhook_style,
                    api_token: anchored(tenant.api_token, &base),
                    mode: tenant.mode.unwrap_or_default(),
                    self_heal: tenant.self_heal,
                    chaos: tenant.chaos,
                    max_delete_percent,
                    quotas,
                    allowed_signers,
                    registry_credentials: tenant.registry_credentials.map(|raw| {
                        crate::source::oci::Credentials {
                            username: raw.username,
                            password: relative_to(raw.password, &base),
                        }
                    }),
                    allow_adopt: true,
                    name,
                    providers,
                    policies,
                },
            );
        }
        let daemon = DaemonConfig {
            listen: raw
                .daemon
                .as_ref()
                .and_then(|d| d.listen.clone())
                .unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            shutdown_grace: parse_interval(
                raw.daemon
                    .as_ref()
                    .and_then(|d| d.shutdown_grace.as_deref()),
                DEFAULT_SHUTDOWN_GRACE,
            )
            .map_err(|source| Invalid::DaemonDuration {
                key: "shutdown_grace",
                source,
            })?,
            api_token: anchored(raw.daemon.as_ref().and_then(|d| d.api_token.clone()), &base),
            multi_tenant: raw.daemon.as_ref().is_some_and(|d| d.multi_tenant),
            id: raw.daemon.as_ref().and_then(|d| d.id.clone()),
            lease: parse_interval(
                raw.daemon.as_ref().and_then(|d| d.lease.as_deref()),
                DEFAULT_LEASE,
            )
            .map_err(|source| Invalid::DaemonDuration {
                key: "lease",
                source,
            })
            .and_then(|lease| {
                if lease < MIN_LEASE {
                    Err(Invalid::ShortLease { minimum: MIN_LEASE })
                } else {
                    Ok(lease)
                }
            })?,
            keep_inventory_from: raw
                .daemon
                .as_ref()
                .and_then(|d| d.keep_inventory_from)
                .unwrap_or(crate::store::DEFAULT_KEEP_INVENTORY_FROM),
            dashboard: raw
                .daemon
                .as_ref()
                .and_then(|d| d.dashboard.as_ref())
                .map(|d| DashboardConfig {
                    enabled: d.enabled.unwrap_or(true),
                    actions_without_token: d.actions_without_token,
                })
                .unwrap_or_default(),
        };
        if let Some(id) = &daemon.id
            && !is_valid_name(id)
        {
            return Err(Invalid::DaemonId { id: id.clone() });
        }
        for (name, tenant) in tenants.iter_mut() {
            tenant.allow_adopt = allow_adopt
                .get(name)
                .copied()
                .flatten()
                .unwrap_or(!daemon.multi_tenant);
        }
        if daemon.multi_tenant {
            if let Some((tenant, config)) = tenants
                .iter()
                .find(|(_, config)| config.repo.starts_with(crate::source::FOLDER_PREFIX))
            {
                return Err(Invalid::FolderInMultiTenant {
                    tenant: tenant.clone(),
                    repo: config.repo.clone(),
                });
            }
            let missing = multi_tenant_gaps(&daemon, &tenants);
            if !missing.is_empty() {
                return Err(Invalid::MultiTenantGaps { missing });
            }
        }
        let mut alerts = Vec::new();
        for (index, alert) in raw.alerts.into_iter().enumerate() {
            if !(alert.url.starts_with("http://") || alert.url.starts_with("https://")) {
                return Err(Invalid::AlertUrl {
                    number: index + 1,
                    url: alert.url,
                });
            }
            let events = alert.events.unwrap_or_default();
            if let Some(unknown) = events.iter().find(|e| !ALERT_EVENTS.contains(&e.as_str())) {
                return Err(Invalid::AlertEvent {
                    number: index + 1,
                    event: unknown.clone(),
                });
            }
            alerts.push(AlertSink {
                url: alert.url,
                events,
                secret: anchored(alert.secret, &base),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            state,
            cache_dir,
            cache_key,
            daemon,
            alerts,
            tenants,
        })
    }

    /// The tenant `name`, or the only tenant when `name` is `None`.
    pub fn tenant(&self, name: Option<&str>) -> Result<&TenantConfig, ConfigError> {
        let known = || self.tenants.keys().cloned().collect::<Vec<_>>().join(", ");
        match name {
            Some(name) => self
                .tenants
                .get(name)
                .ok_or_else(|| ConfigError::UnknownTenant {
                    path: self.path.clone(),
                    name: name.to_string(),
                    known: known(),
                }),
            None if self.tenants.len() == 1 => {
                Ok(self.tenants.values().next().expect("one tenant"))
            }
            None => Err(ConfigError::AmbiguousTenant {
                path: self.path.clone(),
                known: known(),
            }),
        }
    }
}

impl ProviderConfig {
    pub(super) fn from_raw(
        name: &str,
        raw: RawProvider,
        base: &Path,
    ) -> Result<Self, ProviderProblem> {
        let sha256 = match raw.sha256 {
            Some(hex) => {
                let hex = hex.trim().to_ascii_lowercase();
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(ProviderProblem::Sha256 { hex });
                }
                Some(hex)
            }
            None => None,
        };
        let allow = raw
            .allow
            .iter()
            .map(|grant| grant.resolve(base))
            .collect::<Result<Vec<_>, ProviderProblem>>()?;
        let memory = match &raw.memory {
            Some(text) => parse_size(text).map_err(ProviderProblem::Memory)?,
            None => limits::DEFAULT_MEMORY_BYTES,
        };
        if memory > limits::MAX_MEMORY_BYTES {
            return Err(ProviderProblem::MemoryAboveCeiling {
                text: raw.memory.unwrap_or_default(),
                ceiling_mib: limits::MAX_MEMORY_BYTES >> 20,
            });
        }
        let timeout = match raw.timeout {
            Some(text) => humantime::parse_duration(&text)
                .map_err(|source| ProviderProblem::Timeout { text, source })?,
            None => limits::DEFAULT_CALL_TIMEOUT,
        };
        if timeout.is_zero() {
            return Err(ProviderProblem::ZeroTimeout);
        }
        let max = raw.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY);
        if !(1..=MAX_CONCURRENCY_CEILING).contains(&max) {
            return Err(ProviderProblem::MaxConcurrency { max });
        }
        let concurrency = match raw.adaptive_concurrency.unwrap_or(true) {
            true => Concurrency::Adaptive { max },
            false if raw.max_concurrency.is_some() => {
                return Err(ProviderProblem::MaxConcurrencyUnused);
            }
            false => Concurrency::Unlimited,
        };
        let config = serde_json::to_value(raw.config.unwrap_or_default())
            .map_err(ProviderProblem::NotJson)?;
        Ok(Self {
            name: name.to_string(),
            plugin: base.join(raw.plugin),
            sha256,
            allow,
            memory,
            timeout,
            concurrency,
            config,
            secrets: raw
                .secrets
                .into_iter()
                .map(|(name, secret)| (name, relative_to(secret, base)))
                .collect(),
        })
    }
}

/// The kinds of alert event, as sinks may filter them.
pub const ALERT_EVENTS: &[&str] = &[
    "drift",
    "apply-failed",
    "blocked",
    "plugin-failed",
    "not-converged",
    "chaos-aborted",
    "chaos-restore-failed",
    "recovered",
];

/// A secret read from a file given as a relative path reads it relative
/// to `cairn.toml`'s folder, `base`, wherever Cairn runs from; absolute
/// paths and environment variables stay as they are.
pub(crate) fn relative_to(secret: SecretRef, base: &Path) -> SecretRef {
    match secret {
        SecretRef::File { file } if file.is_relative() => SecretRef::File {
            file: base.join(file),
        },
        other => other,
    }
}

/// [`relative_to`] for a secret that may be absent.
fn anchored(secret: Option<SecretRef>, base: &Path) -> Option<SecretRef> {
    secret.map(|secret| relative_to(secret, base))
}

/// A repository given as a relative path is relative to `cairn.toml`.
fn resolve_repo(repo: &str, base: &Path) -> String {
    if let Some(folder) = repo.strip_prefix(crate::source::FOLDER_PREFIX) {
        return format!(
            "{}{}",
            crate::source::FOLDER_PREFIX,
            resolve_repo(folder, base)
        );
    }
    if repo.contains("://") || Path::new(repo).is_absolute() {
        repo.to_string()
    } else {
        base.join(repo).display().to_string()
    }
}

/// What multi-tenant mode asks for and the file lacks, one line each.
fn multi_tenant_gaps(
    daemon: &DaemonConfig,
    tenants: &BTreeMap<String, TenantConfig>,
) -> Vec<String> {
    let mut missing = Vec::new();
    if daemon.api_token.is_none() {
        missing.push("[daemon] api_token (the operator's token)".to_string());
    }
    for (name, tenant) in tenants {
        if tenant.api_token.is_none() {
            missing.push(format!(
                "[tenants.{name}] api_token (the tenant's own token)"
            ));
        }
        for (provider, settings) in &tenant.providers {
            if settings.sha256.is_none() {
                missing.push(format!(
                    "[tenants.{name}.providers.{provider}] sha256 (pin the plugin: `cairn plugin inspect` prints it)"
                ));
            }
        }
    }
    missing
}

/// The beginnings of the `state` URLs of the stores Cairn opens: an
/// SQLite file or a PostgreSQL database.
pub const STATE_URL_PREFIXES: &[&str] = &["sqlite:", "postgres://", "postgresql://"];

/// `url` without its password, for messages.
pub fn display_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_file_gets_defaults_and_absolute_paths() {
        let config = Config::parse(
            Path::new("/srv/cairn/cairn.toml"),
            r#"
            [tenants.default]
            repo = "../zones.git"
            [tenants.default.providers.dns]
            plugin = "plugins/dns.wasm"
            allow = ["http://127.0.0.1:8081"]
            config = { url = "http://127.0.0.1:8081" }
            secrets = { api_key = { env = "PDNS_API_KEY" } }
            "#,
        )
        .unwrap();
        assert_eq!(config.state, "sqlite:/srv/cairn/.cairn/state.db");
        let tenant = config.tenant(None).unwrap();
        assert_eq!(tenant.repo, "/srv/cairn/../zones.git");
        assert_eq!(tenant.reference, "main");
        let dns = &tenant.providers["dns"];
        assert_eq!(dns.plugin, Path::new("/srv/cairn/plugins/dns.wasm"));
        assert_eq!(dns.memory, limits::DEFAULT_MEMORY_BYTES);
        assert_eq!(dns.config["url"], "http://127.0.0.1:8081");
    }

    #[test]
    fn concurrency_is_adaptive_by_default_and_its_ceiling_checked() {
        let with = |keys: &str| {
            Config::parse(
                Path::new("/srv/cairn/cairn.toml"),
                &format!(
                    "[tenants.default]\nrepo = \"zones.git\"\n[tenants.default.providers.dns]\nplugin = \"dns.wasm\"\n{keys}\n"
                ),
            )
        };
        let concurrency =
            |keys: &str| with(keys).unwrap().tenant(None).unwrap().providers["dns"].concurrency;
        assert_eq!(
            concurrency(""),
            Concurrency::Adaptive {
                max: DEFAULT_MAX_CONCURRENCY
            }
        );
        assert_eq!(
            concurrency("max_concurrency = 4"),
            Concurrency::Adaptive { max: 4 }
        );
        assert_eq!(
            concurrency("adaptive_concurrency = false"),
            Concurrency::Unlimited
        );
        for (keys, said) in [
            (
                "max_concurrency = 0",
                "max_concurrency = 0: write a number of requests from 1 to 1024",
            ),
            ("max_concurrency = 5000", "max_concurrency = 5000"),
            (
                "adaptive_concurrency = false\nmax_concurrency = 4",
                "adaptive_concurrency = false turns off",
            ),
        ] {
            let error = format!("{:#}", anyhow::Error::from(with(keys).unwrap_err()));
            assert!(error.contains(said), "{keys}: {error}");
            assert!(error.contains("providers.dns"), "{keys}: {error}");
        }
    }

    #[test]
    fn secret_files_are_relative_to_the_configuration_file() {
        let config = Config::parse(
            Path::new("/srv/cairn/cairn.toml"),
            r#"
            [daemon]
            api_token = { file = "secrets/operator" }
            [[alerts]]
            url = "http://127.0.0.1:9/alerts"
            secret = { file = "/run/secrets/alerts" }
            [tenants.default]
            repo = "zones.git"
            webhook_secret = { file = "../hook" }
            api_token = { env = "TENANT_TOKEN" }
            [tenants.default.providers.dns]
            plugin = "dns.wasm"
            secrets = { api_key = { file = "pdns.key" } }
            "#,
        )
        .unwrap();
        let file = |secret: &Option<SecretRef>| match secret {
            Some(SecretRef::File { file }) => file.display().to_string(),
            other => panic!("not a file: {other:?}"),
        };
        let tenant = config.tenant(None).unwrap();
        assert_eq!(
            file(&tenant.providers["dns"].secrets.get("api_key").cloned()),
            "/srv/cairn/pdns.key"
        );
        assert_eq!(
            file(&config.daemon.api_token),
            "/srv/cairn/secrets/operator"
        );
        assert_eq!(file(&tenant.webhook_secret), "/srv/cairn/../hook");
        // Absolute paths and environment variables as written.
        assert_eq!(file(&config.alerts[0].secret), "/run/secrets/alerts");
        assert_eq!(
            tenant.api_token,
            Some(SecretRef::Env {
                env: "TENANT_TOKEN".into()
            })
        );
    }

    #[test]
    fn the_cache_key_lives_with_the_state_outside_the_cache() {
        let key = |head: &str| {
            Config::parse(
                Path::new("/srv/cairn/cairn.toml"),
                &format!("{head}\n[tenants.default]\nrepo = \"x\"\n"),
            )
            .unwrap()
            .cache_key
        };
        assert_eq!(key(""), Path::new("/srv/cairn/.cairn/compiled-code.key"));
        assert_eq!(
            key("state = \"sqlite:/var/lib/cairn/state.db\""),
            Path::new("/var/lib/cairn/compiled-code.key")
        );
        assert_eq!(
            key("state = \"postgres://cairn@db:5432/cairn\""),
            Path::new("/srv/cairn/.cairn/compiled-code.key")
        );
        assert_eq!(
            key("cache_key = \"keys/cache.key\""),
            Path::new("/srv/cairn/keys/cache.key")
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_a_line() {
        let error = Config::parse(
            Path::new("cairn.toml"),
            "[tenants.default]\nrepo = \"x\"\nrefs = \"main\"\n",
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("unknown field `refs`"), "{message}");
    }

    #[test]
    fn a_shared_store_and_its_lease_are_checked() {
        let parse = |head: &str| {
            Config::parse(
                Path::new("/srv/cairn/cairn.toml"),
                &format!("{head}\n[tenants.default]\nrepo = \"x\"\n"),
            )
        };
        let config = parse(
            "state = \"postgres://cairn:pw@db:5432/cairn\"\n[daemon]\nid = \"cairn-a\"\nlease = \"5s\"",
        )
        .unwrap();
        assert_eq!(config.state, "postgres://cairn:pw@db:5432/cairn");
        assert_eq!(config.daemon.id.as_deref(), Some("cairn-a"));
        assert_eq!(config.daemon.lease, Duration::from_secs(5));
        assert_eq!(parse("").unwrap().daemon.lease, DEFAULT_LEASE);
        assert_eq!(
            parse("").unwrap().daemon.keep_inventory_from,
            crate::store::DEFAULT_KEEP_INVENTORY_FROM
        );
        let keeping = parse("[daemon]\nkeep_inventory_from = 0").unwrap();
        assert_eq!(keeping.daemon.keep_inventory_from, 0);

        let error = parse("state = \"mysql://root:hunter2@db/cairn\"")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("postgres://USER@HOST:PORT/DATABASE"),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
        let error = parse("[daemon]\nlease = \"1s\"").unwrap_err().to_string();
        assert!(error.contains("[daemon] lease: at least 2s"), "{error}");
        let error = parse("[daemon]\nid = \"a b\"").unwrap_err().to_string();
        assert!(error.contains("[daemon] id = \"a b\""), "{error}");
    }

    #[test]
    fn a_grant_may_name_the_ca_its_https_requests_trust() {
        let config = |allow: &str| {
            Config::parse(
                Path::new("/nonexistent/cairn.toml"),
                &format!(
                    "[tenants.default]\nrepo = \"x\"\n[tenants.default.providers.k8s]\nplugin = \"k.wasm\"\nallow = [{allow}]\n"
                ),
            )
        };
        let error = config(r#"{ url = "https://127.0.0.1:6443", ca = "certs/cluster.crt" }"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/certs/cluster.crt"), "{error}");
        assert!(error.contains("cannot read it"), "{error}");
        let error = config(r#"{ url = "https://127.0.0.1:6443", ca = "c.crt", extra = 1 }"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("to trust a private CA"), "{error}");
    }

    #[test]
    fn adoption_is_off_by_default_in_multi_tenant_mode_and_quotas_have_defaults() {
        let parse = |daemon: &str, tenant: &str| {
            Config::parse(
                Path::new("/srv/cairn/cairn.toml"),
                &format!(
                    "{daemon}\n[tenants.a]\nrepo = \"a.git\"\napi_token = {{ env = \"A\" }}\n{tenant}\n"
                ),
            )
            .unwrap()
        };
        let single = parse("", "");
        let tenant = single.tenant(None).unwrap();
        assert!(tenant.allow_adopt);
        assert_eq!(tenant.quotas, Quotas::default());
        let shared = "[daemon]\nmulti_tenant = true\napi_token = { env = \"OP\" }";
        assert!(!parse(shared, "").tenant(None).unwrap().allow_adopt);
        let allowed = parse(shared, "allow_adopt = true");
        assert!(allowed.tenant(None).unwrap().allow_adopt);
        let limited = parse(
            "",
            "[tenants.a.quotas]\nrepository_bytes = \"1MiB\"\nresources = 10\nmanifest_bytes = \"2KiB\"\nvalues = 99",
        );
        let quotas = &limited.tenant(None).unwrap().quotas;
        assert_eq!((quotas.repository_bytes, quotas.resources), (1 << 20, 10));
        assert_eq!((quotas.manifest_bytes, quotas.values), (2 << 10, 99));
        let error = Config::parse(
            Path::new("cairn.toml"),
            "[tenants.a]\nrepo = \"a.git\"\n[tenants.a.quotas]\nfiles = 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("unknown field `files`"), "{error}");
    }

    /// A plain folder is resolved from the configuration's folder, and
    /// refused where it could not be audited: in a multi-tenant daemon,
    /// and with signatures to check.
    #[test]
    fn a_plain_folder_is_refused_where_it_cannot_be_audited() {
        let path = Path::new("/srv/cairn/cairn.toml");
        let single = Config::parse(path, "[tenants.a]\nrepo = \"dir:desired\"\n").unwrap();
        assert_eq!(single.tenant(None).unwrap().repo, "dir:/srv/cairn/desired");
        let shared = Config::parse(
            path,
            "[daemon]\nmulti_tenant = true\napi_token = { env = \"OP\" }\n[tenants.a]\nrepo = \"dir:desired\"\napi_token = { env = \"A\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            shared.contains("[tenants.a] repo = \"dir:/srv/cairn/desired\": a plain folder is for development and is not auditable"),
            "{shared}"
        );
        let signed = Config::parse(
            path,
            "[tenants.a]\nrepo = \"dir:desired\"\nallowed_signers = \"keys\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            signed.contains("which has no signatures Cairn checks"),
            "{signed}"
        );
    }

    /// An OCI address that is not one, credentials for a source that has
    /// no registry, and a webhook style no forge uses are each refused
    /// where the file says them.
    #[test]
    fn an_artifacts_address_credentials_and_webhook_style_are_checked() {
        let path = Path::new("/srv/cairn/cairn.toml");
        let error = |tenant: &str| Config::parse(path, tenant).unwrap_err().to_string();
        let address = error("[tenants.a]\nrepo = \"oci://registry.example.org\"\n");
        assert!(
            address.contains(
                "[tenants.a] repo: `oci://registry.example.org` is not an OCI artifact's address"
            ),
            "{address}"
        );
        let credentials = error(
            "[tenants.a]\nrepo = \"a.git\"\nregistry_credentials = { username = \"u\", password = { env = \"P\" } }\n",
        );
        assert!(
            credentials.contains("[tenants.a] repo: registry_credentials are for an OCI artifact"),
            "{credentials}"
        );
        let style = error("[tenants.a]\nrepo = \"a.git\"\nwebhook_style = \"gogs\"\n");
        assert!(
            style.contains("line 3")
                && style.contains("unknown variant `gogs`, expected one of `github`"),
            "{style}"
        );
        let fine = Config::parse(
            path,
            "[tenants.a]\nrepo = \"oci://127.0.0.1:5000/team/zones\"\nref = \"sha256:0123\"\nregistry_credentials = { username = \"u\", password = { file = \"p\" } }\nwebhook_style = \"registry\"\n",
        )
        .unwrap();
        let tenant = fine.tenant(None).unwrap();
        assert_eq!(tenant.webhook_style, WebhookStyle::Registry);
        assert_eq!(
            tenant
                .registry_credentials
                .as_ref()
                .map(|c| c.username.as_str()),
            Some("u")
        );
    }

    #[test]
    fn multi_tenant_mode_names_every_missing_pin_and_token() {
        let error = Config::parse(
            Path::new("/srv/cairn/cairn.toml"),
            r#"
            [daemon]
            multi_tenant = true
            [tenants.a]
            repo = "a.git"
            api_token = { env = "A_TOKEN" }
            [tenants.a.providers.dns]
            plugin = "dns.wasm"
            [tenants.b]
            repo = "b.git"
            [tenants.b.providers.dns]
            plugin = "dns.wasm"
            sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
            "#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("[daemon] api_token"), "{error}");
        assert!(
            error.contains("[tenants.a.providers.dns] sha256"),
            "{error}"
        );
        assert!(error.contains("[tenants.b] api_token"), "{error}");
        assert!(!error.contains("[tenants.a] api_token"), "{error}");
        assert!(
            !error.contains("[tenants.b.providers.dns] sha256"),
            "{error}"
        );
    }

    #[test]
    fn an_allowed_signers_file_that_cannot_be_read_is_an_error_at_load() {
        let folder = tempfile::tempdir().unwrap();
        let config = folder.path().join("cairn.toml");
        let text = "[tenants.signed]\nrepo = \"x\"\nallowed_signers = \"keys/allowed_signers\"\n";
        let missing = folder.path().join("keys").join("allowed_signers");
        let error = Config::parse(&config, text).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: [tenants.signed] allowed_signers: file not found: {}",
                config.display(),
                missing.display()
            )
        );
        // A folder where the file should be cannot be read either.
        std::fs::create_dir_all(&missing).unwrap();
        let error = Config::parse(&config, text).unwrap_err().to_string();
        assert!(
            error.contains("[tenants.signed] allowed_signers: cannot read"),
            "{error}"
        );
        std::fs::remove_dir(&missing).unwrap();
        std::fs::write(&missing, "release@example.org ssh-ed25519 AAAA\n").unwrap();
        let loaded = Config::parse(&config, text).unwrap();
        assert_eq!(
            loaded.tenant(None).unwrap().allowed_signers.as_deref(),
            Some(missing.as_path())
        );
    }
}
