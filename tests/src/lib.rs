//! The harness of Cairn's end-to-end tests: real servers started on free
//! loopback ports and stopped when dropped, Git repositories made by script,
//! and the `cairn` binary driven as a user would drive it.

pub mod cairn;
pub mod git;
pub mod pdns;
pub mod ports;

pub use cairn::{Output, Workspace};
pub use git::GitRepo;
pub use pdns::Pdns;

use std::path::PathBuf;

/// The cargo target folder these tests were built in.
pub fn target_dir() -> PathBuf {
    // The test binary is TARGET/PROFILE/deps/NAME-HASH.
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in TARGET/PROFILE/deps")
        .to_path_buf()
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// A release-built plugin, such as `dns_powerdns`.
pub fn plugin_path(name: &str) -> PathBuf {
    let path = target_dir()
        .join("wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: build the plugins first with scripts/build.sh",
        path.display()
    );
    path
}
