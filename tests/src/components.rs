//! Components built from the project's JavaScript and Python sources for
//! the tests and benchmarks (the attackers, the shipped providers in those
//! languages): built on first use by the source folder's own build script
//! with the pinned toolchains `scripts/setup.sh` installs, and kept in the
//! target folder under a digest of every source that goes into them. A
//! changed source builds again; an unchanged one never does. One process
//! builds at a time (a lock file); the others wait and take its result.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Folders a build never reads: the toolchains' own, and their caches.
const SKIPPED: [&str; 4] = ["node_modules", "__pycache__", ".venv", "target"];

/// How a component is built.
#[derive(Debug, Clone, Copy)]
pub enum Toolchain {
    /// ComponentizeJS: `node build.mjs OUT_DIR` in the source folder.
    JavaScript,
    /// componentize-py: `./build.sh OUT_DIR` in the source folder.
    Python,
}

/// A component to build.
#[derive(Debug, Clone, Copy)]
pub struct Recipe {
    /// Its source folder, relative to the repository.
    pub folder: &'static str,
    /// The toolchain its build script uses.
    pub toolchain: Toolchain,
    /// The file name its build writes into the output folder.
    pub output: &'static str,
    /// Other folders of the repository its build reads (the contract's
    /// WIT, an SDK layer).
    pub reads: &'static [&'static str],
}

/// The JavaScript attacker (`tests/plugins/hostile-js`).
pub const HOSTILE_JS: Recipe = Recipe {
    folder: "tests/plugins/hostile-js",
    toolchain: Toolchain::JavaScript,
    output: "hostile_js.wasm",
    reads: &["wit/provider@0.2.0"],
};

/// The Python attacker (`tests/plugins/hostile-py`).
pub const HOSTILE_PY: Recipe = Recipe {
    folder: "tests/plugins/hostile-py",
    toolchain: Toolchain::Python,
    output: "hostile_py.wasm",
    reads: &["wit/provider@0.2.0"],
};

/// The etcd provider, in JavaScript (`plugins/kv-etcd`).
pub const KV_ETCD: Recipe = Recipe {
    folder: "plugins/kv-etcd",
    toolchain: Toolchain::JavaScript,
    output: "kv_etcd.wasm",
    reads: &["wit/provider@0.2.0", "sdk-js"],
};

/// The RabbitMQ provider, in Python (`plugins/broker-rabbitmq`).
pub const BROKER_RABBITMQ: Recipe = Recipe {
    folder: "plugins/broker-rabbitmq",
    toolchain: Toolchain::Python,
    output: "broker_rabbitmq.wasm",
    reads: &["wit/provider@0.2.0", "sdk-python"],
};

/// The folder of the pinned componentize-py, as `scripts/env.sh` names it.
pub fn componentize_py_venv() -> PathBuf {
    std::env::var_os("COMPONENTIZE_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/tmp/cairn-componentize-py".into())
}

/// The npm folder of the pinned ComponentizeJS, as `scripts/env.sh` names
/// it.
pub fn componentize_js_dir() -> PathBuf {
    std::env::var_os("COMPONENTIZE_JS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/tmp/cairn-componentize-js".into())
}

/// A compiled-code cache for the tests that load these components, in the
/// target folder: compiling one takes 10 to 30 seconds, loading its cached
/// code a fraction of one.
pub fn compiled_cache() -> cairn::host::CompiledCache {
    let folder = crate::target_dir().join("components");
    std::fs::create_dir_all(&folder).expect("create the components folder");
    cairn::host::CompiledCache::open(folder.join("compiled"), &folder.join("compiled.key"))
        .expect("the tests' compiled-code cache opens")
}

/// The built component of `recipe`, built now if its sources changed.
pub fn built(recipe: &Recipe) -> PathBuf {
    let root = crate::repo_root();
    let mut hasher = Sha256::new();
    for folder in std::iter::once(recipe.folder).chain(recipe.reads.iter().copied()) {
        digest_folder(&root, &root.join(folder), &mut hasher);
    }
    let digest = hex::encode(&hasher.finalize()[..12]);
    let store = crate::target_dir().join("components");
    std::fs::create_dir_all(&store).expect("create the components folder");
    let built = store.join(format!(
        "{}-{digest}.wasm",
        recipe.output.trim_end_matches(".wasm")
    ));
    let lock = std::fs::File::create(store.join(".lock")).expect("create the lock file");
    // SAFETY: flock on a file descriptor this function owns; released when
    // the file is closed at the end of the function.
    let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(locked, 0, "lock {}", store.display());
    if built.is_file() {
        return built;
    }
    let scratch = tempfile::tempdir_in(&store).expect("a build folder");
    let folder = root.join(recipe.folder);
    let mut command = match recipe.toolchain {
        Toolchain::JavaScript => {
            let mut node = Command::new("node");
            node.arg("build.mjs")
                .env("COMPONENTIZE_JS_DIR", componentize_js_dir());
            node
        }
        Toolchain::Python => {
            let mut script = Command::new("./build.sh");
            script.env("COMPONENTIZE_PY_VENV", componentize_py_venv());
            script
        }
    };
    let output = command
        .arg(scratch.path())
        .current_dir(&folder)
        .output()
        .unwrap_or_else(|e| panic!("run the build of {}: {e}", recipe.folder));
    assert!(
        output.status.success(),
        "the build of {} failed (run scripts/setup.sh for the toolchains):\n{}{}",
        recipe.folder,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(scratch.path().join(recipe.output), &built)
        .unwrap_or_else(|e| panic!("{} wrote no {}: {e}", recipe.folder, recipe.output));
    let _ = std::io::stderr()
        .write_all(format!("built {} from {}\n", built.display(), recipe.folder).as_bytes());
    built
}

/// Feeds every file under `folder` (following links), with its path
/// relative to `root`, into `hasher`, in a fixed order.
fn digest_folder(root: &Path, folder: &Path, hasher: &mut Sha256) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("read {}: {e}", folder.display()))
        .map(|entry| entry.expect("a folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if SKIPPED.contains(&name.as_ref()) {
            continue;
        }
        if path.is_dir() {
            digest_folder(root, &path, hasher);
        } else {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            hasher.update(relative.to_string_lossy().as_bytes());
            hasher.update([0]);
            hasher.update(std::fs::read(&path).unwrap_or_default());
            hasher.update([0]);
        }
    }
}
