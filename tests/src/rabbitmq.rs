//! A real RabbitMQ node for one test, started by
//! `scripts/rabbitmq-server.sh` with its management API on a free loopback
//! port, and stopped — with its epmd — when dropped.

use crate::script_server::ScriptServer;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// How long the node may take to answer its management API: Erlang starts
/// the broker, then the management plugin (5–9 s here, more under load).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How long one request to the management API may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The login of a fresh node, accepted only from loopback.
pub const USER: &str = "guest";
/// See [`USER`].
pub const PASSWORD: &str = "guest";

/// A running RabbitMQ node.
pub struct RabbitMq {
    server: ScriptServer,
    /// The management API's root (`http://127.0.0.1:PORT`).
    pub url: String,
}

impl RabbitMq {
    /// Starts a node with its state in `dir`.
    pub fn start(dir: &Path) -> Self {
        let server = ScriptServer::start("rabbitmq-server.sh", dir, START_TIMEOUT, |server| {
            request(server.port, "GET", "/api/overview", None).is_ok()
        });
        let url = format!("http://127.0.0.1:{}", server.port);
        Self { server, url }
    }

    /// A request to the management API (`path` from `/api/...`); `Err`
    /// carries the status and body of a non-2xx answer.
    pub fn api(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        request(self.server.port, method, path, body)
    }

    /// What the node has logged.
    pub fn log(&self) -> String {
        self.server.log()
    }
}

fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let authorization = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{USER}:{PASSWORD}"),
    );
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .header("authorization", format!("Basic {authorization}"))
        .header("content-type", "application/json")
        .body(body.map(Value::to_string).unwrap_or_default())
        .expect("a valid request");
    crate::json_request(request, REQUEST_TIMEOUT)
}
