//! A real Kubernetes API server (kube-apiserver v1.20 with Debian's etcd)
//! on free loopback ports, started by `scripts/kube-apiserver.sh` and
//! stopped, with its etcd, when dropped; and `kubectl` pointed at it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Attempts before giving up: the script picks its own free ports, which
/// another process may take before the servers bind them.
const ATTEMPTS: usize = 2;

/// A running API server.
pub struct Kube {
    dir: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The server's self-signed certificate, the CA bundle to trust.
    pub ca: PathBuf,
    /// A token in group `system:masters`.
    pub admin_token: String,
    /// A token of user `limited`, which RBAC allows nothing.
    pub limited_token: String,
    kubeconfig: PathBuf,
}

/// What `kubectl` printed.
#[derive(Debug)]
pub struct Kubectl {
    /// Whether it exited with 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Kube {
    /// Starts a server keeping its state in `dir`.
    pub fn start(dir: &Path) -> Self {
        let script = crate::repo_root().join("scripts/kube-apiserver.sh");
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            let output = Command::new(&script)
                .arg(dir)
                .stdin(Stdio::null())
                .output()
                .expect("run scripts/kube-apiserver.sh (run scripts/setup.sh first)");
            if output.status.success() {
                let env: HashMap<String, String> = String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .filter_map(|line| line.split_once('='))
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .collect();
                let value = |key: &str| env.get(key).cloned().unwrap_or_default();
                return Self {
                    dir: dir.to_path_buf(),
                    url: value("KUBE_URL"),
                    ca: PathBuf::from(value("KUBE_CA")),
                    admin_token: value("KUBE_ADMIN_TOKEN"),
                    limited_token: value("KUBE_LIMITED_TOKEN"),
                    kubeconfig: PathBuf::from(value("KUBECONFIG_ADMIN")),
                };
            }
            last = String::from_utf8_lossy(&output.stderr).into_owned();
            stop(dir);
        }
        panic!("kube-apiserver did not start: {last}");
    }

    /// The `[tenants.TENANT.providers.NAME]` table of a provider for this
    /// cluster: granted its URL with its CA, the token in `token_file`,
    /// more secrets as `NAME = { file = PATH }`, more config keys.
    pub fn provider_table(
        &self,
        tenant: &str,
        name: &str,
        token_file: &Path,
        more_secrets: &[(&str, PathBuf)],
        more_config: &str,
    ) -> String {
        let mut secrets = vec![("token", token_file.to_path_buf())];
        secrets.extend(more_secrets.iter().cloned());
        format!(
            r#"
[tenants.{tenant}.providers.{name}]
plugin = {plugin:?}
allow = [{{ url = {url:?}, ca = {ca:?} }}]
timeout = "60s"
config = {{ url = {url:?}, tenant = {tenant:?}, instance = {name:?}{more_config} }}
secrets = {{ {secrets} }}
"#,
            plugin = crate::plugin_path("cluster_kubernetes")
                .display()
                .to_string(),
            url = self.url,
            ca = self.ca.display().to_string(),
            secrets = crate::cairn::secret_files(&secrets),
            more_config = if more_config.is_empty() {
                String::new()
            } else {
                format!(", {more_config}")
            },
        )
    }

    /// The administrator's kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The `kubectl` that `scripts/setup.sh` built.
    pub fn kubectl_binary() -> PathBuf {
        std::env::var_os("KUBECTL_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/tmp/cairn-kube/kubectl-1.20"))
    }

    /// Runs `kubectl ARGS` as the administrator, `stdin` fed in.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Kubectl {
        use std::io::Write;
        let mut child = Command::new(Self::kubectl_binary())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl (scripts/setup.sh unpacks it)");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input
                .write_all(text.as_bytes())
                .expect("write kubectl's input");
        }
        drop(input);
        let output = child.wait_with_output().expect("kubectl ran");
        Kubectl {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The object `kubectl get ARGS -o json` finds, `None` when not found.
    pub fn get(&self, args: &[&str]) -> Option<serde_json::Value> {
        let mut all = vec!["get", "-o", "json"];
        all.extend_from_slice(args);
        let output = self.kubectl(&all, None);
        if !output.success {
            assert!(
                output.stderr.contains("NotFound") || output.stderr.contains("not found"),
                "kubectl get {args:?} failed: {}",
                output.stderr
            );
            return None;
        }
        Some(serde_json::from_str(&output.stdout).expect("kubectl printed JSON"))
    }
}

impl Drop for Kube {
    fn drop(&mut self) {
        stop(&self.dir);
    }
}

fn stop(dir: &Path) {
    let _ = Command::new(crate::repo_root().join("scripts/kube-apiserver.sh"))
        .arg("--stop")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
