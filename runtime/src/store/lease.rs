//! Leases: which daemons share the store, and which one reconciles each
//! tenant. A lease has a fencing token that grows with every new holder;
//! the holder's writes carry it ([`super::Fence`]). Leases are timed by the
//! store's clock alone (see [`super::dialect`]), never by a daemon's.

use super::error::Result;
use super::{StateStore, millis};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::time::Duration;

/// Daemons gone for longer than this are dropped from the table: long
/// enough to read in `cairn status` what happened overnight.
const FORGET_DAEMONS_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A tenant's lease, for status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// The tenant.
    pub tenant: String,
    /// The daemon holding (or last holding) it.
    pub holder: String,
    /// Where that daemon's API listens, while it is registered.
    pub holder_address: Option<String>,
    /// The fencing token.
    pub token: i64,
    /// When the holder took it, milliseconds since the Unix epoch.
    pub acquired_at: i64,
    /// When it runs out unless renewed (0 once released).
    pub expires_at: i64,
    /// Whether it is held now.
    pub live: bool,
}

/// A daemon sharing the store, for status.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonRecord {
    /// Its name.
    pub id: String,
    /// Where its API listens.
    pub address: String,
    /// When it started, milliseconds since the Unix epoch.
    pub started_at: i64,
    /// Its last heartbeat.
    pub heartbeat_at: i64,
    /// Whether its heartbeat is recent enough to count it.
    pub alive: bool,
}

impl StateStore {
    /// Registers the daemon `id` (or refreshes it): it counts as alive for
    /// `ttl`. Daemons gone for a day are forgotten.
    pub async fn heartbeat(&self, id: &str, address: &str, ttl: Duration) -> Result<()> {
        let mut transaction = self.transaction().await?;
        self.query(
            "INSERT INTO daemons (id, address, started_at, heartbeat_at, expires_at)
             VALUES (?, ?, {now}, {now}, {now} + ?)
             ON CONFLICT (id) DO UPDATE SET address = excluded.address,
                 heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at",
        )
        .bind(id.to_string())
        .bind(address.to_string())
        .bind(millis(ttl))
        .execute(&mut *transaction)
        .await?;
        self.query("DELETE FROM daemons WHERE expires_at < {now} - ?")
            .bind(millis(FORGET_DAEMONS_AFTER))
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The daemon `id` stops: it leaves the table and gives up its
    /// leases, so that the others take its tenants at once.
    pub async fn leave(&self, id: &str) -> Result<()> {
        let mut transaction = self.transaction().await?;
        self.query("UPDATE leases SET expires_at = 0 WHERE holder = ?")
            .bind(id.to_string())
            .execute(&mut *transaction)
            .await?;
        self.query("DELETE FROM daemons WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Every daemon registered, by name.
    pub async fn daemons(&self) -> Result<Vec<DaemonRecord>> {
        let rows = self
            .query(
                "SELECT id, address, started_at, heartbeat_at,
                        CASE WHEN expires_at > {now} THEN 1 ELSE 0 END AS alive
                 FROM daemons ORDER BY id",
            )
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(DaemonRecord {
                    id: row.try_get("id")?,
                    address: row.try_get("address")?,
                    started_at: row.try_get("started_at")?,
                    heartbeat_at: row.try_get("heartbeat_at")?,
                    alive: row.try_get::<i64, _>("alive")? != 0,
                })
            })
            .collect()
    }

    /// Takes the tenant's lease for `holder` for `ttl` when it is free (never
    /// taken, released, or run out); returns the new fencing token, one more
    /// than the last holder's.
    pub async fn acquire_lease(
        &self,
        tenant: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<i64>> {
        let row = self
            .query(
                "INSERT INTO leases (tenant, holder, token, acquired_at, expires_at)
                 VALUES (?, ?, 1, {now}, {now} + ?)
                 ON CONFLICT (tenant) DO UPDATE SET holder = excluded.holder,
                     token = leases.token + 1, acquired_at = excluded.acquired_at,
                     expires_at = excluded.expires_at
                 WHERE leases.expires_at <= {now}
                 RETURNING token",
            )
            .bind(tenant.to_string())
            .bind(holder.to_string())
            .bind(millis(ttl))
            .fetch_optional(&mut *self.connection().await?)
            .await?;
        Ok(row.map(|row| row.try_get("token")).transpose()?)
    }

    /// Extends every lease `holder` has for `ttl`; returns the tenants and
    /// tokens it holds. A lease that ran out is renewed too when no one
    /// took it: its token did not change, so nothing was written by another
    /// daemon meanwhile.
    pub async fn renew_leases(&self, holder: &str, ttl: Duration) -> Result<Vec<(String, i64)>> {
        let rows = self
            .query(
                "UPDATE leases SET expires_at = {now} + ?
                 WHERE holder = ? AND expires_at > 0 RETURNING tenant, token",
            )
            .bind(millis(ttl))
            .bind(holder.to_string())
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.into_iter()
            .map(|row| Ok((row.try_get("tenant")?, row.try_get("token")?)))
            .collect()
    }

    /// Gives a lease up, so that another daemon may take it at once.
    pub async fn release_lease(&self, tenant: &str, holder: &str, token: i64) -> Result<()> {
        self.query(
            "UPDATE leases SET expires_at = 0 WHERE tenant = ? AND holder = ? AND token = ?",
        )
        .bind(tenant.to_string())
        .bind(holder.to_string())
        .bind(token)
        .execute(&mut *self.connection().await?)
        .await?;
        Ok(())
    }

    /// Every tenant's lease, by tenant.
    pub async fn leases(&self) -> Result<Vec<LeaseRecord>> {
        let rows = self
            .query(
                "SELECT l.tenant, l.holder, d.address, l.token, l.acquired_at, l.expires_at,
                        CASE WHEN l.expires_at > {now} THEN 1 ELSE 0 END AS live
                 FROM leases l LEFT JOIN daemons d ON d.id = l.holder ORDER BY l.tenant",
            )
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(LeaseRecord {
                    tenant: row.try_get("tenant")?,
                    holder: row.try_get("holder")?,
                    holder_address: row.try_get("address")?,
                    token: row.try_get("token")?,
                    acquired_at: row.try_get("acquired_at")?,
                    expires_at: row.try_get("expires_at")?,
                    live: row.try_get::<i64, _>("live")? != 0,
                })
            })
            .collect()
    }
}
