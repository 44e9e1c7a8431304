//! podman's Docker-compatible Engine API for one test, started by
//! `scripts/podman-service.sh` on a free loopback port with its storage in
//! the test's folder and two local images (`cairn-test/web:1` and `:2`,
//! answering `version N` over HTTP on port 8080). Dropping it removes every
//! container and stops the service.

use crate::script_server::ScriptServer;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long the service may take to start, images imported.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The ulimits containers need here: podman's defaults exceed the hard
/// limits of this kind of machine.
pub const ULIMITS: &str = r#"{ nofile = "1024:20000", nproc = "1024:1024" }"#;

/// A running podman service.
pub struct Podman {
    server: ScriptServer,
    /// The API's port on 127.0.0.1.
    pub port: u16,
    /// The temporary folder holding its state, when it has one of its
    /// own: removed only after the containers and the service (a field
    /// after `server`, which fields drop in order, after [`Drop`]'s body).
    /// Removed first, it takes the service's record of its containers
    /// with it, and the containers then run on with nothing to stop them.
    scratch: Option<tempfile::TempDir>,
}

impl Podman {
    /// Starts a service with its state in a temporary folder of its own,
    /// outside any workspace (a container's configuration in its storage
    /// rightly holds its secrets, and a workspace is searched for them),
    /// removed when the service is dropped.
    pub fn start_in_scratch() -> Self {
        let scratch = tempfile::Builder::new()
            .prefix("cairn-podman-")
            .tempdir()
            .expect("create a temporary folder");
        let mut podman = Self::start(scratch.path());
        podman.scratch = Some(scratch);
        podman
    }

    /// Starts a service with its state in `dir`, which must outlive it.
    pub fn start(dir: &Path) -> Self {
        let server = ScriptServer::start("podman-service.sh", dir, START_TIMEOUT, |server| {
            ping(server.port)
        });
        Self {
            port: server.port,
            server,
            scratch: None,
        }
    }

    /// The API's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An API request under `/v1.41`; `Err` carries a non-2xx answer.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let agent: ureq::Agent = crate::http_agent(Duration::from_secs(30));
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}/v1.41{path}", self.url()))
            .header("content-type", "application/json")
            .body(body.map(Value::to_string).unwrap_or_default())
            .expect("a valid request");
        let mut response = agent.run(request).map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(format!("{status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Every container, running or not.
    pub fn containers(&self) -> Vec<Value> {
        self.request("GET", "/containers/json?all=true", None)
            .expect("list containers")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The containers Cairn made for `app`.
    pub fn app_containers(&self, app: &str) -> Vec<Value> {
        self.containers()
            .into_iter()
            .filter(|c| c["Labels"]["cairn.app"] == app)
            .collect()
    }

    /// A container's full description.
    pub fn inspect(&self, id: &str) -> Value {
        self.request("GET", &format!("/containers/{id}/json"), None)
            .expect("inspect a container")
    }

    /// Runs a container by hand, as someone else would: no Cairn labels.
    pub fn run_by_hand(&self, name: &str) -> String {
        let body = json!({
            "Image": "cairn-test/web:1",
            "HostConfig": {"Ulimits": [
                {"Name": "nofile", "Soft": 1024, "Hard": 20000},
                {"Name": "nproc", "Soft": 1024, "Hard": 1024}
            ]}
        });
        let created = self
            .request(
                "POST",
                &format!("/containers/create?name={name}"),
                Some(&body),
            )
            .expect("create a container by hand");
        let id = created["Id"].as_str().expect("an id").to_string();
        self.request("POST", &format!("/containers/{id}/start"), None)
            .expect("start it");
        id
    }

    /// Kills a container by hand.
    pub fn kill(&self, id: &str) {
        self.request("POST", &format!("/containers/{id}/kill"), None)
            .expect("kill a container");
    }

    /// `GET http://127.0.0.1:PORT/` — what an app answers, if anything.
    pub fn http(port: u16) -> Option<String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let mut response = agent
            .get(&format!("http://127.0.0.1:{port}/"))
            .call()
            .ok()?;
        response
            .body_mut()
            .read_to_string()
            .ok()
            .map(|text| text.trim().to_string())
    }

    /// The `[tenants.TENANT.providers.apps]` table of `cairn.toml`, with
    /// `secrets` (name, file) and more config keys.
    pub fn provider_table(
        &self,
        tenant: &str,
        secrets: &[(&str, PathBuf)],
        more_config: &str,
    ) -> String {
        format!(
            r#"
[tenants.{tenant}.providers.apps]
plugin = {plugin:?}
allow = [{url:?}]
timeout = "120s"
config = {{ url = {url:?}, owner = {tenant:?}, ulimits = {ULIMITS}{more_config} }}
secrets = {{ {secrets} }}
"#,
            plugin = crate::plugin_path("apps_docker").display().to_string(),
            url = self.url(),
            secrets = crate::cairn::secret_files(secrets),
        )
    }

    /// The `[tenants.TENANT.providers.chaos]` table of `cairn.toml`: the
    /// chaos provider on the containers of `owner`, granted the API and
    /// `probes` (grant patterns), with more config keys.
    pub fn chaos_table(
        &self,
        tenant: &str,
        owner: &str,
        probes: &[&str],
        more_config: &str,
    ) -> String {
        let mut allow = vec![format!("{:?}", self.url())];
        allow.extend(probes.iter().map(|grant| format!("{grant:?}")));
        format!(
            r#"
[tenants.{tenant}.providers.chaos]
plugin = {plugin:?}
allow = [{allow}]
timeout = "60s"
config = {{ url = {url:?}, owner = {owner:?}{more_config} }}
"#,
            plugin = crate::plugin_path("chaos_docker").display().to_string(),
            allow = allow.join(", "),
            url = self.url(),
        )
    }

    /// A container's state: `running`, `paused`, `exited`.
    pub fn state(&self, id: &str) -> String {
        self.inspect(id)["State"]["Status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Containers outlive the service: remove them first.
        // The service itself stops with its `ScriptServer`.
        let _ = Command::new(crate::repo_root().join("scripts/podman-service.sh"))
            .arg("--stop")
            .arg(&self.server.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Whether the API on `port` answers.
fn ping(port: u16) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    agent
        .get(&format!("http://127.0.0.1:{port}/_ping"))
        .call()
        .is_ok()
}
