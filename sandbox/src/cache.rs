//! The compiled-code cache: the native code of compiled plugins, kept on
//! disk between runs, and what makes it safe to run.
//!
//! Loading an entry runs its machine code inside the host with no compile
//! and no check by wasmtime, so an entry is used only if this host (or
//! another process holding the same key) wrote it. Each entry starts with
//! an HMAC-SHA256 tag over the wasm file's sha256, the engine's
//! compatibility digest and the compiled bytes, keyed by 32 random bytes
//! kept in a file *outside* the cache folder — beside the state store by
//! default (`cache_key` in `cairn.toml`). Whoever can write the cache folder
//! but cannot read the key cannot make an entry that verifies: not by
//! rewriting one, not by copying another plugin's entry under this one's
//! name, not by recomputing a digest stored next to it. An entry whose tag
//! does not verify is recompiled, with a warning, and overwritten; it is
//! never run. The tag is compared in constant time.
//!
//! What the cache trusts, then: the key file (mode 0600, refused with any
//! permission for the group or others) and the user the host runs as.
//! Whoever can read the key, or write the folder it lives in, can forge
//! entries — as they could replace the state store beside it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;

/// The length of the key, in bytes: HMAC-SHA256's block-sized security
/// needs no more than the hash's output.
pub const KEY_BYTES: usize = 32;

/// The length of an entry's tag: HMAC-SHA256's output, kept whole.
const TAG_BYTES: usize = 32;

/// The largest entry read: compiled code is a few times the size of its
/// wasm (the shipped providers' is 3–5×), and a plugin is at most
/// `MAX_PLUGIN_BYTES`. A larger file in the cache is no entry of ours, and
/// is not read into memory to find that out.
const MAX_ENTRY_BYTES: u64 = 8 * super::limits::MAX_PLUGIN_BYTES;

/// Bound into every tag, so that a tag made with this key for anything
/// else can never pass for an entry's.
const TAG_CONTEXT: &[u8] = b"cairn compiled-code cache entry v1\0";

/// The key file could not be used. The host does not start: running
/// cached code without a key it trusts is what the key is there to prevent.
#[derive(Debug, thiserror::Error)]
pub enum CacheKeyError {
    /// The key file exists and cannot be read.
    #[error("cannot read the compiled-code cache's key {path}: {source}")]
    Read {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file did not exist and could not be made.
    #[error("cannot create the compiled-code cache's key {path}: {source}")]
    Create {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The operating system's random source failed.
    #[error("cannot draw a random key for the compiled-code cache: {0}")]
    Random(String),
    /// The key file may be read or written by other users.
    #[error(
        "the compiled-code cache's key {path} has mode {mode:04o}, open to other users, who could forge compiled code the daemon runs: make it private (`chmod 600 {path}`) or delete it to have a new one made"
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is not a key this host made.
    #[error(
        "the compiled-code cache's key {path} holds {size} bytes, not {KEY_BYTES}: delete it to have a new one made (plugins are then compiled again once)"
    )]
    Size {
        /// The key file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The key file is inside the folder it protects.
    #[error(
        "the compiled-code cache's key {key} is inside the cache folder {folder}, where whoever writes the cache could replace it: set `cache_key` in cairn.toml to a file outside `cache_dir`"
    )]
    InsideCache {
        /// The key file.
        key: PathBuf,
        /// The cache folder.
        folder: PathBuf,
    },
}

/// The secret that tags entries. Never printed.
#[derive(Clone)]
struct CacheKey([u8; KEY_BYTES]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(…)")
    }
}

/// A folder of compiled plugins and the key that vouches for them.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    folder: PathBuf,
    key: CacheKey,
}

impl CompiledCache {
    /// The cache in `folder` (made on the first write), its entries tagged
    /// with the key in `key_file`, which is made once (0600, 32 random
    /// bytes from the operating system) when it does not exist.
    pub fn open(folder: PathBuf, key_file: &Path) -> Result<Self, CacheKeyError> {
        let key_file = std::path::absolute(key_file).unwrap_or_else(|_| key_file.to_path_buf());
        let absolute = std::path::absolute(&folder).unwrap_or_else(|_| folder.clone());
        if key_file.starts_with(&absolute) {
            return Err(CacheKeyError::InsideCache {
                key: key_file,
                folder,
            });
        }
        let key = read_or_create_key(&key_file)?;
        Ok(Self { folder, key })
    }

    /// The entry of a wasm file (by its sha256) compiled by `engine`.
    fn entry(&self, engine: &EngineDigest, wasm_sha256: &[u8; 32]) -> PathBuf {
        self.folder.join(format!(
            "{}-{}.tagged.cwasm",
            hex::encode(wasm_sha256),
            &hex::encode(engine.0)[..16]
        ))
    }

    fn mac(&self, engine: &EngineDigest, wasm_sha256: &[u8; 32], compiled: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key.0).expect("HMAC takes keys of any length");
        mac.update(TAG_CONTEXT);
        mac.update(wasm_sha256);
        mac.update(&engine.0);
        mac.update(compiled);
        mac
    }
}

/// A digest of everything that makes compiled code fit an engine (its
/// version, target and settings): wasmtime's compatibility hash, fed into
/// SHA-256.
struct EngineDigest([u8; 32]);

impl EngineDigest {
    fn of(engine: &wasmtime::Engine) -> Self {
        use std::hash::Hash;
        let mut hasher = DigestHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self(hasher.0.finalize().into())
    }
}

/// A `Hasher` that feeds SHA-256, to take a whole digest of something that
/// only offers `Hash`.
struct DigestHasher(Sha256);

impl std::hash::Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        // `Hash` implementations only write; the digest is read whole.
        0
    }
}

/// Compiles a component, or loads it from `cache` when an entry for this
/// file and engine verifies against the key. Blocking: run it off the
/// async workers.
pub(super) fn compile(
    engine: &wasmtime::Engine,
    cache: Option<&CompiledCache>,
    bytes: &[u8],
    wasm_sha256: &[u8; 32],
) -> wasmtime::Result<Component> {
    let Some(cache) = cache else {
        return Component::new(engine, bytes);
    };
    let engine_digest = EngineDigest::of(engine);
    let entry = cache.entry(&engine_digest, wasm_sha256);
    match read_entry(&entry) {
        Ok(Some(stored)) => {
            if let Some(component) =
                verified(cache, engine, &engine_digest, wasm_sha256, &entry, &stored)
            {
                return Ok(component);
            }
        }
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(entry = %entry.display(), %error, "cannot read a compiled plugin from the cache; compiling it")
        }
    }
    let component = Component::new(engine, bytes)?;
    if let Err(error) = store(cache, &engine_digest, wasm_sha256, &component, &entry) {
        tracing::warn!(entry = %entry.display(), %error, "cannot cache compiled plugin code");
    }
    Ok(component)
}

/// The bytes of an entry (`None`: there is none). Whoever writes the cache
/// may put anything under an entry's name: a pipe that never ends is not
/// waited on (opened non-blocking, then refused as not a regular file),
/// and a file larger than [`MAX_ENTRY_BYTES`] is not read.
fn read_entry(entry: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match super::regular_file::read(entry, MAX_ENTRY_BYTES) {
        Ok(stored) => Ok(Some(stored)),
        Err(super::regular_file::ReadError::Io(error))
            if error.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(super::regular_file::ReadError::Io(error)) => Err(error),
        Err(super::regular_file::ReadError::TooLarge(size)) => Err(std::io::Error::other(format!(
            "{size} bytes, more than an entry can be ({MAX_ENTRY_BYTES})"
        ))),
    }
}

/// The component in a stored entry, when its tag verifies.
fn verified(
    cache: &CompiledCache,
    engine: &wasmtime::Engine,
    engine_digest: &EngineDigest,
    wasm_sha256: &[u8; 32],
    entry: &Path,
    stored: &[u8],
) -> Option<Component> {
    let Some((tag, compiled)) = stored.split_at_checked(TAG_BYTES) else {
        tracing::warn!(entry = %entry.display(), "refusing a compiled plugin in the cache: it is too short to carry a tag; compiling the plugin again");
        return None;
    };
    if cache
        .mac(engine_digest, wasm_sha256, compiled)
        .verify_slice(tag)
        .is_err()
    {
        tracing::warn!(entry = %entry.display(), "refusing a compiled plugin in the cache: its tag does not verify with this host's key (altered, forged, or written with another key); compiling the plugin again");
        return None;
    }
    // SAFETY: the bytes are what `Component::serialize` returned to a host
    // holding this key, for this wasm file, on an engine with this
    // compatibility digest: the tag binds all three, and no one without the
    // key can make a tag that verifies.
    match unsafe { Component::deserialize(engine, compiled) } {
        Ok(component) => Some(component),
        Err(error) => {
            tracing::warn!(entry = %entry.display(), %error, "recompiling a plugin whose cached code does not load");
            None
        }
    }
}

/// Writes an entry, tag first, through a temporary file renamed into
/// place, so that a reader never sees half of one.
fn store(
    cache: &CompiledCache,
    engine_digest: &EngineDigest,
    wasm_sha256: &[u8; 32],
    component: &Component,
    entry: &Path,
) -> anyhow::Result<()> {
    let compiled = component
        .serialize()
        .map_err(|error| anyhow::anyhow!("{error:#}"))?;
    let tag = cache
        .mac(engine_digest, wasm_sha256, &compiled)
        .finalize()
        .into_bytes();
    std::fs::create_dir_all(&cache.folder)?;
    let temporary = entry.with_extension(format!(
        "tmp{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut contents = Vec::with_capacity(TAG_BYTES + compiled.len());
    contents.extend_from_slice(&tag);
    contents.extend_from_slice(&compiled);
    let written =
        std::fs::write(&temporary, contents).and_then(|()| std::fs::rename(&temporary, entry));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    Ok(written?)
}

/// Reads the key, or makes it when there is none: written whole to a
/// private temporary file and then linked to its name, which fails if
/// another process made it first — then that one is read. So every process
/// sharing the file ends up with the same key, and none reads half of one.
fn read_or_create_key(path: &Path) -> Result<CacheKey, CacheKeyError> {
    match read_key(path) {
        Err(CacheKeyError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound => {}
        other => return other,
    }
    let create = |source| CacheKeyError::Create {
        path: path.to_path_buf(),
        source,
    };
    let mut key = [0u8; KEY_BYTES];
    {
        use rand::TryRng;
        rand::rngs::SysRng
            .try_fill_bytes(&mut key)
            .map_err(|error| CacheKeyError::Random(error.to_string()))?;
    }
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(create)?;
    // Named for this attempt alone: a process or thread making the key at
    // the same time has its own.
    let temporary = folder.join(format!(
        ".{}.{}-{:016x}.tmp",
        path.file_name()
            .map_or("key".into(), |name| name.to_string_lossy()),
        std::process::id(),
        rand::random::<u64>()
    ));
    let written = (|| {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(&key)?;
        file.sync_all()?;
        std::fs::hard_link(&temporary, path)
    })();
    let _ = std::fs::remove_file(&temporary);
    match written {
        Ok(()) => {
            tracing::info!(key = %path.display(), "made a new key for the compiled-code cache");
            Ok(CacheKey(key))
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read_key(path),
        Err(error) => Err(create(error)),
    }
}

/// Reads an existing key, refusing one others may read or write, or of
/// the wrong size.
fn read_key(path: &Path) -> Result<CacheKey, CacheKeyError> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let read = |source| CacheKeyError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read)?;
    let metadata = file.metadata().map_err(read)?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CacheKeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    if metadata.len() != KEY_BYTES as u64 {
        return Err(CacheKeyError::Size {
            path: path.to_path_buf(),
            size: metadata.len(),
        });
    }
    let mut key = [0u8; KEY_BYTES];
    file.read_exact(&mut key).map_err(read)?;
    Ok(CacheKey(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_key_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("state/compiled-code.key");
        let first = CompiledCache::open(dir.path().join("cache"), &key_file).unwrap();
        assert_eq!(mode(&key_file), 0o600);
        assert_eq!(std::fs::read(&key_file).unwrap().len(), KEY_BYTES);
        let second = CompiledCache::open(dir.path().join("cache"), &key_file).unwrap();
        assert_eq!(first.key.0, second.key.0, "the key is read, not made again");
        // Nothing is left beside it.
        let names: Vec<_> = std::fs::read_dir(key_file.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["compiled-code.key"]);
    }

    #[test]
    fn processes_starting_together_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("compiled-code.key");
        let keys: Vec<[u8; KEY_BYTES]> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| read_or_create_key(&key_file).unwrap().0))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|key| *key == keys[0]), "one key won");
        assert_eq!(std::fs::read(&key_file).unwrap(), keys[0]);
    }

    #[test]
    fn a_key_open_to_others_or_of_the_wrong_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("compiled-code.key");
        CompiledCache::open(dir.path().join("cache"), &key_file).unwrap();
        for open in [0o640, 0o604, 0o620, 0o602] {
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(open)).unwrap();
            let error = CompiledCache::open(dir.path().join("cache"), &key_file).unwrap_err();
            assert!(
                matches!(error, CacheKeyError::Permissions { mode, .. } if mode == open),
                "{error}"
            );
            assert!(error.to_string().contains("chmod 600"), "{error}");
        }
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&key_file, b"short").unwrap();
        let error = CompiledCache::open(dir.path().join("cache"), &key_file).unwrap_err();
        assert!(
            matches!(error, CacheKeyError::Size { size: 5, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_key_inside_the_cache_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("cache");
        let error = CompiledCache::open(folder.clone(), &folder.join("sub/key")).unwrap_err();
        assert!(
            matches!(error, CacheKeyError::InsideCache { .. }),
            "{error}"
        );
        assert!(!folder.join("sub/key").exists(), "no key was made there");
    }

    #[test]
    fn entries_that_are_not_files_or_too_large_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_entry(&dir.path().join("missing")).unwrap().is_none());
        let pipe = dir.path().join("pipe.cwasm");
        let name = std::ffi::CString::new(pipe.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let error = read_entry(&pipe).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let large = dir.path().join("large.cwasm");
        std::fs::File::create(&large)
            .unwrap()
            .set_len(MAX_ENTRY_BYTES + 1)
            .unwrap();
        let error = read_entry(&large).unwrap_err();
        assert!(error.to_string().contains("more than an entry"), "{error}");
        let small = dir.path().join("small.cwasm");
        std::fs::write(&small, b"entry").unwrap();
        assert_eq!(read_entry(&small).unwrap().unwrap(), b"entry");
    }

    #[test]
    fn tags_bind_the_wasm_the_engine_and_the_code() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompiledCache::open(dir.path().join("cache"), &dir.path().join("key")).unwrap();
        let other =
            CompiledCache::open(dir.path().join("cache"), &dir.path().join("other")).unwrap();
        let engine = EngineDigest([1; 32]);
        let tag = |cache: &CompiledCache, engine: &EngineDigest, wasm: &[u8; 32], code: &[u8]| {
            cache
                .mac(engine, wasm, code)
                .finalize()
                .into_bytes()
                .to_vec()
        };
        let good = tag(&cache, &engine, &[7; 32], b"code");
        let verifies = |engine: &EngineDigest, wasm: &[u8; 32], code: &[u8]| {
            cache.mac(engine, wasm, code).verify_slice(&good).is_ok()
        };
        assert!(verifies(&engine, &[7; 32], b"code"));
        assert!(!verifies(&engine, &[8; 32], b"code"), "another wasm");
        assert!(
            !verifies(&EngineDigest([2; 32]), &[7; 32], b"code"),
            "another engine"
        );
        assert!(!verifies(&engine, &[7; 32], b"cod3"), "other code");
        assert_ne!(good, tag(&other, &engine, &[7; 32], b"code"), "another key");
    }
}
