//! Git repositories made by script, isolated from the user's git config.

use crate::ports::free_port;
use crate::serve::Served;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A repository with a work tree, committed to by the tests.
pub struct GitRepo {
    path: PathBuf,
}

impl GitRepo {
    /// `git init` at `path`, branch `main`.
    pub fn init(path: &Path) -> Self {
        std::fs::create_dir_all(path).expect("create the repository folder");
        let repo = Self {
            path: path.to_path_buf(),
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    /// The repository's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a file (creating folders).
    pub fn write(&self, file: &str, text: &str) -> &Self {
        crate::write_file(&self.path, file, text);
        self
    }

    /// Removes a file.
    pub fn remove(&self, file: &str) -> &Self {
        std::fs::remove_file(self.path.join(file)).expect("remove a file");
        self
    }

    /// Commits everything as `author` and returns the commit id.
    pub fn commit(&self, message: &str, author: &str) -> String {
        self.git(&["add", "--all"]);
        let (name, email) = author
            .split_once(" <")
            .map(|(n, e)| (n.to_string(), e.trim_end_matches('>').to_string()))
            .expect("author is `Name <email>`");
        let status = self
            .command()
            .args(["commit", "--quiet", "--allow-empty", "-m", message])
            .env("GIT_AUTHOR_NAME", &name)
            .env("GIT_AUTHOR_EMAIL", &email)
            .env("GIT_COMMITTER_NAME", &name)
            .env("GIT_COMMITTER_EMAIL", &email)
            .status()
            .expect("run git commit");
        assert!(status.success(), "git commit failed");
        self.head()
    }

    /// Commits everything as `author`, signed with the SSH key `key` (as
    /// `git commit -S` with `gpg.format=ssh` signs), and returns the commit
    /// id.
    pub fn commit_signed(&self, message: &str, author: &str, key: &Path) -> String {
        self.git(&["add", "--all"]);
        let (name, email) = author
            .split_once(" <")
            .map(|(n, e)| (n.to_string(), e.trim_end_matches('>').to_string()))
            .expect("author is `Name <email>`");
        let status = self
            .command()
            .args(["-c", "gpg.format=ssh", "-c"])
            .arg(format!("user.signingkey={}", key.display()))
            .args(["commit", "--quiet", "--allow-empty", "-S", "-m", message])
            .env("GIT_AUTHOR_NAME", &name)
            .env("GIT_AUTHOR_EMAIL", &email)
            .env("GIT_COMMITTER_NAME", &name)
            .env("GIT_COMMITTER_EMAIL", &email)
            .status()
            .expect("run git commit -S");
        assert!(status.success(), "git commit -S failed");
        self.head()
    }

    /// The id of HEAD.
    pub fn head(&self) -> String {
        let output = self
            .command()
            .args(["rev-parse", "HEAD"])
            .output()
            .expect("run git rev-parse");
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    }

    /// Runs git with `args`, asserting success.
    pub fn git(&self, args: &[&str]) {
        let status = self.command().args(args).status().expect("run git");
        assert!(status.success(), "git {args:?} failed");
    }

    /// Runs git with `args` and `input` on stdin, asserting success, and
    /// returns what it printed.
    pub fn git_with_input(&self, args: &[&str], input: &[u8]) -> String {
        use std::io::Write;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run git");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write git's input");
        let output = child.wait_with_output().expect("git ran");
        assert!(output.status.success(), "git {args:?} failed");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Commits one file straight into the index, bypassing the work tree,
    /// so that any path (not UTF-8, say), mode (`120000`, a symbolic link)
    /// or size can be made; returns the commit id.
    pub fn commit_entry(&self, mode: &str, path: &[u8], contents: &[u8], message: &str) -> String {
        let blob = self.git_with_input(&["hash-object", "-w", "--stdin"], contents);
        let mut entry = format!("{mode} {blob}\t").into_bytes();
        entry.extend_from_slice(path);
        entry.push(b'\n');
        self.git_with_input(&["update-index", "--add", "--index-info"], &entry);
        self.git(&["commit", "--quiet", "-m", message]);
        self.head()
    }

    /// Takes a file out of the index (for the next commit), whatever its
    /// path.
    pub fn forget(&self, path: &[u8]) {
        let mut entry = format!("0 {}\t", "0".repeat(40)).into_bytes();
        entry.extend_from_slice(path);
        entry.push(b'\n');
        self.git_with_input(&["update-index", "--index-info"], &entry);
    }

    fn command(&self) -> Command {
        let mut command = Command::new("git");
        command
            .current_dir(&self.path)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Cairn Tests")
            .env("GIT_AUTHOR_EMAIL", "tests@cairn.invalid")
            .env("GIT_COMMITTER_NAME", "Cairn Tests")
            .env("GIT_COMMITTER_EMAIL", "tests@cairn.invalid");
        command
    }
}

/// Makes an ed25519 key `name` in `dir` with `ssh-keygen`; returns the
/// private key's path and the public key's line.
pub fn ssh_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .expect("run ssh-keygen (scripts/setup.sh installs openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("the public key");
    (key, public.trim().to_string())
}

/// A `git daemon` serving one folder on a free loopback port.
pub struct GitDaemon {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl GitDaemon {
    /// Serves every repository below `base`.
    pub fn start(base: &std::path::Path) -> Self {
        let port = free_port();
        // `git daemon` would fork git-daemon as a grandchild that killing
        // the child leaves running; run git-daemon itself.
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("run git --exec-path");
        let exec_path = String::from_utf8(exec_path.stdout).expect("a UTF-8 path");
        let child = Command::new(std::path::Path::new(exec_path.trim()).join("git-daemon"))
            .args([
                "--export-all",
                "--reuseaddr",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                &base.display().to_string(),
            ])
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start git daemon");
        crate::ports::wait_for_port(port, Duration::from_secs(10), "git daemon");
        Self { child, port }
    }

    /// The `git://` URL of the repository `name` below the base.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Repositories below a folder served over HTTP by `git http-backend` (the
/// smart HTTP protocol), behind a small CGI bridge on a free loopback port.
pub struct GitHttpServer {
    /// The base URL; a repository `name` is at `{url}/{name}`.
    pub url: String,
    _server: Served,
}

impl GitHttpServer {
    /// Serves every repository below `base`.
    pub fn start(base: &Path) -> Self {
        let base = base.to_path_buf();
        let server = Served::start(move || {
            axum::Router::new().route(
                "/git/{*path}",
                axum::routing::any(move |request: axum::extract::Request| {
                    let base = base.clone();
                    async move { http_backend(&base, request).await }
                }),
            )
        });
        Self {
            url: format!("{}/git", server.base_url),
            _server: server,
        }
    }
}

/// Runs one request through `git http-backend` (CGI) and turns its output
/// into a response.
async fn http_backend(base: &Path, request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path()
        .strip_prefix("/git")
        .unwrap_or("/")
        .to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", base)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("CONTENT_TYPE", &content_type)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run git http-backend");
    let mut stdin = child.stdin.take().expect("a stdin");
    let _ = stdin.write_all(&body).await;
    drop(stdin);
    let output = child
        .wait_with_output()
        .await
        .expect("git http-backend finishes");
    // CGI output: headers, a blank line, the body.
    let split = output
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            output
                .stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        });
    let Some((end, gap)) = split else {
        return (axum::http::StatusCode::BAD_GATEWAY, "no CGI headers").into_response();
    };
    let mut response = axum::http::Response::builder();
    for line in String::from_utf8_lossy(&output.stdout[..end]).lines() {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("status") {
                let code = value
                    .split_whitespace()
                    .next()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(200u16);
                response = response.status(code);
            } else {
                response = response.header(name.trim(), value);
            }
        }
    }
    response
        .body(axum::body::Body::from(output.stdout[end + gap..].to_vec()))
        .unwrap_or_else(|_| {
            (axum::http::StatusCode::BAD_GATEWAY, "bad CGI headers").into_response()
        })
}
