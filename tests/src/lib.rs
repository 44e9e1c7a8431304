//! The harness of Cairn's end-to-end tests: real servers started on free
//! loopback ports and stopped when dropped, Git repositories made by script,
//! and the `cairn` binary driven as a user would drive it.

pub mod alerts;
pub mod browser;
pub mod cairn;
pub mod canaille;
pub mod components;
pub mod daemon;
pub mod etcd;
pub mod git;
pub mod hg;
pub mod hostile;
pub mod kube;
pub mod pdns;
pub mod podman;
pub mod policies;
pub mod ports;
pub mod postgres;
pub mod proxy;
pub mod rabbitmq;
pub mod registry;
pub mod scaffold;
pub mod script_server;
pub mod serve;
pub mod things;

pub use cairn::{Output, Workspace};
pub use canaille::Canaille;
pub use git::GitRepo;
pub use pdns::Pdns;

use std::path::PathBuf;

/// The profile folder (`TARGET/debug` or `TARGET/release`) this program
/// was built in: tests live in `PROFILE/deps/`, binaries in `PROFILE/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the program has a path");
    let parent = exe.parent().expect("the program lives in a folder");
    if parent.file_name().is_some_and(|name| name == "deps") {
        parent
            .parent()
            .expect("deps/ is inside a profile folder")
            .to_path_buf()
    } else {
        parent.to_path_buf()
    }
}

/// The cargo target folder this program was built in.
pub fn target_dir() -> PathBuf {
    profile_dir()
        .parent()
        .expect("the profile folder is inside the target folder")
        .to_path_buf()
}

/// The build of the `cairn` command line that the tests drive: a binary
/// of this package (`src/bin/cairn-under-test.rs`), so cargo builds it
/// before it runs this package's tests and benchmarks, and tells them
/// where; a program run some other way finds it in its own profile folder.
pub fn cairn_binary() -> PathBuf {
    package_binary("cairn-under-test")
}

/// A binary of this package (`src/bin/NAME`): where cargo says when it
/// runs this package's tests and benchmarks, otherwise in this program's
/// profile folder.
pub(crate) fn package_binary(name: &str) -> PathBuf {
    std::env::var_os(format!("CARGO_BIN_EXE_{name}"))
        .map(PathBuf::from)
        .unwrap_or_else(|| profile_dir().join(name))
}

/// A command that runs [`cairn_binary`] under the name `cairn`, as an
/// operator runs it: the name is what its usage and help messages show.
pub fn cairn_command() -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(cairn_binary());
    command.arg0("cairn");
    command
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// The folder of the release-built plugins: `build.rs` builds them with
/// this package and names the folder.
pub const PLUGIN_DIR: &str = env!("CAIRN_PLUGIN_DIR");

/// A release-built plugin, such as `dns_powerdns`.
pub fn plugin_path(name: &str) -> PathBuf {
    let path = PathBuf::from(PLUGIN_DIR).join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: it is built with this package (tests/build.rs), unless its folder was emptied since",
        path.display()
    );
    path
}

/// Writes `text` to `file` below `root`, creating its folders.
pub fn write_file(root: &std::path::Path, file: &str, text: &str) {
    let path = root.join(file);
    std::fs::create_dir_all(path.parent().expect("files have a folder")).expect("create folders");
    std::fs::write(path, text).expect("write a file");
}

/// HMAC-SHA256 of `body` with `secret`, lower-case hex, as GitHub signs
/// webhooks.
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// An HTTP client for the tests' own requests to a server: every status is
/// an answer to look at (not an error), and nothing waits past `timeout`.
pub fn http_agent(timeout: std::time::Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// Sends `request` and reads a JSON answer: `Err` carries the status and
/// body of a non-2xx answer, or why there was none; an empty body is
/// `null`.
pub fn json_request(
    request: ureq::http::Request<String>,
    timeout: std::time::Duration,
) -> Result<serde_json::Value, String> {
    let mut response = http_agent(timeout)
        .run(request)
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(format!("{status}: {text}"));
    }
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}: {text}"))
}
