//! Where a tenant's desired state comes from, with the same guarantees
//! whatever the source: a reference is resolved to an immutable revision
//! id, the revision's files are listed with content ids and sizes before
//! any is read (so the quotas and the model cache work alike for every
//! source), texts are read by content id, and the revision's author, time
//! and message are given where the source has them. Nothing in planning or
//! the daemon knows which source a tenant uses.
//!
//! The sources: a Git repository ([`git`], the default: a local path or a
//! `file://`, `git://` or `http(s)://` URL), a Mercurial repository
//! ([`hg`]: `hg+http(s)://…`, or a local path holding `.hg`), an OCI
//! artifact ([`oci`]: `oci://HOST[:PORT]/NAME`) and a plain folder
//! (`dir:PATH`, [`folder`], for development: not auditable).
//!
//! A read gives a [`Snapshot`]: the revision's files listed, each text
//! read only when its reader asks ([`Snapshot::read_texts`]), so that a
//! revision changing one file of thousands reads one. What a source does
//! with the listed files — quotas, which files count, what is refused —
//! is decided once, in [`listing`].

mod error;
mod folder;
mod git;
mod hg;
mod listing;
pub mod oci;
mod signature;
mod snapshot;
mod tags;

pub use error::{
    CauseError, FetchError, FileProblem, SourceError, UnreadableManifest, UnreadableSigners,
    UntrustedSignature,
};
pub use folder::FOLDER_AUTHOR;
pub use hg::{HG_PREFIX, HgError};
pub use signature::check_allowed_signers;
pub use snapshot::{CommitInfo, ManifestFile, Snapshot, SourceFile};

use crate::quota::Quotas;
use crate::store::StateStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The prefix of a plain folder's `repo`.
pub const FOLDER_PREFIX: &str = "dir:";

/// How long fetching and reading a commit may take: a stalled remote fails
/// the run (and is retried) instead of holding the tenant.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// The largest resource file read; larger ones are refused with an error.
pub const MAX_RESOURCE_FILE_BYTES: usize = 4 << 20;

/// What a commit must satisfy before its files are used: the tenant's
/// repository quotas and, when set, its trusted signers.
#[derive(Debug, Clone)]
pub struct ReadPolicy {
    /// The most files below the folder.
    pub max_files: usize,
    /// The most bytes of resource files and manifests.
    pub max_bytes: u64,
    /// An `allowed_signers` file; `None` accepts unsigned commits.
    pub allowed_signers: Option<PathBuf>,
}

impl Default for ReadPolicy {
    fn default() -> Self {
        let quotas = Quotas::default();
        Self {
            max_files: quotas.repository_files,
            max_bytes: quotas.repository_bytes,
            allowed_signers: None,
        }
    }
}

/// Where a tenant's desired state lives.
#[derive(Debug, Clone)]
pub struct Source {
    repo: String,
    backend: Backend,
    /// The store that remembers what each release tag named when first
    /// read ([`tags`]); every tenant's source has one
    /// ([`Source::remembering_tags_in`]). Without it (a source read
    /// outside a tenant) a tag is read as it is now.
    tags: Option<StateStore>,
    /// Where a remote source keeps what it needs between reads (and where
    /// an earlier version kept what tags named, [`tags`]).
    cache_dir: PathBuf,
}

/// The kinds of source, each read its own way.
#[derive(Debug, Clone)]
enum Backend {
    Git(Arc<git::Git>),
    Hg(Arc<hg::Hg>),
    Oci(Arc<oci::Oci>),
    Folder(Arc<folder::Folder>),
    /// An address no source reads.
    Invalid(Arc<oci::artifact::BadAddress>),
}

/// Whether `repo` (as resolved from `cairn.toml`) is a Mercurial
/// repository: `hg+URL`, or a local path holding `.hg`.
pub fn is_mercurial(repo: &str) -> bool {
    repo.starts_with(HG_PREFIX) || (!repo.contains("://") && Path::new(repo).join(".hg").is_dir())
}

/// The ref a tenant follows when `cairn.toml` names none: Mercurial's
/// `default` branch, or Git's `main`.
pub fn default_reference(repo: &str) -> &'static str {
    match is_mercurial(repo) {
        true => "default",
        false => "main",
    }
}

impl Source {
    /// A source for `repo` at `reference`, reading files below `path`;
    /// `cache_dir` holds what a remote source keeps between reads.
    pub fn new(repo: &str, reference: &str, path: &str, cache_dir: &Path) -> Self {
        let backend = match repo.strip_prefix(FOLDER_PREFIX) {
            Some(root) => Backend::Folder(Arc::new(folder::Folder {
                repo: repo.to_string(),
                root: PathBuf::from(root),
                path: path.to_string(),
                policy: ReadPolicy::default(),
                last: Arc::default(),
            })),
            None if repo.starts_with(oci::artifact::OCI_PREFIX) => {
                match oci::artifact::Address::parse(repo) {
                    Ok(address) => Backend::Oci(Arc::new(oci::Oci {
                        repo: repo.to_string(),
                        address,
                        reference: reference.to_string(),
                        path: path.to_string(),
                        cache_dir: cache_dir.to_path_buf(),
                        policy: ReadPolicy::default(),
                        credentials: None,
                    })),
                    // Refused when the configuration loads; a source made
                    // from it anyway reads nothing.
                    Err(bad) => Backend::Invalid(Arc::new(bad)),
                }
            }
            None if is_mercurial(repo) => Backend::Hg(Arc::new(hg::Hg {
                repo: repo.to_string(),
                remote: repo.strip_prefix(HG_PREFIX).map(str::to_string),
                reference: reference.to_string(),
                path: path.to_string(),
                cache_dir: cache_dir.to_path_buf(),
                policy: ReadPolicy::default(),
            })),
            None => Backend::Git(Arc::new(git::Git {
                repo: repo.to_string(),
                reference: reference.to_string(),
                path: path.to_string(),
                cache_dir: cache_dir.to_path_buf(),
                policy: ReadPolicy::default(),
                opened: Arc::default(),
                last: Arc::default(),
                listed_from_last: Arc::default(),
            })),
        };
        Self {
            repo: repo.to_string(),
            backend,
            tags: None,
            cache_dir: cache_dir.to_path_buf(),
        }
    }

    /// The same source, refusing a release tag (Git or Mercurial) found
    /// naming another revision than `store` recorded when any reader
    /// sharing it first read the tag.
    pub fn remembering_tags_in(mut self, store: StateStore) -> Self {
        self.tags = Some(store);
        self
    }

    /// The same source, reading revisions under `policy`.
    pub fn with_policy(mut self, policy: ReadPolicy) -> Self {
        self.backend = match self.backend {
            Backend::Git(git) => Backend::Git(Arc::new(git::Git {
                policy,
                ..(*git).clone()
            })),
            Backend::Hg(hg) => Backend::Hg(Arc::new(hg::Hg {
                policy,
                ..(*hg).clone()
            })),
            Backend::Oci(oci) => Backend::Oci(Arc::new(oci::Oci {
                policy,
                ..(*oci).clone()
            })),
            Backend::Folder(folder) => Backend::Folder(Arc::new(folder::Folder {
                policy,
                ..(*folder).clone()
            })),
            invalid @ Backend::Invalid(_) => invalid,
        };
        self
    }

    /// The same source, logging in to its registry with `credentials`
    /// (an OCI artifact's; other sources have none).
    pub fn with_credentials(mut self, credentials: Option<oci::Credentials>) -> Self {
        if let Backend::Oci(oci) = self.backend {
            self.backend = Backend::Oci(Arc::new(oci::Oci {
                credentials,
                ..(*oci).clone()
            }));
        }
        self
    }

    /// How many of this source's listings were made from the last one
    /// (a Git repository's folder: only the entries that changed were
    /// listed again); other sources list every file each time.
    pub fn listed_from_last(&self) -> u64 {
        match &self.backend {
            Backend::Git(git) => git.listed_from_last.load(Ordering::Relaxed),
            Backend::Hg(_) | Backend::Oci(_) | Backend::Folder(_) | Backend::Invalid(_) => 0,
        }
    }

    /// Fetches (for remotes) and lists the files at the ref's commit.
    pub async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        self.read_at(None, true, true).await
    }

    /// Fetches (for remotes) and resolves the ref, without listing any
    /// file: the cheap question "did the ref move?".
    pub async fn head(&self) -> Result<CommitInfo, SourceError> {
        Ok(self.read_at(None, true, false).await?.commit)
    }

    /// Lists the files at `commit` (any commit id or ref), without
    /// fetching: for a commit seen before, such as a rollback target.
    pub async fn snapshot_at(&self, commit: &str) -> Result<Snapshot, SourceError> {
        self.read_at(Some(commit.to_string()), false, true).await
    }

    /// Fetches (for remotes) and lists the files at `reference` — another
    /// branch, a tag or a commit — under the tenant's read policy
    /// (quotas, signatures): what a preview plans. The tenant's own ref is
    /// neither read nor moved.
    pub async fn snapshot_of(&self, reference: &str) -> Result<Snapshot, SourceError> {
        self.read_at(Some(reference.to_string()), true, true).await
    }

    /// Resolves `commit` (any commit id, short or full, or ref) without
    /// fetching and without listing any file.
    pub async fn commit_at(&self, commit: &str) -> Result<CommitInfo, SourceError> {
        Ok(self
            .read_at(Some(commit.to_string()), false, false)
            .await?
            .commit)
    }

    /// Reads `reference` (`None`: the tenant's ref), after a fetch when
    /// `fetch` and the repository is a remote; lists its files when
    /// `with_files`.
    #[tracing::instrument(level = "debug", skip_all, fields(files = with_files))]
    async fn read_at(
        &self,
        reference: Option<String>,
        fetch: bool,
        with_files: bool,
    ) -> Result<Snapshot, SourceError> {
        let backend = self.backend.clone();
        let interrupt = Arc::new(AtomicBool::new(false));
        let flag = interrupt.clone();
        let task = tokio::task::spawn_blocking(move || match backend {
            Backend::Git(git) => git.read_at(reference.as_deref(), fetch, with_files, &flag),
            Backend::Hg(hg) => hg.read_at(reference.as_deref(), fetch, with_files, &flag),
            Backend::Oci(oci) => oci.read_at(reference.as_deref(), fetch, with_files),
            Backend::Folder(folder) => folder.read_at(reference.as_deref()),
            Backend::Invalid(bad) => Err(SourceError::Open {
                repo: bad.0.clone(),
                source: bad.to_string().into(),
            }),
        });
        match tokio::time::timeout(FETCH_TIMEOUT, task).await {
            Ok(joined) => {
                let snapshot = joined.map_err(|error| SourceError::Open {
                    repo: self.repo.clone(),
                    source: error.into(),
                })??;
                if let (Some(tag), Some(store)) = (&snapshot.tag, &self.tags) {
                    let first_read = tags::FirstRead {
                        store,
                        before: &self.cache_dir,
                    };
                    first_read.check(&self.repo, tag, &snapshot.commit).await?;
                }
                Ok(snapshot)
            }
            Err(_) => {
                // The transfer sees the flag and stops.
                interrupt.store(true, Ordering::Relaxed);
                Err(SourceError::Fetch {
                    repo: self.repo.clone(),
                    source: FetchError::NoAnswer {
                        after: FETCH_TIMEOUT,
                    },
                })
            }
        }
    }
}
