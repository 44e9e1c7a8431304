//! A recording proxy in front of a server (PowerDNS, in the tests): every
//! request is passed on (unless the test asks the proxy to refuse it) and
//! recorded with the answer, so that a
//! test counts the writes that took effect at the server instead of
//! trusting Cairn's own audit log. Writes can also be held after the server
//! has answered and before the client hears of it, so that a daemon is
//! killed at exactly that instant: the change made, its outcome unrecorded.
//! Requests can be held before they reach the server, as a server that
//! has stopped answering holds them.
//! And requests can be refused by the proxy itself, as a server refuses a
//! write for a reason no plan could foresee, or answered 500 when too many
//! come at once, as a server that falls over under a crowd does.

use crate::serve::Served;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a held answer waits for [`RecordingProxy::release`] at most,
/// so that a test that forgets to release does not hang.
const HOLD_LIMIT: Duration = Duration::from_secs(60);

/// Which exchanges to hold: a test's predicate.
type HoldRule = Box<dyn Fn(&Exchange) -> bool + Send + Sync>;

/// Which requests to hold before passing them on: a test's predicate over
/// the method and the path.
type RequestRule = Box<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// Which requests to refuse: a test's predicate over the method, the path
/// and the JSON body.
type RefuseRule = Box<dyn Fn(&str, &str, &serde_json::Value) -> bool + Send + Sync>;

/// The status of a refused request: what PowerDNS answers a write it
/// will not make.
const REFUSED_STATUS: u16 = 422;

/// One request passed on and the server's answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The method (`PATCH`).
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The request body, when it was JSON.
    pub body: serde_json::Value,
    /// The status of the answer: the server's, or the proxy's 422 for a
    /// request it refused.
    pub status: u16,
    /// When the answer came.
    pub answered: Instant,
}

impl Exchange {
    /// Whether it changed something at the server: a write answered 2xx.
    pub fn took_effect(&self) -> bool {
        self.method != "GET" && self.method != "HEAD" && (200..300).contains(&self.status)
    }
}

/// A server's capacity as the proxy plays it: how many requests it serves
/// at once, and how long each takes.
#[derive(Debug, Clone, Copy)]
struct Capacity {
    at_once: usize,
    service: Duration,
}

struct Shared {
    upstream: String,
    capacity: Mutex<Option<Capacity>>,
    serving: AtomicUsize,
    crowd_refusals: AtomicUsize,
    client: reqwest::Client,
    exchanges: Mutex<Vec<Exchange>>,
    hold: Mutex<Option<HoldRule>>,
    hold_requests: Mutex<Option<RequestRule>>,
    refuse: Mutex<Option<RefuseRule>>,
    held: AtomicUsize,
    held_requests: AtomicUsize,
    released: tokio::sync::watch::Sender<u64>,
}

/// The proxy, serving on a free loopback port until dropped.
pub struct RecordingProxy {
    /// `http://127.0.0.1:PORT`: give it to Cairn in the server's place.
    pub url: String,
    shared: Arc<Shared>,
    served: Option<Served>,
}

impl RecordingProxy {
    /// Starts a proxy to `upstream` (`http://HOST:PORT`).
    pub fn start(upstream: &str) -> Self {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            capacity: Mutex::new(None),
            serving: AtomicUsize::new(0),
            crowd_refusals: AtomicUsize::new(0),
            client: reqwest::Client::new(),
            exchanges: Mutex::new(Vec::new()),
            hold: Mutex::new(None),
            hold_requests: Mutex::new(None),
            refuse: Mutex::new(None),
            held: AtomicUsize::new(0),
            held_requests: AtomicUsize::new(0),
            released: tokio::sync::watch::channel(0).0,
        });
        let state = shared.clone();
        let served = Served::start(move || {
            axum::Router::new().fallback(move |request: axum::extract::Request| {
                let state = state.clone();
                async move { pass_on(&state, request).await }
            })
        });
        Self {
            url: served.base_url.clone(),
            shared,
            served: Some(served),
        }
    }

    /// Every exchange so far, in the order the server answered.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.exchanges.lock().expect("exchanges").clone()
    }

    /// From now on, holds the answer to every write that took effect and
    /// matches `rule`, until [`RecordingProxy::release`].
    pub fn hold_writes(&self, rule: impl Fn(&Exchange) -> bool + Send + Sync + 'static) {
        *self.shared.hold.lock().expect("hold rule") = Some(Box::new(rule));
    }

    /// From now on, holds every request that matches `rule` (its method
    /// and path) before passing it on, until [`RecordingProxy::release`].
    pub fn hold_requests(&self, rule: impl Fn(&str, &str) -> bool + Send + Sync + 'static) {
        *self.shared.hold_requests.lock().expect("hold rule") = Some(Box::new(rule));
    }

    /// Requests held before reaching the server so far.
    pub fn held_requests(&self) -> usize {
        self.shared.held_requests.load(Ordering::SeqCst)
    }

    /// From now on, answers every request that matches `rule` itself —
    /// 422 and an error in PowerDNS's shape that says the proxy refused it
    /// — without passing it on.
    pub fn refuse(
        &self,
        rule: impl Fn(&str, &str, &serde_json::Value) -> bool + Send + Sync + 'static,
    ) {
        *self.shared.refuse.lock().expect("refuse rule") = Some(Box::new(rule));
    }

    /// From now on, serves at most `at_once` requests at a time, each
    /// taking at least `service`, and answers 500 itself to any request
    /// beyond those, without passing it on.
    pub fn refuse_crowds(&self, at_once: usize, service: Duration) {
        *self.shared.capacity.lock().expect("capacity") = Some(Capacity { at_once, service });
    }

    /// Requests answered 500 for coming beyond the capacity.
    pub fn crowd_refusals(&self) -> usize {
        self.shared.crowd_refusals.load(Ordering::SeqCst)
    }

    /// Passes every request on again.
    pub fn stop_refusing(&self) {
        *self.shared.refuse.lock().expect("refuse rule") = None;
    }

    /// Answers held so far.
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// Stops holding, and sends every held answer on (to whoever is still
    /// listening).
    pub fn release(&self) {
        *self.shared.hold.lock().expect("hold rule") = None;
        *self.shared.hold_requests.lock().expect("hold rule") = None;
        self.shared
            .released
            .send_modify(|generation| *generation += 1);
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        // Held answers first, so that the server's graceful stop does not
        // wait on them.
        self.release();
        self.served.take();
    }
}

/// Passes one request on, records it, and holds its answer when asked.
async fn pass_on(shared: &Shared, request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return (axum::http::StatusCode::BAD_REQUEST, "unreadable body").into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let method = parts.method.to_string();
    // Subscribed before the rule is read, so that a release in between is
    // not missed.
    let mut released = shared.released.subscribe();
    let hold_request = shared
        .hold_requests
        .lock()
        .expect("hold rule")
        .as_ref()
        .is_some_and(|rule| rule(&method, &path));
    if hold_request {
        wait_for_release(&shared.held_requests, &mut released).await;
    }
    let capacity = *shared.capacity.lock().expect("capacity");
    let _serving = match capacity {
        Some(capacity) => match Serving::enter(shared, capacity.at_once) {
            Some(serving) => {
                tokio::time::sleep(capacity.service).await;
                Some(serving)
            }
            None => {
                shared.crowd_refusals.fetch_add(1, Ordering::SeqCst);
                shared.exchanges.lock().expect("exchanges").push(Exchange {
                    method,
                    path,
                    body: json,
                    status: 500,
                    answered: Instant::now(),
                });
                let error = serde_json::json!({"error": "the server is overloaded"});
                return (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(error),
                )
                    .into_response();
            }
        },
        None => None,
    };
    let refused = shared
        .refuse
        .lock()
        .expect("refuse rule")
        .as_ref()
        .is_some_and(|rule| rule(&method, &path, &json));
    if refused {
        let error = serde_json::json!({"error": format!("the proxy refused {method} {path}")});
        shared.exchanges.lock().expect("exchanges").push(Exchange {
            method,
            path,
            body: json,
            status: REFUSED_STATUS,
            answered: Instant::now(),
        });
        let status = axum::http::StatusCode::from_u16(REFUSED_STATUS).expect("a status");
        return (status, axum::Json(error)).into_response();
    }
    let mut forwarded = shared
        .client
        .request(parts.method.clone(), format!("{}{path}", shared.upstream))
        .body(body.clone());
    for (name, value) in &parts.headers {
        if name != axum::http::header::HOST && name != axum::http::header::CONTENT_LENGTH {
            forwarded = forwarded.header(name, value);
        }
    }
    let answer = match forwarded.send().await {
        Ok(answer) => answer,
        Err(error) => {
            return (axum::http::StatusCode::BAD_GATEWAY, error.to_string()).into_response();
        }
    };
    let status = answer.status();
    let content_type = answer
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .cloned();
    let answer_body = answer.bytes().await.unwrap_or_default();
    let exchange = Exchange {
        method,
        path,
        body: json,
        status: status.as_u16(),
        answered: Instant::now(),
    };
    // As above: subscribed before the rule is read.
    let mut released = shared.released.subscribe();
    let hold = exchange.took_effect()
        && shared
            .hold
            .lock()
            .expect("hold rule")
            .as_ref()
            .is_some_and(|rule| rule(&exchange));
    shared.exchanges.lock().expect("exchanges").push(exchange);
    if hold {
        wait_for_release(&shared.held, &mut released).await;
    }
    let mut response = (status, answer_body).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, content_type);
    }
    response
}

/// Holds what is passing through, counted in `held`, until
/// [`RecordingProxy::release`] (at most [`HOLD_LIMIT`]).
async fn wait_for_release(held: &AtomicUsize, released: &mut tokio::sync::watch::Receiver<u64>) {
    held.fetch_add(1, Ordering::SeqCst);
    let _ = tokio::time::timeout(HOLD_LIMIT, released.changed()).await;
}

/// One request being served, counted until dropped.
struct Serving<'a>(&'a Shared);

impl<'a> Serving<'a> {
    /// Counts a request in, unless `at_once` are being served.
    fn enter(shared: &'a Shared, at_once: usize) -> Option<Self> {
        let before = shared.serving.fetch_add(1, Ordering::SeqCst);
        let serving = Self(shared);
        (before < at_once).then_some(serving)
    }
}

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        self.0.serving.fetch_sub(1, Ordering::SeqCst);
    }
}
