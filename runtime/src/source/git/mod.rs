//! The Git source, read with gix.
//!
//! A local path is opened where it is. A URL (`file://`, `git://`,
//! `http(s)://`) is cloned bare into the cache folder once and fetched on
//! every read. The ref (branch, tag or commit id) is resolved to a commit,
//! and the files below the configured folder are listed from that
//! commit's tree — never from a work tree, so uncommitted edits are never
//! applied — their sizes from the objects' headers. Before anything is
//! read, the commit must pass the tenant's [`ReadPolicy`]: its signature
//! when the operator trusts only some keys, and its quotas.
//!
//! A fetch adds and moves the mirror's refs but never removes one, so a
//! branch or tag deleted on the remote would stay in the mirror and be
//! read forever: after each fetch, the ref the tenant follows must still
//! be one the remote advertises ([`SourceError::RefGone`]).

mod from_last;

use super::listing::{self, Entry, EntryKind, Revision};
use super::snapshot::{Contents, Listing};
use super::{
    CauseError, CommitInfo, FetchError, ReadPolicy, Snapshot, SourceError, SourceFile, signature,
};
use from_last::LastListing;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A tenant's Git repository.
#[derive(Debug, Clone)]
pub(super) struct Git {
    pub repo: String,
    pub reference: String,
    pub path: String,
    pub cache_dir: PathBuf,
    pub policy: ReadPolicy,
    /// A local repository once opened: opening reads its config and costs
    /// milliseconds, which a poll that finds nothing new should not pay.
    /// References and new objects are still read from disk.
    pub opened: Arc<Mutex<Option<gix::ThreadSafeRepository>>>,
    /// The folder as last listed, which the next listing starts from
    /// ([`from_last`]): a commit that changed one file of thousands lists
    /// that file again, not every one.
    pub last: Arc<Mutex<Option<LastListing>>>,
    /// Listings made from the last one.
    pub listed_from_last: Arc<AtomicU64>,
}

impl Git {
    /// Reads `reference` (`None`: the tenant's ref), after a fetch when
    /// `fetch` and the repository is a remote; lists its files when
    /// `with_files`.
    pub fn read_at(
        &self,
        reference: Option<&str>,
        fetch: bool,
        with_files: bool,
        interrupt: &AtomicBool,
    ) -> Result<Snapshot, SourceError> {
        let repository = match fetch {
            false => self.open(interrupt)?,
            true => self.open_fetched(interrupt)?,
        };
        self.read(repository, reference.unwrap_or(&self.reference), with_files)
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
        let git = |error: CauseError| fail(FetchError::Transfer(error));
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
        let unreadable = |error: CauseError| SourceError::Read {
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
        // `rev-parse` takes a tag before a branch of the same name.
        let tag_name = match reference.strip_prefix("refs/tags/") {
            Some(tag) => tag.to_string(),
            None => reference.to_string(),
        };
        let is_tag = repository
            .try_find_reference(format!("refs/tags/{tag_name}").as_str())
            .ok()
            .flatten()
            .is_some();
        let objects = GitObjects {
            repo: self.repo.clone(),
            objects: repository.into_sync(),
        };
        let mut snapshot = Snapshot::listed(listing, Arc::new(objects));
        snapshot.tag = is_tag.then_some(tag_name);
        Ok(snapshot)
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
        let read_error = |source: CauseError| SourceError::Read {
            repo: self.repo.clone(),
            commit: commit_id.clone(),
            source,
        };
        let info = commit_info(&commit).map_err(read_error)?;
        if !with_files {
            return Ok(Listing::without_files(info));
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
        let objects = Objects {
            repo: &self.repo,
            commit: &commit_id,
            repository,
        };
        // Held while listing: a read of another commit (a preview's) waits,
        // then starts from this one.
        let mut last = self.last.lock().expect("the last listing");
        let listed = match last.as_ref().and_then(|last| {
            from_last::list(last, &tree, &self.path, &self.policy, &objects, &info)
        }) {
            Some(listed) => {
                self.listed_from_last.fetch_add(1, Ordering::Relaxed);
                listed
            }
            None => self.list_every_entry(tree, &objects, &info)?,
        };
        let (files, manifests) = (listed.files.clone(), listed.manifests.clone());
        *last = Some(listed);
        Ok(Listing {
            commit: info,
            files,
            manifests,
            signer,
        })
    }

    /// Lists every entry of the folder's `tree` in the commit `info`.
    fn list_every_entry(
        &self,
        tree: gix::Tree<'_>,
        objects: &Objects<'_>,
        info: &CommitInfo,
    ) -> Result<LastListing, SourceError> {
        let mut recorder = gix::traverse::tree::Recorder::default();
        tree.traverse()
            .breadthfirst(&mut recorder)
            .map_err(|e| objects.error(e.into()))?;
        let entries: Vec<Entry> = recorder
            .records
            .into_iter()
            .filter(|entry| !entry.mode.is_tree())
            .map(|entry| Entry {
                kind: kind_of(entry.mode),
                path: entry.filepath.into(),
                id: entry.oid.to_string(),
            })
            .collect();
        let count = entries.len();
        let listed = listing::files(info, &self.path, entries, &self.policy, objects)?;
        Ok(LastListing {
            tree: tree.id,
            entries: count,
            bytes: listed.bytes,
            files: listed.files.into(),
            manifests: listed.manifests,
            trees: Arc::new([(tree.id, tree.data.clone())]),
        })
    }
}

/// What an entry of `mode` is to the listing.
fn kind_of(mode: gix::object::tree::EntryMode) -> EntryKind {
    match (mode.is_link(), mode.is_blob()) {
        (true, _) => EntryKind::Link,
        (false, true) => EntryKind::File,
        (false, false) => EntryKind::Other,
    }
}

/// A commit's objects, for [`listing::files`].
struct Objects<'a> {
    repo: &'a str,
    commit: &'a str,
    repository: &'a gix::Repository,
}

impl Objects<'_> {
    fn id(&self, entry: &Entry) -> Result<gix::ObjectId, SourceError> {
        gix::ObjectId::from_hex(entry.id.as_bytes()).map_err(|error| self.error(error.into()))
    }

    /// The size of the blob `id`, from its header: a huge blob is refused
    /// without being inflated.
    fn size_of(&self, id: gix::ObjectId) -> Result<u64, SourceError> {
        Ok(self
            .repository
            .find_header(id)
            .map_err(|error| self.error(error.into()))?
            .size())
    }

    fn error(&self, source: CauseError) -> SourceError {
        SourceError::Read {
            repo: self.repo.to_string(),
            commit: self.commit.to_string(),
            source,
        }
    }
}

impl Revision for Objects<'_> {
    /// From the object's header: a huge blob is refused without being
    /// inflated.
    fn size(&self, entry: &Entry) -> Result<u64, SourceError> {
        self.size_of(self.id(entry)?)
    }

    fn bytes(&self, entry: &Entry) -> Result<Vec<u8>, SourceError> {
        Ok(self
            .repository
            .find_object(self.id(entry)?)
            .map_err(|error| self.error(error.into()))?
            .detach()
            .data)
    }
}

/// The id, author, summary and time of `commit`.
fn commit_info(commit: &gix::Commit<'_>) -> Result<CommitInfo, CauseError> {
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

/// A repository's object database, which a snapshot's texts are read from.
struct GitObjects {
    repo: String,
    objects: gix::ThreadSafeRepository,
}

impl Contents for GitObjects {
    fn repo(&self) -> &str {
        &self.repo
    }

    fn read(&self, commit: &str, files: &[SourceFile]) -> Result<Vec<Vec<u8>>, SourceError> {
        let repository = self.objects.to_thread_local();
        let objects = Objects {
            repo: &self.repo,
            commit,
            repository: &repository,
        };
        files
            .iter()
            .map(|file| {
                objects.bytes(&Entry {
                    path: file.path.clone().into_bytes(),
                    kind: EntryKind::File,
                    id: file.blob.clone(),
                })
            })
            .collect()
    }
}
