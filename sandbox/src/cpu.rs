//! Guest CPU: the threads plugin code runs on, and the share of them each
//! tenant gets.
//!
//! Guest code never runs on the daemon's own async workers, which serve the
//! API and the webhooks and renew leases: plugin calls run on a runtime of
//! their own, whose threads run at a lower scheduling priority
//! ([`GUEST_NICE`]) so that the daemon's threads win whenever the cores are
//! contended. The tenants' workers, which make the calls, run there too
//! ([`GuestCpu::spawn_caller`]): a call they make is first polled where it
//! is made, and goes on, if it must, as a task of its own on the same
//! thread, so that it is spared the two hand-offs between threads a call
//! made from elsewhere (a preview, a command) pays (on a virtual machine,
//! waking a sleeping thread costs tens of microseconds, more than a
//! trivial call itself). On those threads a call runs guest code only
//! while it holds a *turn*; there is one turn per core. A turn
//! lasts one poll of the call: until the guest yields at an epoch tick or
//! waits on the host (an HTTP answer, say). A turn given back goes to the
//! waiting call whose tenant has used the least CPU lately (decayed with a
//! half-life of [`USAGE_HALF_LIFE`]), so tenants share the cores whatever
//! number of calls each runs; and a call whose tenant has used less than a
//! turn holder's advances the engine's epoch at once, so that the holder
//! yields within microseconds instead of at the next tick. A tenant that
//! computes little thus gets a core as soon as it asks, beside any number
//! of tenants spinning at their full slot count.

use super::limits;
use std::cell::Cell;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wasmtime::Engine;

/// How far below the daemon's own threads guest threads run (a `nice`
/// value, 0–19): at 19, Linux gives a busy daemon thread about 98% of a
/// core contended by a guest thread (weights 1024 against 15), so the API,
/// lease renewals, the store and the servers a provider talks to on the
/// same machine never wait on guest code, while guest code still uses
/// every core they leave idle. Measured against 10 (about 90%): the calm
/// tenant of `cairn-bench fairness` went from 1.17–1.21× to 1.10–1.14× at
/// the 90th percentile.
pub const GUEST_NICE: i32 = 19;

/// How quickly a tenant's past CPU use is forgotten: after this long, half
/// of it counts. Long enough that tenants spinning for seconds are told
/// apart by what they used, short enough that a tenant that spun a minute
/// ago is not held back now.
pub const USAGE_HALF_LIFE: Duration = Duration::from_secs(1);

/// How much less CPU a waiting call's tenant must have used than a turn
/// holder's before it interrupts the holder rather than wait for its tick:
/// one epoch tick, so that two tenants spinning side by side take turns at
/// the tick rather than interrupt each other without end.
pub const PREEMPT_MARGIN: Duration = limits::EPOCH_TICK;

/// How long a dropped host waits, on a thread of its own, for the calls
/// still running to stop at their next epoch tick before it stops the
/// ticker: ticks at [`limits::EPOCH_TICK`] reach every guest in
/// far less.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

thread_local! {
    /// The guest threads this thread is one of (a [`GuestCpu`]'s `id`), 0
    /// on every other thread.
    static GUEST_THREADS_OF: Cell<u64> = const { Cell::new(0) };
}

/// The next [`GuestCpu`]'s `id` (a process may hold several hosts).
static NEXT_GUEST_CPU: AtomicU64 = AtomicU64::new(1);

/// The runtime plugin calls run on, the turns that share its cores, and
/// the ticker that makes guests yield.
pub struct GuestCpu {
    /// Tells its threads from others' ([`GUEST_THREADS_OF`]).
    id: u64,
    runtime: Option<tokio::runtime::Runtime>,
    turns: Arc<Turns>,
    ticker: Option<EpochTicker>,
}

impl GuestCpu {
    /// Starts one thread per turn, as many again for the callers' own code
    /// ([`GuestCpu::spawn_caller`]), so that tenants' workers find a thread
    /// while every turn runs guest code, and one more, which is free to
    /// notice answers and hand turns over while every thread is busy.
    /// `turns` is the number of cores guest code may use at once.
    pub fn start(engine: Engine, turns: usize) -> std::io::Result<Self> {
        let turns = turns.max(1);
        let id = NEXT_GUEST_CPU.fetch_add(1, Ordering::Relaxed);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2 * turns + 1)
            .thread_name("cairn-guest")
            .on_thread_start(move || {
                lower_this_thread();
                GUEST_THREADS_OF.set(id);
            })
            .enable_all()
            .build()?;
        Ok(Self {
            id,
            runtime: Some(runtime),
            ticker: Some(EpochTicker::start(engine.clone())),
            // Every running guest reaches its epoch callback and yields;
            // the deadlines are wall-clock, so an early tick moves none.
            turns: Arc::new(Turns::new(
                turns,
                Box::new(move || engine.increment_epoch()),
            )),
        })
    }

    /// Runs `call` on the guest threads, taking a turn of `tenant`'s each
    /// time it is polled. Made from elsewhere, the call is spawned there
    /// and awaited. Made on them (by a tenant's worker), its first poll is
    /// made where it is awaited, so that a call that ends in it (one that
    /// makes no request, as most checks) is never handed over; a call
    /// still going after it goes on as a task of its own, spawned on the
    /// same thread, so that every poll of guest code is a task's poll of
    /// its own, preempted and scheduled as any other (calls polled inside
    /// their worker's task could hold a thread for several turns in one of
    /// its polls, and a task woken on that thread waited: the calm
    /// tenant's 90th percentile in `cairn-bench fairness` went from
    /// 1.05–1.10× to 1.4–1.7× in half the runs). Dropping the returned
    /// future stops the call; `None` says it panicked.
    pub fn run<F>(
        &self,
        tenant: Arc<str>,
        call: F,
    ) -> impl Future<Output = Option<F::Output>> + use<F>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (guests, runtime) = (self.id, self.runtime().clone());
        let mut call = Fair::new(call, tenant, self.turns.clone());
        async move {
            if GUEST_THREADS_OF.get() == guests {
                let first = std::future::poll_fn(|cx| {
                    let poll =
                        std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut call).poll(cx)));
                    Poll::Ready(poll)
                })
                .await;
                match first {
                    Ok(Poll::Ready(value)) => return Some(value),
                    Ok(Poll::Pending) => {}
                    Err(_panic) => return None,
                }
            }
            let handle = AbortOnDrop(runtime.spawn(call));
            (&mut { handle }.0).await.ok()
        }
    }

    /// Spawns `caller`, host code that makes plugin calls (a tenant's
    /// worker), on the guest threads, at their priority: the calls it makes
    /// are then made where it runs ([`GuestCpu::run`]). Its own code takes
    /// no turn.
    pub fn spawn_caller<F>(&self, caller: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime().spawn(caller)
    }

    fn runtime(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("the guest runtime runs until the host is dropped")
            .handle()
    }

    /// CPU `tenant` used lately, decayed (see [`USAGE_HALF_LIFE`]).
    #[cfg(test)]
    fn usage(&self, tenant: &str) -> Duration {
        let state = self.turns.state.lock().expect("guest turns");
        let usage = state
            .usage
            .get(tenant)
            .map_or(0.0, |usage| usage.at(Instant::now()));
        Duration::from_secs_f64(usage)
    }
}

impl Drop for GuestCpu {
    fn drop(&mut self) {
        // The host may be dropped inside another runtime, where blocking
        // is not allowed: a thread of its own waits for the calls still
        // running to stop, which a spinning guest does only at a tick, so
        // the ticker stops last.
        let (runtime, ticker) = (self.runtime.take(), self.ticker.take());
        let stopping = std::thread::Builder::new()
            .name("cairn-guest-stop".into())
            .spawn(move || {
                if let Some(runtime) = runtime {
                    runtime.shutdown_timeout(SHUTDOWN_WAIT);
                }
                if let Some(ticker) = ticker {
                    ticker.stop();
                }
            });
        if let Err(error) = stopping {
            tracing::warn!(%error, "cannot stop the guest threads");
        }
    }
}

/// Advances the engine's epoch every [`limits::EPOCH_TICK`] on its own
/// thread, so that a guest past its deadline is interrupted even when every
/// async worker is busy.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cairn-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(limits::EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("the epoch ticker thread starts");
        Self { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// Lowers the calling thread's priority to [`GUEST_NICE`]. On Linux `nice`
/// is per thread; a failure (a sandbox forbidding it) leaves the thread at
/// the daemon's priority, which only weakens the preference.
fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; `gettid` names
    // the calling thread.
    unsafe {
        let thread = libc::gettid() as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, thread, GUEST_NICE);
    }
}

/// Aborts the guest task when the caller stops waiting for it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A tenant's CPU use, decayed.
#[derive(Clone, Copy)]
struct Usage {
    /// Seconds, as of `at`.
    seconds: f64,
    at: Instant,
}

impl Usage {
    /// The use as of `now`.
    fn at(&self, now: Instant) -> f64 {
        let age = now.saturating_duration_since(self.at).as_secs_f64();
        self.seconds * (-age / USAGE_HALF_LIFE.as_secs_f64()).exp2()
    }
}

/// A call waiting for a turn.
struct Waiter {
    id: u64,
    tenant: Arc<str>,
    waker: Waker,
    /// A turn was handed to it and is kept for it until it is polled.
    granted: bool,
}

/// The turns, who holds them and who waits.
struct Turns {
    /// Makes every running guest yield at once (advances the epoch).
    preempt: Box<dyn Fn() + Send + Sync>,
    state: Mutex<TurnState>,
    ids: AtomicU64,
}

struct TurnState {
    free: usize,
    /// The calls holding a turn, with their tenants.
    holders: Vec<(u64, Arc<str>)>,
    /// In the order they came.
    waiters: Vec<Waiter>,
    usage: HashMap<Arc<str>, Usage>,
}

impl TurnState {
    fn usage_of(&self, tenant: &str, now: Instant) -> f64 {
        self.usage.get(tenant).map_or(0.0, |usage| usage.at(now))
    }

    /// The index of the waiter to hand a turn to: the first of the tenant
    /// that used the least.
    fn next_waiter(&self, now: Instant) -> Option<usize> {
        self.waiters
            .iter()
            .enumerate()
            .filter(|(_, waiter)| !waiter.granted)
            .min_by(|(a_at, a), (b_at, b)| {
                self.usage_of(&a.tenant, now)
                    .total_cmp(&self.usage_of(&b.tenant, now))
                    .then(a_at.cmp(b_at))
            })
            .map(|(at, _)| at)
    }

    /// Hands a turn given back to the next waiter (whose waker is
    /// returned, to be woken outside the lock), or frees it.
    fn pass_on(&mut self, now: Instant) -> Option<Waker> {
        match self.next_waiter(now) {
            Some(at) => {
                let waiter = &mut self.waiters[at];
                waiter.granted = true;
                Some(waiter.waker.clone())
            }
            None => {
                self.free += 1;
                None
            }
        }
    }
}

impl Turns {
    fn new(count: usize, preempt: Box<dyn Fn() + Send + Sync>) -> Self {
        Self {
            preempt,
            state: Mutex::new(TurnState {
                free: count,
                holders: Vec::new(),
                waiters: Vec::new(),
                usage: HashMap::new(),
            }),
            ids: AtomicU64::new(0),
        }
    }

    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Takes a turn for call `id` if one is free or was handed to it;
    /// otherwise queues it (or refreshes its waker) and returns false.
    fn take(&self, id: u64, tenant: &Arc<str>, waker: &Waker) -> bool {
        let now = Instant::now();
        let mut state = self.state.lock().expect("guest turns");
        if let Some(at) = state.waiters.iter().position(|waiter| waiter.id == id) {
            if state.waiters[at].granted {
                state.waiters.remove(at);
                state.holders.push((id, tenant.clone()));
                return true;
            }
            state.waiters[at].waker.clone_from(waker);
            return false;
        }
        if state.free > 0 {
            state.free -= 1;
            state.holders.push((id, tenant.clone()));
            return true;
        }
        let mine = state.usage_of(tenant, now);
        let margin = PREEMPT_MARGIN.as_secs_f64();
        let preempt = state
            .holders
            .iter()
            .any(|(_, holder)| state.usage_of(holder, now) > mine + margin);
        state.waiters.push(Waiter {
            id,
            tenant: tenant.clone(),
            waker: waker.clone(),
            granted: false,
        });
        drop(state);
        if preempt {
            (self.preempt)();
        }
        false
    }

    /// Gives call `id`'s turn back, charging `used` to `tenant`. A call
    /// that can go on at once (it yielded at a tick) passes `wants_more`,
    /// its waker, and competes for the turn with those already waiting.
    fn give_back(&self, id: u64, tenant: &Arc<str>, used: Duration, wants_more: Option<Waker>) {
        let now = Instant::now();
        let mut state = self.state.lock().expect("guest turns");
        let seconds = state.usage_of(tenant, now) + used.as_secs_f64();
        state
            .usage
            .insert(tenant.clone(), Usage { seconds, at: now });
        state.holders.retain(|(holder, _)| *holder != id);
        if let Some(waker) = wants_more {
            state.waiters.push(Waiter {
                id,
                tenant: tenant.clone(),
                waker,
                granted: false,
            });
        }
        let next = state.pass_on(now);
        drop(state);
        if let Some(waker) = next {
            waker.wake();
        }
    }

    /// Forgets call `id`, which ended or was cancelled: its place in the
    /// queue, and the turn handed to it or held, if any.
    fn forget(&self, id: u64) {
        let now = Instant::now();
        let mut state = self.state.lock().expect("guest turns");
        let held = state.holders.len();
        state.holders.retain(|(holder, _)| *holder != id);
        let mut had_turn = state.holders.len() < held;
        if let Some(at) = state.waiters.iter().position(|waiter| waiter.id == id) {
            had_turn |= state.waiters.remove(at).granted;
        }
        let next = if had_turn { state.pass_on(now) } else { None };
        drop(state);
        if let Some(waker) = next {
            waker.wake();
        }
    }
}

/// A call that runs only while it holds a turn.
struct Fair<F: Future> {
    call: Pin<Box<F>>,
    tenant: Arc<str>,
    id: u64,
    turns: Arc<Turns>,
    wakes: Arc<WakeRecorder>,
}

/// The waker a call is polled with: it tells whether the call woke itself
/// during the poll (a guest yielding at its tick), which means it can go
/// on at once, and passes every wake on to the task's own waker.
#[derive(Default)]
struct WakeRecorder {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl std::task::Wake for WakeRecorder {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if let Some(task) = &*self.task.lock().expect("task waker") {
            task.wake_by_ref();
        }
    }
}

impl<F: Future> Fair<F> {
    fn new(call: F, tenant: Arc<str>, turns: Arc<Turns>) -> Self {
        Self {
            call: Box::pin(call),
            tenant,
            id: turns.next_id(),
            turns,
            wakes: Arc::new(WakeRecorder::default()),
        }
    }
}

impl<F: Future> Future for Fair<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        if !this.turns.take(this.id, &this.tenant, cx.waker()) {
            return Poll::Pending;
        }
        this.wakes
            .task
            .lock()
            .expect("task waker")
            .clone_from(&Some(cx.waker().clone()));
        this.wakes.woken.store(false, Ordering::Release);
        let recorder = Waker::from(this.wakes.clone());
        let started = Instant::now();
        let outcome = this.call.as_mut().poll(&mut Context::from_waker(&recorder));
        let runnable = outcome.is_pending() && this.wakes.woken.load(Ordering::Acquire);
        this.turns.give_back(
            this.id,
            &this.tenant,
            started.elapsed(),
            runnable.then(|| cx.waker().clone()),
        );
        outcome
    }
}

impl<F: Future> Drop for Fair<F> {
    fn drop(&mut self) {
        self.turns.forget(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        Engine::new(&config).expect("an engine")
    }

    /// Burns `for_how_long` of CPU in slices of at most 10 ms, yielding
    /// between them like a guest at its epoch ticks.
    async fn spin(for_how_long: Duration) {
        let until = Instant::now() + for_how_long;
        while Instant::now() < until {
            let slice = until.min(Instant::now() + Duration::from_millis(10));
            while Instant::now() < slice {
                std::hint::spin_loop();
            }
            yield_like_a_guest().await;
        }
    }

    /// Yields the way wasmtime does at an epoch tick: wakes itself during
    /// the poll, then returns pending once.
    async fn yield_like_a_guest() {
        let mut yielded = false;
        std::future::poll_fn(move |cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
    }

    /// Runs five calls spinning for 3 s, four of tenant `many` and one of
    /// `one`, on one turn, made from `made_from`, and returns the share of
    /// the turn `one` got in the first 1.5 s and the most calls that ever
    /// ran at once.
    async fn share_of_the_calm_call(made_from: Caller) -> (f64, usize) {
        let cpu = Arc::new(GuestCpu::start(engine(), 1).expect("guest threads"));
        let (running, most) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let calls: Vec<_> = ["many", "many", "many", "many", "one"]
            .into_iter()
            .map(|tenant| {
                let counted = counting(&running, &most, spin(Duration::from_secs(3)));
                let call = cpu.run(tenant.into(), counted);
                match made_from {
                    Caller::Elsewhere => tokio::spawn(call),
                    Caller::TenantWorker => cpu.spawn_caller(call),
                }
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (many, one) = (cpu.usage("many"), cpu.usage("one"));
        for call in calls {
            call.abort();
        }
        let share = one.as_secs_f64() / (many + one).as_secs_f64();
        (share, most.load(Ordering::SeqCst) as usize)
    }

    /// Where the calls of a test are made from.
    #[derive(Clone, Copy, Debug)]
    enum Caller {
        /// The test's own runtime: each call is handed to the guest threads.
        Elsewhere,
        /// A task on the guest threads ([`GuestCpu::spawn_caller`]), as a
        /// tenant's worker: each call is first polled in place.
        TenantWorker,
    }

    /// `call`, counting in `running` the calls between their polls' start
    /// and end, and keeping the most in `most`.
    fn counting<F: Future>(
        running: &Arc<AtomicU64>,
        most: &Arc<AtomicU64>,
        call: F,
    ) -> impl Future<Output = F::Output> + use<F> {
        let (running, most) = (running.clone(), most.clone());
        let mut call = Box::pin(call);
        std::future::poll_fn(move |cx| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let outcome = call.as_mut().poll(cx);
            running.fetch_sub(1, Ordering::SeqCst);
            outcome
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spinning_tenants_share_the_turns_whatever_their_call_counts() {
        for made_from in [Caller::Elsewhere, Caller::TenantWorker] {
            let (share, most) = share_of_the_calm_call(made_from).await;
            assert!(
                (0.3..=0.7).contains(&share),
                "made from {made_from:?}, the one-call tenant got {share:.2} of the turn"
            );
            assert_eq!(
                most, 1,
                "made from {made_from:?}, calls ran beside the one turn"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_workers_call_that_ends_in_its_first_poll_stays_in_the_workers_task() {
        let cpu = Arc::new(GuestCpu::start(engine(), 1).expect("guest threads"));
        let worker = cpu.clone();
        let (caller, at_once, later) = cpu
            .spawn_caller(async move {
                let at_once = worker.run("a".into(), async { tokio::task::id() }).await;
                let later = worker
                    .run("a".into(), async {
                        yield_like_a_guest().await;
                        tokio::task::id()
                    })
                    .await;
                (tokio::task::id(), at_once, later)
            })
            .await
            .expect("the worker ran");
        assert_eq!(
            at_once,
            Some(caller),
            "a call that ended at once was handed over"
        );
        // One that yields goes on as a task of its own.
        assert!(later.is_some_and(|task| task != caller), "{later:?}");
        // From elsewhere, it is a task of its own on the guest threads.
        let elsewhere = cpu.run("a".into(), async { GUEST_THREADS_OF.get() }).await;
        assert_eq!(elsewhere, Some(cpu.id));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_made_inside_a_call_waits_for_its_callers_turn_without_deadlock() {
        let cpu = Arc::new(GuestCpu::start(engine(), 1).expect("guest threads"));
        let inner = cpu.clone();
        let nested = cpu.run("a".into(), async move {
            inner.run("a".into(), async { 42 }).await
        });
        let outcome = tokio::time::timeout(Duration::from_secs(5), nested)
            .await
            .expect("the inner call waited for ever for the turn its caller holds");
        assert_eq!(outcome, Some(Some(42)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_workers_call_that_panics_gives_its_turn_back() {
        let cpu = Arc::new(GuestCpu::start(engine(), 1).expect("guest threads"));
        let worker = cpu.clone();
        let (at_once, later, next) = cpu
            .spawn_caller(async move {
                let at_once = worker
                    .run("a".into(), async { panic!("a host function's bug") })
                    .await;
                let later = worker
                    .run("a".into(), async {
                        yield_like_a_guest().await;
                        panic!("a host function's bug")
                    })
                    .await;
                let next = tokio::time::timeout(
                    Duration::from_secs(5),
                    worker.run("b".into(), async { 1 }),
                )
                .await;
                (at_once, later, next)
            })
            .await
            .expect("the worker outlived its calls' panics");
        assert_eq!(at_once, None::<()>);
        assert_eq!(later, None::<()>);
        assert_eq!(next.expect("the turn was lost"), Some(1));
    }

    /// One turn, with a counter of the preemptions it asked for.
    fn one_turn() -> (Turns, Arc<AtomicU64>) {
        let preempted = Arc::new(AtomicU64::new(0));
        let counter = preempted.clone();
        let turns = Turns::new(
            1,
            Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        );
        (turns, preempted)
    }

    fn tenant(name: &str) -> Arc<str> {
        name.into()
    }

    #[test]
    fn a_waiter_whose_tenant_used_less_interrupts_the_holder_and_goes_first() {
        let (turns, preempted) = one_turn();
        let noop = Waker::noop();
        let (spinner, calm) = (tenant("spinner"), tenant("calm"));
        // The spinner has used 50 ms and holds the turn again.
        assert!(turns.take(1, &spinner, noop));
        turns.give_back(1, &spinner, Duration::from_millis(50), None);
        assert!(turns.take(1, &spinner, noop));
        // Another spinner call waits its turn without interrupting.
        assert!(!turns.take(2, &spinner, noop));
        assert_eq!(preempted.load(Ordering::SeqCst), 0);
        // The calm call, which used nothing, interrupts the holder…
        assert!(!turns.take(3, &calm, noop));
        assert_eq!(preempted.load(Ordering::SeqCst), 1);
        // …and gets the turn before the spinner call that came first.
        turns.give_back(1, &spinner, Duration::from_millis(1), Some(noop.clone()));
        assert!(!turns.take(2, &spinner, noop), "the spinner went first");
        assert!(turns.take(3, &calm, noop));
    }

    #[test]
    fn a_call_cancelled_with_a_turn_handed_to_it_passes_the_turn_on() {
        let (turns, _) = one_turn();
        let noop = Waker::noop();
        assert!(turns.take(1, &tenant("a"), noop));
        assert!(!turns.take(2, &tenant("b"), noop));
        // The turn is handed to call 2, which is dropped before it runs.
        turns.give_back(1, &tenant("a"), Duration::ZERO, None);
        turns.forget(2);
        assert!(turns.take(3, &tenant("c"), noop), "the turn was lost");
        // And a call dropped while it holds a turn gives it back.
        turns.forget(3);
        assert!(turns.take(4, &tenant("d"), noop), "the turn was lost");
    }

    #[tokio::test]
    async fn guest_threads_run_below_the_daemons_priority() {
        let cpu = GuestCpu::start(engine(), 1).expect("guest threads");
        // SAFETY: reads the calling thread's nice value.
        let nice = cpu
            .run("a".into(), async {
                unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
            })
            .await;
        assert_eq!(nice, Some(GUEST_NICE));
    }
}
