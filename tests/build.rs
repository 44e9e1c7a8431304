//! Builds the provider plugins that the tests and the benchmarks load —
//! every crate in `plugins/` and the hostile test plugin — as release
//! WebAssembly components, so that `cargo test` needs nothing built first.
//! Release, as operators run them: wasmtime compiles a plugin to native
//! code when it loads it, and the tests measure their size and speed.
//!
//! The plugins are built by a nested `cargo build --release --target
//! wasm32-wasip2` into a target folder of their own, `plugins/` inside the
//! outer target folder. Not the outer folder itself: the outer cargo holds
//! the lock of the profile it builds while this script runs, and a nested
//! build needing that profile (its own build scripts run in the host's
//! `release`, which a release build of this package holds) would wait for
//! it forever. Inside it, though, so that every profile, clippy and the
//! scripts share one build of the plugins, kept wherever the outer target
//! folder is kept (CI's cache).
//!
//! The folder of the built plugins reaches the crate as the compile-time
//! variable `CAIRN_PLUGIN_DIR`. The nested cargo decides itself what to
//! rebuild; this script runs again when a plugin's, the SDK's or the
//! contract's source changes, or when the plugins' target folder is gone.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the plugins are built for.
const PLUGIN_TARGET: &str = "wasm32-wasip2";

/// The folder, inside the outer target folder, of the plugins' own build.
const PLUGIN_TARGET_DIR: &str = "plugins";

/// The variable naming another folder, inside the outer target folder, for
/// the plugins' own build: two checkouts of the workspace that share one
/// target folder build their plugins apart, and each tests its own.
const PLUGIN_TARGET_DIR_VARIABLE: &str = "CAIRN_PLUGIN_TARGET_DIR";

/// The workspace's folders holding one plugin crate each.
const PLUGIN_FOLDERS: [&str; 2] = ["plugins", "tests/plugins"];

/// The other folders the plugins are built from: the SDK, the contract's
/// values it shares with the host, and the WIT contract its bindings are
/// generated from.
const SHARED_SOURCES: [&str; 4] = ["sdk", "policy-sdk", "contract", "wit"];

/// Variables cargo gives this script that describe this package or the
/// host, and must not reach the nested build: host flags do not apply to
/// WebAssembly (a plugin build takes its own through
/// `CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS`), and clippy, run as a wrapper
/// around rustc, would lint the plugins again with this package's lints.
const WITHHELD: [&str; 3] = [
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
];

/// Prefixes of the variables cargo gives this script about this package
/// and the host it is built for (features, `cfg` values, manifest).
const WITHHELD_PREFIXES: [&str; 4] = [
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
];

fn main() {
    let package_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = package_dir
        .parent()
        .expect("the tests package is inside the workspace")
        .to_path_buf();
    let plugin_folder =
        std::env::var(PLUGIN_TARGET_DIR_VARIABLE).unwrap_or_else(|_| PLUGIN_TARGET_DIR.into());
    let target_dir = outer_target_dir().join(plugin_folder);

    let plugins = plugin_packages(&workspace);
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .args(["build", "--release", "--target", PLUGIN_TARGET])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for package in &plugins {
        cargo.args(["--package", package]);
    }
    for name in WITHHELD {
        cargo.env_remove(name);
    }
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if WITHHELD_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            cargo.env_remove(name.as_ref());
        }
    }
    let status = cargo
        .status()
        .unwrap_or_else(|error| panic!("cannot run {cargo:?}: {error}"));
    assert!(
        status.success(),
        "building the plugins failed (is the {PLUGIN_TARGET} target installed? scripts/setup.sh adds it): {cargo:?}"
    );

    let built = target_dir.join(PLUGIN_TARGET).join("release");
    println!("cargo::rustc-env=CAIRN_PLUGIN_DIR={}", built.display());
    for folder in PLUGIN_FOLDERS.iter().chain(&SHARED_SOURCES) {
        println!(
            "cargo::rerun-if-changed={}",
            workspace.join(folder).display()
        );
    }
    for file in ["Cargo.toml", "Cargo.lock", "rust-toolchain.toml"] {
        println!("cargo::rerun-if-changed={}", workspace.join(file).display());
    }
    // The plugins' target folder removed is built again. Not the plugins
    // themselves: a file written while this script runs counts as changed
    // at the next build, which would then run this script and rebuild this
    // package once more for nothing; cargo writes this one file only when
    // it makes the folder.
    println!(
        "cargo::rerun-if-changed={}",
        target_dir.join("CACHEDIR.TAG").display()
    );
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS");
    println!("cargo::rerun-if-env-changed={PLUGIN_TARGET_DIR_VARIABLE}");
}

/// The value of a variable cargo always gives a build script.
fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}

/// The outer build's target folder: the nearest folder above `OUT_DIR`
/// that cargo marked as its own with a `CACHEDIR.TAG` (wherever
/// `CARGO_TARGET_DIR`, `--target-dir` or a config file put it).
fn outer_target_dir() -> PathBuf {
    let out_dir = PathBuf::from(env("OUT_DIR"));
    out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .unwrap_or_else(|| panic!("no cargo target folder above {}", out_dir.display()))
        .to_path_buf()
}

/// The package name of every crate in the [`PLUGIN_FOLDERS`].
fn plugin_packages(workspace: &Path) -> Vec<String> {
    let mut packages = Vec::new();
    for folder in PLUGIN_FOLDERS {
        let entries = std::fs::read_dir(workspace.join(folder))
            .unwrap_or_else(|error| panic!("cannot list {folder}/: {error}"));
        for entry in entries {
            let manifest = entry.expect("a folder entry").path().join("Cargo.toml");
            if let Ok(text) = std::fs::read_to_string(&manifest) {
                let package = package_name(&text)
                    .unwrap_or_else(|| panic!("{} names no package", manifest.display()));
                packages.push(package);
            }
        }
    }
    packages.sort();
    packages
}

/// The `name` of a manifest's `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_string());
        }
    }
    None
}
