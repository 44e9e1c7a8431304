//! A real etcd for one test, started by `scripts/etcd-server.sh` with its
//! client API (and the v3 JSON gateway) on a free loopback port, and
//! stopped when dropped.

use crate::script_server::ScriptServer;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// How long etcd may take to elect itself and answer (about a second).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A running etcd.
pub struct Etcd {
    server: ScriptServer,
    /// The client URL (`http://127.0.0.1:PORT`).
    pub url: String,
}

impl Etcd {
    /// Starts a member with its data in `dir`.
    pub fn start(dir: &Path) -> Self {
        let server = ScriptServer::start("etcd-server.sh", dir, START_TIMEOUT, |server| {
            gateway(server.port, "/v3/kv/range", &json!({"key": "AA=="})).is_ok()
        });
        let url = format!("http://127.0.0.1:{}", server.port);
        Self { server, url }
    }

    /// A call of the v3 JSON gateway (`path` from `/v3/...`); `Err`
    /// carries the status and body of a non-2xx answer.
    pub fn gateway(&self, path: &str, body: &Value) -> Result<Value, String> {
        gateway(self.server.port, path, body)
    }

    /// What etcd has logged.
    pub fn log(&self) -> String {
        self.server.log()
    }
}

fn gateway(port: u16, path: &str, body: &Value) -> Result<Value, String> {
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .expect("a valid request");
    crate::json_request(request, REQUEST_TIMEOUT)
}
