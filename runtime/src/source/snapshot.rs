//! A revision's files as its source lists them, with their texts read
//! only when asked for: the model reads the files it does not know yet,
//! and no other. Reading never goes back to the remote: the texts come
//! from the objects fetched when the snapshot was taken, or were read with
//! the listing.

use super::error::{FileProblem, SourceError, UnreadableManifest};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

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

/// One resource file of the commit, listed from its tree.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Its path in the repository.
    pub path: String,
    /// Its content id in the source (a Git blob id, a SHA-256): equal
    /// ids, equal contents.
    pub blob: String,
}

/// A manifest file of the commit.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    /// Its text, or why it could not be read (too large, not UTF-8); the
    /// reason is reported only if a resource names the file.
    pub text: Result<String, UnreadableManifest>,
}

/// A tenant's desired-state files at one commit: every resource file
/// listed, each text read on demand ([`Snapshot::read_texts`]).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The commit.
    pub commit: CommitInfo,
    /// Every `*.toml` below the configured folder, sorted by path; shared
    /// by the snapshot's clones and what a reader keeps of it.
    pub files: Arc<[SourceFile]>,
    /// Every manifest (`*.yaml`, `*.yml`) below the configured folder, by
    /// path: files that resources may name (see [`crate::model::files`]).
    /// Read with every snapshot, since a resource file naming them is never
    /// served from the model cache.
    pub manifests: BTreeMap<String, ManifestFile>,
    /// The key that signed the commit (`SHA256:…`), when the tenant
    /// checks signatures.
    pub signer: Option<String>,
    /// The tag the ref was resolved through, when it names one: a tag is
    /// a release, and must not move ([`super::Source`] remembers it).
    pub tag: Option<String>,
    texts: Texts,
}

/// What a read of a commit lists: the commit, its resource files and its
/// manifests.
pub(super) struct Listing {
    /// The commit.
    pub commit: CommitInfo,
    /// Its resource files, sorted by path.
    pub files: Arc<[SourceFile]>,
    /// Its manifests, by path.
    pub manifests: BTreeMap<String, ManifestFile>,
    /// The key that signed it, when signatures are checked.
    pub signer: Option<String>,
}

impl Listing {
    /// The listing of `commit` alone, its files not asked for.
    pub(super) fn without_files(commit: CommitInfo) -> Self {
        Self {
            commit,
            files: Arc::new([]),
            manifests: BTreeMap::new(),
            signer: None,
        }
    }
}

/// Where a snapshot's file contents come from: the store of the source
/// the revision was read from, asked only for the files a reader wants.
pub(super) trait Contents: Send + Sync + 'static {
    /// The source, for messages.
    fn repo(&self) -> &str;
    /// The contents of `files` of revision `commit`, in their order. It
    /// blocks: it is called off the async threads.
    fn read(&self, commit: &str, files: &[SourceFile]) -> Result<Vec<Vec<u8>>, SourceError>;
}

/// Contents read when the revision was listed, by content id (a folder's
/// files).
struct Held(HashMap<String, Vec<u8>>);

impl Contents for Held {
    fn repo(&self) -> &str {
        "(read with the listing)"
    }

    fn read(&self, _commit: &str, files: &[SourceFile]) -> Result<Vec<Vec<u8>>, SourceError> {
        Ok(files
            .iter()
            .map(|file| self.0.get(&file.blob).cloned().unwrap_or_default())
            .collect())
    }
}

/// A snapshot's [`Contents`], shared by its clones.
#[derive(Clone)]
struct Texts(Arc<dyn Contents>);

impl fmt::Debug for Texts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Texts").field(&self.0.repo()).finish()
    }
}

impl Snapshot {
    /// A snapshot of what `listing` lists, whose texts are read from
    /// `contents`.
    pub(super) fn listed(listing: Listing, contents: Arc<dyn Contents>) -> Self {
        Self {
            commit: listing.commit,
            files: listing.files,
            manifests: listing.manifests,
            signer: listing.signer,
            tag: None,
            texts: Texts(contents),
        }
    }

    /// A snapshot of what `listing` lists, whose contents were read with
    /// it: `texts` by content id.
    pub(super) fn held(listing: Listing, texts: HashMap<String, Vec<u8>>) -> Self {
        Self::listed(listing, Arc::new(Held(texts)))
    }

    /// A snapshot of files whose texts are given, for tests.
    #[cfg(test)]
    pub(crate) fn in_memory(commit: CommitInfo, files: &[(&str, &str)]) -> Self {
        let blob = |path: &str| format!("blob of {path}");
        Self {
            commit,
            files: files
                .iter()
                .map(|(path, _)| SourceFile {
                    path: path.to_string(),
                    blob: blob(path),
                })
                .collect(),
            manifests: BTreeMap::new(),
            signer: None,
            tag: None,
            texts: Texts(Arc::new(Held(
                files
                    .iter()
                    .map(|(path, text)| (blob(path), text.as_bytes().to_vec()))
                    .collect(),
            ))),
        }
    }

    /// This snapshot with only `files` (files of it), their texts read
    /// from the same revision: a part of a commit loaded apart.
    pub fn with_files(&self, files: Vec<SourceFile>) -> Self {
        Self {
            commit: self.commit.clone(),
            files: files.into(),
            manifests: self.manifests.clone(),
            signer: self.signer.clone(),
            tag: self.tag.clone(),
            texts: self.texts.clone(),
        }
    }

    /// Reads the texts of `files` (files of this snapshot), in their
    /// order. A text that is not UTF-8 is the file's error.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn read_texts<'a>(
        &self,
        files: impl IntoIterator<Item = &'a SourceFile>,
    ) -> Result<Vec<String>, SourceError> {
        let wanted: Vec<SourceFile> = files.into_iter().cloned().collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let contents = self.texts.0.clone();
        let commit = self.commit.id.clone();
        let paths: Vec<String> = wanted.iter().map(|file| file.path.clone()).collect();
        let read = tokio::task::spawn_blocking(move || contents.read(&commit, &wanted))
            .await
            .map_err(|error| SourceError::Read {
                repo: self.texts.0.repo().to_string(),
                commit: self.commit.id.clone(),
                source: error.into(),
            })??;
        read.into_iter()
            .zip(paths)
            .map(|(bytes, file)| {
                String::from_utf8(bytes).map_err(|error| SourceError::BadFile {
                    file,
                    commit: self.commit.id.clone(),
                    reason: FileProblem::NotUtf8(error.utf8_error()),
                })
            })
            .collect()
    }
}
