//! Providers written by `cairn plugin new` in each language, built with
//! the command their README gives: for the plugin kit's tests and the
//! benchmark that sets the three languages side by side on one service.

use crate::components::{componentize_js_dir, componentize_py_venv};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A language of `cairn plugin new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Rust, with the `cairn-sdk` crate.
    Rust,
    /// JavaScript, built by ComponentizeJS.
    JavaScript,
    /// Python, built by componentize-py.
    Python,
}

impl Language {
    /// Every language, Rust first.
    pub const ALL: [Language; 3] = [Self::Rust, Self::JavaScript, Self::Python];

    /// Its value of `plugin new --lang`.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::JavaScript => "js",
            Self::Python => "python",
        }
    }
}

/// The target folder Rust scaffolds build in, shared by every run so that
/// the SDK's dependencies build once.
pub fn rust_target() -> PathBuf {
    crate::target_dir().join("scaffolds")
}

/// Writes the provider `name` in `language` into `dir/name`; for
/// JavaScript and Python, links the pinned toolchain `scripts/setup.sh`
/// installed where the build looks for its own (so it is not installed
/// again). Returns the folder.
pub fn new(dir: &Path, name: &str, language: Language) -> PathBuf {
    let folder = dir.join(name);
    let output = crate::cairn_command()
        .args(["plugin", "new", name, "--lang", language.flag(), "--dir"])
        .arg(&folder)
        .current_dir(dir)
        .output()
        .expect("run cairn plugin new");
    assert!(
        output.status.success(),
        "cairn plugin new {name} --lang {}: {}",
        language.flag(),
        String::from_utf8_lossy(&output.stderr)
    );
    let link = match language {
        Language::Rust => None,
        Language::JavaScript => Some(("node_modules", componentize_js_dir().join("node_modules"))),
        Language::Python => Some((".venv", componentize_py_venv())),
    };
    if let Some((link, toolchain)) = link {
        std::os::unix::fs::symlink(toolchain, folder.join(link)).expect("link the toolchain");
    }
    folder
}

/// Builds the provider in `folder` with its README's command; returns the
/// plugin. Rust builds on one core and without link-time optimization:
/// other tests run beside it, some waiting on servers with deadlines.
pub fn build(folder: &Path, name: &str, language: Language) -> PathBuf {
    let mut command = match language {
        Language::Rust => {
            let mut cargo =
                Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            cargo
                .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
                .args(["--jobs", "1"])
                .arg("--target-dir")
                .arg(rust_target());
            // What cargo set for the calling program is not the author's.
            for (variable, _) in std::env::vars_os() {
                let variable = variable.to_string_lossy();
                if variable.starts_with("CARGO_") && variable != "CARGO_HOME" {
                    cargo.env_remove(variable.as_ref());
                }
            }
            cargo
                .env("CARGO_PROFILE_RELEASE_LTO", "false")
                .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16");
            cargo
        }
        Language::JavaScript => {
            let mut npm = Command::new("npm");
            npm.args(["run", "--silent", "build"]);
            npm
        }
        Language::Python => {
            let mut python = Command::new("python3");
            python.arg("build.py");
            python
        }
    };
    let output = command.current_dir(folder).output().expect("run the build");
    assert!(
        output.status.success(),
        "the scaffold in {} does not build:\n{}{}",
        folder.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match language {
        Language::Rust => rust_target()
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", name.replace('-', "_"))),
        Language::JavaScript => folder.join(format!("{name}.wasm")),
        Language::Python => folder.join(format!("{}.wasm", name.replace('-', "_"))),
    }
}
