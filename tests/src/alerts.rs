//! A local HTTP receiver of alerts: it records every JSON body POSTed to it.

use crate::serve::Served;
use std::sync::{Arc, Mutex};

/// A receiver running on a free loopback port until dropped.
pub struct AlertReceiver {
    /// The URL to configure as an alert sink.
    pub url: String,
    received: Arc<Mutex<Vec<serde_json::Value>>>,
    _server: Served,
}

impl AlertReceiver {
    /// Starts the receiver.
    pub fn start() -> Self {
        let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let sink = received.clone();
        let server = Served::start(move || {
            axum::Router::new().route(
                "/alerts",
                axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
                    let sink = sink.clone();
                    async move {
                        sink.lock().expect("alerts").push(body);
                        "ok"
                    }
                }),
            )
        });
        Self {
            url: format!("{}/alerts", server.base_url),
            received,
            _server: server,
        }
    }

    /// Every alert received so far.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        self.received.lock().expect("alerts").clone()
    }

    /// The `[[alerts]]` table of `cairn.toml` that sends alerts here.
    pub fn table(&self) -> String {
        format!("[[alerts]]\nurl = {:?}\n\n", self.url)
    }

    /// The alerts of `event` about `resource` (any resource when `None`).
    pub fn of(&self, event: &str, resource: Option<&str>) -> Vec<serde_json::Value> {
        self.alerts()
            .into_iter()
            .filter(|a| a["event"] == event && resource.is_none_or(|r| a["resource"] == r))
            .collect()
    }
}
