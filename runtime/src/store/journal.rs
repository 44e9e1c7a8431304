//! The journal: changes about to be sent to a plugin, written before the
//! call and removed in the transaction that records its outcome. An entry
//! left after a crash is a change whose outcome the next plan finds out.

use super::error::{CorruptValue, Result, StoreError};
use super::vocabulary::plan_action;
use super::{StateStore, batch, mirror};
use crate::model::Address;
use crate::plan::PlanAction;
use sqlx::Row;

/// A change sent to a plugin whose outcome was never recorded.
#[derive(Debug, Clone)]
pub struct Intent {
    /// The run that sent it.
    pub run_id: i64,
    /// The resource.
    pub address: Address,
    /// The action.
    pub action: PlanAction,
    /// sha256 of the desired spec it applied.
    pub desired_digest: Option<String>,
}

impl StateStore {
    /// Journals changes of run `run_id` about to be sent to a plugin.
    pub(super) async fn add_intents(
        &self,
        tenant: &str,
        run_id: i64,
        intents: &[(&Address, PlanAction, Option<&str>)],
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        batch::add_intents(self, &mut transaction, tenant, run_id, intents).await?;
        let version = batch::next_inventory_version(self, &mut transaction, tenant).await?;
        transaction.commit().await?;
        self.follow_inventory(tenant, version, |inventory| {
            mirror::add_intents(inventory, run_id, intents)
        });
        // The calls follow at once: a daemon whose lease ran out while the
        // journal was written does not make them.
        self.check_fence_clock()
    }

    /// Changes journaled and never recorded: what a crash interrupted.
    pub async fn intents(&self, tenant: &str) -> Result<Vec<Intent>> {
        let rows = self
            .query(
                "SELECT run_id, address, action, desired_digest FROM intents WHERE tenant = ? ORDER BY id",
            )
            .bind(tenant.to_string())
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.into_iter()
            .map(|row| {
                let address: String = row.try_get("address")?;
                let action: String = row.try_get("action")?;
                let what = || format!("the intent for {address}");
                Ok(Intent {
                    run_id: row.try_get("run_id")?,
                    action: plan_action(&action)
                        .map_err(|error| StoreError::corrupt(what(), error))?,
                    address: Address::parse(&address).ok_or_else(|| {
                        StoreError::corrupt(what(), CorruptValue::Address(address.clone()))
                    })?,
                    desired_digest: row.try_get("desired_digest")?,
                })
            })
            .collect()
    }
}
