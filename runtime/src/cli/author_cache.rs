//! The compiled-code cache of the commands a plugin author runs over and
//! over (`plugin call`, `plugin test`, `plugin inspect`, `plugin docs`):
//! compiling a component made by ComponentizeJS or componentize-py takes
//! seconds to tens of seconds, loading its cached code a fraction of one.
//!
//! It lives in the user's cache folder, `$CAIRN_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/cairn`, else `~/.cache/cairn`: the code in
//! `compiled/`, its key in `compiled.key` beside it (made on first use,
//! mode 0600), as the daemon keeps its own beside the state store
//! ([`cairn::host::CompiledCache`] says what the key protects). Without a
//! home folder, or with a key it cannot use, the command compiles as if
//! there were no cache and says why in the log.

use cairn::host::CompiledCache;
use std::path::PathBuf;

/// The folder of the cache, if the environment names one.
fn folder() -> Option<PathBuf> {
    let named = |variable: &str| {
        std::env::var_os(variable)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    named("CAIRN_CACHE_DIR")
        .or_else(|| named("XDG_CACHE_HOME").map(|cache| cache.join("cairn")))
        .or_else(|| named("HOME").map(|home| home.join(".cache").join("cairn")))
}

/// The cache, or `None` when there is no place for it or its key cannot
/// be used.
pub fn open() -> Option<CompiledCache> {
    let folder = folder()?;
    match CompiledCache::open(folder.join("compiled"), &folder.join("compiled.key")) {
        Ok(cache) => Some(cache),
        Err(error) => {
            tracing::warn!(%error, "compiling without the compiled-code cache");
            None
        }
    }
}
