//! What every source does with a revision's files, once: counts them
//! against the tenant's quotas from their sizes before any is read, keeps
//! the resource files (`*.toml`) and the manifests (`*.yaml`, `*.yml`),
//! and refuses what a repository could use to attack the reader — a
//! symbolic link, a name that is not UTF-8, a file over
//! [`MAX_RESOURCE_FILE_BYTES`]. A source lists its revision's entries and
//! tells sizes and bytes by entry ([`Revision`]); this module decides.

use super::error::{FileProblem, SourceError, UnreadableManifest};
use super::snapshot::{CommitInfo, ManifestFile, SourceFile};
use super::{MAX_RESOURCE_FILE_BYTES, ReadPolicy};
use crate::quota::QuotaExceeded;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// What an entry of a revision's folder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
    /// A regular file.
    File,
    /// A symbolic link: refused where a resource file or manifest would be.
    Link,
    /// Anything else (a submodule, a device): counted, never read.
    Other,
}

/// One entry below the tenant's folder in a revision (folders are not
/// entries).
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Its path below the folder, as the source stores it (not always
    /// UTF-8).
    pub path: Vec<u8>,
    /// What it is.
    pub kind: EntryKind,
    /// Its content id in the source: equal ids, equal contents.
    pub id: String,
}

/// A revision's entries, as its source reads them.
pub(super) trait Revision {
    /// The size of `entry` in bytes, without reading its contents where
    /// the source can tell (a huge file is refused unread).
    fn size(&self, entry: &Entry) -> Result<u64, SourceError>;
    /// The contents of `entry` (called for manifests, at most
    /// [`MAX_RESOURCE_FILE_BYTES`] of them).
    fn bytes(&self, entry: &Entry) -> Result<Vec<u8>, SourceError>;
}

/// A revision's resource files and manifests, as listed.
#[derive(Debug, Clone)]
pub(super) struct Files {
    /// Its resource files, sorted by path.
    pub files: Vec<SourceFile>,
    /// Its manifests, by path.
    pub manifests: BTreeMap<String, ManifestFile>,
    /// The size of the resource files and manifests together, as counted
    /// against the quota of bytes.
    pub bytes: u64,
}

/// What one entry of a revision's folder is to the listing.
#[derive(Debug)]
pub(super) enum Listed {
    /// Not kept: not a resource file or manifest, or neither a file nor a
    /// link (a submodule).
    Unlisted,
    /// A resource file.
    File(SourceFile),
    /// A manifest, at its path.
    Manifest(String, ManifestFile),
}

/// Sorts `entries` of the revision `commit` (below the folder `folder`,
/// as configured) into its resource files and manifests, under `policy`.
pub(super) fn files(
    commit: &CommitInfo,
    folder: &str,
    entries: Vec<Entry>,
    policy: &ReadPolicy,
    revision: &impl Revision,
) -> Result<Files, SourceError> {
    check_file_count(commit, folder, entries.len(), policy)?;
    let prefix = folder_prefix(folder);
    let mut bytes = Bytes::new(commit, policy, 0);
    let mut files = Vec::new();
    let mut manifests = BTreeMap::new();
    for entry in entries {
        match list(&prefix, entry, revision, &mut bytes)? {
            Listed::Unlisted => {}
            Listed::File(file) => files.push(file),
            Listed::Manifest(path, manifest) => {
                manifests.insert(path, manifest);
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Files {
        files,
        manifests,
        bytes: bytes.counted,
    })
}

/// Refuses a revision whose folder (`folder`) holds more than `policy`
/// allows: `count` entries, folders aside.
pub(super) fn check_file_count(
    commit: &CommitInfo,
    folder: &str,
    count: usize,
    policy: &ReadPolicy,
) -> Result<(), SourceError> {
    QuotaExceeded::check(
        "repository_files",
        &format!("the number of files below `{folder}`"),
        count as u64,
        policy.max_files as u64,
    )
    .map_err(|source| SourceError::Quota {
        commit: Box::new(commit.clone()),
        source,
    })
}

/// The size of a revision's resource files and manifests, counted as
/// they are listed against the quota of bytes.
pub(super) struct Bytes<'a> {
    commit: &'a CommitInfo,
    policy: &'a ReadPolicy,
    /// The bytes counted so far.
    pub counted: u64,
}

impl<'a> Bytes<'a> {
    /// A count of revision `commit`'s bytes under `policy`, from `counted`.
    pub(super) fn new(commit: &'a CommitInfo, policy: &'a ReadPolicy, counted: u64) -> Self {
        Self {
            commit,
            policy,
            counted,
        }
    }

    /// Counts a file of `size` bytes; refuses the revision when the count
    /// goes over the quota.
    fn add(&mut self, size: u64) -> Result<(), SourceError> {
        self.counted += size;
        QuotaExceeded::check(
            "repository_bytes",
            "the size of the resource files and manifests",
            self.counted,
            self.policy.max_bytes,
        )
        .map_err(|source| SourceError::Quota {
            commit: Box::new(self.commit.clone()),
            source,
        })
    }
}

/// What `entry` of a revision is to the listing (`prefix`: the folder's,
/// [`folder_prefix`]). A resource file or manifest is counted in `bytes`
/// and a manifest read; a symbolic link, a name that is not UTF-8 or a
/// resource file over [`MAX_RESOURCE_FILE_BYTES`] is refused.
pub(super) fn list(
    prefix: &str,
    entry: Entry,
    revision: &impl Revision,
    bytes: &mut Bytes<'_>,
) -> Result<Listed, SourceError> {
    let bad = |file: String, reason: FileProblem| SourceError::BadFile {
        file,
        commit: bytes.commit.id.clone(),
        reason,
    };
    if !is_listed(&entry.path) {
        return Ok(Listed::Unlisted);
    }
    let Ok(name) = std::str::from_utf8(&entry.path) else {
        return Err(bad(
            format!("{prefix}{}", String::from_utf8_lossy(&entry.path)),
            FileProblem::PathNotUtf8,
        ));
    };
    let path = format!("{prefix}{name}");
    match entry.kind {
        EntryKind::Link => return Err(bad(path, FileProblem::SymbolicLink)),
        EntryKind::Other => return Ok(Listed::Unlisted),
        EntryKind::File => {}
    }
    let size = revision.size(&entry)?;
    bytes.add(size)?;
    let too_large = size > MAX_RESOURCE_FILE_BYTES as u64;
    if is_manifest(&entry.path) {
        let text = match too_large {
            true => Err(UnreadableManifest::TooLarge {
                size,
                limit: MAX_RESOURCE_FILE_BYTES,
            }),
            false => String::from_utf8(revision.bytes(&entry)?)
                .map_err(|error| UnreadableManifest::NotUtf8(error.utf8_error())),
        };
        return Ok(Listed::Manifest(path, ManifestFile { text }));
    }
    if too_large {
        return Err(bad(
            path,
            FileProblem::TooLarge {
                size,
                limit: MAX_RESOURCE_FILE_BYTES,
            },
        ));
    }
    Ok(Listed::File(SourceFile {
        path,
        blob: entry.id,
    }))
}

/// Files keyed by content, and their bytes by content id.
pub(super) type Held = (Vec<SourceFile>, HashMap<String, Vec<u8>>);

/// Reads `files` whole with `read` (given each file's path below the
/// folder `path`), and keys them by content: each file's content id
/// becomes the SHA-256 of its bytes, which the returned map holds. For the
/// sources whose files are read with their listing (a folder, an
/// artifact's layer).
pub(super) fn held_by_content(
    files: Vec<SourceFile>,
    path: &str,
    mut read: impl FnMut(&str, &SourceFile) -> Result<Vec<u8>, SourceError>,
) -> Result<Held, SourceError> {
    let prefix = folder_prefix(path);
    let mut held = HashMap::with_capacity(files.len());
    let mut listed = Vec::with_capacity(files.len());
    for mut file in files {
        let relative = file.path.strip_prefix(&prefix).unwrap_or(&file.path);
        let bytes = read(relative, &file)?;
        file.blob = hex::encode(Sha256::digest(&bytes));
        held.insert(file.blob.clone(), bytes);
        listed.push(file);
    }
    Ok((listed, held))
}

/// `folder/` for the tenant's folder `path` in the source, or nothing for
/// its root (`.`): what a file's path in the source starts with.
pub(super) fn folder_prefix(path: &str) -> String {
    match path.trim_matches('/') {
        "" | "." => String::new(),
        folder => format!("{folder}/"),
    }
}

/// Whether a path names a file the listing keeps: a resource file
/// (`*.toml`) or a manifest.
pub(super) fn is_listed(path: &[u8]) -> bool {
    path.ends_with(b".toml") || is_manifest(path)
}

/// Whether a path names a manifest file resources may refer to.
pub(super) fn is_manifest(path: &[u8]) -> bool {
    path.ends_with(b".yaml") || path.ends_with(b".yml")
}
