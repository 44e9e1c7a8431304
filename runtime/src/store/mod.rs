//! The state store: the inventory of objects Cairn owns, the runs of plan
//! and apply, and the append-only audit log. SQLite is the embedded
//! default; the schema lives in `migrations/` and is applied on open.
//!
//! Every action is recorded together with its effect on the inventory in
//! one transaction, so the two never disagree.

use crate::model::{Address, Lifecycle};
use crate::source::CommitInfo;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a writer waits for another process holding the database lock
/// (a concurrent `cairn plan`, say) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections kept open: SQLite has one writer at a time, readers are few.
const MAX_CONNECTIONS: u32 = 4;

/// What went wrong with the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error("cannot open the state store {url}: {reason}")]
    Open {
        /// The store's URL.
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
}

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
    pool: SqlitePool,
    locks_dir: std::path::PathBuf,
}

/// Exclusive use of one tenant by this process: while it is held, no other
/// `cairn` process (the daemon, a CLI apply) reconciles the tenant. It is an
/// OS file lock, so a process that dies releases it at once.
#[derive(Debug)]
pub struct TenantLock {
    _file: std::fs::File,
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
    /// Opens (creating when missing) the store at `url` (`sqlite:PATH`) and
    /// applies pending migrations.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn open(url: &str) -> Result<Self> {
        let fail = |reason: String| StoreError::Open {
            url: url.to_string(),
            reason,
        };
        if let Some(path) = url.strip_prefix("sqlite:")
            && let Some(parent) = Path::new(path).parent()
        {
            std::fs::create_dir_all(parent)
                .map_err(|error| fail(format!("cannot create {}: {error}", parent.display())))?;
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| fail(error.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|error| fail(error.to_string()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|error| fail(error.to_string()))?;
        let database = url.strip_prefix("sqlite:").unwrap_or(url);
        let locks_dir = Path::new(database)
            .parent()
            .unwrap_or(Path::new("."))
            .join("locks");
        std::fs::create_dir_all(&locks_dir)
            .map_err(|error| fail(format!("cannot create {}: {error}", locks_dir.display())))?;
        Ok(Self { pool, locks_dir })
    }

    /// Takes the tenant's lock, waiting up to `wait` for another process
    /// to release it; `None` when it stayed busy.
    pub async fn lock_tenant(&self, tenant: &str, wait: Duration) -> Result<Option<TenantLock>> {
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
            match file.try_lock() {
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
        // One JSON document for the whole inventory: SQLite builds it in one
        // step, where fetching ten thousand rows one by one costs ten times
        // as much.
        let document: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(
                 address, spec_digest, json(state), json(lifecycle), json(depends_on),
                 commit_id, pending))
             FROM (SELECT * FROM resources WHERE tenant = ? ORDER BY address)",
        )
        .bind(tenant)
        .fetch_one(&self.pool)
        .await?;
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
    /// `interrupted`; call it holding the tenant's lock, so that no live run
    /// is among them. Returns how many there were.
    pub async fn close_interrupted_runs(&self, tenant: &str) -> Result<u64> {
        let result = sqlx::query(
            "UPDATE runs SET outcome = 'interrupted', finished_at = ?
             WHERE tenant = ? AND finished_at IS NULL",
        )
        .bind(now_ms())
        .bind(tenant)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// Starts a run and returns its number.
    pub async fn begin_run(
        &self,
        tenant: &str,
        kind: &str,
        commit: &CommitInfo,
        plan_checksum: &str,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO runs (tenant, kind, commit_id, commit_author, commit_summary, plan_checksum, started_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(tenant)
        .bind(kind)
        .bind(&commit.id)
        .bind(&commit.author)
        .bind(&commit.summary)
        .bind(plan_checksum)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get("id"))
    }

    /// Ends a run.
    pub async fn finish_run(
        &self,
        run_id: i64,
        outcome: &str,
        changes: usize,
        failures: usize,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE runs SET finished_at = ?, outcome = ?, changes = ?, failures = ? WHERE id = ?",
        )
        .bind(now_ms())
        .bind(outcome)
        .bind(changes as i64)
        .bind(failures as i64)
        .bind(run_id)
        .execute(&self.pool)
        .await?;
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
        let mut transaction = self.pool.begin().await?;
        let now = now_ms();
        for chunk in intents.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO resources (tenant, address, provider, type_name, resource_id, spec_digest, state,
                                        lifecycle, depends_on, commit_id, pending, updated_at) ",
            );
            insert.push_values(chunk, |mut row, (address, lifecycle, depends_on)| {
                row.push_bind(tenant)
                    .push_bind(address.to_string())
                    .push_bind(&address.provider)
                    .push_bind(&address.type_name)
                    .push_bind(&address.id)
                    .push_bind("")
                    .push_bind(None::<String>)
                    .push_bind(to_json(*lifecycle))
                    .push_bind(to_json(*depends_on))
                    .push_bind(&commit.id)
                    .push_bind(1_i64)
                    .push_bind(now);
            });
            insert.push(" ON CONFLICT (tenant, address) DO NOTHING");
            insert.build().execute(&mut *transaction).await?;
        }
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
        let mut transaction = self.pool.begin().await?;
        record_batch(&mut transaction, actions).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The tenant's control state (defaults when never set).
    pub async fn tenant_state(&self, tenant: &str) -> Result<TenantState> {
        let row = sqlx::query(
            "SELECT suspended, held_commit, held_head, last_commit, last_applied_commit, last_applied_at
             FROM tenants WHERE tenant = ?",
        )
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or_else(TenantState::default, |row| TenantState {
            suspended: row.get::<i64, _>("suspended") != 0,
            held_commit: row.get("held_commit"),
            held_head: row.get("held_head"),
            last_commit: row.get("last_commit"),
            last_applied_commit: row.get("last_applied_commit"),
            last_applied_at: row.get("last_applied_at"),
        }))
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

    async fn update_tenant<'q>(
        &self,
        tenant: &'q str,
        assignments: &'static str,
        bind: impl FnOnce(
            sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
        )
            -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query("INSERT INTO tenants (tenant, updated_at) VALUES (?, ?) ON CONFLICT (tenant) DO NOTHING")
            .bind(tenant)
            .bind(now_ms())
            .execute(&mut *transaction)
            .await?;
        // `assignments` is always a literal of this module, never input.
        let sql = format!("UPDATE tenants SET {assignments}, updated_at = ? WHERE tenant = ?");
        bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .bind(now_ms())
            .bind(tenant)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The commits of the tenant's successful applies, newest first, each
    /// once.
    pub async fn applied_commits(&self, tenant: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT commit_id, MAX(id) AS last FROM runs
             WHERE tenant = ? AND kind IN ('apply', 'rollback', 'reconcile') AND outcome = 'succeeded'
             GROUP BY commit_id ORDER BY last DESC",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|row| row.get("commit_id")).collect())
    }

    /// Journals changes about to be sent to a plugin.
    pub async fn add_intents(
        &self,
        tenant: &str,
        run_id: i64,
        intents: &[(&Address, &str, Option<&str>)],
    ) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        let now = now_ms();
        for chunk in intents.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO intents (tenant, run_id, address, action, desired_digest, created_at) ",
            );
            insert.push_values(chunk, |mut row, (address, action, digest)| {
                row.push_bind(tenant)
                    .push_bind(run_id)
                    .push_bind(address.to_string())
                    .push_bind(*action)
                    .push_bind(*digest)
                    .push_bind(now);
            });
            insert.build().execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Changes journaled and never recorded: what a crash interrupted.
    pub async fn intents(&self, tenant: &str) -> Result<Vec<Intent>> {
        let rows = sqlx::query(
            "SELECT run_id, address, action, desired_digest FROM intents WHERE tenant = ? ORDER BY id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let address: String = row.get("address");
                Ok(Intent {
                    run_id: row.get("run_id"),
                    address: Address::parse(&address)
                        .ok_or_else(|| StoreError::Corrupt(format!("the intent for {address}")))?,
                    action: row.get("action"),
                    desired_digest: row.get("desired_digest"),
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
        let mut transaction = self.pool.begin().await?;
        for (address, status, error) in statuses {
            sqlx::query(
                "UPDATE resources SET status = ?, last_error = ? WHERE tenant = ? AND address = ?",
            )
            .bind(status.as_str())
            .bind(error)
            .bind(tenant)
            .bind(address.to_string())
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The status of every owned resource of the tenant.
    pub async fn statuses(&self, tenant: &str) -> Result<Vec<ResourceStatusRecord>> {
        let rows = sqlx::query(
            "SELECT address, status, pending, last_error, commit_id, updated_at FROM resources
             WHERE tenant = ? ORDER BY address",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let pending = row.get::<i64, _>("pending") != 0;
                let status: String = row.get("status");
                ResourceStatusRecord {
                    address: row.get("address"),
                    status: if pending && status != "failed" {
                        ResourceStatus::Pending
                    } else {
                        ResourceStatus::parse(&status)
                    },
                    last_error: row.get("last_error"),
                    commit_id: row.get("commit_id"),
                    updated_at: row.get("updated_at"),
                }
            })
            .collect())
    }

    /// The tenant's most recent runs, newest first, with their actions.
    pub async fn history(&self, tenant: &str, limit: u32) -> Result<Vec<RunRecord>> {
        let runs = sqlx::query(
            "SELECT id, tenant, kind, commit_id, commit_author, commit_summary, plan_checksum,
                    started_at, finished_at, outcome, changes, failures
             FROM runs WHERE tenant = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(tenant)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut records = Vec::with_capacity(runs.len());
        for run in runs {
            let id: i64 = run.get("id");
            let actions = sqlx::query(
                "SELECT seq, time, address, action, before_digest, after_digest, result, error, duration_ms
                 FROM audit WHERE run_id = ? ORDER BY seq",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|row| AuditRecord {
                seq: row.get("seq"),
                time: row.get("time"),
                address: row.get("address"),
                action: row.get("action"),
                before_digest: row.get("before_digest"),
                after_digest: row.get("after_digest"),
                result: row.get("result"),
                error: row.get("error"),
                duration_ms: row.get("duration_ms"),
            })
            .collect();
            records.push(RunRecord {
                id,
                tenant: run.get("tenant"),
                kind: run.get("kind"),
                commit_id: run.get("commit_id"),
                commit_author: run.get("commit_author"),
                commit_summary: run.get("commit_summary"),
                plan_checksum: run.get("plan_checksum"),
                started_at: run.get("started_at"),
                finished_at: run.get("finished_at"),
                outcome: run.get("outcome"),
                changes: run.get("changes"),
                failures: run.get("failures"),
                actions,
            });
        }
        Ok(records)
    }
}

/// Rows per multi-row statement: a batch of 10,000 changes is written in
/// a few dozen statements instead of 50,000, well below SQLite's limit of
/// 32,766 bound values (12 columns × 500 rows).
const ROWS_PER_STATEMENT: usize = 500;

/// Writes audit rows and applies their inventory changes, in batches.
async fn record_batch(
    transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    actions: &[(ActionRecord<'_>, InventoryChange)],
) -> Result<()> {
    let now = now_ms();
    for chunk in actions.chunks(ROWS_PER_STATEMENT) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO audit (run_id, time, tenant, commit_id, commit_author, address, action,
                                before_digest, after_digest, result, error, duration_ms) ",
        );
        insert.push_values(chunk, |mut row, (action, _)| {
            row.push_bind(action.run_id)
                .push_bind(now)
                .push_bind(action.tenant)
                .push_bind(&action.commit.id)
                .push_bind(&action.commit.author)
                .push_bind(action.address.to_string())
                .push_bind(action.action)
                .push_bind(&action.before_digest)
                .push_bind(&action.after_digest)
                .push_bind(action.result.as_str())
                .push_bind(&action.error)
                .push_bind(i64::try_from(action.duration.as_millis()).unwrap_or(i64::MAX));
        });
        insert.build().execute(&mut **transaction).await?;
    }

    // The outcomes are recorded: those changes are no longer in flight
    // (unless their outcome is unknown).
    let settled: Vec<&ActionRecord<'_>> = actions
        .iter()
        .filter(|(_, change)| !matches!(change, InventoryChange::Unknown))
        .map(|(action, _)| action)
        .collect();
    delete_addresses(transaction, "DELETE FROM intents WHERE ", &settled).await?;

    let owned: Vec<_> = actions
        .iter()
        .filter_map(|(action, change)| match change {
            InventoryChange::Own {
                spec_digest,
                state,
                lifecycle,
                depends_on,
                pending,
            } => Some((action, spec_digest, state, lifecycle, depends_on, pending)),
            _ => None,
        })
        .collect();
    for chunk in owned.chunks(ROWS_PER_STATEMENT) {
        let mut upsert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO resources (tenant, address, provider, type_name, resource_id, spec_digest, state,
                                    lifecycle, depends_on, commit_id, pending, updated_at) ",
        );
        upsert.push_values(
            chunk,
            |mut row, (action, digest, state, lifecycle, depends_on, pending)| {
                row.push_bind(action.tenant)
                    .push_bind(action.address.to_string())
                    .push_bind(&action.address.provider)
                    .push_bind(&action.address.type_name)
                    .push_bind(&action.address.id)
                    .push_bind(*digest)
                    .push_bind(state.as_ref().map(Value::to_string))
                    .push_bind(to_json(*lifecycle))
                    .push_bind(to_json(*depends_on))
                    .push_bind(&action.commit.id)
                    .push_bind(i64::from(**pending))
                    .push_bind(now);
            },
        );
        upsert.push(
            " ON CONFLICT (tenant, address) DO UPDATE SET
                spec_digest = excluded.spec_digest, state = excluded.state,
                lifecycle = excluded.lifecycle, depends_on = excluded.depends_on,
                commit_id = excluded.commit_id, pending = excluded.pending,
                updated_at = excluded.updated_at, status = 'in-sync', last_error = NULL",
        );
        upsert.build().execute(&mut **transaction).await?;
    }

    let forgotten: Vec<&ActionRecord<'_>> = actions
        .iter()
        .filter(|(_, change)| matches!(change, InventoryChange::Forget))
        .map(|(action, _)| action)
        .collect();
    delete_addresses(transaction, "DELETE FROM resources WHERE ", &forgotten).await?;
    let dropped: Vec<&ActionRecord<'_>> = actions
        .iter()
        .filter(|(_, change)| matches!(change, InventoryChange::DropPending))
        .map(|(action, _)| action)
        .collect();
    delete_addresses(
        transaction,
        "DELETE FROM resources WHERE pending = 1 AND ",
        &dropped,
    )
    .await?;

    // Failures are few: one statement each.
    for (action, change) in actions {
        let kept = matches!(change, InventoryChange::Keep | InventoryChange::Unknown);
        if kept && action.result == ActionResult::Failed {
            sqlx::query(
                "UPDATE resources SET status = 'failed', last_error = ?, updated_at = ?
                 WHERE tenant = ? AND address = ?",
            )
            .bind(&action.error)
            .bind(now)
            .bind(action.tenant)
            .bind(action.address.to_string())
            .execute(&mut **transaction)
            .await?;
        }
    }
    Ok(())
}

/// Runs `prefix tenant = ? AND address IN (...)` for the actions'
/// addresses, in batches.
async fn delete_addresses(
    transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    prefix: &'static str,
    actions: &[&ActionRecord<'_>],
) -> Result<()> {
    for chunk in actions.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(prefix);
        query
            .push("tenant = ")
            .push_bind(chunk[0].tenant)
            .push(" AND address IN (");
        let mut addresses = query.separated(", ");
        for action in chunk {
            addresses.push_bind(action.address.to_string());
        }
        addresses.push_unseparated(")");
        query.build().execute(&mut **transaction).await?;
    }
    Ok(())
}

fn to_json(value: &(impl Serialize + ?Sized)) -> String {
    serde_json::to_string(value).expect("inventory values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit() -> CommitInfo {
        CommitInfo {
            id: "c0ffee".into(),
            author: "Ada <ada@example.org>".into(),
            summary: "add www".into(),
            time: 0,
        }
    }

    #[tokio::test]
    async fn large_batches_are_written_in_chunks_all_or_nothing() {
        let folder = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", folder.path().join("state.db").display());
        let store = StateStore::open(&url).await.unwrap();
        let commit = commit();
        let run = store.begin_run("t", "apply", &commit, "sum").await.unwrap();
        let addresses: Vec<Address> = (0..1_234)
            .map(|i| Address::parse(&format!("dns/record/r{i}.example.org./A")).unwrap())
            .collect();
        let intents: Vec<(&Address, &str, Option<&str>)> =
            addresses.iter().map(|a| (a, "create", None)).collect();
        store.add_intents("t", run, &intents).await.unwrap();
        let rows: Vec<(ActionRecord, InventoryChange)> = addresses
            .iter()
            .map(|address| {
                (
                    ActionRecord {
                        run_id: run,
                        tenant: "t",
                        commit: &commit,
                        address,
                        action: "create",
                        before_digest: None,
                        after_digest: Some("a".into()),
                        result: ActionResult::Ok,
                        error: None,
                        duration: Duration::from_millis(1),
                    },
                    InventoryChange::Own {
                        spec_digest: "d".into(),
                        state: None,
                        lifecycle: Lifecycle::default(),
                        depends_on: vec![],
                        pending: false,
                    },
                )
            })
            .collect();
        store.record_all(&rows).await.unwrap();
        assert_eq!(store.owned("t").await.unwrap().len(), 1_234);
        assert!(store.intents("t").await.unwrap().is_empty());
        assert_eq!(store.history("t", 1).await.unwrap()[0].actions.len(), 1_234);

        let forget: Vec<(ActionRecord, InventoryChange)> = rows
            .into_iter()
            .map(|(action, _)| (action, InventoryChange::Forget))
            .collect();
        store.record_all(&forget).await.unwrap();
        assert!(store.owned("t").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn actions_update_the_inventory_and_the_audit_log_is_append_only() {
        let folder = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", folder.path().join("state.db").display());
        let store = StateStore::open(&url).await.unwrap();
        let address = Address::parse("dns/record/www.example.org./A").unwrap();
        let commit = commit();
        let run = store.begin_run("t", "apply", &commit, "sum").await.unwrap();
        let own = InventoryChange::Own {
            spec_digest: "d1".into(),
            state: Some(serde_json::json!({"ttl": 300})),
            lifecycle: Lifecycle::default(),
            depends_on: vec![],
            pending: false,
        };
        let record = ActionRecord {
            run_id: run,
            tenant: "t",
            commit: &commit,
            address: &address,
            action: "create",
            before_digest: None,
            after_digest: Some("a1".into()),
            result: ActionResult::Ok,
            error: None,
            duration: Duration::from_millis(5),
        };
        store.record(&record, &own).await.unwrap();
        store.finish_run(run, "succeeded", 1, 0).await.unwrap();

        let owned = store.owned("t").await.unwrap();
        assert_eq!(owned.len(), 1);
        assert_eq!(owned[0].state.as_ref().unwrap()["ttl"], 300);
        assert!(store.owned("other").await.unwrap().is_empty());

        let history = store.history("t", 10).await.unwrap();
        assert_eq!(history[0].actions[0].action, "create");
        assert_eq!(history[0].outcome.as_deref(), Some("succeeded"));

        let tamper = sqlx::query("DELETE FROM audit")
            .execute(&store.pool)
            .await
            .unwrap_err();
        assert!(tamper.to_string().contains("append-only"), "{tamper}");
        // A reopened store keeps everything.
        drop(store);
        let store = StateStore::open(&url).await.unwrap();
        assert_eq!(store.history("t", 10).await.unwrap().len(), 1);
    }
}
