//! Each owned resource's status (in sync, drifted, failed, pending) with
//! its last error, for the status API; and counts over every tenant, for
//! the metrics of all the daemons sharing the store.

use super::error::{Result, StoreError};
use super::vocabulary::ResourceStatus;
use super::{StateStore, batch, mirror};
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

/// Which resource statuses a page shows.
#[derive(Debug, Clone, Default)]
pub struct StatusQuery<'a> {
    /// Only this status (as [`StateStore::statuses`] reports it: a create
    /// not confirmed is pending unless it failed).
    pub status: Option<ResourceStatus>,
    /// Text the address or the last error contains, any case.
    pub text: &'a str,
    /// Rows skipped.
    pub offset: usize,
    /// Rows at most.
    pub limit: usize,
}

impl StatusQuery<'_> {
    /// The SQL after `WHERE tenant = ?`, and the values it binds in
    /// order.
    fn condition(&self) -> (String, Vec<String>) {
        let mut condition = String::new();
        let mut values = Vec::new();
        let failed = ResourceStatus::Failed.as_str().to_string();
        match self.status {
            None => {}
            Some(ResourceStatus::Pending) => {
                condition.push_str(" AND pending <> 0 AND status <> ?");
                values.push(failed);
            }
            Some(ResourceStatus::Failed) => {
                condition.push_str(" AND status = ?");
                values.push(failed);
            }
            Some(status) => {
                condition.push_str(" AND status = ? AND pending = 0");
                values.push(status.as_str().to_string());
            }
        }
        let text = self.text.trim().to_lowercase();
        if !text.is_empty() {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            condition.push_str(
                " AND (LOWER(address) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(last_error, '')) LIKE ? ESCAPE '\\')",
            );
            values.push(format!("%{escaped}%"));
            values.push(format!("%{escaped}%"));
        }
        (condition, values)
    }
}

/// A page of resource statuses.
#[derive(Debug, Clone)]
pub struct StatusPage {
    /// The page's records.
    pub records: Vec<ResourceStatusRecord>,
    /// How many match the query, over every page.
    pub matching: usize,
    /// How many the tenant owns.
    pub owned: usize,
}

/// The columns a resource status is read from.
const STATUS_COLUMNS: &str = "address, status, pending, last_error, commit_id, updated_at,
    CAST(CASE WHEN diverged IS NULL THEN 0 ELSE 1 END AS BIGINT) AS not_converged";

/// A resource status read back from its row.
fn status_record(row: &sqlx::any::AnyRow) -> Result<ResourceStatusRecord> {
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
        let version = batch::next_inventory_version(self, &mut transaction, tenant).await?;
        transaction.commit().await?;
        self.follow_inventory(tenant, version, |inventory| {
            mirror::end_holds(inventory, statuses.iter().map(|(address, ..)| *address))
        });
        Ok(())
    }

    /// The status of every owned resource of the tenant. A create not yet
    /// confirmed is pending, unless it failed.
    pub async fn statuses(&self, tenant: &str) -> Result<Vec<ResourceStatusRecord>> {
        let rows = self
            .query(&format!(
                "SELECT {STATUS_COLUMNS} FROM resources WHERE tenant = ? ORDER BY address"
            ))
            .bind(tenant.to_string())
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.iter().map(status_record).collect()
    }

    /// One page of the tenant's resource statuses, in address order, with
    /// the number that match and the number owned: only the page is read
    /// back, so a tenant of 10,000 resources costs a page.
    pub async fn statuses_page(&self, tenant: &str, query: &StatusQuery<'_>) -> Result<StatusPage> {
        let mut connection = self.connection().await?;
        let owned: i64 = self
            .query("SELECT COUNT(*) AS n FROM resources WHERE tenant = ?")
            .bind(tenant.to_string())
            .fetch_one(&mut *connection)
            .await?
            .try_get("n")?;
        let (condition, values) = query.condition();
        let bind = |text: String| {
            values.iter().fold(
                self.query(&text).bind(tenant.to_string()),
                |statement, value| statement.bind(value.clone()),
            )
        };
        let matching: i64 = bind(format!(
            "SELECT COUNT(*) AS n FROM resources WHERE tenant = ?{condition}"
        ))
        .fetch_one(&mut *connection)
        .await?
        .try_get("n")?;
        let rows = bind(format!(
            "SELECT {STATUS_COLUMNS} FROM resources WHERE tenant = ?{condition}
             ORDER BY address LIMIT ? OFFSET ?"
        ))
        .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(query.offset).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await?;
        Ok(StatusPage {
            records: rows.iter().map(status_record).collect::<Result<_>>()?,
            matching: usize::try_from(matching).unwrap_or(0),
            owned: usize::try_from(owned).unwrap_or(0),
        })
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
