//! A tenant's control state: whether automatic applies are suspended, the
//! commit a rollback holds it at, and the last commits reconciled and
//! applied. One row per tenant, created on its first change.

use super::error::Result;
use super::{StateStore, now_ms};
use serde::Serialize;
use sqlx::any::AnyArguments;
use sqlx::{Any, Row};

/// A tenant's control state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TenantState {
    /// Automatic applies are stopped.
    pub suspended: bool,
    /// The commit a rollback holds the tenant at.
    pub held_commit: Option<String>,
    /// The ref's commit when the hold began; a new one ends the hold.
    pub held_head: Option<String>,
    /// The last commit reconciled.
    pub last_commit: Option<String>,
    /// The last commit applied with success.
    pub last_applied_commit: Option<String>,
    /// When it was applied, milliseconds since the Unix epoch.
    pub last_applied_at: Option<i64>,
}

/// A control state read back from its row.
fn state_of(row: &sqlx::any::AnyRow) -> Result<TenantState> {
    Ok(TenantState {
        suspended: row.try_get::<i64, _>("suspended")? != 0,
        held_commit: row.try_get("held_commit")?,
        held_head: row.try_get("held_head")?,
        last_commit: row.try_get("last_commit")?,
        last_applied_commit: row.try_get("last_applied_commit")?,
        last_applied_at: row.try_get("last_applied_at")?,
    })
}

/// A query whose values are still to be bound.
type Query = sqlx::query::Query<'static, Any, AnyArguments>;

impl StateStore {
    /// The tenant's control state (defaults when never set).
    pub async fn tenant_state(&self, tenant: &str) -> Result<TenantState> {
        let row = self
            .query(
                "SELECT suspended, held_commit, held_head, last_commit, last_applied_commit, last_applied_at
                 FROM tenants WHERE tenant = ?",
            )
            .bind(tenant.to_string())
            .fetch_optional(&mut *self.connection().await?)
            .await?;
        let Some(row) = row else {
            return Ok(TenantState::default());
        };
        state_of(&row)
    }

    /// Every tenant's control state that was ever set, by tenant: one
    /// query for the dashboard's overview.
    pub async fn tenant_states(&self) -> Result<std::collections::BTreeMap<String, TenantState>> {
        let rows = self
            .query(
                "SELECT tenant, suspended, held_commit, held_head, last_commit, last_applied_commit, last_applied_at
                 FROM tenants",
            )
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.into_iter()
            .map(|row| Ok((row.try_get("tenant")?, state_of(&row)?)))
            .collect()
    }

    /// Stops or restarts automatic applies.
    pub async fn set_suspended(&self, tenant: &str, suspended: bool) -> Result<()> {
        self.update_tenant(tenant, "suspended = ?", |q| q.bind(i64::from(suspended)))
            .await
    }

    /// Holds the tenant at `commit` (a rollback) until `head` moves, or
    /// releases the hold (`None`).
    pub async fn set_hold(&self, tenant: &str, hold: Option<(&str, &str)>) -> Result<()> {
        let (commit, head) = hold.map_or((None, None), |(c, h)| {
            (Some(c.to_string()), Some(h.to_string()))
        });
        self.update_tenant(tenant, "held_commit = ?, held_head = ?", |q| {
            q.bind(commit).bind(head)
        })
        .await
    }

    /// Records the last commit reconciled.
    pub async fn set_last_commit(&self, tenant: &str, commit: &str) -> Result<()> {
        let commit = commit.to_string();
        self.update_tenant(tenant, "last_commit = ?", |q| q.bind(commit))
            .await
    }

    /// Records a commit applied with success.
    pub async fn set_last_applied(&self, tenant: &str, commit: &str) -> Result<()> {
        let commit = commit.to_string();
        self.update_tenant(
            tenant,
            "last_applied_commit = ?, last_applied_at = ?",
            |q| q.bind(commit).bind(now_ms()),
        )
        .await
    }

    async fn update_tenant(
        &self,
        tenant: &str,
        assignments: &'static str,
        bind: impl FnOnce(Query) -> Query,
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        self.query(
            "INSERT INTO tenants (tenant, updated_at) VALUES (?, ?) ON CONFLICT (tenant) DO NOTHING",
        )
        .bind(tenant.to_string())
        .bind(now_ms())
        .execute(&mut *transaction)
        .await?;
        // `assignments` is always a literal of this module, never input.
        let sql = format!("UPDATE tenants SET {assignments}, updated_at = ? WHERE tenant = ?");
        bind(self.query(&sql))
            .bind(now_ms())
            .bind(tenant.to_string())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }
}
