//! The CNCF distribution registry (Debian's `docker-registry`) on a free
//! loopback port, with basic authentication from an htpasswd file and its
//! storage in a folder of its own, for the OCI source's tests.

use crate::ports::free_port;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running registry.
pub struct Registry {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The user it accepts.
    pub username: String,
    /// That user's password.
    pub password: String,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry that accepts `cairn` with a password of its own.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cairn-registry-")
            .tempdir()
            .expect("a folder for the registry");
        let port = free_port();
        let (username, password) = (
            "cairn".to_string(),
            format!("pw-{port}-{}", std::process::id()),
        );
        let htpasswd = Command::new("htpasswd")
            .args(["-Bbn", &username, &password])
            .output()
            .expect("run htpasswd (apache2-utils)");
        assert!(htpasswd.status.success(), "htpasswd failed");
        std::fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).expect("write htpasswd");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: cairn-test\n    path: {htpasswd}\n",
            storage = dir.path().join("data").display(),
            htpasswd = dir.path().join("htpasswd").display(),
        );
        std::fs::write(dir.path().join("config.yml"), config).expect("write the config");
        let child = serve(dir.path(), port);
        Self {
            child,
            port,
            username,
            password,
            dir,
        }
    }

    /// Restarts the registry (same port, same storage) sending its
    /// notifications to `url` with `Authorization: Bearer TOKEN`.
    pub fn notify(&mut self, url: &str, token: &str) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let path = self.dir.path().join("config.yml");
        let mut config = std::fs::read_to_string(&path).expect("the config");
        config.push_str(&format!(
            "notifications:\n  endpoints:\n    - name: cairn\n      url: {url}\n      headers:\n        Authorization: [\"Bearer {token}\"]\n      timeout: 2s\n      threshold: 3\n      backoff: 1s\n"
        ));
        std::fs::write(&path, config).expect("write the config");
        self.child = serve(self.dir.path(), self.port);
    }

    /// The `oci://` address of the artifact `name`.
    pub fn address(&self, name: &str) -> String {
        format!("oci://127.0.0.1:{}/{name}", self.port)
    }

    /// Where the registry keeps the blob of `digest` (`sha256:HEX`).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `docker-registry` with the config in `dir` and waits for `port`.
fn serve(dir: &std::path::Path, port: u16) -> Child {
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start docker-registry");
    crate::ports::wait_for_port(port, Duration::from_secs(20), "the registry");
    child
}
