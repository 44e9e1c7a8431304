//! The state store: the inventory of objects Cairn owns, the runs of plan
//! and apply with their append-only audit log, the journal of changes in
//! flight, each tenant's control state and resource statuses, what each
//! release tag named when first read, and — when
//! several daemons share one store — their leases. SQLite (`sqlite:PATH`)
//! is the embedded default; PostgreSQL (`postgres://…`) lets several
//! daemons share one store. Both get the same schema from
//! `migrations/<engine>/`, applied on open, and the same queries
//! ([`dialect`]).
//!
//! One handle, [`StateStore`], and one module per concern, each adding its
//! own `impl StateStore` block over the tables it owns:
//!
//! | module | what it keeps |
//! | --- | --- |
//! | `open` | connecting, migrating, choosing the dialect; retries |
//! | `fence` | the lease a worker's writes check ([`Fence`]) |
//! | `inventory` | the objects owned ([`OwnedResource`], [`InventoryChange`]) |
//! | `mirror` | a worker's copy of its tenant's inventory, kept in step |
//! | `runs` | runs, their actions and the history ([`RunRecorder`]) |
//! | `journal` | changes sent to a plugin and not yet recorded ([`Intent`]) |
//! | `control` | suspension, rollback hold, last commits ([`TenantState`]) |
//! | `status` | each owned resource's status, counts for metrics |
//! | `lease` | daemons alive and tenant leases ([`LeaseRecord`]) |
//! | `tags` | the revision each release tag named when first read |
//! | [`vocabulary`] | the words stored: run kinds, outcomes, results |
//!
//! Blocks on one handle rather than a view type per concern: every concern
//! writes through the same fenced transaction (`begin_write`), several
//! write together in one transaction (an action, its inventory effect and
//! the end of its journal entry), and callers already hold one store — a
//! view each would only be a second name for the same pool. What is not
//! the database's record stays out of it: the messages daemons pass each
//! other are [`Coordination`], and the file locks that keep a CLI command
//! and a daemon apart are `crate::tenant_lock`.
//!
//! Runs are written only through [`StateStore::begin_run`], whose
//! [`RunRecorder`] records each action together with its effect on the
//! inventory in one transaction, so the two never disagree, and then
//! finishes the run, or, for a run without actions (a plan, an event, a
//! refusal), whole through [`StateStore::record_whole_run`]. A store opened for a daemon's worker carries the
//! tenant's lease ([`Fence`]): each of its write transactions first
//! checks, in the same transaction, that the lease still has the worker's
//! token, so a daemon that lost the tenant cannot write for it.

mod batch;
mod control;
mod coordination;
pub mod dialect;
mod error;
mod fence;
mod inventory;
mod journal;
mod lease;
mod mirror;
mod open;
mod runs;
mod status;
mod tags;
mod verdicts;
pub mod vocabulary;

pub use crate::config::display_url;
pub use control::TenantState;
pub use coordination::{Coordination, LiveStatus, TriggerListener};
pub use error::{CorruptValue, Result, StoreError};
pub use fence::Fence;
pub use inventory::{Divergence, Inventory, InventoryChange, OwnedResource};
pub use journal::Intent;
pub use lease::{DaemonRecord, LeaseRecord};
pub use mirror::DEFAULT_KEEP_INVENTORY_FROM;
pub use runs::{
    ActionRecord, AppliedCommit, AuditRecord, DriftRecord, RunCounts, RunRecord, RunRecorder,
    WholeRun,
};
pub use status::{ResourceStatusRecord, StatusPage, StatusQuery, TenantCounts};
pub use verdicts::Verdict;
pub use vocabulary::{
    ActionResult, AuditAction, EventKind, ResourceStatus, RunKind, RunOutcome, UnknownWord,
};

use dialect::Dialect;
use sqlx::AnyPool;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The state store: one pool of connections, shared by its clones.
#[derive(Debug, Clone)]
pub struct StateStore {
    pool: AnyPool,
    dialect: Dialect,
    /// The URL it was opened with (PostgreSQL's trigger listener opens its
    /// own connection with it; the tenant locks' folder is named by it).
    url: Arc<str>,
    /// Set for a daemon's worker: every write checks the tenant's lease.
    fence: Option<Arc<Fence>>,
    /// Set for a daemon's worker: the tenant's inventory, kept in memory
    /// and in step with the worker's own writes.
    mirror: Option<Arc<mirror::InventoryMirror>>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Milliseconds of a duration, for the store's columns and clock
/// arithmetic.
fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
pub(crate) mod tests;
