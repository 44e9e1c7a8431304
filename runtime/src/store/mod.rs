//! The state store: the inventory of objects Cairn owns, the runs of plan
//! and apply, the append-only audit log, and — when several daemons share
//! one store — their leases. SQLite (`sqlite:PATH`) is the embedded
//! default; PostgreSQL (`postgres://…`) lets several daemons share one
//! store. Both get the same schema from `migrations/<engine>/`, applied on
//! open, and the same queries ([`dialect`]).
//!
//! Every action is recorded together with its effect on the inventory in
//! one transaction, so the two never disagree. A store opened for a
//! daemon's worker carries the tenant's lease ([`Fence`]): each of its
//! write transactions first checks, in the same transaction, that the
//! lease still has the worker's token, so a daemon that lost the tenant
//! cannot write for it.

mod batch;
pub mod cluster;
pub mod dialect;

use crate::model::{Address, Lifecycle};
use crate::source::CommitInfo;
pub use cluster::{DaemonRecord, Fence, LeaseRecord, TriggerListener};
use dialect::Dialect;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Row};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a SQLite writer waits for another process holding the database
/// lock (a concurrent `cairn plan`, say) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections kept open to SQLite: one writer at a time, readers are few.
const SQLITE_CONNECTIONS: u32 = 4;

/// Connections each process keeps open to PostgreSQL: a daemon's workers
/// write one transaction at a time each, and twelve daemons stay within
/// PostgreSQL's default of 100 connections.
const POSTGRES_CONNECTIONS: u32 = 8;

/// How long getting a connection is tried (the pool reconnects meanwhile)
/// before the store counts as unreachable: it rides out a dropped
/// connection or a quick server restart, and stays well inside the
/// shortest lease's renewal period.
const RETRY_WINDOW: Duration = Duration::from_secs(3);

/// The first wait before trying an unreachable store again; it doubles.
const RETRY_FIRST_WAIT: Duration = Duration::from_millis(100);

/// PostgreSQL ends a session that sits inside a transaction this long
/// (`idle_in_transaction_session_timeout`). Cairn's transactions hold no
/// waits of their own, so only a paused or wedged process hits it — and
/// then its lock on a lease row is released, so the other daemons can take
/// the tenant over within the lease period. At most the shortest lease's
/// four fifths.
const POSTGRES_IDLE_IN_TRANSACTION: Duration = Duration::from_millis(1000);

/// How long a PostgreSQL statement waits for a row lock before failing
/// (`lock_timeout`): a lease row locked by a stuck session never stalls a
/// daemon's heartbeat for longer.
const POSTGRES_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// What went wrong with the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error("cannot open the state store {url}: {reason}")]
    Open {
        /// The store's URL, without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// A query failed.
    #[error("the state store failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored value is not what this version of Cairn wrote.
    #[error("the state store holds a value this version cannot read ({0})")]
    Corrupt(String),
    /// The daemon no longer holds the tenant's lease: another daemon took
    /// it over, or it could not be renewed in time. Nothing was written.
    #[error(
        "this daemon no longer holds the lease of tenant {tenant} (token {token}): {reason}; nothing was written"
    )]
    Fenced {
        /// The tenant.
        tenant: String,
        /// The token the write carried.
        token: i64,
        /// What was found.
        reason: &'static str,
    },
}

impl StoreError {
    /// Whether the store could not be reached (as opposed to refusing a
    /// query): trying again later may succeed.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Query(error) if is_transient(error))
    }
}

/// Errors of a connection rather than of a query: the server is down,
/// restarting or unreachable.
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            // 08: connection exception; 57P01–57P03: the server shuts down
            // or is still starting.
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

pub use crate::config::display_url;

/// The result type of this module.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An object Cairn owns, as the inventory records it.
#[derive(Debug, Clone)]
pub struct OwnedResource {
    /// Its address.
    pub address: Address,
    /// sha256 of the canonical spec last applied.
    pub spec_digest: String,
    /// The state the provider returned after the last apply.
    pub state: Option<Value>,
    /// Its lifecycle flags at the last apply.
    pub lifecycle: Lifecycle,
    /// What it depended on at the last apply.
    pub depends_on: Vec<Address>,
    /// The commit of the last apply.
    pub commit_id: String,
    /// Whether a create was started but not confirmed.
    pub pending: bool,
}

/// What an action does to the inventory.
#[derive(Debug, Clone)]
pub enum InventoryChange {
    /// Record the object as owned, with its new state.
    Own {
        /// sha256 of the canonical spec applied.
        spec_digest: String,
        /// The provider's state.
        state: Option<Value>,
        /// The lifecycle flags.
        lifecycle: Lifecycle,
        /// Its dependencies.
        depends_on: Vec<Address>,
        /// Whether the create is still unconfirmed.
        pending: bool,
    },
    /// Forget the object (deleted, or orphaned).
    Forget,
    /// Forget the object if it is only pending: a create that certainly
    /// did not happen.
    DropPending,
    /// Leave the inventory as it is.
    Keep,
    /// Leave the inventory as it is and keep the change's journal entry:
    /// whether it happened is unknown (the plugin call broke).
    Unknown,
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionResult {
    /// Done.
    Ok,
    /// Attempted and failed.
    Failed,
    /// Not attempted.
    Skipped,
    /// Found (drift), not acted on by this record.
    Detected,
}

impl ActionResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Detected => "detected",
        }
    }
}

/// One action to record in the audit log.
#[derive(Debug, Clone)]
pub struct ActionRecord<'a> {
    /// The run it belongs to.
    pub run_id: i64,
    /// The tenant.
    pub tenant: &'a str,
    /// The commit.
    pub commit: &'a CommitInfo,
    /// The resource.
    pub address: &'a Address,
    /// create, update, replace, delete, forget, adopt.
    pub action: &'a str,
    /// sha256 of the state before.
    pub before_digest: Option<String>,
    /// sha256 of the state after.
    pub after_digest: Option<String>,
    /// How it ended.
    pub result: ActionResult,
    /// The error, when it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

/// A run of plan or apply, with its actions.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// The run's number.
    pub id: i64,
    /// The tenant.
    pub tenant: String,
    /// `plan` or `apply`.
    pub kind: String,
    /// The commit.
    pub commit_id: String,
    /// The commit's author.
    pub commit_author: String,
    /// The commit's summary line.
    pub commit_summary: String,
    /// The plan's checksum.
    pub plan_checksum: String,
    /// Start, milliseconds since the Unix epoch.
    pub started_at: i64,
    /// End, when finished.
    pub finished_at: Option<i64>,
    /// `succeeded`, `failed`, `partial` or `planned`; absent while running.
    pub outcome: Option<String>,
    /// Changes in the run.
    pub changes: i64,
    /// Changes that failed.
    pub failures: i64,
    /// The daemon that made it, when a daemon did.
    pub daemon: Option<String>,
    /// The lease token it held then.
    pub lease_token: Option<i64>,
    /// The actions.
    pub actions: Vec<AuditRecord>,
}

/// One row of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// Its sequence number.
    pub seq: i64,
    /// When, milliseconds since the Unix epoch.
    pub time: i64,
    /// The resource.
    pub address: String,
    /// The action.
    pub action: String,
    /// sha256 of the state before.
    pub before_digest: Option<String>,
    /// sha256 of the state after.
    pub after_digest: Option<String>,
    /// `ok`, `failed` or `skipped`.
    pub result: String,
    /// The error, when it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

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

/// A change sent to a plugin whose outcome was never recorded.
#[derive(Debug, Clone)]
pub struct Intent {
    /// The run that sent it.
    pub run_id: i64,
    /// The resource.
    pub address: Address,
    /// The action.
    pub action: String,
    /// sha256 of the desired spec it applied.
    pub desired_digest: Option<String>,
}

/// The status of an owned resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceStatus {
    /// The world matches the last applied desired state.
    InSync,
    /// The world differs from it, or the object vanished.
    Drifted,
    /// The last change failed.
    Failed,
    /// A create was started and not confirmed.
    Pending,
}

impl ResourceStatus {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InSync => "in-sync",
            Self::Drifted => "drifted",
            Self::Failed => "failed",
            Self::Pending => "pending",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "drifted" => Self::Drifted,
            "failed" => Self::Failed,
            "pending" => Self::Pending,
            _ => Self::InSync,
        }
    }
}

/// An owned resource's status, for the status API.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceStatusRecord {
    /// The resource.
    pub address: String,
    /// Its status.
    pub status: ResourceStatus,
    /// The last error, when it failed or drifted.
    pub last_error: Option<String>,
    /// The commit of its last apply.
    pub commit_id: String,
    /// When its record last changed, milliseconds since the Unix epoch.
    pub updated_at: i64,
}

/// The state store.
#[derive(Debug, Clone)]
pub struct StateStore {
    pool: AnyPool,
    dialect: Dialect,
    /// The URL it was opened with (PostgreSQL's trigger listener opens its
    /// own connection with it).
    url: Arc<str>,
    locks_dir: PathBuf,
    /// Set for a daemon's worker: every write checks the tenant's lease.
    fence: Option<Arc<Fence>>,
}

/// A tenant's file lock on this host, which keeps a CLI reconcile and
/// the daemons' runs apart: the CLI takes it exclusively, daemons share it
/// (they keep out of each other's way by leases, and a daemon paused in a
/// run must not stall the one that took its tenant over). It is an OS file
/// lock, so a process that dies releases it at once.
#[derive(Debug)]
pub struct TenantLock {
    _file: std::fs::File,
}

/// How a tenant's file lock is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// By a CLI command: alone.
    Exclusive,
    /// By a daemon's run: beside other daemons' runs, never beside a CLI
    /// command.
    Shared,
}

/// How often a busy tenant lock is tried again.
const LOCK_RETRY: Duration = Duration::from_millis(100);

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl StateStore {
    /// Opens the store at `url` (`sqlite:PATH`, created when missing, or
    /// `postgres://USER@HOST:PORT/DATABASE`) and applies pending
    /// migrations.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn open(url: &str) -> Result<Self> {
        let fail = |reason: String| StoreError::Open {
            url: display_url(url),
            reason,
        };
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| {
            fail("use sqlite:PATH or postgres://USER@HOST:PORT/DATABASE".to_string())
        })?;
        let (pool, locks_dir) = match dialect {
            Dialect::Sqlite => {
                let path = url.strip_prefix("sqlite:").unwrap_or(url);
                let parent = Path::new(path).parent().unwrap_or(Path::new("."));
                std::fs::create_dir_all(parent).map_err(|error| {
                    fail(format!("cannot create {}: {error}", parent.display()))
                })?;
                let options = AnyConnectOptions::from_str(&format!("{url}?mode=rwc"))
                    .map_err(|error| fail(error.to_string()))?;
                let pool = AnyPoolOptions::new()
                    .max_connections(SQLITE_CONNECTIONS)
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            use sqlx::Executor;
                            let pragmas = format!(
                                "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;",
                                BUSY_TIMEOUT.as_millis()
                            );
                            connection.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .map_err(|error| fail(error.to_string()))?;
                sqlx::migrate!("./migrations/sqlite")
                    .run(&pool)
                    .await
                    .map_err(|error| fail(error.to_string()))?;
                (pool, parent.join("locks"))
            }
            Dialect::Postgres => {
                let options =
                    AnyConnectOptions::from_str(url).map_err(|error| fail(error.to_string()))?;
                let pool = AnyPoolOptions::new()
                    .max_connections(POSTGRES_CONNECTIONS)
                    .acquire_timeout(RETRY_WINDOW)
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            use sqlx::Executor;
                            let settings = format!(
                                "SET idle_in_transaction_session_timeout = {}; SET lock_timeout = {};",
                                POSTGRES_IDLE_IN_TRANSACTION.as_millis(),
                                POSTGRES_LOCK_TIMEOUT.as_millis()
                            );
                            connection.execute(sqlx::AssertSqlSafe(settings)).await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .map_err(|error| {
                        fail(format!(
                            "{error}. Is PostgreSQL running there, and may this user connect?"
                        ))
                    })?;
                // The migrator holds an advisory lock: daemons starting
                // together migrate once.
                sqlx::migrate!("./migrations/postgres")
                    .run(&pool)
                    .await
                    .map_err(|error| fail(error.to_string()))?;
                // File locks only keep processes of one host apart; the
                // folder is per store.
                let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(url.as_bytes()));
                let locks = std::env::temp_dir().join(format!("cairn-locks-{}", &digest[..16]));
                (pool, locks)
            }
        };
        std::fs::create_dir_all(&locks_dir)
            .map_err(|error| fail(format!("cannot create {}: {error}", locks_dir.display())))?;
        Ok(Self {
            pool,
            dialect,
            url: Arc::from(url),
            locks_dir,
            fence: None,
        })
    }

    /// The engine behind the store.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// This store, for the worker of the tenant `fence` names: every write
    /// it makes checks the lease first.
    pub fn fenced(&self, fence: Arc<Fence>) -> Self {
        Self {
            fence: Some(fence),
            ..self.clone()
        }
    }

    /// For a fenced store, what a plugin call that changes the world must
    /// check before each request it sends: that the lease still holds.
    pub fn send_guard(&self) -> Option<Arc<dyn crate::host::SendGuard>> {
        self.fence
            .clone()
            .map(|fence| fence as Arc<dyn crate::host::SendGuard>)
    }

    /// A query in this store's dialect.
    fn query(&self, text: &str) -> sqlx::query::Query<'static, Any, AnyArguments> {
        sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(text).into_owned()))
    }

    /// A connection, trying again for [`RETRY_WINDOW`] when the store is
    /// unreachable.
    async fn connection(&self) -> Result<sqlx::pool::PoolConnection<Any>> {
        let deadline = tokio::time::Instant::now() + RETRY_WINDOW;
        let mut wait = RETRY_FIRST_WAIT;
        loop {
            match self.pool.acquire().await {
                Ok(connection) => return Ok(connection),
                Err(error)
                    if is_transient(&error) && tokio::time::Instant::now() + wait < deadline =>
                {
                    tracing::debug!(%error, "the state store is unreachable; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// A transaction on a connection from [`Self::connection`].
    async fn transaction(&self) -> Result<sqlx::Transaction<'static, Any>> {
        Ok(sqlx::Transaction::begin(self.connection().await?, None).await?)
    }

    /// A write transaction. For a fenced store it starts by checking (and
    /// locking, until the commit) the tenant's lease row: if another daemon
    /// took the tenant over, nothing is written.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Any>> {
        if let Some(fence) = &self.fence {
            fence.check_clock()?;
        }
        let mut transaction = self.transaction().await?;
        if let Some(fence) = &self.fence {
            let held = self
                .query("UPDATE leases SET holder = holder WHERE tenant = ? AND holder = ? AND token = ?")
                .bind(fence.tenant.clone())
                .bind(fence.holder.clone())
                .bind(fence.token)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            if held == 0 {
                fence.lose();
                return Err(fence.error("another daemon holds it now"));
            }
        }
        Ok(transaction)
    }

    /// Takes the tenant's lock, waiting up to `wait` for another process
    /// to release it; `None` when it stayed busy.
    pub async fn lock_tenant(
        &self,
        tenant: &str,
        mode: LockMode,
        wait: Duration,
    ) -> Result<Option<TenantLock>> {
        let path = self.locks_dir.join(format!("{tenant}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|error| StoreError::Open {
                url: path.display().to_string(),
                reason: error.to_string(),
            })?;
        let deadline = std::time::Instant::now() + wait;
        loop {
            let attempt = match mode {
                LockMode::Exclusive => file.try_lock(),
                LockMode::Shared => file.try_lock_shared(),
            };
            match attempt {
                Ok(()) => return Ok(Some(TenantLock { _file: file })),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(LOCK_RETRY).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(error)) => {
                    return Err(StoreError::Open {
                        url: path.display().to_string(),
                        reason: error.to_string(),
                    });
                }
            }
        }
    }

    /// Every object the tenant owns, by address.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn owned(&self, tenant: &str) -> Result<Vec<OwnedResource>> {
        // One JSON document for the whole inventory: the engine builds it in
        // one step, where fetching ten thousand rows one by one costs ten
        // times as much.
        let sql = match self.dialect {
            Dialect::Sqlite => {
                "SELECT json_group_array(json_array(
                     address, spec_digest, json(state), json(lifecycle), json(depends_on),
                     commit_id, pending))
                 FROM (SELECT * FROM resources WHERE tenant = ? ORDER BY address)"
            }
            Dialect::Postgres => {
                "SELECT CAST(COALESCE(json_agg(json_build_array(
                     address, spec_digest, CAST(state AS json), CAST(lifecycle AS json),
                     CAST(depends_on AS json), commit_id, pending) ORDER BY address), '[]') AS text)
                 FROM resources WHERE tenant = ?"
            }
        };
        let document: String = self
            .query(sql)
            .bind(tenant.to_string())
            .fetch_one(&mut *self.connection().await?)
            .await?
            .try_get(0)?;
        type Row = (
            Address,
            String,
            Option<Value>,
            Lifecycle,
            Vec<Address>,
            String,
            i64,
        );
        let rows: Vec<Row> = serde_json::from_str(&document)
            .map_err(|error| StoreError::Corrupt(format!("the inventory of {tenant}: {error}")))?;
        Ok(rows
            .into_iter()
            .map(
                |(address, spec_digest, state, lifecycle, depends_on, commit_id, pending)| {
                    OwnedResource {
                        address,
                        spec_digest,
                        state,
                        lifecycle,
                        depends_on,
                        commit_id,
                        pending: pending != 0,
                    }
                },
            )
            .collect())
    }

    /// Marks the tenant's runs that never finished (their process died) as
    /// `interrupted`; call it holding the tenant's lock (and, in a daemon,
    /// its lease), so that no live run is among them. Returns how many
    /// there were.
    pub async fn close_interrupted_runs(&self, tenant: &str) -> Result<u64> {
        let mut transaction = self.begin_write().await?;
        let closed = self
            .query(
                "UPDATE runs SET outcome = 'interrupted', finished_at = ?
                 WHERE tenant = ? AND finished_at IS NULL",
            )
            .bind(now_ms())
            .bind(tenant.to_string())
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        transaction.commit().await?;
        Ok(closed)
    }

    /// Starts a run and returns its number. A daemon's runs carry its name
    /// and lease token.
    pub async fn begin_run(
        &self,
        tenant: &str,
        kind: &str,
        commit: &CommitInfo,
        plan_checksum: &str,
    ) -> Result<i64> {
        let mut transaction = self.begin_write().await?;
        let row = self
            .query(
                "INSERT INTO runs (tenant, kind, commit_id, commit_author, commit_summary, plan_checksum,
                                   started_at, daemon, lease_token)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(tenant.to_string())
            .bind(kind.to_string())
            .bind(commit.id.clone())
            .bind(commit.author.clone())
            .bind(commit.summary.clone())
            .bind(plan_checksum.to_string())
            .bind(now_ms())
            .bind(self.fence.as_ref().map(|f| f.holder.clone()))
            .bind(self.fence.as_ref().map(|f| f.token))
            .fetch_one(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(row.try_get("id")?)
    }

    /// Ends a run.
    pub async fn finish_run(
        &self,
        run_id: i64,
        outcome: &str,
        changes: usize,
        failures: usize,
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        self.query(
            "UPDATE runs SET finished_at = ?, outcome = ?, changes = ?, failures = ? WHERE id = ?",
        )
        .bind(now_ms())
        .bind(outcome.to_string())
        .bind(changes as i64)
        .bind(failures as i64)
        .bind(run_id)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Marks creates as in flight before they are attempted, so that an
    /// object whose create was interrupted is still known to be ours.
    pub async fn mark_pending(
        &self,
        tenant: &str,
        commit: &CommitInfo,
        intents: &[(&Address, &Lifecycle, &[Address])],
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        batch::mark_pending(self, &mut transaction, tenant, commit, intents).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Records one action and its effect on the inventory, atomically.
    pub async fn record(&self, action: &ActionRecord<'_>, change: &InventoryChange) -> Result<()> {
        self.record_all(&[(action.clone(), change.clone())]).await
    }

    /// Records actions and their effects on the inventory in one
    /// transaction: all of them or none.
    pub async fn record_all(&self, actions: &[(ActionRecord<'_>, InventoryChange)]) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        batch::record(self, &mut transaction, actions).await?;
        transaction.commit().await?;
        Ok(())
    }

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
        Ok(TenantState {
            suspended: row.try_get::<i64, _>("suspended")? != 0,
            held_commit: row.try_get("held_commit")?,
            held_head: row.try_get("held_head")?,
            last_commit: row.try_get("last_commit")?,
            last_applied_commit: row.try_get("last_applied_commit")?,
            last_applied_at: row.try_get("last_applied_at")?,
        })
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
        bind: impl FnOnce(
            sqlx::query::Query<'static, Any, AnyArguments>,
        ) -> sqlx::query::Query<'static, Any, AnyArguments>,
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

    /// The commits of the tenant's successful applies, newest first, each
    /// once.
    pub async fn applied_commits(&self, tenant: &str) -> Result<Vec<String>> {
        let rows = self
            .query(
                "SELECT commit_id, MAX(id) AS last FROM runs
                 WHERE tenant = ? AND kind IN ('apply', 'rollback', 'reconcile') AND outcome = 'succeeded'
                 GROUP BY commit_id ORDER BY last DESC",
            )
            .bind(tenant.to_string())
            .fetch_all(&mut *self.connection().await?)
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.try_get("commit_id"))
            .collect::<Result<_, _>>()?)
    }

    /// Journals changes about to be sent to a plugin.
    pub async fn add_intents(
        &self,
        tenant: &str,
        run_id: i64,
        intents: &[(&Address, &str, Option<&str>)],
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        batch::add_intents(self, &mut transaction, tenant, run_id, intents).await?;
        transaction.commit().await?;
        // The calls follow at once: a daemon whose lease ran out while the
        // journal was written does not make them.
        if let Some(fence) = &self.fence {
            fence.check_clock()?;
        }
        Ok(())
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
                Ok(Intent {
                    run_id: row.try_get("run_id")?,
                    address: Address::parse(&address)
                        .ok_or_else(|| StoreError::Corrupt(format!("the intent for {address}")))?,
                    action: row.try_get("action")?,
                    desired_digest: row.try_get("desired_digest")?,
                })
            })
            .collect()
    }

    /// Sets the status of owned resources.
    pub async fn set_statuses(
        &self,
        tenant: &str,
        statuses: &[(&Address, ResourceStatus, Option<&str>)],
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        for (address, status, error) in statuses {
            self.query(
                "UPDATE resources SET status = ?, last_error = ? WHERE tenant = ? AND address = ?",
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

    /// The status of every owned resource of the tenant.
    pub async fn statuses(&self, tenant: &str) -> Result<Vec<ResourceStatusRecord>> {
        let rows = self
            .query(
                "SELECT address, status, pending, last_error, commit_id, updated_at FROM resources
                 WHERE tenant = ? ORDER BY address",
            )
            .bind(tenant.to_string())
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.into_iter()
            .map(|row| {
                let pending = row.try_get::<i64, _>("pending")? != 0;
                let status: String = row.try_get("status")?;
                Ok(ResourceStatusRecord {
                    address: row.try_get("address")?,
                    status: if pending && status != "failed" {
                        ResourceStatus::Pending
                    } else {
                        ResourceStatus::parse(&status)
                    },
                    last_error: row.try_get("last_error")?,
                    commit_id: row.try_get("commit_id")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// The tenant's most recent runs, newest first, with their actions.
    pub async fn history(&self, tenant: &str, limit: u32) -> Result<Vec<RunRecord>> {
        let mut connection = self.connection().await?;
        let runs = self
            .query(
                "SELECT id, tenant, kind, commit_id, commit_author, commit_summary, plan_checksum,
                        started_at, finished_at, outcome, changes, failures, daemon, lease_token
                 FROM runs WHERE tenant = ? ORDER BY id DESC LIMIT ?",
            )
            .bind(tenant.to_string())
            .bind(i64::from(limit))
            .fetch_all(&mut *connection)
            .await?;
        let mut records = Vec::with_capacity(runs.len());
        for run in runs {
            let id: i64 = run.try_get("id")?;
            let actions = self
                .query(
                    "SELECT seq, time, address, action, before_digest, after_digest, result, error, duration_ms
                     FROM audit WHERE run_id = ? ORDER BY seq",
                )
                .bind(id)
                .fetch_all(&mut *connection)
                .await?
                .into_iter()
                .map(|row| {
                    Ok(AuditRecord {
                        seq: row.try_get("seq")?,
                        time: row.try_get("time")?,
                        address: row.try_get("address")?,
                        action: row.try_get("action")?,
                        before_digest: row.try_get("before_digest")?,
                        after_digest: row.try_get("after_digest")?,
                        result: row.try_get("result")?,
                        error: row.try_get("error")?,
                        duration_ms: row.try_get("duration_ms")?,
                    })
                })
                .collect::<Result<_>>()?;
            records.push(RunRecord {
                id,
                tenant: run.try_get("tenant")?,
                kind: run.try_get("kind")?,
                commit_id: run.try_get("commit_id")?,
                commit_author: run.try_get("commit_author")?,
                commit_summary: run.try_get("commit_summary")?,
                plan_checksum: run.try_get("plan_checksum")?,
                started_at: run.try_get("started_at")?,
                finished_at: run.try_get("finished_at")?,
                outcome: run.try_get("outcome")?,
                changes: run.try_get("changes")?,
                failures: run.try_get("failures")?,
                daemon: run.try_get("daemon")?,
                lease_token: run.try_get("lease_token")?,
                actions,
            });
        }
        Ok(records)
    }
}

fn to_json(value: &(impl Serialize + ?Sized)) -> String {
    serde_json::to_string(value).expect("inventory values serialize")
}
