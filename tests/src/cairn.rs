//! A test workspace — a temporary folder with a Git repository, a
//! `cairn.toml` and a PowerDNS server — and the `cairn` binary run in it.

use crate::git::GitRepo;
use crate::pdns::{API_KEY, Pdns};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a `cairn` run printed and returned.
#[derive(Debug)]
pub struct Output {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<std::process::Output> for Output {
    fn from(output: std::process::Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Output {
    /// Both streams, for assertions that do not care which.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            code,
            "unexpected exit code; output:\n{}",
            self.all()
        );
        self
    }

    /// Asserts that the output contains `text`.
    #[track_caller]
    pub fn expect_contains(&self, text: &str) -> &Self {
        assert!(
            self.all().contains(text),
            "expected {text:?} in the output:\n{}",
            self.all()
        );
        self
    }

    /// Parses standard output as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.all()))
    }
}

/// A temporary folder holding a repository, a PowerDNS server and a
/// `cairn.toml` that connects them.
pub struct Workspace {
    /// The server.
    pub pdns: Pdns,
    /// The repository of desired state.
    pub repo: GitRepo,
    dir: tempfile::TempDir,
}

/// Options of the generated `cairn.toml`.
#[derive(Debug, Clone)]
pub struct ConfigOptions {
    /// The network grants of the dns provider; `None` grants its URL.
    pub allow: Option<Vec<String>>,
    /// The URL the dns provider talks to; `None` is the server's own (a
    /// [`crate::proxy::RecordingProxy`]'s, say).
    pub url: Option<String>,
    /// The sha256 pin of the plugin.
    pub sha256: Option<String>,
    /// The repository reference.
    pub repo: Option<String>,
    /// The ref the tenant follows.
    pub reference: String,
    /// The tenant's folder in the repository.
    pub path: String,
    /// The per-call timeout.
    pub timeout: String,
    /// More keys of the tenant's table (`interval = "1s"`, say).
    pub tenant_settings: String,
    /// More top-level tables (`[[alerts]]`, say).
    pub top_settings: String,
    /// More keys of the dns provider's table.
    pub provider_settings: String,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        Self {
            allow: None,
            url: None,
            sha256: None,
            repo: None,
            reference: "main".into(),
            path: ".".into(),
            timeout: "30s".into(),
            tenant_settings: String::new(),
            top_settings: String::new(),
            provider_settings: String::new(),
        }
    }
}

impl Workspace {
    /// A workspace with an empty repository and a fresh server.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cairn-e2e-")
            .tempdir()
            .expect("create a temporary folder");
        let pdns = Pdns::start(dir.path());
        let repo = GitRepo::init(&dir.path().join("zones"));
        share_compiled_plugins(dir.path());
        let workspace = Self { pdns, repo, dir };
        workspace.configure(&ConfigOptions::default());
        workspace
    }

    /// The workspace's folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The path of `cairn.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("cairn.toml")
    }

    /// Writes `cairn.toml` with one tenant, `default`, and `options`.
    pub fn configure(&self, options: &ConfigOptions) {
        let text = format!(
            "{}\n{}{}",
            config_header(),
            options.top_settings,
            self.tenant_block("default", options)
        );
        std::fs::write(self.config_path(), text).expect("write cairn.toml");
    }

    /// The tables of a fleet of `tenants` tenants, `t0`, `t1`, …, each
    /// following the repository's folder of its name, with `options`
    /// otherwise ([`Workspace::tenant_block`]).
    pub fn fleet_blocks(&self, tenants: usize, options: &ConfigOptions) -> String {
        (0..tenants)
            .map(|tenant| {
                let name = format!("t{tenant}");
                let options = ConfigOptions {
                    path: name.clone(),
                    ..options.clone()
                };
                self.tenant_block(&name, &options)
            })
            .collect()
    }

    /// The `[tenants.NAME]` tables of a tenant of this workspace's
    /// repository and server (the repository path is absolute, so the block
    /// works in any workspace's `cairn.toml`).
    pub fn tenant_block(&self, name: &str, options: &ConfigOptions) -> String {
        let url = options.url.clone().unwrap_or_else(|| self.pdns.url());
        let allow = options.allow.clone().unwrap_or_else(|| vec![url.clone()]);
        let allow: Vec<String> = allow.iter().map(|a| format!("{a:?}")).collect();
        let sha256 = options
            .sha256
            .as_ref()
            .map(|s| format!("sha256 = {s:?}\n"))
            .unwrap_or_default();
        let repo = options
            .repo
            .clone()
            .unwrap_or_else(|| self.repo.path().display().to_string());
        format!(
            r#"
[tenants.{name}]
repo = {repo:?}
ref = {reference:?}
path = {path:?}
{tenant_settings}

[tenants.{name}.providers.dns]
plugin = {plugin:?}
{sha256}allow = [{allow}]
memory = "64MiB"
timeout = {timeout:?}
{provider_settings}
config = {{ url = {url:?}, server = "localhost" }}
secrets = {{ api_key = {{ env = "PDNS_API_KEY" }} }}
"#,
            path = options.path,
            reference = options.reference,
            tenant_settings = options.tenant_settings,
            plugin = crate::plugin_path("dns_powerdns").display().to_string(),
            allow = allow.join(", "),
            timeout = options.timeout,
            provider_settings = options.provider_settings,
        )
    }

    /// Every byte Cairn wrote (the workspace's files, its cache among them,
    /// `*.secret` files excepted: that is where the operator keeps secrets)
    /// or printed (`outputs`), by name. The compiled plugins, shared by
    /// every test through a link, are the plugins' code and are left out.
    pub fn everything_written(&self, outputs: &[String]) -> Vec<(String, Vec<u8>)> {
        let mut found = Vec::new();
        let mut stack = vec![self.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "secret") {
                    continue;
                }
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file()
                    && let Ok(bytes) = std::fs::read(&path)
                {
                    found.push((path.display().to_string(), bytes));
                }
            }
        }
        for (index, output) in outputs.iter().enumerate() {
            found.push((format!("output #{index}"), output.as_bytes().to_vec()));
        }
        found
    }

    /// Panics, naming where, if `secret` is in anything Cairn wrote or
    /// printed.
    #[track_caller]
    pub fn assert_never_written(&self, outputs: &[String], secret: &str) {
        assert_absent(&self.everything_written(outputs), secret, "the secret");
    }

    /// [`Workspace::assert_never_written`] for each form of `secret` in
    /// [`secret_encodings`], naming the form that was found: a leak seldom
    /// shows the bare value when it goes through an HTTP header or a
    /// Kubernetes Secret.
    #[track_caller]
    pub fn assert_never_written_encoded(&self, outputs: &[String], secret: &str) {
        // Read once, searched for every form.
        let written = self.everything_written(outputs);
        for (encoding, value) in secret_encodings(secret) {
            assert_absent(&written, &value, &format!("the secret ({encoding})"));
        }
    }

    /// Every run of the workspace's tenants (`cairn history --json`, all
    /// of them), newest first.
    pub fn history(&self) -> Vec<serde_json::Value> {
        self.cairn(&["history", "--json", "--limit", "100000"])
            .expect_code(0)
            .json()
            .as_array()
            .expect("history is an array")
            .clone()
    }

    /// Runs `cairn ARGS --config cairn.toml` in the workspace.
    pub fn cairn(&self, args: &[&str]) -> Output {
        let config = self.config_path();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--config", config.to_str().expect("a UTF-8 path")]);
        self.cairn_bare(&all)
    }

    /// Runs `cairn ARGS --config cairn.toml` in the workspace with more
    /// environment variables (`CAIRN_LOG`, say).
    pub fn cairn_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let config = self.config_path();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--config", config.to_str().expect("a UTF-8 path")]);
        self.run_cairn(&all, env)
    }

    /// Runs `cairn ARGS` in the workspace, adding nothing.
    pub fn cairn_bare(&self, args: &[&str]) -> Output {
        self.run_cairn(args, &[])
    }

    /// [`Workspace::cairn_bare`] with more environment variables, for the
    /// commands that take no `--config` (`plugin inspect`).
    pub fn cairn_bare_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.run_cairn(args, env)
    }

    /// Runs `cairn ARGS --config cairn.toml` in the workspace, and returns
    /// with its output the process's peak resident memory in bytes (its
    /// own `ru_maxrss`, from `wait4` on it alone: neither the tests' other
    /// children nor the test process count). It runs under the package's
    /// `peak-memory` program, which says why.
    pub fn cairn_peak_memory(&self, args: &[&str]) -> (Output, u64) {
        let config = self.config_path();
        let report = tempfile::NamedTempFile::new().expect("create the report file");
        let mut command = Command::new(crate::package_binary("peak-memory"));
        command
            .arg(report.path())
            .arg(crate::cairn_binary())
            .arg("cairn")
            .args(args)
            .args(["--config", config.to_str().expect("a UTF-8 path")]);
        self.prepare(&mut command, &[]);
        let output = command.output().expect("run cairn under peak-memory");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let reported = std::fs::read_to_string(report.path()).expect("read the report");
        let (peak_kib, status) = reported
            .split_once(' ')
            .and_then(|(peak, status)| Some((peak.parse::<u64>().ok()?, status.parse().ok()?)))
            .unwrap_or_else(|| panic!("peak-memory reported {reported:?}; its errors:\n{stderr}"));
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        let output = Output {
            code,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
        };
        // Linux counts `ru_maxrss` in KiB.
        (output, peak_kib << 10)
    }

    /// The command that runs `cairn ARGS` in the workspace with more
    /// environment variables.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = crate::cairn_command();
        command.args(args);
        self.prepare(&mut command, env);
        command
    }

    /// Sets `command` to run in the workspace, with the environment every
    /// `cairn` run of the tests has and `env`.
    fn prepare(&self, command: &mut Command, env: &[(&str, &str)]) {
        command
            .current_dir(self.dir.path())
            .env("PDNS_API_KEY", API_KEY)
            .env("NO_COLOR", "1")
            .env_remove("CAIRN_LOG")
            .env_remove("CAIRN_CONFIG")
            .envs(env.iter().copied());
    }

    fn run_cairn(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().expect("run cairn").into()
    }
}

/// The inside of a provider's `secrets = { … }` table: each secret read
/// from its file.
pub fn secret_files(secrets: &[(&str, std::path::PathBuf)]) -> String {
    secrets
        .iter()
        .map(|(name, path)| format!("{name} = {{ file = {:?} }}", path.display().to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The top of every test `cairn.toml`: the state store and the cache in
/// `.cairn/` beside it, with compiled plugins shared by every test of this
/// build through a link ([`share_compiled_plugins`], with one key, outside
/// the cache, that vouches for them).
///
/// The rest of the cache is the workspace's own. Cairn keys its clones of
/// remote repositories by URL, and a test's URL names a random free port:
/// a cache shared by every test, and kept from one run to the next, held
/// another test's clone under the same URL once that port came round again
/// (and, while tags were remembered in the cache, another run's tag `v1`:
/// a tag "moved" before it was ever read).
pub fn config_header() -> String {
    config_header_with_state("sqlite:.cairn/state.db")
}

/// [`config_header`] with another state store (`postgres://…`, say).
pub fn config_header_with_state(state: &str) -> String {
    let key = crate::target_dir().join("cairn-test-cache.key");
    format!(
        "state = {state:?}\ncache_dir = {WORKSPACE_CACHE:?}\ncache_key = {:?}\n",
        key.display().to_string()
    )
}

/// The cache folder of every test `cairn.toml`, relative to its folder.
const WORKSPACE_CACHE: &str = ".cairn/cache";

/// Links the cache of the `cairn.toml` in `folder` ([`config_header`]) to
/// the compiled plugins every test of this build shares: compiling one
/// takes 10 to 30 seconds, and the cache key vouches for them.
pub fn share_compiled_plugins(folder: &Path) {
    let shared = crate::target_dir().join("cairn-test-cache/compiled");
    std::fs::create_dir_all(&shared).expect("create the shared compiled-plugin folder");
    let cache = folder.join(WORKSPACE_CACHE);
    std::fs::create_dir_all(&cache).expect("create the workspace's cache folder");
    let link = cache.join("compiled");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(&shared, &link).expect("link the shared compiled plugins");
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        // CAIRN_TEST_KEEP=1 keeps the folder (server log, state, repository)
        // of every test for a look afterwards.
        if std::env::var_os("CAIRN_TEST_KEEP").is_some() {
            let kept = std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().expect("create a temporary folder"),
            );
            eprintln!("kept {}", kept.keep().display());
        }
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

/// The forms a leaked secret is likely to take, each with its name: the
/// value as is, base64 standard and URL-safe, padded and not (an HTTP Basic
/// header, a Kubernetes Secret's `data`, a token's part), and hex. A form
/// identical to an earlier one is left out.
pub fn secret_encodings(secret: &str) -> Vec<(&'static str, String)> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let forms = [
        ("as is", secret.to_string()),
        ("base64", STANDARD.encode(secret)),
        ("base64 without padding", STANDARD_NO_PAD.encode(secret)),
        ("URL-safe base64", URL_SAFE.encode(secret)),
        (
            "URL-safe base64 without padding",
            URL_SAFE_NO_PAD.encode(secret),
        ),
        ("hex", hex::encode(secret)),
    ];
    let mut distinct: Vec<(&'static str, String)> = Vec::new();
    for (name, value) in forms {
        if !distinct.iter().any(|(_, seen)| *seen == value) {
            distinct.push((name, value));
        }
    }
    distinct
}

/// Panics, naming `what` and where, if `needle` is in one of `written`.
#[track_caller]
fn assert_absent(written: &[(String, Vec<u8>)], needle: &str, what: &str) {
    for (name, bytes) in written {
        assert!(
            !bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes()),
            "{what} was found in {name}"
        );
    }
}
