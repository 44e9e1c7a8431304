//! What the daemon knows of each tenant between runs, for the status API.

use crate::source::CommitInfo;
use crate::store::LeaseRecord;
use serde::{Deserialize, Serialize};

/// Why a reconcile ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// The first run after start.
    Start,
    /// The poll interval elapsed.
    Poll,
    /// A signed push webhook arrived.
    Webhook,
    /// The drift interval elapsed.
    Drift,
    /// A failed resource or tenant is due for a retry.
    Retry,
}

/// The last reconcile of a tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastRun {
    /// When it finished, RFC 3339.
    pub at: String,
    /// Why it ran.
    pub trigger: Trigger,
    /// `skipped` (nothing moved), `in-sync`, `applied`, `partial`,
    /// `failed`, `blocked`, `planned` (plan-only or suspended), `error`.
    pub outcome: String,
    /// Changes planned.
    pub changes: usize,
    /// Changes that failed.
    pub failures: usize,
    /// How long it took.
    pub duration_ms: u64,
    /// Its run in the history, when one was recorded.
    pub run_id: Option<i64>,
}

/// A tenant's live status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantStatus {
    /// The tenant.
    pub name: String,
    /// The ref followed.
    pub reference: String,
    /// Whether its plugins are loaded.
    pub loaded: bool,
    /// Why they are not, when loading failed.
    pub load_error: Option<String>,
    /// The commit last reconciled.
    pub commit: Option<CommitInfo>,
    /// The last run.
    pub last_run: Option<LastRun>,
    /// The error of the last run, when it failed as a whole.
    pub last_error: Option<String>,
    /// Why the last plan was blocked, when it was.
    pub blocked: Vec<String>,
    /// Owned objects found drifted and not (yet) repaired.
    pub drifted: Vec<String>,
    /// Resources waiting for a retry after a failure.
    pub retrying: Vec<String>,
    /// The daemon reconciling the tenant, while one holds its lease.
    pub holder: Option<String>,
    /// The tenant's lease, while one is held (filled in by the status API).
    #[serde(default)]
    pub lease: Option<LeaseRecord>,
}

impl TenantStatus {
    /// The status of a tenant not started yet.
    pub fn new(name: &str, reference: &str) -> Self {
        Self {
            name: name.to_string(),
            reference: reference.to_string(),
            loaded: false,
            load_error: None,
            commit: None,
            last_run: None,
            last_error: None,
            blocked: Vec::new(),
            drifted: Vec::new(),
            retrying: Vec::new(),
            holder: None,
            lease: None,
        }
    }
}
