//! Opening the store: choosing the dialect from the URL, connecting with
//! the engine's settings, applying the migrations; and the connections,
//! transactions and queries every other module goes through.

use super::dialect::Dialect;
use super::error::{Result, StoreError, is_transient};
use super::{StateStore, display_url};
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long a SQLite writer waits for another process holding the database
/// lock (a concurrent `cairn plan`, say) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections kept open to SQLite: one writer at a time, readers are few.
/// A connection, once open, is kept for the store's life (no idle timeout
/// or lifetime; see [`StateStore::open_every_connection`]).
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

/// What to check when PostgreSQL refuses or is not there.
const POSTGRES_HINT: &str = ". Is PostgreSQL running there, and may this user connect?";

impl StateStore {
    /// Opens the store at `url` (`sqlite:PATH`, created when missing, or
    /// `postgres://USER@HOST:PORT/DATABASE`) and applies pending
    /// migrations.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| StoreError::UnknownEngine {
            url: display_url(url),
        })?;
        let pool = match dialect {
            Dialect::Sqlite => open_sqlite(url).await?,
            Dialect::Postgres => open_postgres(url).await?,
        };
        Ok(Self {
            pool,
            dialect,
            url: Arc::from(url),
            fence: None,
            mirror: None,
        })
    }

    /// Opens now, on the calling thread, every connection the pool may
    /// hold, which it then keeps. The daemon does this at start: each
    /// SQLite connection has a thread of its own, which takes the
    /// scheduling priority of the thread that opens it, and the tenants'
    /// workers run on the guest threads, below the daemon's priority
    /// (`cairn_sandbox::cpu`), where a connection opened on demand would
    /// leave the daemon's lease renewals waiting behind guest code. A
    /// command, which runs no worker, opens them as it needs them.
    /// PostgreSQL's connections are sockets, with no thread: nothing to do.
    pub async fn open_every_connection(&self) -> Result<()> {
        if self.dialect != Dialect::Sqlite {
            return Ok(());
        }
        let mut held = Vec::with_capacity(SQLITE_CONNECTIONS as usize);
        for _ in 0..SQLITE_CONNECTIONS {
            held.push(self.connection().await?);
        }
        Ok(())
    }

    /// The engine behind the store.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL the store was opened with, password included.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A query in this store's dialect.
    pub(super) fn query(&self, text: &str) -> sqlx::query::Query<'static, Any, AnyArguments> {
        sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(text).into_owned()))
    }

    /// A connection, trying again for [`RETRY_WINDOW`] when the store is
    /// unreachable.
    pub(super) async fn connection(&self) -> Result<sqlx::pool::PoolConnection<Any>> {
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

    /// A transaction on a connection from [`Self::connection`], checking
    /// no lease: for what daemons share (leases, heartbeats, triggers).
    /// A tenant's records are written in [`Self::begin_write`]'s.
    pub(super) async fn transaction(&self) -> Result<sqlx::Transaction<'static, Any>> {
        Ok(sqlx::Transaction::begin(self.connection().await?, None).await?)
    }
}

/// A failure to connect to or set up the store at `url`.
fn connect_error(url: &str, hint: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    let url = display_url(url);
    move |source| StoreError::Connect { url, hint, source }
}

/// A failure to migrate the store at `url`.
fn migrate_error(url: &str) -> impl FnOnce(sqlx::migrate::MigrateError) -> StoreError {
    let url = display_url(url);
    move |source| StoreError::Migrate { url, source }
}

/// The embedded store: the database file's folder is created when missing.
async fn open_sqlite(url: &str) -> Result<AnyPool> {
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    let folder = Path::new(path).parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
        url: display_url(url),
        folder: folder.to_path_buf(),
        source,
    })?;
    let options =
        AnyConnectOptions::from_str(&format!("{url}?mode=rwc")).map_err(connect_error(url, ""))?;
    let pool = AnyPoolOptions::new()
        .max_connections(SQLITE_CONNECTIONS)
        .idle_timeout(None)
        .max_lifetime(None)
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
        .map_err(connect_error(url, ""))?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&pool)
        .await
        .map_err(migrate_error(url))?;
    Ok(pool)
}

/// A shared store.
async fn open_postgres(url: &str) -> Result<AnyPool> {
    let options = AnyConnectOptions::from_str(url).map_err(connect_error(url, ""))?;
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
        .map_err(connect_error(url, POSTGRES_HINT))?;
    // The migrator holds an advisory lock: daemons starting together
    // migrate once.
    sqlx::migrate!("./migrations/postgres")
        .run(&pool)
        .await
        .map_err(migrate_error(url))?;
    Ok(pool)
}
