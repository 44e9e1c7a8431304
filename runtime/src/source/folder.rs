//! A plain folder, `repo = "dir:PATH"`, for development: the files below
//! the tenant's `path` as they are on disk when read. Its revision is a
//! content hash of the files it holds (SHA-256 of each path and each
//! file's SHA-256), so an unchanged folder is the same revision and the
//! model cache serves it; it has no author, message or signature and keeps
//! no past revisions — it is not auditable, and a multi-tenant daemon
//! refuses it.
//!
//! A read walks the folder without following links, counts its entries
//! and sizes against the tenant's quotas from their metadata
//! ([`listing::files`]), then reads the resource files once, bounded, and
//! keeps their bytes in the snapshot: a file edited between the listing
//! and the plan cannot change what was listed. VCS metadata folders
//! (`.git`, `.hg`) are not walked.

use super::listing::{self, Entry, EntryKind, Revision};
use super::snapshot::Listing;
use super::{
    CauseError, CommitInfo, FileProblem, MAX_RESOURCE_FILE_BYTES, ReadPolicy, Snapshot, SourceError,
};
use crate::quota::QuotaExceeded;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

/// The author of a folder's revisions: a folder has none, and says so
/// wherever a commit's author is shown.
pub const FOLDER_AUTHOR: &str = "nobody (a plain folder: not auditable)";

/// Folders of version-control metadata, never walked: a work tree used as
/// a folder would otherwise count its whole history against the quotas.
const SKIPPED: [&str; 2] = [".git", ".hg"];

/// A tenant's folder.
#[derive(Debug, Clone)]
pub(super) struct Folder {
    /// `dir:PATH`, as configured.
    pub repo: String,
    /// PATH.
    pub root: PathBuf,
    /// The folder below it holding the resource files.
    pub path: String,
    pub policy: ReadPolicy,
    /// The last revision read: a run that resolved it reads it again by
    /// its id while the folder may have moved on.
    pub last: Arc<Mutex<Option<Snapshot>>>,
}

impl Folder {
    /// The folder as it is now (`reference` `None`), or the revision
    /// `reference` names when it is the last one read or the folder's
    /// content now.
    pub fn read_at(&self, reference: Option<&str>) -> Result<Snapshot, SourceError> {
        let names = |snapshot: &Snapshot, id: &str| {
            id.len() >= 7 && snapshot.commit.id.starts_with(&id.to_ascii_lowercase())
        };
        if let Some(id) = reference {
            let last = self.last.lock().expect("the last snapshot").clone();
            if let Some(snapshot) = last.filter(|snapshot| names(snapshot, id)) {
                return Ok(snapshot);
            }
        }
        let snapshot = self.read_now()?;
        *self.last.lock().expect("the last snapshot") = Some(snapshot.clone());
        match reference {
            Some(id) if !names(&snapshot, id) => Err(SourceError::NoPast {
                repo: self.repo.clone(),
                revision: id.to_string(),
                now: snapshot.commit.id.clone(),
            }),
            _ => Ok(snapshot),
        }
    }

    /// Walks, lists and reads the folder.
    fn read_now(&self) -> Result<Snapshot, SourceError> {
        let folder = match self.path.trim_matches('/') {
            "" | "." => self.root.clone(),
            path => self.root.join(path),
        };
        if !self.root.is_dir() {
            return Err(self.unreadable(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not a folder", self.root.display()),
            )));
        }
        let (entries, stamp) = self.walk(&folder)?;
        // Errors of the listing name the folder's state by its metadata;
        // the revision is known once the files are read.
        let listed_as = CommitInfo {
            id: hex::encode(stamp.finalize()),
            author: FOLDER_AUTHOR.to_string(),
            summary: format!("the folder {}", self.root.display()),
            time: now(),
        };
        let disk = Disk {
            folder: &folder,
            commit: &listed_as.id,
        };
        let listing::Files {
            files, manifests, ..
        } = listing::files(&listed_as, &self.path, entries, &self.policy, &disk)?;
        let mut read_bytes: u64 = manifests
            .values()
            .map(|manifest| manifest.text.as_ref().map_or(0, |text| text.len() as u64))
            .sum();
        let (listed, texts) = listing::held_by_content(files, &self.path, |relative, file| {
            let bytes = disk.read_bounded(relative.as_bytes(), &file.path)?;
            read_bytes += bytes.len() as u64;
            Ok(bytes)
        })?;
        let mut revision = Sha256::new();
        for file in &listed {
            revision.update(file.path.as_bytes());
            revision.update(b"\0");
            revision.update(file.blob.as_bytes());
            revision.update(b"\n");
        }
        for (path, manifest) in &manifests {
            revision.update(path.as_bytes());
            revision.update(b"\0");
            match &manifest.text {
                Ok(text) => revision.update(Sha256::digest(text.as_bytes())),
                Err(problem) => revision.update(problem.to_string().as_bytes()),
            }
            revision.update(b"\n");
        }
        let commit = CommitInfo {
            id: hex::encode(revision.finalize()),
            ..listed_as
        };
        // Files may grow between the listing and the read.
        QuotaExceeded::check(
            "repository_bytes",
            "the size of the resource files and manifests",
            read_bytes,
            self.policy.max_bytes,
        )
        .map_err(|source| SourceError::Quota {
            commit: Box::new(commit.clone()),
            source,
        })?;
        Ok(Snapshot::held(
            Listing {
                commit,
                files: listed.into(),
                manifests,
                signer: None,
            },
            texts,
        ))
    }

    /// Every entry below `folder` (its path relative to it), without
    /// following links or walking [`SKIPPED`] folders, stopping as soon as
    /// there are more than the quota allows; and a digest of their
    /// metadata.
    fn walk(&self, folder: &Path) -> Result<(Vec<Entry>, Sha256), SourceError> {
        if !folder.is_dir() {
            return Err(SourceError::MissingPath {
                repo: self.repo.clone(),
                path: self.path.clone(),
                commit: "(the folder as it is)".to_string(),
            });
        }
        let mut entries = Vec::new();
        let mut stamp = Sha256::new();
        let mut pending = vec![PathBuf::new()];
        while let Some(relative) = pending.pop() {
            let listing =
                std::fs::read_dir(folder.join(&relative)).map_err(|e| self.unreadable(e))?;
            for item in listing {
                let item = item.map_err(|e| self.unreadable(e))?;
                let name = item.file_name();
                let path = relative.join(&name);
                let metadata = item.metadata().map_err(|e| self.unreadable(e))?;
                let kind = metadata.file_type();
                if kind.is_dir() {
                    if !SKIPPED
                        .iter()
                        .any(|skipped| name.as_bytes() == skipped.as_bytes())
                    {
                        pending.push(path);
                    }
                    continue;
                }
                let bytes = path.as_os_str().as_bytes().to_vec();
                stamp.update(&bytes);
                stamp.update(metadata.len().to_le_bytes());
                let modified = metadata
                    .modified()
                    .ok()
                    .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |since| since.as_nanos());
                stamp.update(modified.to_le_bytes());
                entries.push(Entry {
                    kind: match (kind.is_symlink(), kind.is_file()) {
                        (true, _) => EntryKind::Link,
                        (false, true) => EntryKind::File,
                        (false, false) => EntryKind::Other,
                    },
                    id: String::from_utf8_lossy(&bytes).into_owned(),
                    path: bytes,
                });
                // Counted again by the listing; stopping here bounds the
                // walk of a huge folder.
                if entries.len() > self.policy.max_files {
                    return Ok((entries, stamp));
                }
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((entries, stamp))
    }

    fn unreadable(&self, error: std::io::Error) -> SourceError {
        SourceError::Open {
            repo: self.repo.clone(),
            source: CauseError::from(error),
        }
    }
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

/// The folder's files, for [`listing::files`].
struct Disk<'a> {
    folder: &'a Path,
    commit: &'a str,
}

impl Disk<'_> {
    /// At most [`MAX_RESOURCE_FILE_BYTES`] of the file at `relative`
    /// (shown as `shown`): a file that grew past it since it was listed is
    /// refused.
    fn read_bounded(&self, relative: &[u8], shown: &str) -> Result<Vec<u8>, SourceError> {
        let path = self.folder.join(std::ffi::OsStr::from_bytes(relative));
        let failed = |error: std::io::Error| SourceError::Read {
            repo: self.folder.display().to_string(),
            commit: self.commit.to_string(),
            source: error.into(),
        };
        // Opened without following a link put there since the listing.
        let metadata = std::fs::symlink_metadata(&path).map_err(failed)?;
        if metadata.file_type().is_symlink() {
            return Err(SourceError::BadFile {
                file: shown.to_string(),
                commit: self.commit.to_string(),
                reason: FileProblem::SymbolicLink,
            });
        }
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .map_err(failed)?
            .take(MAX_RESOURCE_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(failed)?;
        if bytes.len() > MAX_RESOURCE_FILE_BYTES {
            return Err(SourceError::BadFile {
                file: shown.to_string(),
                commit: self.commit.to_string(),
                reason: FileProblem::TooLarge {
                    size: bytes.len() as u64,
                    limit: MAX_RESOURCE_FILE_BYTES,
                },
            });
        }
        Ok(bytes)
    }
}

impl Revision for Disk<'_> {
    fn size(&self, entry: &Entry) -> Result<u64, SourceError> {
        let path = self.folder.join(std::ffi::OsStr::from_bytes(&entry.path));
        std::fs::symlink_metadata(&path)
            .map(|metadata| metadata.len())
            .map_err(|error| SourceError::Read {
                repo: self.folder.display().to_string(),
                commit: self.commit.to_string(),
                source: error.into(),
            })
    }

    fn bytes(&self, entry: &Entry) -> Result<Vec<u8>, SourceError> {
        self.read_bounded(&entry.path, &entry.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    const ZONE: &str = "[[dns.zone]]\nname = \"example.org.\"\n";

    fn folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for (path, bytes) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("a folder");
            std::fs::write(path, bytes).expect("a file");
        }
        dir
    }

    fn source(dir: &Path, path: &str, policy: ReadPolicy) -> Source {
        Source::new(&format!("dir:{}", dir.display()), "main", path, dir).with_policy(policy)
    }

    fn error_of(result: Result<Snapshot, SourceError>) -> String {
        result.expect_err("an error").to_string()
    }

    /// The revision is the content: unchanged files, the same id (touched
    /// or not); one byte more, another; the texts are those listed, even
    /// when the file changes after the listing; VCS folders and other
    /// files are not resource files; no author.
    #[tokio::test]
    async fn a_folders_revision_is_its_content() {
        let dir = folder(&[
            ("zones/a.toml", ZONE.as_bytes()),
            ("zones/sub/b.toml", ZONE.as_bytes()),
            ("zones/page.yaml", b"kind: Page\n"),
            ("zones/notes.txt", b"not read"),
            ("zones/.git/config.toml", b"never walked"),
        ]);
        let source = source(dir.path(), "zones", ReadPolicy::default());
        let first = source.snapshot().await.expect("read");
        let paths: Vec<&str> = first.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["zones/a.toml", "zones/sub/b.toml"]);
        assert_eq!(first.files[0].blob, first.files[1].blob, "equal contents");
        assert_eq!(first.commit.author, FOLDER_AUTHOR);
        assert_eq!(first.commit.id.len(), 64);
        assert!(first.manifests.contains_key("zones/page.yaml"));

        std::fs::write(dir.path().join("zones/a.toml"), ZONE).expect("touch");
        assert_eq!(source.head().await.expect("read").id, first.commit.id);

        std::fs::write(dir.path().join("zones/a.toml"), format!("{ZONE}\n")).expect("edit");
        let second = source.snapshot().await.expect("read");
        assert_ne!(second.commit.id, first.commit.id);
        std::fs::write(dir.path().join("zones/a.toml"), "changed after").expect("edit");
        let texts = second.read_texts(second.files.iter()).await.expect("texts");
        assert_eq!(texts[0], format!("{ZONE}\n"), "the text listed");
        // The last revision read is read again by its id; another is gone.
        assert_eq!(
            source
                .snapshot_at(&second.commit.id)
                .await
                .expect("read")
                .commit,
            second.commit
        );
        let past = error_of(source.snapshot_at(&first.commit.id).await);
        assert!(past.contains("keeps no past revisions"), "{past}");
    }

    /// A link, a name that is not UTF-8, a file too large, more files or
    /// bytes than the quotas: each refused, naming the file or the quota.
    #[tokio::test]
    async fn what_a_folder_could_attack_with_is_refused() {
        let dir = folder(&[("a.toml", ZONE.as_bytes())]);
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link.toml")).expect("a link");
        let linked = error_of(
            source(dir.path(), ".", ReadPolicy::default())
                .snapshot()
                .await,
        );
        assert!(
            linked.contains("link.toml") && linked.contains("symbolic link"),
            "{linked}"
        );

        let dir = folder(&[("a.toml", ZONE.as_bytes())]);
        let name = std::ffi::OsStr::from_bytes(b"bad-\xff.toml");
        std::fs::write(dir.path().join(name), ZONE).expect("a file");
        let named = error_of(
            source(dir.path(), ".", ReadPolicy::default())
                .snapshot()
                .await,
        );
        assert!(named.contains("not UTF-8"), "{named}");

        let huge = vec![b'#'; MAX_RESOURCE_FILE_BYTES + 1];
        let dir = folder(&[("huge.toml", &huge)]);
        let large = error_of(
            source(dir.path(), ".", ReadPolicy::default())
                .snapshot()
                .await,
        );
        assert!(
            large.contains("huge.toml") && large.contains("at most"),
            "{large}"
        );

        let many: Vec<(String, &[u8])> = (0..20)
            .map(|n| (format!("f{n}.toml"), ZONE.as_bytes()))
            .collect();
        let many: Vec<(&str, &[u8])> = many.iter().map(|(p, b)| (p.as_str(), *b)).collect();
        let dir = folder(&many);
        let counted = error_of(
            source(
                dir.path(),
                ".",
                ReadPolicy {
                    max_files: 5,
                    ..ReadPolicy::default()
                },
            )
            .snapshot()
            .await,
        );
        assert!(counted.contains("repository_files"), "{counted}");
        let sized = error_of(
            source(
                dir.path(),
                ".",
                ReadPolicy {
                    max_bytes: 100,
                    ..ReadPolicy::default()
                },
            )
            .snapshot()
            .await,
        );
        assert!(sized.contains("repository_bytes"), "{sized}");

        let missing = error_of(
            source(dir.path(), "nowhere", ReadPolicy::default())
                .snapshot()
                .await,
        );
        assert!(missing.contains("`nowhere`"), "{missing}");
    }
}
