//! Loading a plugin: read the file, check its sha256 against the operator's
//! pin, compile it (or load the compiled code from the cache, see
//! [`super::cache`]), link it, and ask it to `describe` itself.

use super::error::PluginError;
use super::guest::{ContractVersion, GuestPre};
use super::instance::{CallBody, CallLimits, Instantiate, call_body, run_call};
use super::result_size::ResultSize;
use super::state::CallLabel;
use super::{PluginHost, limits};
use cairn_contract::ProviderInfo;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A compiled, linked provider component, shared by every provider instance
/// that uses the same file.
pub struct Plugin {
    path: PathBuf,
    sha256: String,
    pub(super) pre: GuestPre,
    info: ProviderInfo,
    imports: Vec<String>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sha256 of the file, lower-case hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// What the plugin said of itself.
    pub fn info(&self) -> &ProviderInfo {
        &self.info
    }

    /// The interfaces the component imports.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// The version of the provider contract the component exports.
    pub fn contract_version(&self) -> ContractVersion {
        self.pre.version()
    }
}

/// The deadline of `describe`, which must do no I/O.
const DESCRIBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Compiles (or loads from the cache) at once, process-wide. One compile
/// already keeps every core busy (wasmtime compiles functions in
/// parallel); more at once only add memory — a cold start of many tenants
/// sharing one plugin would otherwise compile it once per tenant, all at
/// the same time. A load waiting here finds the code in the cache once
/// the first one stored it.
const MAX_CONCURRENT_COMPILES: usize = 2;

/// The slots of [`MAX_CONCURRENT_COMPILES`].
static COMPILE_SLOTS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(MAX_CONCURRENT_COMPILES);

/// Plugin files read and hashed at once, process-wide. Hashing keeps a
/// core busy, so more at once gain nothing on two cores, and each read
/// holds the whole file (up to `MAX_PLUGIN_BYTES`): a cold start of a
/// thousand tenants held a thousand copies of their shared plugin at once
/// (700 MB at the peak), and the heap it left behind stayed resident.
const MAX_CONCURRENT_READS: usize = 4;

/// The slots of [`MAX_CONCURRENT_READS`].
static READ_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_READS);

impl PluginHost {
    /// Loads the plugin at `path`, refusing it when `expected_sha256` is
    /// given and differs. A file already loaded (same digest) is shared.
    /// Reading, hashing and compiling run on the blocking pool, never on
    /// the async workers.
    pub async fn load(
        &self,
        path: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<Arc<Plugin>, PluginError> {
        self.load_for(LOADED_BY_NO_TENANT, path, expected_sha256)
            .await
    }

    /// [`PluginHost::load`] on behalf of `tenant`: its `describe` takes
    /// one of the tenant's call slots and one of the process's, and its
    /// CPU counts as the tenant's.
    pub async fn load_for(
        &self,
        tenant: &str,
        path: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<Arc<Plugin>, PluginError> {
        let (bytes, digest) = read_component(path, expected_sha256).await?;
        if let Some(plugin) = self.loaded_plugin(&digest) {
            return Ok(plugin);
        }
        let (slot, bytes, digest) = match COMPILE_SLOTS.try_acquire() {
            // A free slot: the bytes just read are compiled.
            Ok(slot) => (slot, bytes, digest),
            Err(_) => {
                // The bytes are let go while this load waits for a compile
                // slot: a cold start of a thousand tenants sharing one
                // plugin would otherwise hold a thousand copies of it
                // while the first compiles.
                drop(bytes);
                let slot = Self::compile_slot().await;
                // Another load of the same file may have finished while
                // this one waited for its slot; otherwise the file is read
                // again (it may have changed meanwhile: what is compiled
                // is what is read now).
                if let Some(plugin) = self.loaded_plugin(&digest) {
                    return Ok(plugin);
                }
                let (bytes, digest) = read_component(path, expected_sha256).await?;
                if let Some(plugin) = self.loaded_plugin(&digest) {
                    return Ok(plugin);
                }
                (slot, bytes, digest)
            }
        };
        let sha256 = hex::encode(digest);
        let invalid = |reason: String| PluginError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let component = self.compile(path, bytes, digest, slot).await?;
        let imports = component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|error| invalid(format!("{error:#}")))?;
        let pre = GuestPre::new(instance_pre).map_err(invalid)?;
        let info = describe(self, tenant, &pre, path).await?;
        let plugin = Arc::new(Plugin {
            path: path.to_path_buf(),
            sha256: sha256.clone(),
            pre,
            info,
            imports,
        });
        self.loaded
            .lock()
            .expect("plugin map")
            .insert(sha256, plugin.clone());
        Ok(plugin)
    }
}

/// Reads the component at `path` on the blocking pool: its bytes and
/// sha256, refused when too large or when its digest is not
/// `expected_sha256`.
pub(super) async fn read_component(
    path: &Path,
    expected_sha256: Option<&str>,
) -> Result<(Vec<u8>, [u8; 32]), PluginError> {
    let _slot = READ_SLOTS.acquire().await.expect("never closed");
    let file = path.to_path_buf();
    let expected = expected_sha256.map(str::to_string);
    blocking(path, move || read_pinned(&file, expected.as_deref())).await?
}

impl PluginHost {
    /// Runs `describe` (`body`) of the component `pre`, labelled `label`,
    /// as a call of `tenant`'s: it waits for the same slots as the
    /// tenant's other calls, since the pooling allocator has one instance
    /// slot per process-wide call slot, within [`DESCRIBE_TIMEOUT`]; its
    /// answer is refused past the host's limit on results.
    pub(super) async fn run_describe<P: Instantiate, R: ResultSize + Send + 'static>(
        &self,
        tenant: &str,
        label: &str,
        pre: P,
        body: CallBody<R, P::Instance>,
    ) -> Result<R, PluginError> {
        let label = CallLabel {
            tenant: tenant.into(),
            provider: label.into(),
            function: "describe",
            warnings: Default::default(),
        };
        let limits = CallLimits {
            grants: Arc::from(Vec::new()),
            memory_bytes: limits::DEFAULT_MEMORY_BYTES,
            timeout: DESCRIBE_TIMEOUT,
            endpoints: None,
            connections: Arc::default(),
        };
        let slots = self.slots(tenant);
        let _slots = slots.take(&label).await;
        let provider = label.provider.clone();
        let info = run_call(
            &self.cpu,
            self.engine.clone(),
            pre,
            label,
            limits,
            None,
            body,
        )
        .await?;
        super::result_size::check(&provider, "describe", &info)?;
        Ok(info)
    }

    /// Compiles the component read from `path` (or loads its compiled code
    /// from the cache) on the blocking pool, holding `slot` of
    /// [`MAX_CONCURRENT_COMPILES`] meanwhile.
    pub(super) async fn compile(
        &self,
        path: &Path,
        bytes: Vec<u8>,
        digest: [u8; 32],
        slot: tokio::sync::SemaphorePermit<'static>,
    ) -> Result<wasmtime::component::Component, PluginError> {
        let (engine, cache) = (self.engine.clone(), self.compiled_cache.clone());
        blocking(path, move || {
            let _slot = slot;
            super::cache::compile(&engine, cache.as_ref(), &bytes, &digest)
        })
        .await?
        .map_err(|error| PluginError::Invalid {
            path: path.to_path_buf(),
            reason: format!("{error:#}"),
        })
    }

    /// The plugin already loaded from a file of sha256 `digest`.
    fn loaded_plugin(&self, digest: &[u8; 32]) -> Option<Arc<Plugin>> {
        self.loaded
            .lock()
            .expect("plugin map")
            .get(&hex::encode(digest))
            .cloned()
    }

    /// A compile slot of [`MAX_CONCURRENT_COMPILES`].
    pub(super) async fn compile_slot() -> tokio::sync::SemaphorePermit<'static> {
        COMPILE_SLOTS.acquire().await.expect("never closed")
    }
}

/// Runs blocking work of loading `path` on the blocking pool.
async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PluginError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| PluginError::Invalid {
            path: path.to_path_buf(),
            reason: format!("loading it failed: {error}"),
        })
}

/// The file's bytes and sha256, refused when too large or when its digest
/// is not the pinned one.
fn read_pinned(
    path: &Path,
    expected_sha256: Option<&str>,
) -> Result<(Vec<u8>, [u8; 32]), PluginError> {
    let read_error = |source| PluginError::Read {
        path: path.to_path_buf(),
        source,
    };
    let bytes = match super::regular_file::read(path, limits::MAX_PLUGIN_BYTES) {
        Ok(bytes) => bytes,
        Err(super::regular_file::ReadError::Io(source)) => return Err(read_error(source)),
        Err(super::regular_file::ReadError::TooLarge(size)) => {
            return Err(PluginError::TooLarge {
                path: path.to_path_buf(),
                size,
                limit: limits::MAX_PLUGIN_BYTES,
            });
        }
    };
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    if let Some(expected) = expected_sha256
        && expected != hex::encode(digest)
    {
        return Err(PluginError::DigestMismatch {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual: hex::encode(digest),
        });
    }
    Ok((bytes, digest))
}

/// Whom the CPU of a plugin loaded outside any tenant (`cairn plugin
/// inspect`, a benchmark) is charged to.
const LOADED_BY_NO_TENANT: &str = "-";

/// Asks the plugin to describe itself, as a call of `tenant`'s
/// ([`PluginHost::run_describe`]), and checks what it says.
async fn describe(
    host: &PluginHost,
    tenant: &str,
    pre: &GuestPre,
    path: &Path,
) -> Result<ProviderInfo, PluginError> {
    let label = path.display().to_string();
    let info = host
        .run_describe(
            tenant,
            &label,
            pre.clone(),
            call_body(|store, plugin| Box::pin(async move { plugin.call_describe(store).await })),
        )
        .await?;
    let contract_broken = |violation| PluginError::Contract {
        provider: label.clone(),
        function: "describe",
        violation,
    };
    let info = ProviderInfo::try_from(info).map_err(contract_broken)?;
    super::info_check::check(&info).map_err(contract_broken)?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let pipe = dir.path().join("plugin.wasm");
        let name = std::ffi::CString::new(pipe.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        for path in [pipe.as_path(), Path::new("/dev/zero")] {
            let error = read_pinned(path, None).unwrap_err();
            assert!(error.to_string().contains("not a regular file"), "{error}");
        }
        let file = dir.path().join("real.wasm");
        std::fs::write(&file, b"(component)").unwrap();
        let (bytes, digest) = read_pinned(&file, None).unwrap();
        assert_eq!(bytes, b"(component)");
        let error = read_pinned(&file, Some("00")).unwrap_err();
        assert!(
            matches!(error, PluginError::DigestMismatch { .. }),
            "{error}"
        );
        assert!(read_pinned(&file, Some(&hex::encode(digest))).is_ok());
    }
}
