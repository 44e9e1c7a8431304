//! The model cache: per tenant, what each file of the last loaded commit
//! contributed, parsed and validated, keyed by the file's Git blob id. A
//! new commit arrives as a list of (path, blob) from its tree (a
//! [`Snapshot`]); the cache picks the files whose blob is new, and only
//! those are read, parsed and validated, and the checks across
//! files (duplicates, dependencies, cycles) run over everything. The cache
//! lives in memory in the daemon and in `CACHE_DIR/model/TENANT-REPO.bin`
//! (postcard: specs are kept as their canonical text, so reading it back
//! parses no JSON) between processes; it is only ever a shortcut — a missing, stale or
//! unreadable cache means a full load, never a wrong one.

use super::diagnostic::Location;
use super::incremental::{self, LastLoad};
use super::load::{self, KnownFiles, Outcome};
use super::{Address, DesiredResource, DesiredState, Lifecycle, LoadError};
use crate::host::ProviderInstance;
use crate::quota::Quotas;
use crate::source::{Snapshot, SourceError, SourceFile};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Changes whenever [`FileResource`] or the parsing rules change, so that
/// a cache written by another version is ignored rather than misread.
const CACHE_FORMAT: &str = concat!("4/", env!("CARGO_PKG_VERSION"));

/// Entries of files no commit has any more that the cache lets add up
/// before it keeps exactly the last commit's: each is a file's resources,
/// and pruning in full costs a pass over the commit's files. (An entry is
/// pruned at once unless something else held the cache's map at that
/// moment: another load, or the background write of the map before,
/// which then also makes the update copy the map.)
const STALE_ENTRIES: usize = 256;

/// What the cache keeps of one file.
#[derive(Debug, Serialize, Deserialize)]
pub struct CachedFile {
    /// The values of its text (see [`super::count`]): a file served from
    /// the cache counts toward `quotas.values` as if it were read.
    pub(super) values: usize,
    /// Its validated resources.
    pub(super) resources: Vec<FileResource>,
}

impl CachedFile {
    /// Whether its resources say they are declared in `path`: an entry
    /// is found by the file's contents, and the same contents at another
    /// path (a file renamed, or copied) are read again, so that every
    /// resource says where it is.
    pub(super) fn declared_at(&self, path: &str) -> bool {
        self.resources
            .first()
            .is_none_or(|resource| resource.resource.origin.file == path)
    }

    /// The entry `known` holds for `file`, when its resources are declared
    /// where `file` is ([`CachedFile::declared_at`]).
    pub(super) fn known<'a>(known: &'a KnownFiles, file: &SourceFile) -> Option<&'a Arc<Self>> {
        known
            .get(&file.blob)
            .filter(|cached| cached.declared_at(&file.path))
    }
}

/// A validated resource as its file declares it, before the checks across
/// files: what the cache keeps per file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileResource {
    /// The resource as a desired state holds it, its dependencies those of
    /// `depends_on` that are addresses: what every commit that keeps this
    /// file shares, once the checks across files have found each of them
    /// declared (a commit in which one is not has a problem, and no
    /// desired state).
    pub(super) resource: Arc<DesiredResource>,
    /// `depends_on` as written, with where each entry is.
    pub(super) depends_on: Vec<(String, Range<usize>)>,
    /// The whole table.
    pub(super) span: Range<usize>,
    /// The first identity field, where a duplicate is pointed at.
    pub(super) identity_span: Range<usize>,
}

impl FileResource {
    /// The resource at `address`, declared at `origin`.
    pub(super) fn new(
        address: Address,
        spec: super::Spec,
        lifecycle: Lifecycle,
        depends_on: Vec<(String, Range<usize>)>,
        (span, identity_span): (Range<usize>, Range<usize>),
        origin: Location,
    ) -> Self {
        let resource = DesiredResource {
            address,
            spec,
            depends_on: depends_on
                .iter()
                .filter_map(|(text, _)| Address::parse(text))
                .collect(),
            lifecycle,
            origin,
        };
        Self {
            resource: Arc::new(resource),
            depends_on,
            span,
            identity_span,
        }
    }

    /// Its address.
    pub(super) fn address(&self) -> &Address {
        &self.resource.address
    }
}

/// The cache file.
#[derive(Serialize, Deserialize)]
struct Stored<S, F> {
    /// [`ModelCache::fingerprint`] of the writer.
    fingerprint: S,
    /// Blob id → resources.
    files: F,
}

/// One tenant's model cache.
#[derive(Debug)]
pub struct ModelCache {
    /// Where it is kept between processes; `None` keeps it in memory only.
    path: Option<PathBuf>,
    /// What the cached validations depend on: the cache format and, per
    /// provider instance, its name and plugin digest (`validate` runs
    /// without the operator's configuration, so that is all).
    fingerprint: String,
    /// Blob id → resources; `None` until read from disk.
    files: Mutex<Option<Arc<KnownFiles>>>,
    /// What the tenant's last load of its own commit left for loading the
    /// next from it; `None` after a load that could not keep it.
    last: Mutex<Option<LastLoad>>,
    /// Loads made from the last one.
    loads_from_last: AtomicU64,
    /// Writes started, numbering each.
    generations: AtomicU64,
    /// The newest write done, held while writing.
    written: Arc<Mutex<u64>>,
}

impl ModelCache {
    /// A cache for a tenant with these providers, kept at `path`.
    pub fn new(path: Option<PathBuf>, providers: &BTreeMap<String, Arc<ProviderInstance>>) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(CACHE_FORMAT);
        for (name, provider) in providers {
            hasher.update([0]);
            hasher.update(name);
            hasher.update([0]);
            hasher.update(provider.plugin().sha256());
        }
        Self {
            path,
            fingerprint: hex::encode(hasher.finalize()),
            files: Mutex::new(None),
            last: Mutex::new(None),
            loads_from_last: AtomicU64::new(0),
            generations: AtomicU64::new(0),
            written: Arc::default(),
        }
    }

    /// Loads the desired state of `snapshot`, reading only the texts of
    /// files whose blob the cache does not know. When a problem involves a
    /// file the cache knew, the other texts are read too, so that every
    /// diagnostic shows its text. The cache then holds exactly the commit's
    /// files. The commit must stay within the tenant's `quotas`.
    #[tracing::instrument(level = "debug", skip_all, fields(files = snapshot.files.len()))]
    pub async fn load(
        &self,
        snapshot: &Snapshot,
        providers: &BTreeMap<String, Arc<ProviderInstance>>,
        quotas: &Quotas,
    ) -> Result<DesiredState, LoadError> {
        self.load_keeping(snapshot, providers, quotas, true).await
    }

    /// [`ModelCache::load`] of a commit the tenant does not follow (a
    /// preview's): it uses what the cache knows, and leaves the cache as
    /// it is, so that the tenant's next run finds its own commit's files.
    pub async fn load_aside(
        &self,
        snapshot: &Snapshot,
        providers: &BTreeMap<String, Arc<ProviderInstance>>,
        quotas: &Quotas,
    ) -> Result<DesiredState, LoadError> {
        self.load_keeping(snapshot, providers, quotas, false).await
    }

    async fn load_keeping(
        &self,
        snapshot: &Snapshot,
        providers: &BTreeMap<String, Arc<ProviderInstance>>,
        quotas: &Quotas,
        keep: bool,
    ) -> Result<DesiredState, LoadError> {
        let known = self.known();
        // The tenant's own commits load from the last one when they can.
        let last = match keep {
            true => self.last.lock().expect("the last load").take(),
            false => None,
        };
        if let Some(last) = last
            && let Some(loaded) =
                incremental::load_from_last(last, snapshot, providers, &known, quotas).await
        {
            let incremental::Loaded {
                state,
                last,
                fresh,
                gone,
                read,
            } = loaded;
            report_load(snapshot, read, true);
            self.keep_from_last(known, fresh, gone, &last);
            *self.last.lock().expect("the last load") = Some(last);
            self.loads_from_last.fetch_add(1, Ordering::Relaxed);
            return Ok(state);
        }
        let mut texts: Vec<Option<String>> = vec![None; snapshot.files.len()];
        let read = read_texts(snapshot, &mut texts, |file| {
            CachedFile::known(&known, file).is_none()
        })
        .await?;
        let (loaded, read) = match load::load_files(snapshot, &texts, providers, &known, quotas)
            .await?
        {
            Outcome::Loaded(loaded) => (loaded, read),
            Outcome::NeedsEveryText => {
                read_texts(snapshot, &mut texts, |_| true).await?;
                match load::load_files(snapshot, &texts, providers, &KnownFiles::default(), quotas)
                    .await?
                {
                    Outcome::Loaded(loaded) => (loaded, snapshot.files.len()),
                    Outcome::NeedsEveryText => return Err(LoadError::Unread),
                }
            }
        };
        report_load(snapshot, read, false);
        if !keep {
            return Ok(loaded.state);
        }
        let load::Loaded {
            state,
            fresh,
            per_file,
            every_file_cacheable,
        } = *loaded;
        *self.last.lock().expect("the last load") =
            every_file_cacheable.then(|| LastLoad::of(snapshot, per_file));
        let blobs: HashSet<&str> = snapshot.files.iter().map(|f| f.blob.as_str()).collect();
        let changed = known.keys().any(|blob| !blobs.contains(blob.as_str()))
            || fresh.iter().any(|(blob, _)| !known.contains_key(blob));
        if changed {
            // The commit's files: those it kept, and those read.
            self.replace_files(known, |files| {
                files.retain(|blob, _| blobs.contains(blob.as_str()));
                files.extend(fresh);
            });
        }
        Ok(state)
    }

    /// Makes `change` to `known` (the cache's map) and keeps the result,
    /// written in the background. The map is changed in place when nothing
    /// else holds it (the cache's own reference is let go first), so that
    /// one file changed of thousands does not copy the others.
    fn replace_files(&self, known: Arc<KnownFiles>, change: impl FnOnce(&mut KnownFiles)) {
        let mut slot = self.files.lock().expect("the model cache");
        *slot = None;
        let mut files = Arc::unwrap_or_clone(known);
        change(&mut files);
        let files = Arc::new(files);
        *slot = Some(files.clone());
        drop(slot);
        self.save(files);
    }

    /// The cache after a load from the last commit (`last` now): the
    /// entries read (`fresh`) added, and those of the files the commit no
    /// longer has (`gone`) removed, unless one of its files has the same
    /// contents (the commit's last load then holds the entry too).
    fn keep_from_last(
        &self,
        known: Arc<KnownFiles>,
        fresh: Vec<(String, Arc<CachedFile>)>,
        gone: Vec<String>,
        last: &LastLoad,
    ) {
        if fresh.is_empty() && gone.is_empty() {
            return;
        }
        self.replace_files(known, |files| {
            files.extend(fresh);
            for blob in gone {
                // Held by the map alone: no file of the commit has it.
                if files
                    .get(&blob)
                    .is_some_and(|entry| Arc::strong_count(entry) == 1)
                {
                    files.remove(&blob);
                }
            }
            // An entry held elsewhere at that moment (the map copied
            // because another load or the last write held it) stays; once
            // such entries add up, the map keeps exactly the commit's files.
            if files.len() > last.file_count() + STALE_ENTRIES {
                let blobs: HashSet<&str> = last.blobs().collect();
                files.retain(|blob, _| blobs.contains(blob.as_str()));
            }
        });
    }

    /// How many commits were loaded from the last one (and not in full)
    /// since the cache was made.
    pub fn loads_from_last(&self) -> u64 {
        self.loads_from_last.load(Ordering::Relaxed)
    }

    /// The cached files, read from disk on first use.
    fn known(&self) -> Arc<KnownFiles> {
        let mut files = self.files.lock().expect("the model cache");
        files.get_or_insert_with(|| Arc::new(self.read())).clone()
    }

    /// The cache file's contents, or nothing when it is missing, unreadable
    /// or written for other plugins or another version.
    #[tracing::instrument(level = "debug", skip_all)]
    fn read(&self) -> KnownFiles {
        let Some(path) = &self.path else {
            return KnownFiles::default();
        };
        let Ok(bytes) = std::fs::read(path) else {
            return KnownFiles::default();
        };
        // Read straight into the map the cache keeps (an entry is written
        // as the file it shares): no second map of 10,000 entries is built.
        match postcard::from_bytes::<Stored<String, KnownFiles>>(&bytes) {
            Ok(stored) if stored.fingerprint == self.fingerprint => stored.files,
            Ok(_) => KnownFiles::default(),
            Err(error) => {
                tracing::debug!(path = %path.display(), %error, "the model cache is unreadable; loading in full");
                KnownFiles::default()
            }
        }
    }

    /// Writes the cache in the background, through a temporary file
    /// renamed into place, so a reader never sees half of it; a write that
    /// a newer one overtook is dropped. A failure only costs the next
    /// process a full load. (Runtimes wait for background writes when they
    /// shut down, so a command's write is not lost at exit.)
    fn save(&self, files: Arc<KnownFiles>) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let fingerprint = self.fingerprint.clone();
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let written = self.written.clone();
        tokio::task::spawn_blocking(move || {
            let mut last = written.lock().expect("the model cache writer");
            if *last > generation {
                return;
            }
            if let Err(error) = write_atomically(&path, &fingerprint, &files) {
                tracing::warn!(path = %path.display(), %error, "cannot write the model cache; the next process loads in full");
            }
            *last = generation;
        });
    }
}

/// Says, for the debug log (and the tests that read it), how many of the
/// files of `snapshot` a load read, and whether it was made from the last
/// one.
fn report_load(snapshot: &Snapshot, read: usize, from_last: bool) {
    tracing::debug!(
        files = snapshot.files.len(),
        read,
        from_last,
        "loaded the desired state, reading and validating only files the cache did not know"
    );
}

/// Reads the texts of the files of `snapshot` that `wanted` picks among
/// those not read yet into `texts` (one per file); returns how many were
/// read.
async fn read_texts(
    snapshot: &Snapshot,
    texts: &mut [Option<String>],
    wanted: impl Fn(&SourceFile) -> bool,
) -> Result<usize, SourceError> {
    let picked: Vec<usize> = (0..snapshot.files.len())
        .filter(|&index| texts[index].is_none() && wanted(&snapshot.files[index]))
        .collect();
    let read = snapshot
        .read_texts(picked.iter().map(|&index| &snapshot.files[index]))
        .await?;
    for (&index, text) in picked.iter().zip(read) {
        texts[index] = Some(text);
    }
    Ok(picked.len())
}

/// Writes `files` to `path` through a temporary file renamed into place.
fn write_atomically(path: &Path, fingerprint: &str, files: &KnownFiles) -> std::io::Result<()> {
    let stored = Stored { fingerprint, files };
    let bytes = postcard::to_stdvec(&stored).map_err(std::io::Error::other)?;
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    // Unique per process and per write: two writers never share it.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let temporary = path.with_extension(format!(
        "tmp{}.{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}
