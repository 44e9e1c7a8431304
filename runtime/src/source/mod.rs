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

mod signature;

use crate::quota::{QuotaExceeded, Quotas};
use gix::bstr::ByteSlice;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long fetching and reading a commit may take: a stalled remote fails
/// the run (and is retried) instead of holding the tenant.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// The largest resource file read; larger ones are refused with an error.
pub const MAX_RESOURCE_FILE_BYTES: usize = 4 << 20;

/// What went wrong reading a repository.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A local repository could not be opened.
    #[error(
        "cannot open the repository {repo}: {reason}. Check `repo` in cairn.toml; nothing was applied"
    )]
    Open {
        /// The repository.
        repo: String,
        /// Why.
        reason: String,
    },
    /// A remote could not be cloned or fetched.
    #[error("cannot fetch {repo}: {reason}. Is the repository reachable? Nothing was applied")]
    Fetch {
        /// The repository.
        repo: String,
        /// Why.
        reason: String,
    },
    /// The ref names no commit.
    #[error(
        "the ref `{reference}` names no commit in {repo}: use a branch, tag or commit id that exists"
    )]
    UnknownRef {
        /// The repository.
        repo: String,
        /// The ref.
        reference: String,
    },
    /// The configured folder is not in the commit.
    #[error("the folder `{path}` is not in commit {commit} of {repo}: check `path` in cairn.toml")]
    MissingPath {
        /// The repository.
        repo: String,
        /// The folder.
        path: String,
        /// The commit.
        commit: String,
    },
    /// The commit goes over one of the tenant's repository quotas.
    #[error("commit {commit}: {source}")]
    Quota {
        /// The commit.
        commit: String,
        /// Which quota.
        #[source]
        source: QuotaExceeded,
    },
    /// The tenant applies only signed commits, and this one is not signed.
    #[error(
        "commit {commit} is not signed, and this tenant applies only commits signed by a key in {allowed_signers}: sign it (`git commit -S` with an SSH key listed there). Nothing was applied"
    )]
    Unsigned {
        /// The commit.
        commit: String,
        /// The operator's allowed-signers file.
        allowed_signers: String,
    },
    /// The commit's signature is not from a trusted key, or does not verify.
    #[error(
        "commit {commit} is not signed by a key in {allowed_signers}: {reason}. Nothing was applied"
    )]
    Untrusted {
        /// The commit.
        commit: String,
        /// The operator's allowed-signers file.
        allowed_signers: String,
        /// What the verifier said.
        reason: String,
    },
    /// A file is not readable as a resource file.
    #[error("{file} at commit {commit}: {reason}")]
    BadFile {
        /// The file.
        file: String,
        /// The commit.
        commit: String,
        /// Why.
        reason: String,
    },
    /// Reading objects failed.
    #[error("cannot read commit {commit} of {repo}: {reason}")]
    Read {
        /// The repository.
        repo: String,
        /// The commit.
        commit: String,
        /// Why.
        reason: String,
    },
}

/// The commit the desired state was read at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    /// The full commit id.
    pub id: String,
    /// The author, `Name <email>`.
    pub author: String,
    /// The first line of the message.
    pub summary: String,
    /// Commit time, seconds since the Unix epoch.
    pub time: i64,
}

impl CommitInfo {
    /// The first 12 characters of the id.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

/// One resource file of the commit.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Its path in the repository.
    pub path: String,
    /// Its Git blob id: equal ids, equal contents.
    pub blob: String,
    /// Its text; `None` when the reader already knew the blob and asked
    /// for it not to be read.
    pub text: Option<String>,
}

/// A tenant's desired-state files at one commit.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The commit.
    pub commit: CommitInfo,
    /// Every `*.toml` below the configured folder, sorted by path.
    pub files: Vec<SourceFile>,
    /// Every manifest (`*.yaml`, `*.yml`) below the configured folder, by
    /// path: files that resources may name (see
    /// [`crate::model::files`]). Read with every snapshot, since a
    /// resource file naming them is never served from the model cache.
    pub manifests: BTreeMap<String, ManifestFile>,
}

/// A manifest file of the commit.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    /// Its text, or why it could not be read (too large, not UTF-8); the
    /// reason is reported only if a resource names the file.
    pub text: Result<String, String>,
}

impl Snapshot {
    /// Whether every file's text was read.
    pub fn is_complete(&self) -> bool {
        self.files.iter().all(|file| file.text.is_some())
    }
}

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

    /// Fetches (for remotes) and reads the files at the ref's commit.
    pub async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        self.read_at(None, true, Arc::default()).await
    }

    /// Fetches (for remotes) and resolves the ref, without reading any
    /// file: the cheap question "did the ref move?".
    pub async fn head(&self) -> Result<CommitInfo, SourceError> {
        Ok(self.read_at(None, false, Arc::default()).await?.commit)
    }

    /// Reads the files at `commit` (any commit id or ref), without
    /// fetching: for a commit seen before, such as a rollback target.
    pub async fn snapshot_at(&self, commit: &str) -> Result<Snapshot, SourceError> {
        self.read_at(Some(commit.to_string()), true, Arc::default())
            .await
    }

    /// Like [`Source::snapshot`] (`commit` `None`) or
    /// [`Source::snapshot_at`], but files whose blob is in `known` are
    /// listed without being read: a commit that changed one file of
    /// thousands reads one blob.
    pub async fn snapshot_except(
        &self,
        commit: Option<&str>,
        known: Arc<HashSet<String>>,
    ) -> Result<Snapshot, SourceError> {
        self.read_at(commit.map(str::to_string), true, known).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(files = with_files))]
    async fn read_at(
        &self,
        commit: Option<String>,
        with_files: bool,
        known: Arc<HashSet<String>>,
    ) -> Result<Snapshot, SourceError> {
        let source = self.clone();
        let interrupt = Arc::new(AtomicBool::new(false));
        let flag = interrupt.clone();
        let task = tokio::task::spawn_blocking(move || {
            let repository = match &commit {
                Some(_) => source.open(&flag)?,
                None => source.open_fetched(&flag)?,
            };
            source.read(
                &repository,
                commit.as_deref().unwrap_or(&source.reference),
                with_files,
                &known,
            )
        });
        match tokio::time::timeout(FETCH_TIMEOUT, task).await {
            Ok(joined) => joined.map_err(|error| SourceError::Open {
                repo: self.repo.clone(),
                reason: error.to_string(),
            })?,
            Err(_) => {
                // The transfer sees the flag and stops.
                interrupt.store(true, Ordering::Relaxed);
                Err(SourceError::Fetch {
                    repo: self.repo.clone(),
                    reason: format!("no answer within {FETCH_TIMEOUT:?}"),
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
        let path = if self.is_remote() {
            self.mirror_path()
        } else {
            PathBuf::from(&self.repo)
        };
        if self.is_remote() {
            if !path.join("HEAD").exists() {
                return self.fetch(interrupt);
            }
            return gix::open_opts(&path, gix::open::Options::isolated()).map_err(|error| {
                SourceError::Open {
                    repo: self.repo.clone(),
                    reason: error.to_string(),
                }
            });
        }
        self.open_at(&path).map_err(|reason| SourceError::Open {
            repo: self.repo.clone(),
            reason,
        })
    }

    /// Opens the local repository at `path`, isolated from the user's git
    /// config, once.
    fn open_at(&self, path: &Path) -> Result<gix::Repository, String> {
        let mut opened = self.opened.lock().expect("the opened repository");
        if let Some(repository) = opened.as_ref() {
            return Ok(repository.to_thread_local());
        }
        let repository = gix::open_opts(path, gix::open::Options::isolated())
            .map_err(|error| error.to_string())?;
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
        let fail = |reason: String| SourceError::Fetch {
            repo: self.repo.clone(),
            reason,
        };
        let mirror = self.mirror_path();
        let refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
        if mirror.join("HEAD").exists() {
            // A fetch updates the mirror behind an open handle's back: it is
            // opened afresh each time (the fetch costs more anyway).
            let repository = gix::open_opts(&mirror, gix::open::Options::isolated())
                .map_err(|error| fail(error.to_string()))?;
            let remote = repository
                .find_remote("origin")
                .map_err(|error| fail(error.to_string()))?
                .with_refspecs(refspecs, gix::remote::Direction::Fetch)
                .map_err(|error| fail(error.to_string()))?;
            remote
                .connect(gix::remote::Direction::Fetch)
                .map_err(|error| fail(error.to_string()))?
                .prepare_fetch(gix::progress::Discard, Default::default())
                .map_err(|error| fail(error.to_string()))?
                .receive(gix::progress::Discard, interrupt)
                .map_err(|error| fail(error.to_string()))?;
            Ok(repository)
        } else {
            std::fs::create_dir_all(&self.cache_dir).map_err(|error| {
                fail(format!(
                    "cannot create {}: {error}",
                    self.cache_dir.display()
                ))
            })?;
            let (repository, _) = gix::prepare_clone_bare(self.repo.as_str(), &mirror)
                .map_err(|error| fail(error.to_string()))?
                .configure_remote(move |remote| {
                    remote.with_refspecs(refspecs, gix::remote::Direction::Fetch)
                })
                .fetch_only(gix::progress::Discard, interrupt)
                .map_err(|error| fail(error.to_string()))?;
            Ok(repository)
        }
    }

    fn read(
        &self,
        repository: &gix::Repository,
        reference: &str,
        with_files: bool,
        known: &HashSet<String>,
    ) -> Result<Snapshot, SourceError> {
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
        let read_error = |reason: String| SourceError::Read {
            repo: self.repo.clone(),
            commit: commit_id.clone(),
            reason,
        };
        let author = commit.author().map_err(|e| read_error(e.to_string()))?;
        let info = CommitInfo {
            id: commit_id.clone(),
            author: format!("{} <{}>", author.name, author.email),
            summary: commit
                .message()
                .map_err(|e| read_error(e.to_string()))?
                .summary()
                .to_string(),
            time: commit
                .time()
                .map_err(|e| read_error(e.to_string()))?
                .seconds,
        };
        if !with_files {
            return Ok(Snapshot {
                commit: info,
                files: Vec::new(),
                manifests: BTreeMap::new(),
            });
        }
        if let Some(allowed_signers) = &self.policy.allowed_signers {
            signature::verify(&commit, allowed_signers)?;
        }
        let root = commit.tree().map_err(|e| read_error(e.to_string()))?;
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
                .map_err(|e| read_error(e.to_string()))?
                .ok_or_else(missing)?;
            if !entry.mode().is_tree() {
                return Err(missing());
            }
            entry
                .object()
                .map_err(|e| read_error(e.to_string()))?
                .into_tree()
        };
        let mut recorder = gix::traverse::tree::Recorder::default();
        tree.traverse()
            .breadthfirst(&mut recorder)
            .map_err(|e| read_error(e.to_string()))?;
        let prefix = if folder.is_empty() || folder == "." {
            String::new()
        } else {
            format!("{folder}/")
        };
        let quota = |source: QuotaExceeded| SourceError::Quota {
            commit: commit_id.clone(),
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
                return Err(SourceError::BadFile {
                    file: format!("{prefix}{}", entry.filepath.to_str_lossy()),
                    commit: commit_id.clone(),
                    reason: "its path is not UTF-8: rename it".into(),
                });
            };
            let path = format!("{prefix}{name}");
            if entry.mode.is_link() {
                return Err(SourceError::BadFile {
                    file: path,
                    commit: commit_id.clone(),
                    reason: "it is a symbolic link; Cairn reads files from Git's objects and follows no link: commit the file itself".into(),
                });
            }
            if !entry.mode.is_blob() {
                continue;
            }
            // The size from the object's header: a huge blob is refused
            // without being inflated.
            let size = repository
                .find_header(entry.oid)
                .map_err(|e| read_error(e.to_string()))?
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
                    Err(format!(
                        "the file is {size} bytes; manifests may be at most {MAX_RESOURCE_FILE_BYTES}: split it"
                    ))
                } else {
                    let object = repository
                        .find_object(entry.oid)
                        .map_err(|e| read_error(e.to_string()))?;
                    String::from_utf8(object.data.clone())
                        .map_err(|_| "the file is not UTF-8 text".to_string())
                };
                manifests.insert(path, ManifestFile { text });
                continue;
            }
            let blob = entry.oid.to_string();
            let bad = |reason: String| SourceError::BadFile {
                file: path.clone(),
                commit: commit_id.clone(),
                reason,
            };
            if size > MAX_RESOURCE_FILE_BYTES as u64 {
                return Err(bad(format!(
                    "the file is {size} bytes; resource files may be at most {MAX_RESOURCE_FILE_BYTES}: split it"
                )));
            }
            if known.contains(&blob) {
                files.push(SourceFile {
                    path,
                    blob,
                    text: None,
                });
                continue;
            }
            let object = repository
                .find_object(entry.oid)
                .map_err(|e| read_error(e.to_string()))?;
            let text = String::from_utf8(object.data.clone())
                .map_err(|_| bad("the file is not UTF-8 text".into()))?;
            files.push(SourceFile {
                path,
                blob,
                text: Some(text),
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Snapshot {
            commit: info,
            files,
            manifests,
        })
    }
}

/// Whether a path names a manifest file resources may refer to.
fn is_manifest(path: &[u8]) -> bool {
    path.ends_with(b".yaml") || path.ends_with(b".yml")
}
