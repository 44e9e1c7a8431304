//! The store's bulk writes: a batch of 10,000 changes is written in a few
//! dozen multi-row statements instead of 50,000 single ones.

use super::dialect::{placeholders, value_tuples};
use super::error::Result;
use super::inventory::{Divergence, InventoryChange, OwnedResource, to_json};
use super::runs::ActionRecord;
use super::vocabulary::{ActionResult, AuditAction, ResourceStatus};
use super::{StateStore, millis, now_ms};
use crate::model::{Address, Lifecycle};
use crate::plan::PlanAction;
use crate::source::CommitInfo;
use serde_json::Value;
use sqlx::{Any, Row, Transaction};
use std::time::Duration;

/// Rows per multi-row statement: 14 columns × 500 rows stays well below
/// SQLite's limit of 32,766 bound values and PostgreSQL's of 65,535.
const ROWS_PER_STATEMENT: usize = 500;

/// The inventory's columns, in the order the inserts bind them: the
/// three that every row of one write shares first (bound once), then the
/// row's own (the columns of its `VALUES` tuple).
const RESOURCE_COLUMNS: &str = "tenant, commit_id, updated_at,
                                address, provider, type_name, resource_id, spec_digest, state,
                                lifecycle, depends_on, pending, diverged, recheck";

/// The values of a row of [`RESOURCE_COLUMNS`] that are its own.
const RESOURCE_ROW_VALUES: usize = 11;

/// What every row of a write shares is bound once: ten thousand rows
/// bind a third fewer values. The rows come as a `VALUES` list whose
/// columns both engines name `column1`, `column2`, … (`WHERE true` keeps
/// SQLite from reading the `ON CONFLICT` that may follow as a join's).
fn select_values(shared: usize, rows: usize, columns: usize) -> String {
    let selected: Vec<String> = std::iter::repeat_n("?".to_string(), shared)
        .chain((1..=columns).map(|n| format!("column{n}")))
        .collect();
    format!(
        "SELECT {} FROM (VALUES {}) AS v WHERE true",
        selected.join(", "),
        value_tuples(rows, columns)
    )
}

/// The run an audit row belongs to.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunRef<'a> {
    /// Its number.
    pub id: i64,
    /// Its tenant.
    pub tenant: &'a str,
    /// Its commit.
    pub commit: &'a CommitInfo,
}

/// One audit row to insert, with its effect on the inventory.
#[derive(Debug, Clone, Copy)]
pub(super) struct AuditRow<'a> {
    /// The resource.
    pub address: &'a Address,
    /// What was done or found.
    pub action: AuditAction,
    /// sha256 of the state before.
    pub before_digest: Option<&'a str>,
    /// sha256 of the state after.
    pub after_digest: Option<&'a str>,
    /// How it ended.
    pub result: ActionResult,
    /// The error, or what was found.
    pub error: Option<&'a str>,
    /// What the change did, in its provider's words.
    pub summary: Option<&'a str>,
    /// How long it took.
    pub duration: Duration,
    /// What it does to the inventory.
    pub change: &'a InventoryChange,
}

impl<'a> AuditRow<'a> {
    /// The row of a change's outcome.
    pub fn of_action(action: &'a ActionRecord<'a>, change: &'a InventoryChange) -> Self {
        Self {
            address: action.address,
            action: AuditAction::Change(action.action),
            before_digest: action.before_digest.as_deref(),
            after_digest: action.after_digest.as_deref(),
            result: action.result,
            error: action.error.as_deref(),
            summary: action.summary.as_deref(),
            duration: action.duration,
            change,
        }
    }
}

/// One inventory row to insert.
pub(super) struct ResourceRow<'a> {
    tenant: &'a str,
    address: &'a Address,
    spec_digest: &'a str,
    state: Option<&'a Value>,
    lifecycle: &'a Lifecycle,
    depends_on: &'a [Address],
    commit_id: &'a str,
    pending: bool,
    diverged: Option<&'a Divergence>,
    recheck: bool,
}

impl ResourceRow<'_> {
    /// The object's address.
    pub(super) fn address(&self) -> &Address {
        self.address
    }

    /// The object as the inventory reads it back once the row is written
    /// (the state as the text the row binds).
    pub(super) fn to_owned_resource(&self) -> OwnedResource {
        OwnedResource {
            address: self.address.clone(),
            spec_digest: self.spec_digest.to_string(),
            state: self.state.map(Value::to_string),
            lifecycle: self.lifecycle.clone(),
            depends_on: self.depends_on.to_vec(),
            commit_id: self.commit_id.to_string(),
            pending: self.pending,
            diverged: self.diverged.cloned(),
            recheck: self.recheck,
        }
    }
}

/// The rows of creates marked pending ([`mark_pending`]).
pub(super) fn pending_rows<'a>(
    tenant: &'a str,
    commit: &'a CommitInfo,
    creates: &'a [(&'a Address, &'a Lifecycle, &'a [Address])],
) -> Vec<ResourceRow<'a>> {
    creates
        .iter()
        .map(|(address, lifecycle, depends_on)| ResourceRow {
            tenant,
            address,
            spec_digest: "",
            state: None,
            lifecycle,
            depends_on,
            commit_id: &commit.id,
            pending: true,
            diverged: None,
            recheck: false,
        })
        .collect()
}

/// The rows of the objects audit `rows` of `run` own ([`record`]).
pub(super) fn owned_rows<'a>(run: RunRef<'a>, rows: &'a [AuditRow<'a>]) -> Vec<ResourceRow<'a>> {
    rows.iter()
        .filter_map(|row| match row.change {
            InventoryChange::Own {
                spec_digest,
                state,
                lifecycle,
                depends_on,
                pending,
                diverged,
                recheck,
            } => Some(ResourceRow {
                tenant: run.tenant,
                address: row.address,
                spec_digest,
                state: state.as_ref(),
                lifecycle,
                depends_on,
                commit_id: &run.commit.id,
                pending: *pending,
                diverged: diverged.as_ref(),
                recheck: *recheck,
            }),
            _ => None,
        })
        .collect()
}

/// What inserting an inventory row does when the object is already there.
#[derive(Debug, Clone, Copy)]
enum OnConflict {
    /// Leaves the row as it is (a create marked pending that is owned
    /// already).
    Keep,
    /// Replaces it, and the object is in sync again (an applied change;
    /// one whose provider did not converge is marked failed after).
    Replace,
}

impl OnConflict {
    /// The statement's ending, and the status word it binds after the
    /// rows' values.
    fn sql(self) -> (&'static str, Option<ResourceStatus>) {
        match self {
            Self::Keep => ("ON CONFLICT (tenant, address) DO NOTHING", None),
            Self::Replace => (
                "ON CONFLICT (tenant, address) DO UPDATE SET
                    spec_digest = excluded.spec_digest, state = excluded.state,
                    lifecycle = excluded.lifecycle, depends_on = excluded.depends_on,
                    commit_id = excluded.commit_id, pending = excluded.pending,
                    updated_at = excluded.updated_at, diverged = excluded.diverged,
                    recheck = excluded.recheck, status = ?, last_error = NULL",
                Some(ResourceStatus::InSync),
            ),
        }
    }
}

/// Inserts inventory rows, all of `tenant` and one commit.
async fn insert_resources(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    rows: &[ResourceRow<'_>],
    on_conflict: OnConflict,
) -> Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let now = now_ms();
    let (conflict, status) = on_conflict.sql();
    let texts = DefaultTexts::new();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO resources ({RESOURCE_COLUMNS}) {} {conflict}",
            select_values(3, chunk.len(), RESOURCE_ROW_VALUES)
        );
        let mut query = store
            .query(&sql)
            .bind(first.tenant.to_string())
            .bind(first.commit_id.to_string())
            .bind(now);
        for row in chunk {
            debug_assert!(row.tenant == first.tenant && row.commit_id == first.commit_id);
            query = query
                .bind(row.address.to_string())
                .bind(row.address.provider.clone())
                .bind(row.address.type_name.clone())
                .bind(row.address.id.clone())
                .bind(row.spec_digest.to_string())
                .bind(row.state.map(Value::to_string))
                .bind(texts.lifecycle(row.lifecycle))
                .bind(texts.depends_on(row.depends_on))
                .bind(i64::from(row.pending))
                .bind(row.diverged.map(to_json))
                .bind(i64::from(row.recheck));
        }
        if let Some(status) = status {
            query = query.bind(status.as_str());
        }
        query.execute(&mut **transaction).await?;
    }
    Ok(())
}

/// The texts of the lifecycle and dependencies most objects have (the
/// defaults, none), written out once per write rather than once a row.
struct DefaultTexts {
    lifecycle: String,
}

impl DefaultTexts {
    fn new() -> Self {
        Self {
            lifecycle: to_json(&Lifecycle::default()),
        }
    }

    fn lifecycle(&self, lifecycle: &Lifecycle) -> String {
        if *lifecycle == Lifecycle::default() {
            self.lifecycle.clone()
        } else {
            to_json(lifecycle)
        }
    }

    fn depends_on(&self, depends_on: &[Address]) -> String {
        if depends_on.is_empty() {
            "[]".to_string()
        } else {
            to_json(depends_on)
        }
    }
}

/// Records creates as pending (see [`StateStore::mark_pending`]).
pub(super) async fn mark_pending(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    tenant: &str,
    commit: &CommitInfo,
    creates: &[(&Address, &Lifecycle, &[Address])],
) -> Result<()> {
    let rows = pending_rows(tenant, commit, creates);
    insert_resources(store, transaction, &rows, OnConflict::Keep).await
}

/// Journals changes (see [`StateStore::add_intents`]).
pub(super) async fn add_intents(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    tenant: &str,
    run_id: i64,
    intents: &[(&Address, PlanAction, Option<&str>)],
) -> Result<()> {
    let now = now_ms();
    for chunk in intents.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO intents (tenant, run_id, created_at, address, action, desired_digest) {}",
            select_values(3, chunk.len(), 3)
        );
        let mut query = store
            .query(&sql)
            .bind(tenant.to_string())
            .bind(run_id)
            .bind(now);
        for (address, action, digest) in chunk {
            query = query
                .bind(address.to_string())
                .bind(action.as_str())
                .bind(digest.map(str::to_string));
        }
        query.execute(&mut **transaction).await?;
    }
    Ok(())
}

/// Writes audit rows of `run` and applies their inventory changes.
pub(super) async fn record(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    run: RunRef<'_>,
    rows: &[AuditRow<'_>],
) -> Result<()> {
    let now = now_ms();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO audit (run_id, time, tenant, commit_id, commit_author, address, action,
                                before_digest, after_digest, result, error, summary, duration_ms)
             {}",
            select_values(5, chunk.len(), 8)
        );
        let mut query = store
            .query(&sql)
            .bind(run.id)
            .bind(now)
            .bind(run.tenant.to_string())
            .bind(run.commit.id.clone())
            .bind(run.commit.author.clone());
        for row in chunk {
            query = query
                .bind(row.address.to_string())
                .bind(row.action.as_str())
                .bind(row.before_digest.map(str::to_string))
                .bind(row.after_digest.map(str::to_string))
                .bind(row.result.as_str())
                .bind(row.error.map(str::to_string))
                .bind(row.summary.map(str::to_string))
                .bind(millis(row.duration));
        }
        query.execute(&mut **transaction).await?;
    }

    // The outcomes are recorded: those changes are no longer in flight
    // (unless their outcome is unknown).
    let settled: Vec<&Address> = rows
        .iter()
        .filter(|row| !matches!(row.change, InventoryChange::Unknown))
        .map(|row| row.address)
        .collect();
    delete_addresses(
        store,
        transaction,
        "DELETE FROM intents WHERE ",
        run.tenant,
        &settled,
    )
    .await?;

    let owned = owned_rows(run, rows);
    insert_resources(store, transaction, &owned, OnConflict::Replace).await?;

    let forgotten: Vec<&Address> = rows
        .iter()
        .filter(|row| matches!(row.change, InventoryChange::Forget))
        .map(|row| row.address)
        .collect();
    delete_addresses(
        store,
        transaction,
        "DELETE FROM resources WHERE ",
        run.tenant,
        &forgotten,
    )
    .await?;
    let dropped: Vec<&Address> = rows
        .iter()
        .filter(|row| matches!(row.change, InventoryChange::DropPending))
        .map(|row| row.address)
        .collect();
    delete_addresses(
        store,
        transaction,
        "DELETE FROM resources WHERE pending = 1 AND ",
        run.tenant,
        &dropped,
    )
    .await?;

    // Failures are few: one statement each. An object still recorded
    // after a failed change (kept as it was, or owned by a change whose
    // provider did not converge) is marked failed, with the error.
    for row in rows {
        let recorded = !matches!(
            row.change,
            InventoryChange::Forget | InventoryChange::DropPending
        );
        if recorded && row.result == ActionResult::Failed {
            store
                .query(
                    "UPDATE resources SET status = ?, last_error = ?, updated_at = ?
                     WHERE tenant = ? AND address = ?",
                )
                .bind(ResourceStatus::Failed.as_str())
                .bind(row.error.map(str::to_string))
                .bind(now)
                .bind(run.tenant.to_string())
                .bind(row.address.to_string())
                .execute(&mut **transaction)
                .await?;
        }
    }
    Ok(())
}

/// Counts a write of `tenant`'s inventory or journal, in its transaction:
/// the tenant's inventory version, one more, which a copy kept in memory
/// ([`super::mirror`]) is checked against. Every transaction that writes
/// the `resources` or `intents` rows of a tenant calls it once.
pub(super) async fn next_inventory_version(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    tenant: &str,
) -> Result<i64> {
    let version: i64 = store
        .query(
            "INSERT INTO inventory_versions (tenant, version) VALUES (?, 1)
             ON CONFLICT (tenant) DO UPDATE SET version = inventory_versions.version + 1
             RETURNING version",
        )
        .bind(tenant.to_string())
        .fetch_one(&mut **transaction)
        .await?
        .try_get(0)?;
    Ok(version)
}

/// Runs `prefix tenant = ? AND address IN (...)` for the addresses, in
/// batches.
async fn delete_addresses(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    prefix: &'static str,
    tenant: &str,
    addresses: &[&Address],
) -> Result<()> {
    for chunk in addresses.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "{prefix}tenant = ? AND address IN ({})",
            placeholders(chunk.len())
        );
        let mut query = store.query(&sql).bind(tenant.to_string());
        for address in chunk {
            query = query.bind(address.to_string());
        }
        query.execute(&mut **transaction).await?;
    }
    Ok(())
}
