//! What several daemons on one store share: the daemons alive, the tenant
//! leases with their fencing tokens, triggers passed between daemons, and
//! each tenant's live status. Leases are timed by the store's clock alone
//! (see [`super::dialect`]), never by a daemon's.

use super::dialect::Dialect;
use super::dialect::placeholders;
use super::{Result, StateStore, StoreError, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Daemons gone for longer than this are dropped from the table: long
/// enough to read in `cairn status` what happened overnight.
const FORGET_DAEMONS_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A worker's hold on its tenant: the lease's token, and until when this
/// process may count on it by its own monotonic clock (the store's expiry
/// is later: it was computed after the renewal was sent).
#[derive(Debug)]
pub struct Fence {
    /// The tenant.
    pub tenant: String,
    /// The daemon holding it.
    pub holder: String,
    /// The lease's fencing token.
    pub token: i64,
    valid_until: Mutex<Instant>,
    lost: AtomicBool,
}

impl Fence {
    /// A hold on `tenant` with `token`, good until `valid_until`.
    pub fn new(tenant: &str, holder: &str, token: i64, valid_until: Instant) -> Self {
        Self {
            tenant: tenant.to_string(),
            holder: holder.to_string(),
            token,
            valid_until: Mutex::new(valid_until),
            lost: AtomicBool::new(false),
        }
    }

    /// The lease was renewed: good until `until`.
    pub fn extend(&self, until: Instant) {
        let mut valid_until = self.valid_until.lock().expect("fence clock");
        *valid_until = (*valid_until).max(until);
    }

    /// Whether the lease is gone for good (taken over, or given up).
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Gives the lease up for good: every later write is refused.
    pub fn lose(&self) {
        self.lost.store(true, Ordering::Relaxed);
    }

    /// Refuses when the lease is lost or ran out before it was renewed (a
    /// daemon paused, or cut off from the store).
    pub(super) fn check_clock(&self) -> Result<()> {
        if self.is_lost() {
            return Err(self.error("it was taken over or given up"));
        }
        if Instant::now() >= *self.valid_until.lock().expect("fence clock") {
            return Err(self.error("it ran out before it could be renewed"));
        }
        Ok(())
    }

    pub(super) fn error(&self, reason: &'static str) -> StoreError {
        StoreError::Fenced {
            tenant: self.tenant.clone(),
            token: self.token,
            reason,
        }
    }
}

/// A plugin call of the lease's worker sends a request only while the
/// lease holds by this process's clock: a call under way when the daemon
/// was paused sends nothing once it resumes past its lease.
impl crate::host::SendGuard for Fence {
    fn may_send(&self) -> std::result::Result<(), String> {
        match self.check_clock() {
            Ok(()) => Ok(()),
            Err(StoreError::Fenced { reason, .. }) => Err(format!(
                "this daemon no longer holds the lease of tenant {} (token {}): {reason}; the request was not sent",
                self.tenant, self.token
            )),
            Err(other) => Err(other.to_string()),
        }
    }
}

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

/// The PostgreSQL channel on which queued triggers are announced.
const TRIGGER_CHANNEL: &str = "cairn_triggers";

/// Notifications of triggers queued by any daemon (PostgreSQL's
/// `LISTEN`); it reconnects by itself when the server comes back.
pub struct TriggerListener(sqlx::postgres::PgListener);

impl std::fmt::Debug for TriggerListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriggerListener").finish_non_exhaustive()
    }
}

impl TriggerListener {
    /// Waits until a trigger is queued; an error means the connection was
    /// lost and could not be made again yet.
    pub async fn wait(&mut self) -> Result<()> {
        self.0.recv().await?;
        Ok(())
    }
}

/// Milliseconds of a duration, for the store's clock arithmetic.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
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

    /// Queues a trigger for whichever daemon holds the tenant; on
    /// PostgreSQL the daemons listening are told at once (the queue stays
    /// the record: a notification only wakes them).
    pub async fn push_trigger(&self, tenant: &str) -> Result<()> {
        let mut transaction = self.transaction().await?;
        self.query("INSERT INTO triggers (tenant, created_at) VALUES (?, ?)")
            .bind(tenant.to_string())
            .bind(now_ms())
            .execute(&mut *transaction)
            .await?;
        if self.dialect == Dialect::Postgres {
            self.query("SELECT pg_notify(?, ?)")
                .bind(TRIGGER_CHANNEL)
                .bind(tenant.to_string())
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// A listener told of every trigger queued, on PostgreSQL (`None` on
    /// SQLite: the queue is polled).
    pub async fn trigger_listener(&self) -> Result<Option<TriggerListener>> {
        if self.dialect != Dialect::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(TRIGGER_CHANNEL).await?;
        Ok(Some(TriggerListener(listener)))
    }

    /// Takes the queued triggers of `tenants`; returns the tenants that had
    /// any, each once.
    pub async fn take_triggers(&self, tenants: &[String]) -> Result<Vec<String>> {
        if tenants.is_empty() {
            return Ok(Vec::new());
        }
        // Mostly there are none: a read costs SQLite no write lock.
        let queued = self
            .query("SELECT id FROM triggers LIMIT 1")
            .fetch_optional(&mut *self.connection().await?)
            .await?;
        if queued.is_none() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "DELETE FROM triggers WHERE tenant IN ({}) RETURNING tenant",
            placeholders(tenants.len())
        );
        let mut query = self.query(&sql);
        for tenant in tenants {
            query = query.bind(tenant.clone());
        }
        let rows = query.fetch_all(&mut *self.connection().await?).await?;
        let mut triggered: Vec<String> = rows
            .iter()
            .map(|row| row.try_get("tenant"))
            .collect::<Result<_, _>>()?;
        triggered.sort();
        triggered.dedup();
        Ok(triggered)
    }

    /// Saves the holder's view of the tenant (JSON), for the other daemons'
    /// status API.
    pub async fn save_live_status(&self, tenant: &str, daemon: &str, status: &str) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        self.query(
            "INSERT INTO live_status (tenant, daemon, status, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (tenant) DO UPDATE SET daemon = excluded.daemon,
                 status = excluded.status, updated_at = excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(daemon.to_string())
        .bind(status.to_string())
        .bind(now_ms())
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The live status each holder last saved: tenant, daemon, JSON.
    pub async fn live_statuses(&self) -> Result<Vec<(String, String, String)>> {
        let rows = self
            .query("SELECT tenant, daemon, status FROM live_status ORDER BY tenant")
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok((
                    row.try_get("tenant")?,
                    row.try_get("daemon")?,
                    row.try_get("status")?,
                ))
            })
            .collect()
    }

    /// Counts over every tenant, for the cluster metrics.
    pub async fn cluster_counts(&self) -> Result<ClusterCounts> {
        let mut connection = self.connection().await?;
        let resources = self
            .query(
                "SELECT tenant, CASE WHEN pending = 1 AND status <> 'failed' THEN 'pending' ELSE status END AS shown,
                        COUNT(*) AS n
                 FROM resources GROUP BY tenant, shown ORDER BY tenant",
            )
            .fetch_all(&mut *connection)
            .await?
            .into_iter()
            .map(|row| Ok((row.try_get("tenant")?, row.try_get("shown")?, row.try_get("n")?)))
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
        Ok(ClusterCounts {
            resources,
            intents,
            last_applied,
        })
    }
}

/// Counts over every tenant of the store.
#[derive(Debug, Clone, Default)]
pub struct ClusterCounts {
    /// Owned resources: tenant, status, how many.
    pub resources: Vec<(String, String, i64)>,
    /// Changes journaled and not recorded: tenant, how many.
    pub intents: Vec<(String, i64)>,
    /// Last successful apply: tenant, milliseconds since the Unix epoch.
    pub last_applied: Vec<(String, i64)>,
}
