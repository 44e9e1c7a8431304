//! A daemon's worker keeps its tenant's inventory in memory while it holds
//! the tenant's lease, so that a plan reads one row (the inventory's
//! version) where it read ten thousand.
//!
//! Every transaction that writes a tenant's `resources` or `intents` rows
//! also counts one more inventory version (`batch::next_inventory_version`)
//! and returns it. The copy is used only when the store's version is the
//! copy's; the worker's own writes are applied to it after they commit,
//! when they made the version just after the copy's — any other writer in
//! between (a CLI command, another daemon before the lease changed hands)
//! makes the copy be dropped and read again. The copy lives in the fenced
//! store of one hold of the lease ([`StateStore::fenced`]): a worker that
//! loses the lease loses the copy with it.
//!
//! The functions below are the writes of `batch`, on the copy: a test
//! checks after each kind of write that the copy is what the store reads.
//! Each returns the addresses it touched, whose plans' verdicts the copy
//! forgets ([`super::verdicts`]): the next plan judges those again, and
//! remembers the others.

use super::StateStore;
use super::batch::{self, AuditRow, RunRef};
use super::inventory::{Inventory, InventoryChange};
use crate::model::{Address, Lifecycle};
use crate::plan::PlanAction;
use crate::source::CommitInfo;
use sqlx::Row;
use std::sync::{Arc, Mutex};

/// By default, inventories smaller than this are read each time rather
/// than kept (`[daemon] keep_inventory_from`): a thousand rows read in
/// about 2 ms, and a daemon holding a thousand small tenants would
/// otherwise keep every one of their inventories for nothing it can
/// measure.
pub const DEFAULT_KEEP_INVENTORY_FROM: usize = 1_000;

/// One tenant's inventory, as of one version of the store's.
#[derive(Debug)]
pub(super) struct InventoryMirror {
    tenant: String,
    /// Inventories of fewer objects are not kept.
    kept_from: usize,
    kept: Mutex<Option<Kept>>,
}

#[derive(Debug)]
struct Kept {
    version: i64,
    inventory: Arc<Inventory>,
}

impl InventoryMirror {
    /// An empty copy of `tenant`'s inventory, kept from `kept_from` objects.
    fn new(tenant: &str, kept_from: usize) -> Self {
        Self {
            tenant: tenant.to_string(),
            kept_from,
            kept: Mutex::new(None),
        }
    }

    /// The copy, when it is of `version`.
    pub(super) fn at(&self, version: i64) -> Option<Arc<Inventory>> {
        let kept = self.kept.lock().expect("inventory copy");
        kept.as_ref()
            .filter(|kept| kept.version == version)
            .map(|kept| kept.inventory.clone())
    }

    /// Keeps `inventory`, read at `version` or later, when it is large
    /// enough to be worth keeping; returns it, shared.
    pub(super) fn keep(&self, version: i64, mut inventory: Inventory) -> Arc<Inventory> {
        let mut kept = self.kept.lock().expect("inventory copy");
        if inventory.owned.len() < self.kept_from {
            *kept = None;
            return Arc::new(inventory);
        }
        inventory.kept_at = Some(version);
        let inventory = Arc::new(inventory);
        *kept = Some(Kept {
            version,
            inventory: inventory.clone(),
        });
        inventory
    }

    /// A write that made `version` committed: `change` is applied to the
    /// copy when the copy is of the version just before, and the plans'
    /// verdicts at the addresses it touched (which it returns) are
    /// forgotten; otherwise someone else wrote in between, and the copy is
    /// dropped.
    fn follow<'a>(&self, version: i64, change: impl FnOnce(&mut Inventory) -> Vec<&'a Address>) {
        let mut kept = self.kept.lock().expect("inventory copy");
        match kept.as_mut() {
            Some(copy) if copy.version + 1 == version => {
                // In place unless a plan still holds the copy.
                let inventory = Arc::make_mut(&mut copy.inventory);
                let touched = change(inventory);
                inventory.verdicts.follow(copy.version, version, touched);
                inventory.kept_at = Some(version);
                copy.version = version;
            }
            _ => *kept = None,
        }
    }
}

impl StateStore {
    /// This store, keeping `tenant`'s inventory in memory for
    /// [`StateStore::inventory`] when it has at least `kept_from` objects,
    /// in step with the writes made through it and its clones.
    pub fn keeping_inventory(&self, tenant: &str, kept_from: usize) -> Self {
        Self {
            mirror: Some(Arc::new(InventoryMirror::new(tenant, kept_from))),
            ..self.clone()
        }
    }

    /// The copy of `tenant`'s inventory this store keeps, if any.
    pub(super) fn mirror_of(&self, tenant: &str) -> Option<&InventoryMirror> {
        self.mirror
            .as_deref()
            .filter(|mirror| mirror.tenant == tenant)
    }

    /// After a write of `tenant`'s inventory that made `version`
    /// committed: the copy follows it ([`InventoryMirror::follow`]).
    pub(super) fn follow_inventory<'a>(
        &self,
        tenant: &str,
        version: i64,
        change: impl FnOnce(&mut Inventory) -> Vec<&'a Address>,
    ) {
        if let Some(mirror) = self.mirror_of(tenant) {
            mirror.follow(version, change);
        }
    }

    /// Debug builds (the tests' daemons) compare the copy with what the
    /// store holds each time it is used, so that every test of a daemon
    /// keeping an inventory is also a test of the copy: a copy that
    /// disagrees fails the run. `version` is the one the copy was taken
    /// for; a write committed during the check makes it compare nothing.
    #[cfg(debug_assertions)]
    pub(super) async fn check_kept(
        &self,
        tenant: &str,
        version: i64,
        kept: &Inventory,
    ) -> super::Result<()> {
        let stored = self.read_inventory(tenant).await?;
        if self.inventory_version(tenant).await? != version || stored == *kept {
            return Ok(());
        }
        let differing = stored
            .owned
            .iter()
            .find(|(address, owned)| kept.owned.get(*address) != Some(*owned))
            .map(|(address, _)| address.to_string())
            .or_else(|| {
                kept.owned
                    .keys()
                    .find(|address| !stored.owned.contains_key(*address))
                    .map(ToString::to_string)
            });
        let detail = format!(
            "{} objects and {} interrupted changes kept, {} and {} stored; first object that differs: {}",
            kept.owned.len(),
            kept.interrupted.len(),
            stored.owned.len(),
            stored.interrupted.len(),
            differing.as_deref().unwrap_or("none (the journal differs)"),
        );
        tracing::error!(tenant, version, %detail, "the kept inventory disagrees with the store");
        Err(super::StoreError::KeptInventoryDisagrees {
            tenant: tenant.to_string(),
            version,
            detail,
        })
    }

    /// `tenant`'s inventory version now: 0 before its first write.
    pub(super) async fn inventory_version(&self, tenant: &str) -> super::Result<i64> {
        let row = self
            .query("SELECT version FROM inventory_versions WHERE tenant = ?")
            .bind(tenant.to_string())
            .fetch_optional(&mut *self.connection().await?)
            .await?;
        Ok(match row {
            Some(row) => row.try_get(0)?,
            None => 0,
        })
    }
}

/// `batch::mark_pending` on the copy: creates not yet owned are owned,
/// pending. Returns the addresses it touched, as each function below does.
pub(super) fn mark_pending<'a>(
    inventory: &mut Inventory,
    tenant: &str,
    commit: &CommitInfo,
    creates: &[(&'a Address, &Lifecycle, &[Address])],
) -> Vec<&'a Address> {
    for row in batch::pending_rows(tenant, commit, creates) {
        inventory
            .owned
            .entry(row.address().clone())
            .or_insert_with(|| row.to_owned_resource());
    }
    creates.iter().map(|(address, ..)| *address).collect()
}

/// `batch::add_intents` on the copy: the changes are in flight for run
/// `run_id`.
pub(super) fn add_intents<'a>(
    inventory: &mut Inventory,
    run_id: i64,
    intents: &[(&'a Address, PlanAction, Option<&str>)],
) -> Vec<&'a Address> {
    for (address, ..) in intents {
        inventory.interrupted.insert((*address).clone(), run_id);
    }
    intents.iter().map(|(address, ..)| *address).collect()
}

/// `StateStore::set_statuses` on the copy: a status set ends a hold.
pub(super) fn end_holds<'a>(
    inventory: &mut Inventory,
    addresses: impl Iterator<Item = &'a Address>,
) -> Vec<&'a Address> {
    let mut touched = Vec::new();
    for address in addresses {
        if let Some(owned) = inventory.owned.get_mut(address) {
            owned.diverged = None;
        }
        touched.push(address);
    }
    touched
}

/// `batch::record` on the copy, in its order: journal entries settled,
/// then objects owned, forgotten, and dropped when only pending.
pub(super) fn record<'a>(
    inventory: &mut Inventory,
    run: RunRef<'_>,
    rows: &[AuditRow<'a>],
) -> Vec<&'a Address> {
    for row in rows {
        if !matches!(row.change, InventoryChange::Unknown) {
            inventory.interrupted.remove(row.address);
        }
    }
    for row in batch::owned_rows(run, rows) {
        inventory
            .owned
            .insert(row.address().clone(), row.to_owned_resource());
    }
    for row in rows {
        if matches!(row.change, InventoryChange::Forget) {
            inventory.owned.remove(row.address);
        }
    }
    for row in rows {
        if matches!(row.change, InventoryChange::DropPending)
            && inventory.owned.get(row.address).is_some_and(|o| o.pending)
        {
            inventory.owned.remove(row.address);
        }
    }
    rows.iter().map(|row| row.address).collect()
}

#[cfg(test)]
mod tests;
