//! A tenant's quotas: how much of the host one tenant's repository and
//! plans may use. They are the operator's (`[tenants.NAME.quotas]`);
//! exceeding one stops that tenant's run with an error naming the quota,
//! recorded and alerted like any failed run, and no other tenant notices.
//!
//! Each is checked before the work it bounds: files and bytes from the
//! tree and the objects' headers before a blob is read, resources and
//! values by counting every file's tokens before any file is parsed
//! ([`crate::model::count`]), manifest bytes before any manifest is
//! parsed, changes before anything is applied.

/// Resources one commit may declare unless the operator says otherwise:
/// ten times the largest repositories the benchmarks load.
pub const DEFAULT_RESOURCES: usize = 100_000;

/// TOML values (table headers, keys' values, array entries, inline tables)
/// one commit's resource files may hold: ten for each of
/// [`DEFAULT_RESOURCES`]. Memory follows values more than resources — one
/// resource may hold a million-entry array in a 4 MiB file — and a load
/// peaks at about 280 bytes per value (a million small integers in one
/// file: 275 MiB), so this bounds a load near the resources quota's own
/// peak.
pub const DEFAULT_VALUES: usize = 1_000_000;

/// Files below the tenant's folder one commit may hold: the tree is walked
/// whole on every new commit, so a repository of a million files would
/// stall the tenant's worker.
pub const DEFAULT_REPOSITORY_FILES: usize = 50_000;

/// Bytes of resource files and manifests one commit may make Cairn read.
pub const DEFAULT_REPOSITORY_BYTES: u64 = 256 << 20;

/// Bytes of the manifests a commit's resources name, each file counted
/// once however many resources name it. A manifest is parsed into JSON
/// that travels to the plugin's `validate` inside every resource naming it,
/// and the plugin parses it again at several times its size: 32 MiB is what
/// a provider at the largest default memory (`plugin_memory`, 256 MiB) can
/// take in, where the Kubernetes provider's own test manifests are a few
/// KiB.
pub const DEFAULT_MANIFEST_BYTES: u64 = 32 << 20;

/// Changes one plan may hold: a larger one is almost certainly a mistake
/// (a renamed zone, a bulk import) and is better split.
pub const DEFAULT_PLAN_CHANGES: usize = 20_000;

/// Linear memory any one of the tenant's plugin calls may be given.
pub const DEFAULT_PLUGIN_MEMORY: u64 = 256 << 20;

/// A tenant's quotas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    /// Resources per commit.
    pub resources: usize,
    /// TOML values in the resource files per commit.
    pub values: usize,
    /// Files below the tenant's folder per commit.
    pub repository_files: usize,
    /// Bytes of resource files and manifests read per commit.
    pub repository_bytes: u64,
    /// Bytes of the manifests resources name per commit, each counted once.
    pub manifest_bytes: u64,
    /// Changes per plan.
    pub plan_changes: usize,
    /// The most `memory` any of the tenant's providers may be configured
    /// with (checked when the tenant's plugins are loaded: a provider over
    /// it keeps that tenant from loading, and no other).
    pub plugin_memory: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            resources: DEFAULT_RESOURCES,
            values: DEFAULT_VALUES,
            repository_files: DEFAULT_REPOSITORY_FILES,
            repository_bytes: DEFAULT_REPOSITORY_BYTES,
            manifest_bytes: DEFAULT_MANIFEST_BYTES,
            plan_changes: DEFAULT_PLAN_CHANGES,
            plugin_memory: DEFAULT_PLUGIN_MEMORY,
        }
    }
}

/// A quota a commit or a plan went over.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "quota exceeded: {what} is {actual}, more than `quotas.{key} = {limit}` allows{}. Nothing was applied; make the commit smaller or split it over several tenants, or ask the operator to raise `quotas.{key}` in [tenants.NAME.quotas]",
    at_suffix(.at)
)]
pub struct QuotaExceeded {
    /// The quota's key in `[tenants.NAME.quotas]`.
    pub key: &'static str,
    /// What was counted, for the message.
    pub what: String,
    /// How much there was.
    pub actual: u64,
    /// The quota.
    pub limit: u64,
    /// Where the count went over, when it is a place in the commit
    /// (`zones/big.toml:1:300013`).
    pub at: Option<String>,
}

fn at_suffix(at: &Option<String>) -> String {
    at.as_ref()
        .map(|at| format!(" (it went over at {at})"))
        .unwrap_or_default()
}

impl QuotaExceeded {
    /// `Err` when `actual` is above `limit`.
    pub fn check(key: &'static str, what: &str, actual: u64, limit: u64) -> Result<(), Self> {
        if actual > limit {
            Err(Self {
                key,
                what: what.to_string(),
                actual,
                limit,
                at: None,
            })
        } else {
            Ok(())
        }
    }

    /// The same, saying where the count went over.
    pub fn at(mut self, at: impl std::fmt::Display) -> Self {
        self.at = Some(at.to_string());
        self
    }
}
