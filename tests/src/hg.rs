//! Mercurial repositories made by script, isolated from the user's
//! configuration, and `hg serve` on a free loopback port.

use crate::ports::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A repository with a working copy, committed to by the tests.
pub struct HgRepo {
    path: PathBuf,
}

impl HgRepo {
    /// `hg init` at `path`.
    pub fn init(path: &Path) -> Self {
        std::fs::create_dir_all(path).expect("create the repository folder");
        let repo = Self {
            path: path.to_path_buf(),
        };
        repo.hg(&["init"]);
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

    /// Commits everything as `author` (`Name <email>`) and returns the
    /// changeset id.
    pub fn commit(&self, message: &str, author: &str) -> String {
        self.hg(&["commit", "--addremove", "-u", author, "-m", message]);
        self.node(".")
    }

    /// The changeset `revision` names.
    pub fn node(&self, revision: &str) -> String {
        self.hg(&["log", "-r", revision, "-T", "{node}"])
    }

    /// Runs `hg ARGS` in the repository and gives what it printed.
    pub fn hg(&self, args: &[&str]) -> String {
        let output = Command::new("hg")
            .args(args)
            .current_dir(&self.path)
            .env("HGPLAIN", "1")
            .env("HGRCPATH", "")
            .env("HGUSER", "Cairn Tests <tests@example.org>")
            .stdin(Stdio::null())
            .output()
            .expect("run hg");
        assert!(
            output.status.success(),
            "hg {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }
}

/// `hg serve` of one repository on a free loopback port.
pub struct HgServe {
    child: Child,
    /// Its `hg+http://` URL.
    pub url: String,
}

impl HgServe {
    /// Serves the repository at `path` (pushes refused).
    pub fn start(path: &Path) -> Self {
        let port = free_port();
        let child = Command::new("hg")
            .args([
                "serve",
                "--address",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .current_dir(path)
            .env("HGPLAIN", "1")
            .env("HGRCPATH", "")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hg serve");
        crate::ports::wait_for_port(port, Duration::from_secs(20), "hg serve");
        Self {
            child,
            url: format!("hg+http://127.0.0.1:{port}/"),
        }
    }
}

impl Drop for HgServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
