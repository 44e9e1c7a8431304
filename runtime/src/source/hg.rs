//! The Mercurial source, read through Mercurial's own command, `hg`.
//!
//! Why the command and not the wire protocol: Mercurial's protocol and
//! storage (revlogs, manifests, filelogs, their compression) have no
//! maintained Rust client, and a reader written here would be a second,
//! unreviewed implementation of formats Mercurial keeps changing. `hg` is
//! the reference implementation, packaged by Debian, and reads a changeset
//! without a working copy: `hg manifest --debug` lists its files with
//! their node ids (content ids: a file unchanged between changesets keeps
//! its node) and flags (`@` a link), `hg files -T` gives their sizes
//! before any is read, and `hg cat -r` their contents. It runs isolated
//! from the user's configuration (`HGRCPATH` empty, `HGPLAIN`), never
//! asks a question, and is killed when the read's time is up.
//!
//! A local path holding `.hg` is read in place; `hg+http://…` and
//! `hg+https://…` are cloned into the cache without a working copy
//! (`hg clone -U`) once and pulled on every read. `ref` names a branch (its
//! tip), a bookmark, a tag or a changeset id. A pull adds bookmarks and
//! moves them but keeps those deleted on the remote, so the mirror's
//! bookmarks are dropped before each pull: it then holds exactly the
//! remote's, and a bookmark the tenant follows that is gone there is
//! [`SourceError::RefGone`]. So is a branch whose tip closes it.

use super::listing::{self, Entry, EntryKind, Revision};
use super::snapshot::{Contents, Listing};
use super::{
    CommitInfo, FetchError, MAX_RESOURCE_FILE_BYTES, ReadPolicy, Snapshot, SourceError, SourceFile,
};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The prefix of a remote Mercurial repository's `repo`.
pub const HG_PREFIX: &str = "hg+";

/// The most `hg` may print for one listing: a manifest line is a 40-digit
/// node, flags and a path, so 64 MiB holds hundreds of thousands of files,
/// past any repository quota; a repository printing more is refused, not
/// held in memory.
const MAX_OUTPUT_BYTES: usize = 64 << 20;

/// How much of `hg`'s error output is kept for the message.
const MAX_ERROR_BYTES: usize = 4 << 10;

/// How often a running `hg` is checked for the read's time being up.
const POLL: Duration = Duration::from_millis(10);

/// A tenant's Mercurial repository.
#[derive(Debug, Clone)]
pub(super) struct Hg {
    /// As configured.
    pub repo: String,
    /// The remote's URL (`repo` without `hg+`); `None` for a local path.
    pub remote: Option<String>,
    pub reference: String,
    pub path: String,
    pub cache_dir: PathBuf,
    pub policy: ReadPolicy,
}

/// Why `hg` did not give what was asked.
#[derive(Debug, thiserror::Error)]
pub enum HgError {
    /// It could not be started.
    #[error("cannot run hg (Mercurial; scripts/setup.sh installs it): {0}")]
    Spawn(#[source] std::io::Error),
    /// It failed.
    #[error("`hg {command}` failed ({status}): {stderr}")]
    Failed {
        /// What was run.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// What it said.
        stderr: String,
    },
    /// It printed more than a listing may hold.
    #[error("`hg {command}` printed more than {} MiB", MAX_OUTPUT_BYTES >> 20)]
    TooMuch {
        /// What was run.
        command: String,
    },
    /// The read's time was up.
    #[error("stopped: the read took too long")]
    Interrupted,
    /// `hg files` did not list a file of the manifest.
    #[error("`hg files` gave no size for {0}")]
    Unlisted(String),
}

impl Hg {
    /// Reads `reference` (`None`: the tenant's ref), after a pull when
    /// `fetch` and the repository is a remote; lists its files when
    /// `with_files`.
    pub fn read_at(
        &self,
        reference: Option<&str>,
        fetch: bool,
        with_files: bool,
        interrupt: &AtomicBool,
    ) -> Result<Snapshot, SourceError> {
        let reference = reference.unwrap_or(&self.reference);
        let dir = match (&self.remote, fetch) {
            (None, _) => PathBuf::from(&self.repo),
            (Some(url), true) => self.pull(url, interrupt)?,
            (Some(url), false) if !self.mirror().join(".hg").is_dir() => {
                self.pull(url, interrupt)?
            }
            (Some(_), false) => self.mirror(),
        };
        if self.remote.is_none() && !dir.join(".hg").is_dir() {
            return Err(SourceError::Open {
                repo: self.repo.clone(),
                source: format!("{} holds no Mercurial repository (.hg)", dir.display()).into(),
            });
        }
        let (commit, tag) = self.resolve(&dir, reference, interrupt)?;
        if !with_files {
            let mut snapshot = Snapshot::held(Listing::without_files(commit), HashMap::new());
            snapshot.tag = tag;
            return Ok(snapshot);
        }
        let store = Store {
            repo: self.repo.clone(),
            dir,
            node: commit.id.clone(),
        };
        let (entries, sizes) = self.entries(&store, interrupt)?;
        let prefix = listing::folder_prefix(&self.path);
        let revision = Sizes {
            manifests: self.manifests_to_read(&entries, &sizes, &prefix),
            store: &store,
            sizes,
            prefix,
            read: RefCell::new(None),
        };
        let listing::Files {
            files, manifests, ..
        } = listing::files(&commit, &self.path, entries, &self.policy, &revision)?;
        let mut snapshot = Snapshot::listed(
            Listing {
                commit,
                files: files.into(),
                manifests,
                signer: None,
            },
            Arc::new(store),
        );
        snapshot.tag = tag;
        Ok(snapshot)
    }

    /// Where a remote's mirror lives in the cache.
    fn mirror(&self) -> PathBuf {
        let key = hex::encode(Sha256::digest(self.repo.as_bytes()));
        self.cache_dir.join(format!("hg-{}", &key[..24]))
    }

    /// Clones the remote into the cache without a working copy on first
    /// use, pulls afterwards; fails when the bookmark the tenant follows
    /// was deleted there.
    fn pull(&self, url: &str, interrupt: &AtomicBool) -> Result<PathBuf, SourceError> {
        let fail = |error: HgError| SourceError::Fetch {
            repo: self.repo.clone(),
            source: FetchError::Transfer(Box::new(error)),
        };
        let mirror = self.mirror();
        if !mirror.join(".hg").is_dir() {
            std::fs::create_dir_all(&self.cache_dir).map_err(|source| SourceError::Fetch {
                repo: self.repo.clone(),
                source: FetchError::CacheFolder {
                    folder: self.cache_dir.clone(),
                    source,
                },
            })?;
            let partial = mirror.with_extension("partial");
            let _ = std::fs::remove_dir_all(&partial);
            hg(
                &self.cache_dir,
                &[
                    "clone".as_ref(),
                    "-U".as_ref(),
                    "--".as_ref(),
                    url.as_ref(),
                    partial.as_os_str(),
                ],
                interrupt,
            )
            .map_err(fail)?;
            std::fs::rename(&partial, &mirror).map_err(|error| fail(HgError::Spawn(error)))?;
            return Ok(mirror);
        }
        let followed = bookmarks(&mirror).map_err(fail)?.remove(&self.reference);
        // The remote's bookmarks, and only those, after the pull.
        match std::fs::remove_file(mirror.join(".hg").join("bookmarks")) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(fail(HgError::Spawn(error)));
            }
            _ => {}
        }
        hg(
            &mirror,
            &["pull".as_ref(), "--".as_ref(), url.as_ref()],
            interrupt,
        )
        .map_err(fail)?;
        if let Some(node) = followed
            && !bookmarks(&mirror)
                .map_err(fail)?
                .contains_key(&self.reference)
        {
            return Err(SourceError::RefGone {
                repo: self.repo.clone(),
                reference: self.reference.clone(),
                last_seen: Box::new(self.resolve(&mirror, &node, interrupt)?.0),
            });
        }
        Ok(mirror)
    }

    /// The changeset `reference` names in the repository at `dir`.
    fn resolve(
        &self,
        dir: &Path,
        reference: &str,
        interrupt: &AtomicBool,
    ) -> Result<(CommitInfo, Option<String>), SourceError> {
        let unknown = || SourceError::UnknownRef {
            repo: self.repo.clone(),
            reference: reference.to_string(),
        };
        // A quoted revset identifier: the name is looked up as a branch,
        // bookmark, tag or changeset, never parsed as an expression.
        if reference.is_empty() || reference.contains(['\'', '\\']) {
            return Err(unknown());
        }
        let revset = format!("r'{reference}'");
        let template = "{node}\\0{author}\\0{date|hgdate}\\0{desc|firstline}\\0{branch}\\0{get(extras, 'close')}\\0{join(tags, ' ')}";
        let output = match hg(
            dir,
            &[
                "log".as_ref(),
                "-r".as_ref(),
                revset.as_ref(),
                "-l".as_ref(),
                "1".as_ref(),
                "-T".as_ref(),
                template.as_ref(),
            ],
            interrupt,
        ) {
            Ok(output) => output,
            Err(HgError::Failed { .. }) => return Err(unknown()),
            Err(error) => {
                return Err(SourceError::Open {
                    repo: self.repo.clone(),
                    source: Box::new(error),
                });
            }
        };
        let text = String::from_utf8_lossy(&output);
        let fields: Vec<&str> = text.split('\0').collect();
        let [node, author, date, summary, branch, close, tags] = fields[..] else {
            return Err(unknown());
        };
        let commit = CommitInfo {
            id: node.to_string(),
            author: author.to_string(),
            summary: summary.to_string(),
            time: date
                .split(' ')
                .next()
                .and_then(|seconds| seconds.parse().ok())
                .unwrap_or(0),
        };
        if branch == reference && close == "1" {
            return Err(SourceError::RefGone {
                repo: self.repo.clone(),
                reference: reference.to_string(),
                last_seen: Box::new(commit),
            });
        }
        // `tip` is Mercurial's name of the newest changeset, not a tag
        // anyone made.
        let tag = (reference != "tip" && tags.split(' ').any(|tag| tag == reference))
            .then(|| reference.to_string());
        Ok((commit, tag))
    }

    /// The paths (in the repository) of the manifests among `entries`
    /// that the listing will read, for one `hg cat` of them all; none when
    /// the listed files are over the tenant's bytes (the listing then stops
    /// on its quota before reading, and nothing is read ahead).
    fn manifests_to_read(
        &self,
        entries: &[Entry],
        sizes: &HashMap<Vec<u8>, u64>,
        prefix: &str,
    ) -> Vec<Vec<u8>> {
        let in_repository = |entry: &Entry| [prefix.as_bytes(), &entry.path].concat();
        let listed: Vec<(&Entry, u64)> = entries
            .iter()
            .filter(|entry| entry.kind == EntryKind::File && listing::is_listed(&entry.path))
            .map(|entry| {
                let size = sizes.get(&in_repository(entry)).copied();
                (entry, size.unwrap_or(u64::MAX))
            })
            .collect();
        let total = listed
            .iter()
            .fold(0u64, |total, (_, size)| total.saturating_add(*size));
        if total > self.policy.max_bytes {
            return Vec::new();
        }
        listed
            .into_iter()
            .filter(|(entry, size)| {
                listing::is_manifest(&entry.path) && *size <= MAX_RESOURCE_FILE_BYTES as u64
            })
            .map(|(entry, _)| in_repository(entry))
            .collect()
    }

    /// The entries below the tenant's folder in the changeset, and the
    /// size of every file of the folder by its path in the repository.
    #[allow(clippy::type_complexity)]
    fn entries(
        &self,
        store: &Store,
        interrupt: &AtomicBool,
    ) -> Result<(Vec<Entry>, HashMap<Vec<u8>, u64>), SourceError> {
        let prefix = listing::folder_prefix(&self.path);
        let manifest = store
            .hg(
                &[
                    "manifest".as_ref(),
                    "--debug".as_ref(),
                    "-r".as_ref(),
                    store.node.as_ref(),
                ],
                interrupt,
            )
            .map_err(|error| store.error(error))?;
        let mut entries = Vec::new();
        for line in manifest.split(|byte| *byte == b'\n') {
            // `NODE PERMISSIONS FLAG PATH`: 40 hex digits, `644`, then a
            // space, `*` (executable) or `@` (a link).
            if line.len() < 48 {
                continue;
            }
            let (node, flag, path) = (&line[..40], line[45], &line[47..]);
            let Some(relative) = path.strip_prefix(prefix.as_bytes()) else {
                continue;
            };
            entries.push(Entry {
                path: relative.to_vec(),
                kind: match flag {
                    b'@' => EntryKind::Link,
                    _ => EntryKind::File,
                },
                id: String::from_utf8_lossy(node).into_owned(),
            });
        }
        if entries.is_empty() && !prefix.is_empty() {
            return Err(SourceError::MissingPath {
                repo: self.repo.clone(),
                path: self.path.clone(),
                commit: store.node.clone(),
            });
        }
        let mut args: Vec<OsString> = ["files", "-r", &store.node, "-T", "{path}\\0{size}\\0"]
            .iter()
            .map(OsString::from)
            .collect();
        if !prefix.is_empty() {
            args.push(format!("path:{}", prefix.trim_end_matches('/')).into());
        }
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        let listed = store
            .hg(&args, interrupt)
            .map_err(|error| store.error(error))?;
        let mut fields = listed.split(|byte| *byte == 0);
        let mut sizes = HashMap::new();
        while let (Some(path), Some(size)) = (fields.next(), fields.next()) {
            let size = std::str::from_utf8(size)
                .ok()
                .and_then(|size| size.parse().ok())
                .unwrap_or(u64::MAX);
            sizes.insert(path.to_vec(), size);
        }
        Ok((entries, sizes))
    }
}

/// The bookmarks of the repository at `dir`, with the changesets they
/// name: read from `.hg/bookmarks` (a line `NODE NAME` each), which a
/// mirror's pull writes, rather than by another `hg` run (about 0.2 s of
/// interpreter start each).
fn bookmarks(dir: &Path) -> Result<HashMap<String, String>, HgError> {
    let text = match std::fs::read_to_string(dir.join(".hg").join("bookmarks")) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(HgError::Spawn(error)),
    };
    Ok(text
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(node, name)| (name.to_string(), node.to_string()))
        .collect())
}

/// Runs `hg ARGS` in `dir`, isolated from the user's configuration, and
/// gives what it printed; stops it when `interrupt` is set.
fn hg(dir: &Path, args: &[&OsStr], interrupt: &AtomicBool) -> Result<Vec<u8>, HgError> {
    let command = args
        .iter()
        .map(|arg| arg.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("hg")
        .args(["--noninteractive", "--config", "ui.username=cairn"])
        .args(args)
        .current_dir(dir)
        .env("HGPLAIN", "1")
        .env("HGRCPATH", "")
        .env("HGENCODING", "utf-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(HgError::Spawn)?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let printed = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let read = stdout
            .take(MAX_OUTPUT_BYTES as u64 + 1)
            .read_to_end(&mut bytes);
        read.map(|_| bytes)
    });
    let said = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.take(MAX_ERROR_BYTES as u64).read_to_end(&mut bytes);
        bytes
    });
    let status = loop {
        if let Some(status) = child.try_wait().map_err(HgError::Spawn)? {
            break status;
        }
        if interrupt.load(Ordering::Relaxed) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HgError::Interrupted);
        }
        std::thread::sleep(POLL);
    };
    let stdout = printed
        .join()
        .expect("the reader of hg's output")
        .map_err(HgError::Spawn)?;
    let stderr = said.join().expect("the reader of hg's errors");
    if !status.success() {
        return Err(HgError::Failed {
            command,
            status,
            stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
        });
    }
    if stdout.len() > MAX_OUTPUT_BYTES {
        return Err(HgError::TooMuch { command });
    }
    Ok(stdout)
}

/// A changeset of a repository on disk: what its files are read from.
struct Store {
    repo: String,
    dir: PathBuf,
    node: String,
}

impl Store {
    fn hg(&self, args: &[&OsStr], interrupt: &AtomicBool) -> Result<Vec<u8>, HgError> {
        hg(&self.dir, args, interrupt)
    }

    fn error(&self, error: HgError) -> SourceError {
        SourceError::Read {
            repo: self.repo.clone(),
            commit: self.node.clone(),
            source: Box::new(error),
        }
    }

    /// The contents of `paths` (paths in the repository) at the
    /// changeset, written by `hg cat` into a folder of their own and read
    /// back.
    fn cat(&self, paths: &[&[u8]]) -> Result<Vec<Vec<u8>>, SourceError> {
        let folder = tempfile::Builder::new()
            .prefix("cairn-hg-")
            .tempdir()
            .map_err(|error| self.error(HgError::Spawn(error)))?;
        let output = folder.path().join("%p");
        let mut args: Vec<OsString> = vec![
            "cat".into(),
            "-r".into(),
            self.node.clone().into(),
            "-o".into(),
            output.into_os_string(),
            "--".into(),
        ];
        for path in paths {
            let mut pattern = OsString::from("path:");
            pattern.push(OsStr::from_bytes(path));
            args.push(pattern);
        }
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        self.hg(&args, &AtomicBool::new(false))
            .map_err(|error| self.error(error))?;
        paths
            .iter()
            .map(|path| {
                std::fs::read(folder.path().join(OsStr::from_bytes(path)))
                    .map_err(|error| self.error(HgError::Spawn(error)))
            })
            .collect()
    }
}

impl Contents for Store {
    fn repo(&self) -> &str {
        &self.repo
    }

    fn read(&self, _commit: &str, files: &[SourceFile]) -> Result<Vec<Vec<u8>>, SourceError> {
        let paths: Vec<&[u8]> = files.iter().map(|file| file.path.as_bytes()).collect();
        self.cat(&paths)
    }
}

/// The sizes `hg files` gave, for [`listing::files`], and the manifests it
/// reads, all in one `hg cat` the first time one is asked for (each run
/// of `hg` costs its interpreter's start).
struct Sizes<'a> {
    store: &'a Store,
    sizes: HashMap<Vec<u8>, u64>,
    prefix: String,
    /// The manifests to read together ([`Hg::manifests_to_read`]).
    manifests: Vec<Vec<u8>>,
    /// Their contents, by path in the repository, once read.
    read: RefCell<Option<HashMap<Vec<u8>, Vec<u8>>>>,
}

impl Sizes<'_> {
    fn in_repository(&self, entry: &Entry) -> Vec<u8> {
        let mut path = self.prefix.as_bytes().to_vec();
        path.extend_from_slice(&entry.path);
        path
    }
}

impl Revision for Sizes<'_> {
    fn size(&self, entry: &Entry) -> Result<u64, SourceError> {
        let path = self.in_repository(entry);
        self.sizes.get(&path).copied().ok_or_else(|| {
            self.store.error(HgError::Unlisted(
                String::from_utf8_lossy(&path).into_owned(),
            ))
        })
    }

    fn bytes(&self, entry: &Entry) -> Result<Vec<u8>, SourceError> {
        let path = self.in_repository(entry);
        let mut read = self.read.borrow_mut();
        if read.is_none() {
            let paths: Vec<&[u8]> = self.manifests.iter().map(Vec::as_slice).collect();
            let contents = match paths.is_empty() {
                true => Vec::new(),
                false => self.store.cat(&paths)?,
            };
            *read = Some(self.manifests.iter().cloned().zip(contents).collect());
        }
        match read.as_mut().and_then(|read| read.remove(&path)) {
            Some(bytes) => Ok(bytes),
            None => Ok(self.store.cat(&[&path])?.remove(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::source::Source;
    use std::process::Command;

    fn hg(dir: &std::path::Path, args: &[&str]) {
        let status = Command::new("hg")
            .args(args)
            .current_dir(dir)
            .env("HGRCPATH", "")
            .env("HGPLAIN", "1")
            .status()
            .expect("run hg (scripts/setup.sh installs Mercurial)");
        assert!(status.success(), "hg {args:?}");
    }

    /// A changeset's manifests are all read (in one `hg cat`), each with
    /// its own text; its resource files are listed, read when asked.
    #[tokio::test]
    async fn a_changesets_manifests_and_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        hg(dir.path(), &["init"]);
        for (path, text) in [
            ("dns/zone.toml", "[[dns.zone]]\nname = \"a.\"\n"),
            ("dns/one.yaml", "kind: One\n"),
            ("dns/sub/two.yml", "kind: Two\n"),
        ] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        hg(
            dir.path(),
            &[
                "commit",
                "--addremove",
                "-u",
                "Ada <ada@example.org>",
                "-m",
                "first",
            ],
        );
        let source = Source::new(
            &dir.path().display().to_string(),
            "default",
            "dns",
            dir.path(),
        );
        let snapshot = source.snapshot().await.unwrap();
        let manifests: Vec<(&str, &str)> = snapshot
            .manifests
            .iter()
            .map(|(path, manifest)| (path.as_str(), manifest.text.as_deref().unwrap()))
            .collect();
        assert_eq!(
            manifests,
            [
                ("dns/one.yaml", "kind: One\n"),
                ("dns/sub/two.yml", "kind: Two\n")
            ]
        );
        let texts = snapshot.read_texts(snapshot.files.iter()).await.unwrap();
        assert_eq!(texts, ["[[dns.zone]]\nname = \"a.\"\n"]);
        assert_eq!(snapshot.commit.author, "Ada <ada@example.org>");
    }
}
