//! The Git source: a tenant's repository read at an exact commit, with gix.
//!
//! A local path is opened where it is. A URL (`file://`, `git://`,
//! `http(s)://`) is cloned bare into the cache folder once and fetched on
//! every read. The ref (branch, tag or commit id) is resolved to a commit,
//! and every `*.toml` below the configured folder (and every `*.yaml` /
//! `*.yml` manifest) is read from that commit's tree — never from a work
//! tree, so uncommitted edits are never applied. Before anything is read,
//! the commit must pass the tenant's [`ReadPolicy`]: its signature when the
//! operator trusts only some keys, and its repository quotas, counted from
//! the tree and the objects' headers.
//!
//! A read gives a [`Snapshot`]: the commit's files listed from its tree,
//! each text read only when its reader asks ([`Snapshot::read_texts`]), so
//! that a commit changing one file of thousands reads one blob. The source
//! knows nothing of who reads the files.
//!
//! A fetch adds and moves the mirror's refs but never removes one, so a
//! branch or tag deleted on the remote would stay in the mirror and be
//! read forever: after each fetch, the ref the tenant follows must still
//! be one the remote advertises ([`SourceError::RefGone`]).

mod error;
mod signature;
mod snapshot;

pub use error::{
    FetchError, FileProblem, GitError, SourceError, UnreadableManifest, UnreadableSigners,
    UntrustedSignature,
};
pub use signature::check_allowed_signers;
pub use snapshot::{CommitInfo, ManifestFile, Snapshot, SourceFile};

use snapshot::Listing;

use crate::quota::{QuotaExceeded, Quotas};
use gix::bstr::ByteSlice;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Where a tenant's repository lives.
#[derive(Debug, Clone)]
pub struct Source {
    repo: String,
    reference: String,
    path: String,
    cache_dir: PathBuf,
    policy: ReadPolicy,
    /// A local repository once opened: opening reads its config and costs
    /// milliseconds, which a poll that finds nothing new should not pay.
    /// References and new objects are still read from disk.
    opened: Arc<Mutex<Option<gix::ThreadSafeRepository>>>,
}

impl Source {
    /// A source for `repo` at `reference`, reading files below `path`.
    pub fn new(repo: &str, reference: &str, path: &str, cache_dir: &Path) -> Self {
        Self {
            repo: repo.to_string(),
            reference: reference.to_string(),
            path: path.to_string(),
            cache_dir: cache_dir.to_path_buf(),
            policy: ReadPolicy::default(),
            opened: Arc::default(),
        }
    }

    /// The same source, reading commits under `policy`.
    pub fn with_policy(mut self, policy: ReadPolicy) -> Self {
        self.policy = policy;
        self
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
        let source = self.clone();
        let interrupt = Arc::new(AtomicBool::new(false));
        let flag = interrupt.clone();
        let task = tokio::task::spawn_blocking(move || {
            let repository = match fetch {
                false => source.open(&flag)?,
                true => source.open_fetched(&flag)?,
            };
            source.read(
                repository,
                reference.as_deref().unwrap_or(&source.reference),
                with_files,
            )
        });
        match tokio::time::timeout(FETCH_TIMEOUT, task).await {
            Ok(joined) => joined.map_err(|error| SourceError::Open {
                repo: self.repo.clone(),
                source: error.into(),
            })?,
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

    fn is_remote(&self) -> bool {
        self.repo.contains("://")
    }

    /// The repository after a fetch, for remotes; a local one as it is.
    fn open_fetched(&self, interrupt: &AtomicBool) -> Result<gix::Repository, SourceError> {
        if self.is_remote() {
            self.fetch(interrupt)
        } else {
            self.open(interrupt)
        }
    }

    /// The repository (for a remote, its mirror as last fetched).
    fn open(&self, interrupt: &AtomicBool) -> Result<gix::Repository, SourceError> {
        let cannot_open = |error: gix::Error| SourceError::Open {
            repo: self.repo.clone(),
            source: error.into(),
        };
        if self.is_remote() {
            let path = self.mirror_path();
            if !path.join("HEAD").exists() {
                return self.fetch(interrupt);
            }
            return gix::open_opts(&path, gix::open::Options::isolated()).map_err(cannot_open);
        }
        self.open_local().map_err(cannot_open)
    }

    /// Opens the local repository, isolated from the user's git config,
    /// once.
    fn open_local(&self) -> Result<gix::Repository, gix::Error> {
        let mut opened = self.opened.lock().expect("the opened repository");
        if let Some(repository) = opened.as_ref() {
            return Ok(repository.to_thread_local());
        }
        let repository = gix::open_opts(&self.repo, gix::open::Options::isolated())?;
        *opened = Some(repository.clone().into_sync());
        Ok(repository)
    }

    /// Where a remote's bare mirror lives in the cache.
    fn mirror_path(&self) -> PathBuf {
        let key = hex::encode(Sha256::digest(self.repo.as_bytes()));
        self.cache_dir.join(&key[..24])
    }

    /// Clones the remote into the cache on first use, fetches afterwards.
    fn fetch(&self, interrupt: &AtomicBool) -> Result<gix::Repository, SourceError> {
        let fail = |source: FetchError| SourceError::Fetch {
            repo: self.repo.clone(),
            source,
        };
        let git = |error: GitError| fail(FetchError::Git(error));
        let mirror = self.mirror_path();
        let refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
        if mirror.join("HEAD").exists() {
            // A fetch updates the mirror behind an open handle's back: it is
            // opened afresh each time (the fetch costs more anyway).
            let repository = gix::open_opts(&mirror, gix::open::Options::isolated())
                .map_err(|error| git(error.into()))?;
            let remote = repository
                .find_remote("origin")
                .map_err(|error| git(error.into()))?
                .with_refspecs(refspecs, gix::remote::Direction::Fetch)
                .map_err(|error| git(error.into()))?;
            let outcome = remote
                .connect(gix::remote::Direction::Fetch)
                .map_err(|error| git(error.into()))?
                .prepare_fetch(gix::progress::Discard, Default::default())
                .map_err(|error| git(error.into()))?
                .receive(gix::progress::Discard, interrupt)
                .map_err(|error| git(error.into()))?;
            self.check_ref_on_remote(&repository, &outcome.ref_map.remote_refs)?;
            Ok(repository)
        } else {
            std::fs::create_dir_all(&self.cache_dir).map_err(|source| {
                fail(FetchError::CacheFolder {
                    folder: self.cache_dir.clone(),
                    source,
                })
            })?;
            let (repository, _) = gix::prepare_clone_bare(self.repo.as_str(), &mirror)
                .map_err(|error| git(error.into()))?
                .configure_remote(move |remote| {
                    remote.with_refspecs(refspecs, gix::remote::Direction::Fetch)
                })
                .fetch_only(gix::progress::Discard, interrupt)
                .map_err(|error| git(error.into()))?;
            Ok(repository)
        }
    }

    /// Fails when the mirror holds the branch or tag the tenant follows and
    /// the remote, which advertised `advertised`, no longer does.
    fn check_ref_on_remote(
        &self,
        repository: &gix::Repository,
        advertised: &[gix::protocol::handshake::Ref],
    ) -> Result<(), SourceError> {
        let names = ref_names(&self.reference);
        let on_remote = advertised
            .iter()
            .any(|remote| names.iter().any(|name| remote.unpack().0 == name.as_str()));
        if on_remote {
            return Ok(());
        }
        // A commit id, or a ref the mirror never had: resolving it says
        // what is wrong.
        let Some(mut stale) = names
            .iter()
            .find_map(|name| repository.try_find_reference(name.as_str()).ok().flatten())
        else {
            return Ok(());
        };
        let unreadable = |error: GitError| SourceError::Read {
            repo: self.repo.clone(),
            commit: self.reference.clone(),
            source: error,
        };
        let commit = stale
            .peel_to_commit()
            .map_err(|error| unreadable(error.into()))?;
        Err(SourceError::RefGone {
            repo: self.repo.clone(),
            reference: self.reference.clone(),
            last_seen: Box::new(commit_info(&commit).map_err(unreadable)?),
        })
    }

    /// Resolves `reference` and, `with_files`, lists the commit's files
    /// under the tenant's policy; their texts stay in `repository`'s
    /// objects until read.
    fn read(
        &self,
        repository: gix::Repository,
        reference: &str,
        with_files: bool,
    ) -> Result<Snapshot, SourceError> {
        let listing = self.list(&repository, reference, with_files)?;
        Ok(Snapshot::listed(
            listing,
            &self.repo,
            repository.into_sync(),
        ))
    }

    /// The commit `reference` names and, `with_files`, its resource files
    /// and manifests.
    fn list(
        &self,
        repository: &gix::Repository,
        reference: &str,
        with_files: bool,
    ) -> Result<Listing, SourceError> {
        let unknown_ref = || SourceError::UnknownRef {
            repo: self.repo.clone(),
            reference: reference.to_string(),
        };
        let commit = repository
            .rev_parse_single(reference)
            .map_err(|_| unknown_ref())?
            .object()
            .map_err(|_| unknown_ref())?
            .peel_to_commit()
            .map_err(|_| unknown_ref())?;
        let commit_id = commit.id().to_string();
        let read_error = |source: GitError| SourceError::Read {
            repo: self.repo.clone(),
            commit: commit_id.clone(),
            source,
        };
        let info = commit_info(&commit).map_err(read_error)?;
        if !with_files {
            return Ok(Listing {
                commit: info,
                files: Vec::new(),
                manifests: BTreeMap::new(),
                signer: None,
            });
        }
        let signer = match &self.policy.allowed_signers {
            Some(allowed_signers) => signature::verify(&commit, &info, allowed_signers)?,
            None => None,
        };
        let root = commit.tree().map_err(|e| read_error(e.into()))?;
        let folder = self.path.trim_matches('/');
        let tree = if folder.is_empty() || folder == "." {
            root
        } else {
            let missing = || SourceError::MissingPath {
                repo: self.repo.clone(),
                path: self.path.clone(),
                commit: commit_id.clone(),
            };
            let entry = root
                .lookup_entry_by_path(folder)
                .map_err(|e| read_error(e.into()))?
                .ok_or_else(missing)?;
            if !entry.mode().is_tree() {
                return Err(missing());
            }
            entry
                .object()
                .map_err(|e| read_error(e.into()))?
                .into_tree()
        };
        let mut recorder = gix::traverse::tree::Recorder::default();
        tree.traverse()
            .breadthfirst(&mut recorder)
            .map_err(|e| read_error(e.into()))?;
        let prefix = if folder.is_empty() || folder == "." {
            String::new()
        } else {
            format!("{folder}/")
        };
        let quota = |source: QuotaExceeded| SourceError::Quota {
            commit: Box::new(info.clone()),
            source,
        };
        let file_count = recorder
            .records
            .iter()
            .filter(|e| !e.mode.is_tree())
            .count();
        QuotaExceeded::check(
            "repository_files",
            &format!("the number of files below `{}`", self.path),
            file_count as u64,
            self.policy.max_files as u64,
        )
        .map_err(quota)?;
        let bad = |file: String, reason: FileProblem| SourceError::BadFile {
            file,
            commit: commit_id.clone(),
            reason,
        };
        let mut read_bytes: u64 = 0;
        let mut files = Vec::new();
        let mut manifests = BTreeMap::new();
        for entry in recorder.records {
            let manifest = is_manifest(entry.filepath.as_ref());
            let resource_file = entry.filepath.ends_with(b".toml");
            if !manifest && !resource_file {
                continue;
            }
            let Ok(name) = std::str::from_utf8(entry.filepath.as_ref()) else {
                return Err(bad(
                    format!("{prefix}{}", entry.filepath.to_str_lossy()),
                    FileProblem::PathNotUtf8,
                ));
            };
            let path = format!("{prefix}{name}");
            if entry.mode.is_link() {
                return Err(bad(path, FileProblem::SymbolicLink));
            }
            if !entry.mode.is_blob() {
                continue;
            }
            // The size from the object's header: a huge blob is refused
            // without being inflated.
            let size = repository
                .find_header(entry.oid)
                .map_err(|e| read_error(e.into()))?
                .size();
            read_bytes += size;
            QuotaExceeded::check(
                "repository_bytes",
                "the size of the resource files and manifests",
                read_bytes,
                self.policy.max_bytes,
            )
            .map_err(quota)?;
            if manifest {
                let text = if size > MAX_RESOURCE_FILE_BYTES as u64 {
                    Err(UnreadableManifest::TooLarge {
                        size,
                        limit: MAX_RESOURCE_FILE_BYTES,
                    })
                } else {
                    let object = repository
                        .find_object(entry.oid)
                        .map_err(|e| read_error(e.into()))?;
                    String::from_utf8(object.detach().data)
                        .map_err(|error| UnreadableManifest::NotUtf8(error.utf8_error()))
                };
                manifests.insert(path, ManifestFile { text });
                continue;
            }
            if size > MAX_RESOURCE_FILE_BYTES as u64 {
                return Err(bad(
                    path,
                    FileProblem::TooLarge {
                        size,
                        limit: MAX_RESOURCE_FILE_BYTES,
                    },
                ));
            }
            files.push(SourceFile {
                path,
                blob: entry.oid.to_string(),
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Listing {
            commit: info,
            files,
            manifests,
            signer,
        })
    }
}

/// The id, author, summary and time of `commit`.
fn commit_info(commit: &gix::Commit<'_>) -> Result<CommitInfo, GitError> {
    let author = commit.author()?;
    Ok(CommitInfo {
        id: commit.id().to_string(),
        author: format!("{} <{}>", author.name, author.email),
        summary: commit.message()?.summary().to_string(),
        time: commit.time()?.seconds,
    })
}

/// The full names a ref written in cairn.toml may stand for in the mirror:
/// itself when it is one (`refs/…`), else the branch and the tag of that
/// name.
fn ref_names(reference: &str) -> Vec<String> {
    if reference.starts_with("refs/") {
        vec![reference.to_string()]
    } else {
        vec![
            format!("refs/heads/{reference}"),
            format!("refs/tags/{reference}"),
        ]
    }
}

/// Whether a path names a manifest file resources may refer to.
fn is_manifest(path: &[u8]) -> bool {
    path.ends_with(b".yaml") || path.ends_with(b".yml")
}
