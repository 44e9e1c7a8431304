//! What the daemon knows of each tenant between runs, for the status API,
//! and the signal its changes send to the dashboard's live pages.

use crate::source::CommitInfo;
use crate::store::LeaseRecord;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// Changes a live page may miss before it is told to reload whole: past
/// this a slow subscriber's oldest are dropped, so a reader that never
/// reads holds at most this many names.
pub const MAX_UNREAD_CHANGES: usize = 256;

/// Tells subscribers which tenant's status changed: sent by the workers
/// when a run ends and by plugin loading; read by the dashboard's event
/// stream. Sending costs nothing when no page listens.
#[derive(Debug, Clone)]
pub struct StatusChanges {
    sender: broadcast::Sender<Arc<str>>,
    /// How many changes were sent since the daemon started: a page
    /// rendered at one count and subscribing at another missed some.
    count: Arc<AtomicU64>,
}

impl Default for StatusChanges {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(MAX_UNREAD_CHANGES).0,
            count: Arc::default(),
        }
    }
}

impl StatusChanges {
    /// Tells every subscriber that `tenant`'s status changed.
    pub fn changed(&self, tenant: &str) {
        self.count.fetch_add(1, Ordering::SeqCst);
        // No subscriber is not an error: no page is open.
        let _ = self.sender.send(Arc::from(tenant));
    }

    /// How many changes were sent so far; read before a page reads what
    /// it shows.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// A receiver of the changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.sender.subscribe()
    }
}

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
    /// A provider asked to compare a resource again at this time (a chaos
    /// experiment's run to start or end).
    Recheck,
}

/// How a reconcile that ran ended (a check that found nothing due is not
/// a run). The `outcome` label of `cairn_reconcile_runs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The world matches Git; nothing was changed.
    InSync,
    /// Drift was found and, with self-heal off, left as it is.
    Drifted,
    /// Every change was applied.
    Applied,
    /// Some changes were applied, some failed or were held back.
    Partial,
    /// Every change failed.
    Failed,
    /// The safety threshold or a policy refused the plan.
    Blocked,
    /// The plan was made and not applied (plan-only mode, or suspended).
    Planned,
    /// The run failed as a whole (see the tenant's `last_error`).
    Error,
}

impl Outcome {
    /// The word shown in the status API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InSync => "in-sync",
            Self::Drifted => "drifted",
            Self::Applied => "applied",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
            Self::Planned => "planned",
            Self::Error => "error",
        }
    }
}

/// The last reconcile of a tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastRun {
    /// When it finished, RFC 3339.
    pub at: String,
    /// Why it ran.
    pub trigger: Trigger,
    /// How it ended.
    pub outcome: Outcome,
    /// Changes planned.
    pub changes: usize,
    /// Changes that failed.
    pub failures: usize,
    /// How long it took.
    pub duration_ms: u64,
    /// Its run in the history, when one was recorded.
    pub run_id: Option<i64>,
}

/// One drifted object and the fields where the world differs from Git.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriftDetail {
    /// The resource.
    pub address: String,
    /// One line for people.
    pub summary: String,
    /// The fields that differ: `before` is the world's, `after` Git's.
    pub fields: Vec<cairn_contract::FieldChange>,
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
    /// Why the last plan was blocked, when it was: the safety threshold's
    /// reasons, or the policies that block it.
    pub blocked: Vec<String>,
    /// What the tenant's policies found in the last plan, blocking
    /// findings first.
    #[serde(default)]
    pub findings: Vec<crate::plan::PolicyFinding>,
    /// Owned objects found drifted and not (yet) repaired.
    pub drifted: Vec<String>,
    /// Resources waiting for a retry after a failure.
    pub retrying: Vec<String>,
    /// Resources held because their provider did not converge after their
    /// last apply: not applied again until their spec in Git or their
    /// provider's plugin changes.
    #[serde(default)]
    pub not_converged: Vec<String>,
    /// What differs on each drifted object, as the last plan found it
    /// (the values of sensitive fields withheld).
    #[serde(default)]
    pub drift: Vec<DriftDetail>,
    /// Resources other resources hold on purpose, as the last plan found
    /// them: a running chaos experiment (`by`) and its targets, how long
    /// the hold lasts at most (from the plan), and the change withheld
    /// meanwhile.
    #[serde(default)]
    pub holds: Vec<crate::plan::Held>,
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
            findings: Vec::new(),
            drifted: Vec::new(),
            drift: Vec::new(),
            retrying: Vec::new(),
            not_converged: Vec::new(),
            holds: Vec::new(),
            holder: None,
            lease: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_serialize_as_the_words_the_metrics_use() {
        for outcome in [
            Outcome::InSync,
            Outcome::Drifted,
            Outcome::Applied,
            Outcome::Partial,
            Outcome::Failed,
            Outcome::Blocked,
            Outcome::Planned,
            Outcome::Error,
        ] {
            let json = serde_json::to_value(outcome).expect("serializes");
            assert_eq!(json, outcome.as_str());
            let back: Outcome = serde_json::from_value(json).expect("parses");
            assert_eq!(back, outcome);
        }
    }
}
