//! What can go wrong with the state store. Each failure keeps its cause as
//! a `#[source]`, typed, so that callers can tell an unreachable server
//! from a refused query ([`StoreError::is_unreachable`]); the message also
//! says the cause, as the rest of Cairn's errors do, since the daemon shows
//! a message alone (in alerts, logs and its status API).

use super::vocabulary::UnknownWord;
use std::path::PathBuf;

/// The result type of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What went wrong with the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no engine the store speaks.
    #[error(
        "cannot open the state store {url}: use sqlite:PATH or postgres://USER@HOST:PORT/DATABASE"
    )]
    UnknownEngine {
        /// The store's URL, without its password.
        url: String,
    },
    /// The folder of a SQLite database could not be created.
    #[error("cannot open the state store {url}: cannot create {}: {source}", .folder.display())]
    Folder {
        /// The store's URL.
        url: String,
        /// The folder.
        folder: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The URL's options are wrong, or the engine refused the connection.
    #[error("cannot open the state store {url}: {source}{hint}")]
    Connect {
        /// The store's URL, without its password.
        url: String,
        /// What to check, for a server that refused or was not there.
        hint: &'static str,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought to this version's.
    #[error("cannot open the state store {url}: {source}")]
    Migrate {
        /// The store's URL, without its password.
        url: String,
        /// Why.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("the state store failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored value is not what this version of Cairn wrote.
    #[error("the state store holds a value this version cannot read ({what}): {source}")]
    Corrupt {
        /// Where the value was.
        what: String,
        /// What is wrong with it.
        #[source]
        source: CorruptValue,
    },
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
    /// The inventory a daemon's worker keeps in memory is not what the
    /// store holds at the same version: a defect of this version of Cairn,
    /// which debug builds check for on every use of the copy. Nothing was
    /// planned from it.
    #[error(
        "the inventory kept in memory for tenant {tenant} disagrees with the store at version {version} ({detail}): this is a defect of Cairn; nothing was planned from it"
    )]
    KeptInventoryDisagrees {
        /// The tenant.
        tenant: String,
        /// The store's inventory version.
        version: i64,
        /// What differs.
        detail: String,
    },
}

/// What is wrong with a value read from the store.
#[derive(Debug, thiserror::Error)]
pub enum CorruptValue {
    /// A JSON column does not hold what was written to it.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A word no vocabulary of this version knows.
    #[error(transparent)]
    Word(#[from] UnknownWord),
    /// A resource address that does not parse.
    #[error("`{0}` is not a resource address")]
    Address(String),
}

impl StoreError {
    /// Whether the store could not be reached (as opposed to refusing a
    /// query): trying again later may succeed.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Query(error) if is_transient(error))
    }

    /// A value read from the store that cannot be used.
    pub(super) fn corrupt(what: impl Into<String>, source: impl Into<CorruptValue>) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// Errors of a connection rather than of a query: the server is down,
/// restarting or unreachable.
pub(super) fn is_transient(error: &sqlx::Error) -> bool {
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
