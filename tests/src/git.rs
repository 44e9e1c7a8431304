//! Git repositories made by script, isolated from the user's git config.

use crate::ports::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        let path = self.path.join(file);
        std::fs::create_dir_all(path.parent().expect("files have a folder"))
            .expect("create folders");
        std::fs::write(path, text).expect("write a file");
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
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
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
