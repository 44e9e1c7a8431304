//! An operator's control over a tenant — suspend, resume — shared by
//! `cairn suspend`/`cairn resume` and the dashboard's buttons; each is
//! recorded in the history, attributed to who asked.

use crate::source::CommitInfo;
use crate::store::{EventKind, StateStore, StoreError};

/// Stops automatic applies of `tenant` (drift is still reported), as
/// asked by `by`.
pub async fn suspend(store: &StateStore, tenant: &str, by: &str) -> Result<(), StoreError> {
    store.set_suspended(tenant, true).await?;
    record(store, tenant, EventKind::Suspend, "suspended", by).await
}

/// Restarts automatic applies of `tenant` and ends a rollback hold, as
/// asked by `by`.
pub async fn resume(store: &StateStore, tenant: &str, by: &str) -> Result<(), StoreError> {
    store.set_suspended(tenant, false).await?;
    store.set_hold(tenant, None).await?;
    record(store, tenant, EventKind::Resume, "resumed", by).await
}

/// Records an operator's command in the history, at the tenant's last
/// commit, attributed to `by`.
async fn record(
    store: &StateStore,
    tenant: &str,
    event: EventKind,
    what: &str,
    by: &str,
) -> Result<(), StoreError> {
    let state = store.tenant_state(tenant).await?;
    let commit = CommitInfo {
        id: state.last_commit.unwrap_or_else(|| "-".into()),
        author: format!("{by} (cairn {what})"),
        summary: format!("tenant {what} by {by}"),
        time: crate::store::now_ms() / 1000,
    };
    store.record_event(tenant, event, &commit).await?;
    Ok(())
}
