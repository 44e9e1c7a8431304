//! Each owned resource's status (in sync, drifted, failed, pending) with
//! its last error, for the status API; and counts over every tenant, for
//! the metrics of all the daemons sharing the store.

use super::StateStore;
use super::error::{Result, StoreError};
use super::vocabulary::ResourceStatus;
use crate::model::Address;
use serde::Serialize;
use sqlx::Row;

/// An owned resource's status, for the status API.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceStatusRecord {
    /// The resource.
    pub address: String,
    /// Its status.
    pub status: ResourceStatus,
    /// The last error, when it failed or drifted.
    pub last_error: Option<String>,
    /// Its provider did not converge after its last apply (`last_error`
    /// says on what): it is held, not applied again until its spec in Git
    /// or its provider's plugin changes.
    pub not_converged: bool,
    /// The commit of its last apply.
    pub commit_id: String,
    /// When its record last changed, milliseconds since the Unix epoch.
    pub updated_at: i64,
}

/// Counts over every tenant of the store.
#[derive(Debug, Clone, Default)]
pub struct TenantCounts {
    /// Owned resources: tenant, status, how many.
    pub resources: Vec<(String, ResourceStatus, i64)>,
    /// Changes journaled and not recorded: tenant, how many.
    pub intents: Vec<(String, i64)>,
    /// Last successful apply: tenant, milliseconds since the Unix epoch.
    pub last_applied: Vec<(String, i64)>,
}

/// A status read back: an unknown word is an error naming the resource.
fn status_of(address: &str, word: &str) -> Result<ResourceStatus> {
    word.parse()
        .map_err(|error| StoreError::corrupt(format!("the status of {address}"), error))
}

impl StateStore {
    /// Sets the status of owned resources. A status set ends a hold of a
    /// provider that did not converge: the plan found the resource in sync
    /// or drifted, so it is no longer held.
    pub async fn set_statuses(
        &self,
        tenant: &str,
        statuses: &[(&Address, ResourceStatus, Option<&str>)],
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        for (address, status, error) in statuses {
            self.query(
                "UPDATE resources SET status = ?, last_error = ?, diverged = NULL
                 WHERE tenant = ? AND address = ?",
            )
            .bind(status.as_str())
            .bind(error.map(str::to_string))
            .bind(tenant.to_string())
            .bind(address.to_string())
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The status of every owned resource of the tenant. A create not yet
    /// confirmed is pending, unless it failed.
    pub async fn statuses(&self, tenant: &str) -> Result<Vec<ResourceStatusRecord>> {
        let rows = self
            .query(
                "SELECT address, status, pending, last_error, commit_id, updated_at,
                        CAST(CASE WHEN diverged IS NULL THEN 0 ELSE 1 END AS BIGINT) AS not_converged
                 FROM resources WHERE tenant = ? ORDER BY address",
            )
            .bind(tenant.to_string())
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.into_iter()
            .map(|row| {
                let address: String = row.try_get("address")?;
                let pending = row.try_get::<i64, _>("pending")? != 0;
                let status = status_of(&address, &row.try_get::<String, _>("status")?)?;
                Ok(ResourceStatusRecord {
                    status: if pending && status != ResourceStatus::Failed {
                        ResourceStatus::Pending
                    } else {
                        status
                    },
                    address,
                    last_error: row.try_get("last_error")?,
                    not_converged: row.try_get::<i64, _>("not_converged")? != 0,
                    commit_id: row.try_get("commit_id")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Counts over every tenant, for the metrics.
    pub async fn tenant_counts(&self) -> Result<TenantCounts> {
        let mut connection = self.connection().await?;
        let resources = self
            .query(
                "SELECT tenant, CASE WHEN pending = 1 AND status <> ? THEN ? ELSE status END AS shown,
                        COUNT(*) AS n
                 FROM resources GROUP BY tenant, shown ORDER BY tenant",
            )
            .bind(ResourceStatus::Failed.as_str())
            .bind(ResourceStatus::Pending.as_str())
            .fetch_all(&mut *connection)
            .await?
            .into_iter()
            .map(|row| {
                let tenant: String = row.try_get("tenant")?;
                let status = status_of(&format!("a resource of {tenant}"), &row.try_get::<String, _>("shown")?)?;
                Ok((tenant, status, row.try_get("n")?))
            })
            .collect::<Result<_>>()?;
        let intents = self
            .query("SELECT tenant, COUNT(*) AS n FROM intents GROUP BY tenant ORDER BY tenant")
            .fetch_all(&mut *connection)
            .await?
            .into_iter()
            .map(|row| Ok((row.try_get("tenant")?, row.try_get("n")?)))
            .collect::<Result<_>>()?;
        let last_applied = self
            .query(
                "SELECT tenant, last_applied_at FROM tenants
                 WHERE last_applied_at IS NOT NULL ORDER BY tenant",
            )
            .fetch_all(&mut *connection)
            .await?
            .into_iter()
            .map(|row| Ok((row.try_get("tenant")?, row.try_get("last_applied_at")?)))
            .collect::<Result<_>>()?;
        Ok(TenantCounts {
            resources,
            intents,
            last_applied,
        })
    }
}
