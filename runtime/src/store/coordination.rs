//! What daemons sharing a store tell each other: triggers passed from the
//! daemon that received a webhook or an API call to the one holding the
//! tenant, and each holder's live view of its tenants, so that any daemon
//! answers for all of them. These are messages, not the record: they ride
//! on the store's pool because it is what every daemon already reaches,
//! and PostgreSQL's `LISTEN` wakes the holders at once.

use super::dialect::{Dialect, placeholders};
use super::error::Result;
use super::{StateStore, now_ms};
use sqlx::Row;

/// The PostgreSQL channel on which queued triggers are announced.
const TRIGGER_CHANNEL: &str = "cairn_triggers";

/// Triggers and live status between the daemons sharing a store. Made by
/// [`StateStore::coordination`]; from a fenced store, what it saves for
/// the tenant checks the lease as the store's writes do.
#[derive(Debug, Clone)]
pub struct Coordination {
    store: StateStore,
}

/// A tenant's status as its holder last saved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveStatus {
    /// The tenant.
    pub tenant: String,
    /// The daemon that saved it.
    pub daemon: String,
    /// Its view of the tenant (JSON).
    pub status: String,
}

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

impl StateStore {
    /// The messages between daemons, over this store's pool.
    pub fn coordination(&self) -> Coordination {
        Coordination {
            store: self.clone(),
        }
    }
}

impl Coordination {
    /// Queues a trigger for whichever daemon holds the tenant; on
    /// PostgreSQL the daemons listening are told at once (the queue stays
    /// the record: a notification only wakes them).
    pub async fn push_trigger(&self, tenant: &str) -> Result<()> {
        let store = &self.store;
        let mut transaction = store.transaction().await?;
        store
            .query("INSERT INTO triggers (tenant, created_at) VALUES (?, ?)")
            .bind(tenant.to_string())
            .bind(now_ms())
            .execute(&mut *transaction)
            .await?;
        if store.dialect == Dialect::Postgres {
            store
                .query("SELECT pg_notify(?, ?)")
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
        if self.store.dialect != Dialect::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(self.store.url()).await?;
        listener.listen(TRIGGER_CHANNEL).await?;
        Ok(Some(TriggerListener(listener)))
    }

    /// Takes the queued triggers of `tenants`; returns the tenants that had
    /// any, each once.
    pub async fn take_triggers(&self, tenants: &[String]) -> Result<Vec<String>> {
        if tenants.is_empty() {
            return Ok(Vec::new());
        }
        let store = &self.store;
        // Mostly there are none: a read costs SQLite no write lock.
        let queued = store
            .query("SELECT id FROM triggers LIMIT 1")
            .fetch_optional(&mut *store.connection().await?)
            .await?;
        if queued.is_none() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "DELETE FROM triggers WHERE tenant IN ({}) RETURNING tenant",
            placeholders(tenants.len())
        );
        let mut query = store.query(&sql);
        for tenant in tenants {
            query = query.bind(tenant.clone());
        }
        let rows = query.fetch_all(&mut *store.connection().await?).await?;
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
        let store = &self.store;
        let mut transaction = store.begin_write().await?;
        store
            .query(
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

    /// The live status each holder last saved, by tenant.
    pub async fn live_statuses(&self) -> Result<Vec<LiveStatus>> {
        let store = &self.store;
        let rows = store
            .query("SELECT tenant, daemon, status FROM live_status ORDER BY tenant")
            .fetch_all(&mut *store.connection().await?)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(LiveStatus {
                    tenant: row.try_get("tenant")?,
                    daemon: row.try_get("daemon")?,
                    status: row.try_get("status")?,
                })
            })
            .collect()
    }
}
