//! Alerts: events POSTed as JSON to the operator's sinks.
//!
//! A condition (a resource drifted, a tenant's plugin fails, a plan is
//! blocked, a provider did not converge) alerts once when it starts and once, as `recovered`, when it
//! clears; repeats in between are dropped. An event (a chaos run aborted,
//! a restore its probes never confirmed) alerts each time it happens. Delivery runs on its own tasks
//! with retries and backoff, so a dead sink never slows reconciliation.

use crate::config::AlertSink;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Events waiting for delivery; beyond this, new ones are dropped (and
/// logged) rather than blocking a reconcile.
const QUEUE: usize = 1024;

/// Attempts per event and sink.
const ATTEMPTS: u32 = 5;

/// The first retry's delay; each next one doubles.
const RETRY_BASE: Duration = Duration::from_millis(500);

/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The kind of an alert event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// An owned object differs from what was applied, or vanished.
    Drift,
    /// A change, a fetch or a validation failed.
    ApplyFailed,
    /// A plan was refused by the safety threshold (key `plan`) or by the
    /// tenant's policies (key `policy`).
    Blocked,
    /// A plugin failed or could not be reached.
    PluginFailed,
    /// A provider did not converge after an apply: what it observed still
    /// differs from what it applied. The resource is held until its spec
    /// in Git or the plugin changes.
    NotConverged,
    /// A chaos experiment's run ended early: a steady-state probe failed
    /// beyond its tolerance (or the experiment changed or left Git, or the
    /// tenant halted); its targets were restored. An event.
    ChaosAborted,
    /// A chaos experiment's targets were restored, and its probes did not
    /// pass again within its recovery time. An event.
    ChaosRestoreFailed,
    /// A condition alerted before has cleared.
    Recovered,
}

impl AlertKind {
    /// The name used in `events` filters and in the body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Drift => "drift",
            Self::ApplyFailed => "apply-failed",
            Self::Blocked => "blocked",
            Self::PluginFailed => "plugin-failed",
            Self::NotConverged => "not-converged",
            Self::ChaosAborted => "chaos-aborted",
            Self::ChaosRestoreFailed => "chaos-restore-failed",
            Self::Recovered => "recovered",
        }
    }
}

/// The JSON body sent to sinks.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEvent {
    /// The tenant.
    pub tenant: String,
    /// What happened.
    pub event: AlertKind,
    /// For `recovered`: the kind of condition that cleared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleared: Option<AlertKind>,
    /// The commit the tenant was at.
    pub commit: Option<String>,
    /// The resource, when the event concerns one.
    pub resource: Option<String>,
    /// What happened, for people.
    pub message: String,
    /// When, RFC 3339.
    pub time: String,
}

/// The alerting side of the daemon: deduplication and a delivery queue.
#[derive(Debug, Clone)]
pub struct Alerts {
    active: Arc<Mutex<HashSet<(String, AlertKind, String)>>>,
    queue: Option<mpsc::Sender<AlertEvent>>,
}

impl Alerts {
    /// Starts delivery to `sinks` (nothing is sent when there are none).
    pub fn start(sinks: Vec<AlertSink>) -> Self {
        let queue = (!sinks.is_empty()).then(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(deliver(receiver, sinks));
            sender
        });
        Self {
            active: Arc::default(),
            queue,
        }
    }

    /// Raises a condition identified by `key` (a resource's address, or a
    /// name such as `tenant`); only its first raise is sent.
    pub fn raise(
        &self,
        tenant: &str,
        kind: AlertKind,
        key: &str,
        commit: Option<&str>,
        resource: Option<&str>,
        message: &str,
    ) {
        let fresh = self.active.lock().expect("alert state").insert((
            tenant.to_string(),
            kind,
            key.to_string(),
        ));
        if fresh {
            self.send(tenant, kind, None, commit, resource, message);
        }
    }

    /// Sends an event: every time it happens, never `recovered`.
    pub fn notify(
        &self,
        tenant: &str,
        kind: AlertKind,
        commit: Option<&str>,
        resource: Option<&str>,
        message: &str,
    ) {
        self.send(tenant, kind, None, commit, resource, message);
    }

    /// Clears a condition; sends `recovered` when it was raised.
    pub fn clear(
        &self,
        tenant: &str,
        kind: AlertKind,
        key: &str,
        commit: Option<&str>,
        resource: Option<&str>,
        message: &str,
    ) {
        let was_active = self.active.lock().expect("alert state").remove(&(
            tenant.to_string(),
            kind,
            key.to_string(),
        ));
        if was_active {
            self.send(
                tenant,
                AlertKind::Recovered,
                Some(kind),
                commit,
                resource,
                message,
            );
        }
    }

    /// The keys of a tenant's active conditions of `kind`.
    pub fn active_keys(&self, tenant: &str, kind: AlertKind) -> Vec<String> {
        self.active
            .lock()
            .expect("alert state")
            .iter()
            .filter(|(t, k, _)| t == tenant && *k == kind)
            .map(|(_, _, key)| key.clone())
            .collect()
    }

    fn send(
        &self,
        tenant: &str,
        kind: AlertKind,
        cleared: Option<AlertKind>,
        commit: Option<&str>,
        resource: Option<&str>,
        message: &str,
    ) {
        tracing::warn!(tenant, event = kind.as_str(), resource, "{message}");
        let Some(queue) = &self.queue else { return };
        let event = AlertEvent {
            tenant: tenant.to_string(),
            event: kind,
            cleared,
            commit: commit.map(str::to_string),
            resource: resource.map(str::to_string),
            message: message.to_string(),
            time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        };
        if queue.try_send(event).is_err() {
            tracing::error!(tenant, "the alert queue is full; an alert was dropped");
        }
    }
}

/// Fans events out to one queue per sink. Each sink delivers in order on
/// its own task, so a slow or dead sink delays only itself, and a
/// `recovered` never overtakes the alert it clears.
async fn deliver(mut receiver: mpsc::Receiver<AlertEvent>, sinks: Vec<AlertSink>) {
    let client = reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .build()
        .expect("an HTTP client builds");
    let queues: Vec<(AlertSink, mpsc::Sender<Vec<u8>>)> = sinks
        .into_iter()
        .map(|sink| {
            let (sender, mut queue) = mpsc::channel::<Vec<u8>>(QUEUE);
            let (client, target) = (client.clone(), sink.clone());
            tokio::spawn(async move {
                while let Some(body) = queue.recv().await {
                    deliver_one(&client, &target, body).await;
                }
            });
            (sink, sender)
        })
        .collect();
    while let Some(event) = receiver.recv().await {
        let body = serde_json::to_vec(&event).expect("alerts serialize");
        for (sink, queue) in &queues {
            if !sink.events.is_empty() && !sink.events.iter().any(|e| e == event.event.as_str()) {
                continue;
            }
            if queue.try_send(body.clone()).is_err() {
                tracing::error!(url = %sink.url, "the sink's alert queue is full; an alert was dropped");
            }
        }
    }
}

async fn deliver_one(client: &reqwest::Client, sink: &AlertSink, body: Vec<u8>) {
    let signature = match &sink.secret {
        Some(reference) => match reference.resolve("alert secret") {
            Ok(secret) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
                    .expect("HMAC takes keys of any length");
                mac.update(&body);
                Some(format!(
                    "sha256={}",
                    hex::encode(mac.finalize().into_bytes())
                ))
            }
            Err(error) => {
                tracing::error!(url = %sink.url, %error, "cannot sign an alert; not sending it");
                return;
            }
        },
        None => None,
    };
    let mut delay = RETRY_BASE;
    for attempt in 1..=ATTEMPTS {
        let mut request = client
            .post(&sink.url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(signature) = &signature {
            request = request.header("x-cairn-signature-256", signature);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => {
                tracing::warn!(url = %sink.url, status = %response.status(), attempt, "an alert sink refused an alert")
            }
            Err(error) => {
                tracing::warn!(url = %sink.url, %error, attempt, "an alert sink is unreachable")
            }
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    tracing::error!(url = %sink.url, "gave up delivering an alert after {ATTEMPTS} attempts");
}
