//! The store's bulk writes: a batch of 10,000 changes is written in a few
//! dozen multi-row statements instead of 50,000 single ones.

use super::dialect::{placeholders, value_tuples};
use super::{ActionRecord, ActionResult, InventoryChange, Result, StateStore, now_ms, to_json};
use crate::model::{Address, Lifecycle};
use crate::source::CommitInfo;
use serde_json::Value;
use sqlx::{Any, Transaction};

/// Rows per multi-row statement: 12 columns × 500 rows stays well below
/// SQLite's limit of 32,766 bound values and PostgreSQL's of 65,535.
const ROWS_PER_STATEMENT: usize = 500;

/// The inventory's columns, in the order the inserts bind them.
const RESOURCE_COLUMNS: &str =
    "tenant, address, provider, type_name, resource_id, spec_digest, state,
                                lifecycle, depends_on, commit_id, pending, updated_at";

/// One inventory row to insert.
struct ResourceRow<'a> {
    tenant: &'a str,
    address: &'a Address,
    spec_digest: &'a str,
    state: Option<&'a Value>,
    lifecycle: &'a Lifecycle,
    depends_on: &'a [Address],
    commit_id: &'a str,
    pending: bool,
}

/// Inserts inventory rows, ending the statement with `conflict`.
async fn insert_resources(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    rows: &[ResourceRow<'_>],
    conflict: &str,
) -> Result<()> {
    let now = now_ms();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO resources ({RESOURCE_COLUMNS}) VALUES {} {conflict}",
            value_tuples(chunk.len(), 12)
        );
        let mut query = store.query(&sql);
        for row in chunk {
            query = query
                .bind(row.tenant.to_string())
                .bind(row.address.to_string())
                .bind(row.address.provider.clone())
                .bind(row.address.type_name.clone())
                .bind(row.address.id.clone())
                .bind(row.spec_digest.to_string())
                .bind(row.state.map(Value::to_string))
                .bind(to_json(row.lifecycle))
                .bind(to_json(row.depends_on))
                .bind(row.commit_id.to_string())
                .bind(i64::from(row.pending))
                .bind(now);
        }
        query.execute(&mut **transaction).await?;
    }
    Ok(())
}

/// Records creates as pending (see [`StateStore::mark_pending`]).
pub(super) async fn mark_pending(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    tenant: &str,
    commit: &CommitInfo,
    intents: &[(&Address, &Lifecycle, &[Address])],
) -> Result<()> {
    let rows: Vec<ResourceRow> = intents
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
        })
        .collect();
    insert_resources(
        store,
        transaction,
        &rows,
        "ON CONFLICT (tenant, address) DO NOTHING",
    )
    .await
}

/// Journals changes (see [`StateStore::add_intents`]).
pub(super) async fn add_intents(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    tenant: &str,
    run_id: i64,
    intents: &[(&Address, &str, Option<&str>)],
) -> Result<()> {
    let now = now_ms();
    for chunk in intents.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO intents (tenant, run_id, address, action, desired_digest, created_at) VALUES {}",
            value_tuples(chunk.len(), 6)
        );
        let mut query = store.query(&sql);
        for (address, action, digest) in chunk {
            query = query
                .bind(tenant.to_string())
                .bind(run_id)
                .bind(address.to_string())
                .bind(action.to_string())
                .bind(digest.map(str::to_string))
                .bind(now);
        }
        query.execute(&mut **transaction).await?;
    }
    Ok(())
}

/// Writes audit rows and applies their inventory changes.
pub(super) async fn record(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    actions: &[(ActionRecord<'_>, InventoryChange)],
) -> Result<()> {
    let now = now_ms();
    for chunk in actions.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO audit (run_id, time, tenant, commit_id, commit_author, address, action,
                                before_digest, after_digest, result, error, duration_ms) VALUES {}",
            value_tuples(chunk.len(), 12)
        );
        let mut query = store.query(&sql);
        for (action, _) in chunk {
            query = query
                .bind(action.run_id)
                .bind(now)
                .bind(action.tenant.to_string())
                .bind(action.commit.id.clone())
                .bind(action.commit.author.clone())
                .bind(action.address.to_string())
                .bind(action.action.to_string())
                .bind(action.before_digest.clone())
                .bind(action.after_digest.clone())
                .bind(action.result.as_str())
                .bind(action.error.clone())
                .bind(i64::try_from(action.duration.as_millis()).unwrap_or(i64::MAX));
        }
        query.execute(&mut **transaction).await?;
    }

    // The outcomes are recorded: those changes are no longer in flight
    // (unless their outcome is unknown).
    let settled: Vec<&ActionRecord<'_>> = actions
        .iter()
        .filter(|(_, change)| !matches!(change, InventoryChange::Unknown))
        .map(|(action, _)| action)
        .collect();
    delete_addresses(store, transaction, "DELETE FROM intents WHERE ", &settled).await?;

    let owned: Vec<ResourceRow> = actions
        .iter()
        .filter_map(|(action, change)| match change {
            InventoryChange::Own {
                spec_digest,
                state,
                lifecycle,
                depends_on,
                pending,
            } => Some(ResourceRow {
                tenant: action.tenant,
                address: action.address,
                spec_digest,
                state: state.as_ref(),
                lifecycle,
                depends_on,
                commit_id: &action.commit.id,
                pending: *pending,
            }),
            _ => None,
        })
        .collect();
    insert_resources(
        store,
        transaction,
        &owned,
        "ON CONFLICT (tenant, address) DO UPDATE SET
            spec_digest = excluded.spec_digest, state = excluded.state,
            lifecycle = excluded.lifecycle, depends_on = excluded.depends_on,
            commit_id = excluded.commit_id, pending = excluded.pending,
            updated_at = excluded.updated_at, status = 'in-sync', last_error = NULL",
    )
    .await?;

    let forgotten: Vec<&ActionRecord<'_>> = actions
        .iter()
        .filter(|(_, change)| matches!(change, InventoryChange::Forget))
        .map(|(action, _)| action)
        .collect();
    delete_addresses(
        store,
        transaction,
        "DELETE FROM resources WHERE ",
        &forgotten,
    )
    .await?;
    let dropped: Vec<&ActionRecord<'_>> = actions
        .iter()
        .filter(|(_, change)| matches!(change, InventoryChange::DropPending))
        .map(|(action, _)| action)
        .collect();
    delete_addresses(
        store,
        transaction,
        "DELETE FROM resources WHERE pending = 1 AND ",
        &dropped,
    )
    .await?;

    // Failures are few: one statement each.
    for (action, change) in actions {
        let kept = matches!(change, InventoryChange::Keep | InventoryChange::Unknown);
        if kept && action.result == ActionResult::Failed {
            store
                .query(
                    "UPDATE resources SET status = 'failed', last_error = ?, updated_at = ?
                     WHERE tenant = ? AND address = ?",
                )
                .bind(action.error.clone())
                .bind(now)
                .bind(action.tenant.to_string())
                .bind(action.address.to_string())
                .execute(&mut **transaction)
                .await?;
        }
    }
    Ok(())
}

/// Runs `prefix tenant = ? AND address IN (...)` for the actions'
/// addresses, in batches.
async fn delete_addresses(
    store: &StateStore,
    transaction: &mut Transaction<'static, Any>,
    prefix: &'static str,
    actions: &[&ActionRecord<'_>],
) -> Result<()> {
    for chunk in actions.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "{prefix}tenant = ? AND address IN ({})",
            placeholders(chunk.len())
        );
        let mut query = store.query(&sql).bind(chunk[0].tenant.to_string());
        for action in chunk {
            query = query.bind(action.address.to_string());
        }
        query.execute(&mut **transaction).await?;
    }
    Ok(())
}
