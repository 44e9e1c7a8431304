//! Adaptive concurrency per endpoint. The plugins of every tenant that
//! talk to one server (`scheme://host:port`) share a limit on how many of
//! their requests are open there at once. The limit grows while requests
//! succeed and halves when the server answers 5xx or 429, or a request
//! fails outright (a timeout, a refused or reset connection): additive
//! increase, multiplicative decrease, as TCP's congestion control does. A
//! fleet of tenants thus finds the concurrency its server serves, instead
//! of knocking it over and spending its time in retries.
//!
//! - A request over the limit waits its turn (in the order the last
//!   point says); the wait counts against its call's deadline.
//! - Each success adds `1 / limit` (one per limit's worth of successes),
//!   when the limit was in use: at least half of it open as the request
//!   was sent. A limit never reached says nothing of the server.
//! - An overload halves the limit, once per round trip: only a request
//!   sent after the last decrease can decrease it again, since those sent
//!   before were sent under the old limit.
//! - The limit stays within [`MIN_LIMIT`] and its ceiling: the smallest
//!   `max_concurrency` of the provider instances that used the endpoint.
//! - A turn lasts from the request's start until its response's head
//!   arrives (or it fails): the server's work. A body read slowly, or
//!   never, holds no turn; a request that holds its turn past eight times
//!   the answers' moving average (within [`MIN_TURN`] and [`MAX_TURN`]: a
//!   body written slowly, a stalled server) gives it back then and goes on
//!   outside the limit.
//! - Turns go to the waiting tenant holding the fewest (first come among
//!   equals), and one tenant holds at most half of them, rounded up: a
//!   tenant's plugin cannot take the turns every tenant shares.
//!
//! Every byte the registry holds is bounded: at most [`MAX_ENDPOINTS`]
//! endpoints are kept, idle ones forgotten first; a request to a new
//! endpoint while every kept one is in use is sent without a limit. An
//! endpoint's queue holds one small entry per waiting request, of which
//! the host's calls have at most `MAX_CONCURRENT_CALLS ×
//! MAX_OPEN_REQUESTS_PER_CALL` (1,024).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The limit of an endpoint first used: a server of unknown capacity gets
/// as many requests at once as a small pool of workers answers, and the
/// limit moves from there.
pub const INITIAL_LIMIT: usize = 8;

/// The lowest limit: one request at a time still makes progress.
pub const MIN_LIMIT: usize = 1;

/// The ceiling when a provider instance does not set `max_concurrency`:
/// as many calls as the host runs at once
/// ([`crate::limits::MAX_CONCURRENT_CALLS`]).
pub const DEFAULT_MAX_CONCURRENCY: usize = crate::limits::MAX_CONCURRENT_CALLS as usize;

/// The highest `max_concurrency` an operator may set: the host's calls
/// at once times the requests each may keep open.
pub const MAX_CONCURRENCY_CEILING: usize =
    crate::limits::MAX_CONCURRENT_CALLS as usize * crate::limits::MAX_OPEN_REQUESTS_PER_CALL;

/// The longest one request holds a turn: far beyond what a server that
/// keeps up takes to answer (a PATCH of 10,000 records takes about a
/// second), short enough that a plugin writing its bodies slowly cannot
/// keep the tenants sharing its server waiting for long. Once answers
/// were timed, a turn lasts eight times their moving average, within
/// [`MIN_TURN`] and this.
pub const MAX_TURN: Duration = Duration::from_secs(10);

/// The shortest bound on a turn: a server's slower answers (a large
/// write among reads) keep their turn.
pub const MIN_TURN: Duration = Duration::from_millis(250);

/// What an overload leaves of the limit.
const DECREASE_FACTOR: f64 = 0.5;

/// Endpoints the registry keeps at most (a few hundred bytes each): grants
/// may name whole domains, so a plugin could otherwise make the host hold
/// one entry per name it invents.
pub const MAX_ENDPOINTS: usize = 1024;

/// How a provider instance's requests are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Through the shared adaptive limit of each endpoint, which grows no
    /// higher than `max` for this instance's sake.
    Adaptive {
        /// The ceiling this instance sets.
        max: usize,
    },
    /// Not limited beyond the per-call cap.
    Unlimited,
}

impl Default for Concurrency {
    fn default() -> Self {
        Self::Adaptive {
            max: DEFAULT_MAX_CONCURRENCY,
        }
    }
}

/// What the host knows of one endpoint's limit, for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointLoad {
    /// `scheme://host:port`.
    pub endpoint: String,
    /// The limit now (fractional: it grows by fractions).
    pub limit: f64,
    /// Its ceiling.
    pub ceiling: usize,
    /// Requests open now.
    pub open: usize,
    /// Requests waiting for their turn now.
    pub waiting: usize,
    /// Answers that counted as overload (5xx, 429, a failed request).
    pub overloads: u64,
    /// Times the limit was halved.
    pub decreases: u64,
    /// Turns given back for being held past their bound.
    pub expired: u64,
}

/// The adaptive limits of every endpoint plugins talk to, shared by the
/// whole host.
#[derive(Debug, Default)]
pub struct EndpointLimits {
    endpoints: Mutex<HashMap<String, Arc<AdaptiveLimit>>>,
}

impl EndpointLimits {
    /// The limit of `endpoint`, made on first use, its ceiling lowered to
    /// `max` when that is lower. `None` when [`MAX_ENDPOINTS`] endpoints
    /// are kept and every one is in use.
    pub fn limit_for(&self, endpoint: &str, max: usize) -> Option<Arc<AdaptiveLimit>> {
        let mut endpoints = self.endpoints.lock().expect("endpoint limits");
        let limit = match endpoints.get(endpoint) {
            Some(limit) => limit.clone(),
            None => {
                if endpoints.len() >= MAX_ENDPOINTS {
                    // Held by the map alone: no request open or waiting.
                    endpoints.retain(|_, limit| Arc::strong_count(limit) > 1);
                    if endpoints.len() >= MAX_ENDPOINTS {
                        return None;
                    }
                }
                let limit = Arc::new(AdaptiveLimit::new(endpoint, max));
                endpoints.insert(endpoint.to_string(), limit.clone());
                limit
            }
        };
        limit.lower_ceiling(max);
        Some(limit)
    }

    /// Every endpoint's limit and load, sorted by endpoint.
    pub fn loads(&self) -> Vec<EndpointLoad> {
        let endpoints: Vec<Arc<AdaptiveLimit>> = self
            .endpoints
            .lock()
            .expect("endpoint limits")
            .values()
            .cloned()
            .collect();
        let mut loads: Vec<EndpointLoad> = endpoints.iter().map(|limit| limit.load()).collect();
        loads.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        loads
    }
}

/// One endpoint's limit: the turns, who holds them and who waits.
#[derive(Debug)]
pub struct AdaptiveLimit {
    endpoint: String,
    state: Mutex<LimitState>,
}

/// A request waiting for a turn.
#[derive(Debug)]
struct Waiter {
    id: u64,
    tenant: Arc<str>,
    grant: oneshot::Sender<()>,
}

#[derive(Debug)]
struct LimitState {
    limit: f64,
    ceiling: usize,
    /// Turns held, in all and by tenant.
    open: usize,
    held: HashMap<Arc<str>, usize>,
    /// Requests waiting, in their order of arrival.
    queue: VecDeque<Waiter>,
    next_id: u64,
    /// The moving average of how long answered requests took.
    latency: Option<Duration>,
    last_decrease: Option<Instant>,
    overloads: u64,
    decreases: u64,
    expired: u64,
}

impl LimitState {
    /// The turns the limit allows at once.
    fn turns(&self) -> usize {
        (self.limit.floor() as usize).max(MIN_LIMIT)
    }

    /// The most turns one tenant holds at once: half of them, rounded up,
    /// so that the other tenants sharing the server always find room.
    fn share(&self) -> usize {
        self.turns().div_ceil(2)
    }

    fn held_by(&self, tenant: &str) -> usize {
        self.held.get(tenant).copied().unwrap_or(0)
    }

    /// Hands the free turns out: each to a waiting request of the tenant
    /// holding the fewest (the earliest among equals), never to one
    /// holding its share.
    fn grant(&mut self) {
        while self.open < self.turns() {
            let share = self.share();
            let Some(index) = (0..self.queue.len())
                .filter(|&i| self.held_by(&self.queue[i].tenant) < share)
                .min_by_key(|&i| (self.held_by(&self.queue[i].tenant), i))
            else {
                return;
            };
            let waiter = self.queue.remove(index).expect("an index of the queue");
            // Under the lock: a waiter that gave up is no longer queued.
            if waiter.grant.send(()).is_ok() {
                self.open += 1;
                *self.held.entry(waiter.tenant).or_default() += 1;
            }
        }
    }

    fn release(&mut self, tenant: &str) {
        self.open -= 1;
        if let Some(held) = self.held.get_mut(tenant) {
            *held -= 1;
            if *held == 0 {
                self.held.remove(tenant);
            }
        }
        self.grant();
    }
}

impl AdaptiveLimit {
    fn new(endpoint: &str, max: usize) -> Self {
        let ceiling = max.max(MIN_LIMIT);
        Self {
            endpoint: endpoint.to_string(),
            state: Mutex::new(LimitState {
                limit: INITIAL_LIMIT.min(ceiling) as f64,
                ceiling,
                open: 0,
                held: HashMap::new(),
                queue: VecDeque::new(),
                next_id: 0,
                latency: None,
                last_decrease: None,
                overloads: 0,
                decreases: 0,
                expired: 0,
            }),
        }
    }

    fn lower_ceiling(&self, max: usize) {
        let mut state = self.state.lock().expect("endpoint limit");
        let max = max.max(MIN_LIMIT);
        if max < state.ceiling {
            state.ceiling = max;
            state.limit = state.limit.min(max as f64);
        }
    }

    /// Waits for a turn for a request of `tenant`, and holds it until the
    /// permit is dropped. A wait given up (its call's deadline passed)
    /// leaves nothing behind.
    pub async fn acquire(self: Arc<Self>, tenant: Arc<str>) -> EndpointPermit {
        let (grant, granted) = oneshot::channel();
        let id = {
            let mut state = self.state.lock().expect("endpoint limit");
            let id = state.next_id;
            state.next_id += 1;
            state.queue.push_back(Waiter {
                id,
                tenant: tenant.clone(),
                grant,
            });
            state.grant();
            id
        };
        let mut waiting = Waiting {
            limit: &self,
            id,
            tenant: &tenant,
            granted: Some(granted),
        };
        if let Some(granted) = waiting.granted.as_mut() {
            // The sender goes only with a grant, or with `Waiting`.
            let _ = granted.await;
        }
        waiting.granted = None;
        drop(waiting);
        let in_use = {
            let state = self.state.lock().expect("endpoint limit");
            // In use: this request brought the open ones to half the limit.
            state.open as f64 * 2.0 >= state.limit
        };
        EndpointPermit {
            limit: self,
            tenant,
            sent_at: Instant::now(),
            in_use,
            answered: false,
        }
    }

    /// How long a request may hold its turn: eight times the moving
    /// average of the answers, within [`MIN_TURN`] and [`MAX_TURN`].
    fn turn_bound(&self) -> Duration {
        let state = self.state.lock().expect("endpoint limit");
        state
            .latency
            .map_or(MAX_TURN, |latency| (latency * 8).clamp(MIN_TURN, MAX_TURN))
    }

    fn answered(&self, sent_at: Instant, in_use: bool, overloaded: bool) {
        let mut state = self.state.lock().expect("endpoint limit");
        if overloaded {
            state.overloads += 1;
            let new_round = state.last_decrease.is_none_or(|at| sent_at > at);
            if new_round && state.limit > MIN_LIMIT as f64 {
                state.limit = (state.limit * DECREASE_FACTOR).max(MIN_LIMIT as f64);
                state.last_decrease = Some(Instant::now());
                state.decreases += 1;
            }
            return;
        }
        let took = sent_at.elapsed();
        state.latency = Some(match state.latency {
            Some(average) => average.mul_f64(0.8) + took.mul_f64(0.2),
            None => took,
        });
        if in_use && state.limit < state.ceiling as f64 {
            state.limit = (state.limit + 1.0 / state.limit).min(state.ceiling as f64);
            state.grant();
        }
    }

    fn load(&self) -> EndpointLoad {
        let state = self.state.lock().expect("endpoint limit");
        EndpointLoad {
            endpoint: self.endpoint.clone(),
            limit: state.limit,
            ceiling: state.ceiling,
            open: state.open,
            waiting: state.queue.len(),
            overloads: state.overloads,
            decreases: state.decreases,
            expired: state.expired,
        }
    }
}

/// A request waiting for its turn; given up, it leaves the queue, or gives
/// back a turn granted meanwhile.
struct Waiting<'a> {
    limit: &'a AdaptiveLimit,
    id: u64,
    tenant: &'a str,
    granted: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Some(mut granted) = self.granted.take() else {
            return;
        };
        let mut state = self.limit.state.lock().expect("endpoint limit");
        if granted.try_recv().is_ok() {
            state.release(self.tenant);
        } else {
            state.queue.retain(|waiter| waiter.id != self.id);
        }
    }
}

/// A request's turn at its endpoint, given back when dropped.
#[derive(Debug)]
pub struct EndpointPermit {
    limit: Arc<AdaptiveLimit>,
    tenant: Arc<str>,
    sent_at: Instant,
    in_use: bool,
    answered: bool,
}

impl EndpointPermit {
    /// Records how the server answered: `overloaded` for 5xx, 429 or a
    /// request that failed outright. Only the first answer counts.
    pub fn answered(&mut self, overloaded: bool) {
        if !std::mem::replace(&mut self.answered, true) {
            self.limit.answered(self.sent_at, self.in_use, overloaded);
        }
    }
}

impl Drop for EndpointPermit {
    fn drop(&mut self) {
        self.limit
            .state
            .lock()
            .expect("endpoint limit")
            .release(&self.tenant);
    }
}

/// Sends a request of `tenant` (`sending`) in a turn of `limit`: waits
/// for the turn, and gives it back when the response's head arrives, the
/// request fails, or the turn's bound passes (the request then goes on
/// outside the limit).
pub async fn in_turn<F>(
    limit: Arc<AdaptiveLimit>,
    tenant: Arc<str>,
    sending: F,
) -> Result<http::Response<wasmtime_wasi_http::WasiBody>, wasmtime_wasi_http::Error>
where
    F: Future<
        Output = Result<http::Response<wasmtime_wasi_http::WasiBody>, wasmtime_wasi_http::Error>,
    >,
{
    let bound = limit.turn_bound();
    let mut turn = limit.clone().acquire(tenant).await;
    let mut sending = std::pin::pin!(sending);
    match tokio::time::timeout(bound, sending.as_mut()).await {
        Ok(response) => {
            turn.answered(match &response {
                Ok(response) => is_overload(response.status()),
                Err(error) => failure_is_overload(error),
            });
            response
        }
        Err(_) => {
            // Held too long (a body written slowly, or a server that
            // stalls): the turn is given back for the other requests, and
            // this one goes on outside the limit. Not an overload: a
            // plugin could stall on purpose to lower every tenant's limit.
            limit.state.lock().expect("endpoint limit").expired += 1;
            drop(turn);
            sending.await
        }
    }
}

/// Whether an HTTP status says the server is over its capacity.
pub fn is_overload(status: http::StatusCode) -> bool {
    status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS
}

/// Whether a request that failed without an answer says the server is
/// over its capacity: it did not accept, answer or finish in time, or
/// dropped the connection. A refused grant, a certificate or a malformed
/// request says nothing of its load.
pub fn failure_is_overload(error: &wasmtime_wasi_http::Error) -> bool {
    use wasmtime_wasi_http::Error as E;
    matches!(
        error,
        E::Hyper(_)
            | E::Connect(_)
            | E::ConnectionRefused
            | E::ConnectionTerminated
            | E::ConnectionTimeout
            | E::ConnectionReadTimeout
            | E::ConnectionWriteTimeout
            | E::HttpResponseIncomplete
            | E::HttpResponseTimeout
    )
}

/// The endpoint of a URI: `scheme://host:port`, host lower-cased, port
/// explicit.
pub fn endpoint_of(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "http" { 80 } else { 443 });
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    format!("{scheme}://{host}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn limit(max: usize) -> Arc<AdaptiveLimit> {
        Arc::new(AdaptiveLimit::new("http://127.0.0.1:80", max))
    }

    #[test]
    fn successes_in_use_grow_the_limit_by_one_per_limits_worth() {
        let limit = limit(64);
        let start = Instant::now();
        for _ in 0..INITIAL_LIMIT {
            limit.answered(start, true, false);
        }
        let grown = limit.load().limit;
        assert!(
            (grown - (INITIAL_LIMIT as f64 + 1.0)).abs() < 0.1,
            "{grown}"
        );
        // Not in use: nothing learnt.
        limit.answered(start, false, false);
        assert_eq!(limit.load().limit, grown);
    }

    #[test]
    fn an_overload_halves_once_per_round_and_never_below_one() {
        let limit = limit(64);
        let before = Instant::now();
        limit.answered(before, true, true);
        assert_eq!(limit.load().limit, INITIAL_LIMIT as f64 / 2.0);
        // Sent before the decrease: the same round.
        limit.answered(before, true, true);
        assert_eq!(limit.load().limit, INITIAL_LIMIT as f64 / 2.0);
        assert_eq!(limit.load().overloads, 2);
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(1));
            limit.answered(Instant::now(), true, true);
        }
        assert_eq!(limit.load().limit, MIN_LIMIT as f64);
        // 8, 4, 2, 1: at the floor nothing is left to halve.
        assert_eq!(limit.load().decreases, 3);
    }

    #[test]
    fn the_ceiling_is_the_smallest_max_of_its_users() {
        let limits = EndpointLimits::default();
        let one = limits.limit_for("http://a:80", 64).unwrap();
        limits.limit_for("http://a:80", 3).unwrap();
        assert_eq!(one.load().limit, 3.0);
        assert_eq!(one.load().ceiling, 3);
        limits.limit_for("http://a:80", 64).unwrap();
        assert_eq!(one.load().ceiling, 3);
        for _ in 0..100 {
            one.answered(Instant::now(), true, false);
        }
        assert_eq!(one.load().limit, 3.0);
    }

    #[test]
    fn the_registry_forgets_idle_endpoints_and_never_holds_more_than_its_cap() {
        let limits = EndpointLimits::default();
        let busy: Vec<Arc<AdaptiveLimit>> = (0..MAX_ENDPOINTS)
            .map(|i| limits.limit_for(&format!("http://h{i}:80"), 8).unwrap())
            .collect();
        assert!(
            limits.limit_for("http://new:80", 8).is_none(),
            "every kept endpoint is in use"
        );
        drop(busy);
        assert!(limits.limit_for("http://new:80", 8).is_some());
        assert_eq!(limits.loads().len(), 1, "the idle ones were forgotten");
    }

    #[test]
    fn endpoints_name_scheme_host_and_port() {
        let uri: http::Uri = "http://PDNS.example:8081/api/v1?x=1".parse().unwrap();
        assert_eq!(endpoint_of(&uri), "http://pdns.example:8081");
        let uri: http::Uri = "https://example.com/".parse().unwrap();
        assert_eq!(endpoint_of(&uri), "https://example.com:443");
    }

    /// A server that answers 500 to every request above `threshold` open at
    /// once, and takes `service` to answer the others. Returns the share
    /// of requests answered 500 over the last half of the run, and the
    /// limit at the end.
    async fn against_a_server_of(threshold: usize, clients: usize, requests: usize) -> (f64, f64) {
        let limit = limit(DEFAULT_MAX_CONCURRENCY);
        let open = Arc::new(AtomicUsize::new(0));
        let refused_late = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..clients)
            .map(|client| {
                // Ten tenants, four clients each.
                let client: Arc<str> = format!("tenant{}", client % 10).into();
                let (limit, open) = (limit.clone(), open.clone());
                let (refused_late, done) = (refused_late.clone(), done.clone());
                tokio::spawn(async move {
                    for _ in 0..requests / clients {
                        let mut permit = limit.clone().acquire(client.clone()).await;
                        let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                        let overloaded = now > threshold;
                        tokio::time::sleep(Duration::from_millis(if overloaded { 1 } else { 5 }))
                            .await;
                        open.fetch_sub(1, Ordering::SeqCst);
                        permit.answered(overloaded);
                        let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                        if overloaded && finished > requests / 2 {
                            refused_late.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let late = refused_late.load(Ordering::SeqCst) as f64 / (requests / 2) as f64;
        (late, limit.load().limit)
    }

    #[tokio::test]
    async fn one_tenant_holds_at_most_half_the_turns_and_the_fewest_holder_goes_first() {
        let limit = limit(64);
        let (greedy, calm): (Arc<str>, Arc<str>) = ("greedy".into(), "calm".into());
        let mut held = Vec::new();
        for _ in 0..INITIAL_LIMIT / 2 {
            held.push(limit.clone().acquire(greedy.clone()).await);
        }
        // Its share taken, the greedy tenant waits, free turns or not.
        let more = tokio::time::timeout(
            Duration::from_millis(50),
            limit.clone().acquire(greedy.clone()),
        )
        .await;
        assert!(more.is_err(), "a tenant took more than half the turns");
        assert_eq!(limit.load().waiting, 0, "a wait given up left the queue");
        // Another tenant finds room at once.
        let calm_turn = tokio::time::timeout(
            Duration::from_millis(50),
            limit.clone().acquire(calm.clone()),
        )
        .await
        .expect("the calm tenant found no room");
        assert_eq!(limit.load().open, INITIAL_LIMIT / 2 + 1);
        // With every turn taken, a freed one goes to the tenant holding
        // fewer, though the greedy one asked first.
        let rest: Vec<_> = {
            let mut rest = Vec::new();
            for _ in 0..INITIAL_LIMIT / 2 - 1 {
                rest.push(
                    limit
                        .clone()
                        .acquire(format!("other{}", rest.len()).into())
                        .await,
                );
            }
            rest
        };
        assert_eq!(limit.load().open, INITIAL_LIMIT);
        let greedy_waits = tokio::spawn(limit.clone().acquire(greedy.clone()));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let calm_waits = tokio::spawn(limit.clone().acquire(calm.clone()));
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(held.pop());
        let calm_second = tokio::time::timeout(Duration::from_millis(200), calm_waits)
            .await
            .expect("the freed turn went to the greedy tenant")
            .unwrap();
        assert!(!greedy_waits.is_finished());
        greedy_waits.abort();
        drop((calm_turn, calm_second, rest, held));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(limit.load().open, 0, "every turn came back");
        assert_eq!(limit.load().waiting, 0);
    }

    #[tokio::test]
    async fn a_request_past_its_bound_gives_its_turn_back() {
        let limit = limit(64);
        let tenant: Arc<str> = "slow".into();
        limit.answered(Instant::now(), false, false);
        assert_eq!(limit.turn_bound(), MIN_TURN);
        let started = Instant::now();
        let stalled = tokio::spawn(in_turn(limit.clone(), tenant.clone(), async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Err(wasmtime_wasi_http::Error::ConnectionTimeout)
        }));
        tokio::time::sleep(MIN_TURN + Duration::from_millis(100)).await;
        assert_eq!(limit.load().open, 0, "the stalled request kept its turn");
        assert_eq!(limit.load().expired, 1);
        assert_eq!(limit.load().overloads, 0, "a stall is no overload");
        assert!(started.elapsed() < Duration::from_secs(5));
        stalled.abort();
    }

    /// On the runtime's own clock, paused: the server's 1 and 5 ms answers
    /// take exactly that however loaded the machine running the test is
    /// (starved of CPU, a real-time run once let the limit end past its
    /// bound).
    #[tokio::test(start_paused = true)]
    async fn the_limit_converges_under_a_server_that_refuses_crowds() {
        let threshold = 4;
        let (refused, limit) = against_a_server_of(threshold, 40, 2_000).await;
        // AIMD probes: the limit saws between half the threshold and just
        // above it, so a small share of requests still meets a 500.
        assert!(
            limit <= (threshold + 2) as f64 && limit >= MIN_LIMIT as f64,
            "the limit ended at {limit}"
        );
        assert!(
            refused < 0.2,
            "{:.0}% of the later requests were refused",
            refused * 100.0
        );
    }
}
