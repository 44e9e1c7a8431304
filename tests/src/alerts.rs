//! A local HTTP receiver of alerts: it records every JSON body POSTed to it.

use std::sync::{Arc, Mutex};

/// A receiver running on a free loopback port until dropped.
pub struct AlertReceiver {
    /// The URL to configure as an alert sink.
    pub url: String,
    received: Arc<Mutex<Vec<serde_json::Value>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AlertReceiver {
    /// Starts the receiver.
    pub fn start() -> Self {
        let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let url = format!(
            "http://{}/alerts",
            listener.local_addr().expect("an address")
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sink = received.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let app = axum::Router::new().route(
                    "/alerts",
                    axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
                        let sink = sink.clone();
                        async move {
                            sink.lock().expect("alerts").push(body);
                            "ok"
                        }
                    }),
                );
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Self {
            url,
            received,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Every alert received so far.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        self.received.lock().expect("alerts").clone()
    }

    /// The alerts of `event` about `resource` (any resource when `None`).
    pub fn of(&self, event: &str, resource: Option<&str>) -> Vec<serde_json::Value> {
        self.alerts()
            .into_iter()
            .filter(|a| a["event"] == event && resource.is_none_or(|r| a["resource"] == r))
            .collect()
    }
}

impl Drop for AlertReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
