//! Loading a plugin: read the file, check its sha256 against the operator's
//! pin, compile it (or load the compiled code from the cache), link it, and
//! ask it to `describe` itself.

use super::bindings::ProviderPluginPre;
use super::error::PluginError;
use super::instance::{CallLimits, call_body, run_call};
use super::state::{CallLabel, CallState};
use super::types::ProviderInfo;
use super::{PluginHost, limits};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::Component;

/// A compiled, linked provider component, shared by every provider instance
/// that uses the same file.
pub struct Plugin {
    path: PathBuf,
    sha256: String,
    pub(super) pre: ProviderPluginPre<CallState>,
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
}

/// The deadline of `describe`, which must do no I/O.
const DESCRIBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl PluginHost {
    /// Loads the plugin at `path`, refusing it when `expected_sha256` is
    /// given and differs. A file already loaded (same digest) is shared.
    pub async fn load(
        &self,
        path: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<Arc<Plugin>, PluginError> {
        let read_error = |source| PluginError::Read {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read_error)?.len();
        if size > limits::MAX_PLUGIN_BYTES {
            return Err(PluginError::TooLarge {
                path: path.to_path_buf(),
                size,
                limit: limits::MAX_PLUGIN_BYTES,
            });
        }
        let bytes = std::fs::read(path).map_err(read_error)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if let Some(expected) = expected_sha256
            && expected != sha256
        {
            return Err(PluginError::DigestMismatch {
                path: path.to_path_buf(),
                expected: expected.to_string(),
                actual: sha256,
            });
        }
        if let Some(plugin) = self.loaded.lock().expect("plugin map").get(&sha256) {
            return Ok(plugin.clone());
        }
        let invalid = |reason: String| PluginError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let component = self
            .compile(&bytes, &sha256)
            .map_err(|error| invalid(format!("{error:#}")))?;
        let imports = component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|error| invalid(format!("{error:#}")))?;
        let pre =
            ProviderPluginPre::new(instance_pre).map_err(|error| invalid(format!("{error:#}")))?;
        let info = describe(self, &pre, path).await?;
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

    /// Compiles a component, or loads it from the compiled-code cache. A
    /// cache entry is named by the wasm's digest and the engine's
    /// compatibility hash, and is used only when its own recorded digest
    /// matches its contents, so a corrupted entry is recompiled, never run.
    fn compile(&self, bytes: &[u8], sha256: &str) -> wasmtime::Result<Component> {
        let Some(cache) = &self.compiled_cache else {
            return Component::new(&self.engine, bytes);
        };
        let engine_hash = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            self.engine
                .precompile_compatibility_hash()
                .hash(&mut hasher);
            hasher.finish()
        };
        let entry = cache.join(format!("{sha256}-{engine_hash:016x}.cwasm"));
        let check = entry.with_extension("sha256");
        if let (Ok(compiled), Ok(recorded)) =
            (std::fs::read(&entry), std::fs::read_to_string(&check))
            && hex::encode(Sha256::digest(&compiled)) == recorded.trim()
        {
            // SAFETY: the bytes were written by `Component::serialize` of an
            // engine with the same compatibility hash, and their digest
            // matches the one recorded when they were written.
            match unsafe { Component::deserialize(&self.engine, &compiled) } {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(entry = %entry.display(), %error, "recompiling a plugin whose cached code does not load")
                }
            }
        }
        let component = Component::new(&self.engine, bytes)?;
        if let Err(error) = store_compiled(&component, &entry, &check) {
            tracing::warn!(entry = %entry.display(), %error, "cannot cache compiled plugin code");
        }
        Ok(component)
    }
}

/// Writes a compiled component and its digest, each through a temporary
/// file renamed into place, so a reader never sees half an entry.
fn store_compiled(component: &Component, entry: &Path, check: &Path) -> anyhow::Result<()> {
    let compiled = component
        .serialize()
        .map_err(|error| anyhow::anyhow!("{error:#}"))?;
    let folder = entry.parent().expect("cache entries live in a folder");
    std::fs::create_dir_all(folder)?;
    let digest = hex::encode(Sha256::digest(&compiled));
    for (path, contents) in [(entry, compiled.as_slice()), (check, digest.as_bytes())] {
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, contents)?;
        std::fs::rename(&temporary, path)?;
    }
    Ok(())
}

async fn describe(
    host: &PluginHost,
    pre: &ProviderPluginPre<CallState>,
    path: &Path,
) -> Result<ProviderInfo, PluginError> {
    let label = CallLabel {
        tenant: "-".into(),
        provider: path.display().to_string().into(),
        function: "describe",
    };
    let limits = CallLimits {
        grants: Arc::from(Vec::new()),
        memory_bytes: limits::DEFAULT_MEMORY_BYTES,
        timeout: DESCRIBE_TIMEOUT,
    };
    let info = run_call(
        &host.cpu,
        host.engine.clone(),
        pre.clone(),
        label.clone(),
        limits,
        None,
        call_body(|store, plugin| {
            Box::pin(async move { plugin.cairn_provider_provider().call_describe(store).await })
        }),
    )
    .await?;
    super::result_size::check(&label.provider, "describe", &info)?;
    ProviderInfo::try_from(info).map_err(|reason| PluginError::Contract {
        provider: label.provider.to_string(),
        function: "describe",
        reason,
    })
}
