//! A real Canaille (SCIM 2.0 identity server) for one test, started by
//! `scripts/canaille-server.sh` on a free loopback port with an OAuth client
//! allowed the client-credentials grant, and stopped — with every process
//! it started — when dropped.

use crate::ports::free_port;
use base64::Engine;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Canaille may take to start: it is a Python application that
/// migrates its database and loads Flask first.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The user schema.
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A running Canaille.
pub struct Canaille {
    child: Child,
    dir: PathBuf,
    /// The SCIM base URL (`http://127.0.0.1:PORT/scim/v2`).
    pub scim_url: String,
    /// The OAuth 2.0 token endpoint.
    pub token_url: String,
    /// The OAuth client's id.
    pub client_id: String,
    /// The OAuth client's secret.
    pub client_secret: String,
}

impl Canaille {
    /// Starts a server with an empty database in `dir`.
    pub fn start(dir: &Path) -> Self {
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::spawn(dir, free_port()) {
                Ok(server) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("Canaille did not start: {last_error}");
    }

    fn spawn(dir: &Path, port: u16) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let log_path = dir.join("canaille.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let child = Command::new(crate::repo_root().join("scripts/canaille-server.sh"))
            .arg(dir)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            // Its own process group: the server's workers go with it.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("start scripts/canaille-server.sh: {e} (run scripts/setup.sh)"))?;
        let mut server = Self {
            child,
            dir: dir.to_path_buf(),
            scim_url: String::new(),
            token_url: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("it exited with {status}: {log}"));
            }
            if server.scim_url.is_empty() {
                server.read_env();
            }
            if !server.scim_url.is_empty() && server.token().is_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("it did not answer in time: {log}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn read_env(&mut self) {
        let Ok(text) = std::fs::read_to_string(self.dir.join("canaille.env")) else {
            return;
        };
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.to_string();
            match key {
                "CANAILLE_SCIM_URL" => self.scim_url = value,
                "CANAILLE_TOKEN_URL" => self.token_url = value,
                "CANAILLE_CLIENT_ID" => self.client_id = value,
                "CANAILLE_CLIENT_SECRET" => self.client_secret = value,
                _ => {}
            }
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into()
    }

    /// A bearer token for the test's own requests.
    pub fn token(&self) -> Result<String, String> {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.client_id, self.client_secret));
        let request = ureq::http::Request::builder()
            .method("POST")
            .uri(&self.token_url)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials".to_string())
            .expect("a valid request");
        let mut response = Self::agent().run(request).map_err(|e| e.to_string())?;
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        body["access_token"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("no token: {text}"))
    }

    /// A SCIM request; `Err` carries the status and body of a non-2xx
    /// answer.
    pub fn scim(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let token = self.token()?;
        let builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.scim_url))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/scim+json");
        let request = builder
            .body(body.map(Value::to_string).unwrap_or_default())
            .expect("a valid request");
        let mut response = Self::agent().run(request).map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(format!("{status}: {text}"));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}: {text}"))
    }

    /// Every resource of `/Users` or `/Groups`.
    pub fn all(&self, endpoint: &str) -> Vec<Value> {
        let answer = self
            .scim("GET", &format!("/{endpoint}"), None)
            .unwrap_or_else(|e| panic!("list {endpoint}: {e}"));
        answer["Resources"].as_array().cloned().unwrap_or_default()
    }

    /// The user named `user_name`, as the server has it.
    pub fn user(&self, user_name: &str) -> Option<Value> {
        self.all("Users")
            .into_iter()
            .find(|u| u["userName"].as_str() == Some(user_name))
    }

    /// The group named `display_name`, as the server has it.
    pub fn group(&self, display_name: &str) -> Option<Value> {
        self.all("Groups")
            .into_iter()
            .find(|g| g["displayName"].as_str() == Some(display_name))
    }

    /// The userNames of a group's members, sorted.
    pub fn members(&self, display_name: &str) -> Vec<String> {
        let Some(group) = self.group(display_name) else {
            return Vec::new();
        };
        let users = self.all("Users");
        let mut names: Vec<String> = group["members"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|m| {
                // Canaille names members by userName, the RFC by id.
                users
                    .iter()
                    .find(|u| u["id"] == m["value"] || u["userName"] == m["value"])
                    .and_then(|u| u["userName"].as_str().map(String::from))
            })
            .collect();
        names.sort();
        names
    }

    /// Creates a user the way another administrator would, not through
    /// Cairn.
    pub fn create_user(&self, user_name: &str, email: &str) -> Value {
        self.scim(
            "POST",
            "/Users",
            Some(&json!({
                "schemas": [USER],
                "userName": user_name,
                "name": {"formatted": user_name, "familyName": user_name},
                "emails": [{"value": email}],
                "active": true
            })),
        )
        .unwrap_or_else(|e| panic!("create {user_name}: {e}"))
    }

    /// Replaces some attributes of a user by hand.
    pub fn patch_user(&self, user_name: &str, attributes: Value) {
        let mut user = self.user(user_name).expect("the user exists");
        let id = user["id"].as_str().expect("an id").to_string();
        for (key, value) in attributes.as_object().expect("an object") {
            user[key] = value.clone();
        }
        user.as_object_mut().expect("an object").remove("meta");
        self.scim("PUT", &format!("/Users/{id}"), Some(&user))
            .unwrap_or_else(|e| panic!("edit {user_name}: {e}"));
    }

    /// The `[tenants.TENANT.providers.idp]` table of `cairn.toml` for this
    /// server: client credentials from secret files written into `dir`
    /// (`client_secret` may be a wrong one), plus `more_secrets` (name,
    /// file) and `more_config` (`patch = false`, say).
    pub fn provider_table(
        &self,
        tenant: &str,
        dir: &Path,
        client_secret: &str,
        more_secrets: &[(&str, PathBuf)],
        more_config: &str,
    ) -> String {
        let secret_file = |name: &str, value: &str| {
            let path = dir.join(format!("{name}.secret"));
            std::fs::write(&path, value).expect("write a secret file");
            path
        };
        let mut secrets = vec![
            ("client_id", secret_file("client_id", &self.client_id)),
            ("client_secret", secret_file("client_secret", client_secret)),
        ];
        secrets.extend(
            more_secrets
                .iter()
                .map(|(name, path)| (*name, path.clone())),
        );
        let secrets: Vec<String> = secrets
            .iter()
            .map(|(name, path)| format!("{name} = {{ file = {:?} }}", path.display().to_string()))
            .collect();
        format!(
            r#"
[tenants.{tenant}.providers.idp]
plugin = {plugin:?}
allow = [{origin:?}]
config = {{ url = {url:?}, token_url = {token_url:?}{more_config} }}
secrets = {{ {secrets} }}
"#,
            plugin = crate::plugin_path("identity_scim").display().to_string(),
            origin = self.scim_url.split("/scim").next().unwrap_or_default(),
            url = self.scim_url,
            token_url = self.token_url,
            secrets = secrets.join(", "),
            more_config = if more_config.is_empty() {
                String::new()
            } else {
                format!(", {more_config}")
            },
        )
    }

    /// Whether `user_name`'s password is `password`, asked of Canaille's
    /// own models (SCIM never returns a password). The password goes in on
    /// stdin, not in the command line.
    pub fn password_is(&self, user_name: &str, password: &str) -> bool {
        const CHECK: &str = r#"
import sys
from canaille import create_app
from canaille.app import models
from canaille.backends import Backend
app = create_app()
with app.app_context():
    user = Backend.instance.get(models.User, user_name=sys.argv[1])
    print("same" if user is not None and user.password == sys.stdin.read() else "different")
"#;
        let venv = std::env::var("CANAILLE_VENV")
            .unwrap_or_else(|_| "/var/tmp/cairn-canaille-venv".to_string());
        let mut child = Command::new(format!("{venv}/bin/python"))
            .args(["-c", CHECK, user_name])
            .env("CANAILLE_CONFIG", self.dir.join("canaille.toml"))
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run Canaille's python");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(password.as_bytes())
            .expect("write the password");
        let output = child.wait_with_output().expect("the check finishes");
        String::from_utf8_lossy(&output.stdout).trim() == "same"
    }
}

impl Drop for Canaille {
    fn drop(&mut self) {
        // The whole process group: the script's server and its workers.
        let group = -(self.child.id() as i32);
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group.to_string()])
            .status();
        let _ = self.child.wait();
    }
}
