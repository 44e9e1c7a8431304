//! A real Canaille (SCIM 2.0 identity server) for one test, started by
//! `scripts/canaille-server.sh` on a free loopback port with an OAuth client
//! allowed the client-credentials grant, and stopped — with every process
//! it started — when dropped.

use crate::script_server::ScriptServer;
use base64::Engine;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long Canaille may take to start: it is a Python application that
/// migrates its database and loads Flask first.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one request to Canaille may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The user schema.
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A running Canaille.
pub struct Canaille {
    server: ScriptServer,
    /// The SCIM base URL (`http://127.0.0.1:PORT/scim/v2`).
    pub scim_url: String,
    /// The OAuth 2.0 token endpoint.
    pub token_url: String,
    /// The OAuth client's id.
    pub client_id: String,
    /// The OAuth client's secret.
    pub client_secret: String,
}

/// What `canaille-server.sh` writes to `canaille.env` before the server
/// starts.
struct Settings {
    scim_url: String,
    token_url: String,
    client_id: String,
    client_secret: String,
}

impl Settings {
    /// `None` until the file is written.
    fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join("canaille.env")).ok()?;
        let value = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .map(String::from)
        };
        Some(Self {
            scim_url: value("CANAILLE_SCIM_URL")?,
            token_url: value("CANAILLE_TOKEN_URL")?,
            client_id: value("CANAILLE_CLIENT_ID")?,
            client_secret: value("CANAILLE_CLIENT_SECRET")?,
        })
    }
}

impl Canaille {
    /// Starts a server with an empty database in `dir`.
    pub fn start(dir: &Path) -> Self {
        let server = ScriptServer::start("canaille-server.sh", dir, START_TIMEOUT, |server| {
            Settings::read(&server.dir).is_some_and(|settings| {
                request_token(
                    &settings.token_url,
                    &settings.client_id,
                    &settings.client_secret,
                )
                .is_ok()
            })
        });
        let settings = Settings::read(&server.dir).expect("a ready server has its settings");
        Self {
            server,
            scim_url: settings.scim_url,
            token_url: settings.token_url,
            client_id: settings.client_id,
            client_secret: settings.client_secret,
        }
    }

    /// A bearer token for the test's own requests.
    pub fn token(&self) -> Result<String, String> {
        request_token(&self.token_url, &self.client_id, &self.client_secret)
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
        crate::json_request(request, REQUEST_TIMEOUT)
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
            secrets = crate::cairn::secret_files(&secrets),
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
            .env("CANAILLE_CONFIG", self.server.dir.join("canaille.toml"))
            .current_dir(&self.server.dir)
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

/// A token from the client-credentials grant.
fn request_token(token_url: &str, client_id: &str, client_secret: &str) -> Result<String, String> {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{client_secret}"));
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(token_url)
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials".to_string())
        .expect("a valid request");
    let mut response = crate::http_agent(REQUEST_TIMEOUT)
        .run(request)
        .map_err(|e| e.to_string())?;
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let body: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    body["access_token"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| format!("no token: {text}"))
}
