//! A tenant's file lock on this host, which keeps a CLI reconcile and the
//! daemons' runs apart: the CLI takes it exclusively, daemons share it
//! (they keep out of each other's way by leases, and a daemon paused in a
//! run must not stall the one that took its tenant over). It is an OS file
//! lock, so a process that dies releases it at once.
//!
//! The locks are not the database's: they only keep processes of one host
//! apart, so they live in a folder of that host, one per store — beside a
//! SQLite database, or in the temporary folder, named by the URL's digest,
//! for a PostgreSQL one.

use crate::store::StateStore;
use crate::store::dialect::Dialect;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a busy tenant lock is tried again.
const LOCK_RETRY: Duration = Duration::from_millis(100);

/// Hex digits of the URL's sha256 in a PostgreSQL store's locks folder:
/// enough that two stores used on one host never share a folder.
const FOLDER_DIGEST_CHARS: usize = 16;

/// Why a tenant lock could not be taken (as opposed to being busy).
#[derive(Debug, thiserror::Error)]
pub enum TenantLockError {
    /// The folder of the locks could not be created.
    #[error("cannot create the tenant locks' folder {}: {source}", .folder.display())]
    Folder {
        /// The folder.
        folder: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot take the tenant lock {}: {source}", .path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A tenant's lock, held until dropped.
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

/// The tenant locks of one store on this host.
#[derive(Debug, Clone)]
pub struct TenantLocks {
    folder: PathBuf,
}

impl TenantLocks {
    /// The locks of the tenants of `store`.
    pub fn of_store(store: &StateStore) -> Self {
        Self::of(store.url(), store.dialect())
    }

    /// The locks of the tenants of the store at `url`, `None` when no
    /// engine serves such a URL.
    pub fn of_url(url: &str) -> Option<Self> {
        Dialect::of_url(url).map(|dialect| Self::of(url, dialect))
    }

    /// The folder that holds the lock files.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    fn of(url: &str, dialect: Dialect) -> Self {
        let folder = match dialect {
            Dialect::Sqlite => {
                let path = url.strip_prefix("sqlite:").unwrap_or(url);
                Path::new(path)
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join("locks")
            }
            Dialect::Postgres => {
                let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(url.as_bytes()));
                std::env::temp_dir().join(format!("cairn-locks-{}", &digest[..FOLDER_DIGEST_CHARS]))
            }
        };
        Self { folder }
    }

    /// Takes the tenant's lock, waiting up to `wait` for another process
    /// to release it; `None` when it stayed busy.
    pub async fn lock(
        &self,
        tenant: &str,
        mode: LockMode,
        wait: Duration,
    ) -> Result<Option<TenantLock>, TenantLockError> {
        std::fs::create_dir_all(&self.folder).map_err(|source| TenantLockError::Folder {
            folder: self.folder.clone(),
            source,
        })?;
        let path = self.folder.join(format!("{tenant}.lock"));
        let failed = |source| TenantLockError::Lock {
            path: path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(failed)?;
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
                Err(std::fs::TryLockError::Error(error)) => return Err(failed(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_exclusive_lock_keeps_out_every_other_and_shared_ones_go_together() {
        let (store, dir) = crate::store::tests::store().await;
        let locks = TenantLocks::of_store(&store);
        let alone = locks.lock("t", LockMode::Exclusive, Duration::ZERO).await;
        let alone = alone.unwrap().expect("a free lock is taken");
        assert!(dir.path().join("locks/t.lock").exists());
        for mode in [LockMode::Exclusive, LockMode::Shared] {
            let busy = locks.lock("t", mode, Duration::ZERO).await.unwrap();
            assert!(busy.is_none(), "{mode:?}");
        }
        assert!(
            locks
                .lock("u", LockMode::Exclusive, Duration::ZERO)
                .await
                .unwrap()
                .is_some()
        );
        drop(alone);
        let first = locks
            .lock("t", LockMode::Shared, Duration::ZERO)
            .await
            .unwrap();
        let second = locks
            .lock("t", LockMode::Shared, Duration::ZERO)
            .await
            .unwrap();
        assert!(first.is_some() && second.is_some());
        let excluded = locks
            .lock("t", LockMode::Exclusive, Duration::ZERO)
            .await
            .unwrap();
        assert!(excluded.is_none());
    }
}
