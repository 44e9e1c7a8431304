//! Sharing tenants between daemons: each daemon registers in the store,
//! holds the leases of its share of the tenants, renews them, and runs a
//! worker for each tenant it holds — and only for those.
//!
//! Timing, for a lease period `L` (`[daemon] lease`): every `L/5` a daemon
//! renews its leases for `4L/5` and looks for tenants to take; so a daemon
//! that stops (killed, paused, cut off from the store) has its tenants
//! taken over within `L`, and a live one can miss three renewals in a row
//! before its leases run out. A worker stops writing the moment its lease
//! runs out by the daemon's own monotonic clock, before the store's expiry.
//!
//! Tenants arrive as their plugins load ([`super::loading`]), each on its
//! own: a look is made on each arrival, so a tenant is taken the moment it
//! is loaded; one whose plugins do not load here is left to the daemons
//! where they do.
//!
//! Share: with `N` daemons alive and `T` tenants, each holds at most
//! `ceil(T/N)`. A daemon above its share gives the surplus up (after the
//! runs in flight end); one below takes free leases, preferring tenants by
//! a hash of its name and theirs, so that daemons starting together reach
//! for different tenants. Shares only move when `N` does: no thrashing.
//!
//! A store outage moves nothing ([`takeover`]): a daemon takes a lease
//! that ran out, and gives tenants up, only once it has seen the store
//! answer without a break for a whole lease period, so the daemons that
//! held leases before the outage renew them, with the same tokens, first.

use super::alerts::Alerts;
use super::http::TenantHandle;
use super::metrics::Metrics;
use super::worker::Worker;
use crate::host::PluginHost;
use crate::store::{Fence, LeaseRecord, StateStore, StoreError, TriggerListener};
use crate::tenant::Tenant;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use takeover::{Found, Rebalance, StoreWatch};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub mod takeover;

/// How often a daemon looks for triggers that other daemons received for
/// its tenants, when nothing tells it (SQLite): a webhook that lands on
/// another daemon costs at most this much more than one that lands on the
/// holder. On PostgreSQL a notification wakes it at once.
const TRIGGER_POLL: Duration = Duration::from_millis(200);

/// The lease timing derived from the lease period.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTiming {
    /// The lease period (`[daemon] lease`).
    pub period: Duration,
    /// How long a renewal keeps a lease: four fifths of the period.
    pub ttl: Duration,
    /// How often leases are renewed and free tenants looked for.
    pub tick: Duration,
}

impl LeaseTiming {
    /// The timing of a lease period.
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            ttl: period.mul_f64(0.8),
            tick: period / 5,
        }
    }
}

/// What this daemon knows of its standing in the store, for `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct Standing {
    /// Why the store did not answer the last look; `None` while it answers.
    pub unreachable: Option<String>,
    /// Whether this daemon is listed among the daemons sharing the store
    /// (`/api/v1/cluster`): its heartbeat is written and it has not left.
    pub registered: bool,
}

/// This daemon's standing, shared with the HTTP surface.
pub type StoreHealth = Arc<RwLock<Standing>>;

/// A tenant as this daemon holds it.
enum Slot {
    /// Its plugins are not loaded here (yet, or its worker crashed): not
    /// taken.
    Unloaded,
    /// Loaded, not held.
    Idle(Arc<Tenant>),
    /// Held: its worker runs.
    Running {
        fence: Arc<Fence>,
        cancel: CancellationToken,
        task: JoinHandle<Arc<Tenant>>,
    },
    /// Being given up (or lost): the worker finishes its run, under the
    /// lease while it is still renewed.
    Stopping {
        fence: Arc<Fence>,
        task: JoinHandle<Option<Arc<Tenant>>>,
    },
}

/// What a worker needs besides its tenant.
#[derive(Clone)]
pub struct WorkerContext {
    /// The unfenced store; each worker gets a fenced copy.
    pub store: StateStore,
    /// Alert sinks.
    pub alerts: Alerts,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Per tenant: status and trigger.
    pub handles: Arc<BTreeMap<String, TenantHandle>>,
    /// The daemon's shutdown.
    pub shutdown: CancellationToken,
    /// The plugin host: workers run on its guest threads, where the calls
    /// they make are polled without a hand-off between threads.
    pub host: Arc<PluginHost>,
    /// Held tenants' inventories of at least this many objects are kept
    /// in memory (`[daemon] keep_inventory_from`).
    pub keep_inventory_from: usize,
}

/// This daemon's side of the sharing: the leases it holds and the
/// workers of their tenants.
pub struct TenantLeases {
    id: String,
    address: String,
    timing: LeaseTiming,
    context: WorkerContext,
    slots: BTreeMap<String, Slot>,
    /// Tenants whose plugins have just loaded.
    loaded: mpsc::UnboundedReceiver<Arc<Tenant>>,
    health: StoreHealth,
    /// Since when the store has answered without a break.
    watch: StoreWatch,
    /// Whether the current wait for a settled store was logged.
    deferral_logged: bool,
    /// The store came back: wake the workers once the leases are renewed.
    wake_after_renewal: bool,
}

impl TenantLeases {
    /// The daemon `id`, listening at `address`, with the tenants `names`,
    /// each taken once it arrives on `loaded`.
    pub fn new(
        id: String,
        address: String,
        period: Duration,
        context: WorkerContext,
        names: impl IntoIterator<Item = String>,
        loaded: mpsc::UnboundedReceiver<Arc<Tenant>>,
        health: StoreHealth,
    ) -> Self {
        let slots = names
            .into_iter()
            .map(|name| (name, Slot::Unloaded))
            .collect();
        let timing = LeaseTiming::new(period);
        Self {
            id,
            address,
            timing,
            context,
            slots,
            loaded,
            health,
            watch: StoreWatch::new(timing),
            deferral_logged: false,
            wake_after_renewal: false,
        }
    }

    /// Runs until shutdown, then stops the workers and gives every lease
    /// up so that the other daemons take the tenants at once.
    pub async fn run(mut self, grace: Duration) {
        let store = self.context.store.clone();
        // A daemon restarted under the same name gives up what its earlier
        // life held: those leases get new tokens when taken again.
        if let Err(error) = store.leave(&self.id).await {
            self.report(Err(error));
        }
        self.heartbeat().await;
        // Daemons starting together see each other before taking tenants;
        // a daemon alone starts at once.
        let others = match store.daemons().await {
            Ok(daemons) => daemons.iter().any(|d| d.alive && d.id != self.id),
            Err(_) => true,
        };
        if others {
            let wait = Instant::now() + self.timing.tick;
            while !self.context.shutdown.is_cancelled() && Instant::now() < wait {
                self.wait(wait.saturating_duration_since(Instant::now()))
                    .await;
            }
        }
        let triggers = tokio::spawn(deliver_triggers(
            store.clone(),
            self.context.handles.clone(),
            self.context.shutdown.clone(),
        ));
        while !self.context.shutdown.is_cancelled() {
            let started = Instant::now();
            if self.heartbeat().await {
                match self.balance(started).await {
                    Ok(()) => {
                        // Every query of the look was answered.
                        self.watch.answered(Instant::now());
                        if std::mem::take(&mut self.wake_after_renewal) {
                            self.wake_held();
                        }
                    }
                    Err(error) if error.is_unreachable() => self.report(Err(error)),
                    Err(error) => {
                        tracing::warn!(%error, "could not renew or rebalance the leases; trying again at the next look");
                    }
                }
            }
            self.wait(self.timing.tick.saturating_sub(started.elapsed()))
                .await;
        }
        let _ = triggers.await;
        let stopping = async {
            for (_, slot) in std::mem::take(&mut self.slots) {
                match slot {
                    Slot::Running { task, .. } => {
                        let _ = task.await;
                    }
                    Slot::Stopping { task, .. } => {
                        let _ = task.await;
                    }
                    Slot::Idle(_) | Slot::Unloaded => {}
                }
            }
        };
        if tokio::time::timeout(grace, stopping).await.is_err() {
            tracing::warn!(
                ?grace,
                "runs were still in flight after the grace period; changes cut off are journaled and found out by the next holder"
            );
        }
        // Not ready from here on: no longer listed once it has left.
        self.health.write().expect("store health").registered = false;
        match store.leave(&self.id).await {
            Ok(()) => tracing::info!(daemon = %self.id, "left: every lease given up"),
            Err(error) => {
                tracing::warn!(daemon = %self.id, %error, "could not give the leases up; they run out by themselves")
            }
        }
    }

    /// Waits up to `wait`, less when the daemon stops or tenants' plugins
    /// load (those tenants are then idle, ready to be taken).
    async fn wait(&mut self, wait: Duration) {
        let shutdown = self.context.shutdown.clone();
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(wait) => {}
            Some(tenant) = self.loaded.recv() => {
                self.admit(tenant);
                // Tenants that loaded together are taken in one look.
                while let Ok(tenant) = self.loaded.try_recv() {
                    self.admit(tenant);
                }
            }
        }
    }

    /// A tenant whose plugins have loaded becomes idle.
    fn admit(&mut self, tenant: Arc<Tenant>) {
        let name = tenant.name.clone();
        match self.slots.get(&name) {
            Some(Slot::Unloaded) => {
                self.slots.insert(name, Slot::Idle(tenant));
            }
            _ => tracing::warn!(tenant = %name, "a tenant loaded twice; keeping the first"),
        }
    }

    /// Registers this daemon as alive; false when the store is unreachable.
    async fn heartbeat(&mut self) -> bool {
        let outcome = self
            .context
            .store
            .heartbeat(&self.id, &self.address, self.timing.ttl)
            .await;
        let ok = outcome.is_ok();
        if ok {
            self.health.write().expect("store health").registered = true;
        }
        self.report(outcome);
        ok
    }

    /// Records whether the store answered: for `/readyz`, and for the
    /// watch that decides when leases that ran out may be taken.
    fn report(&mut self, outcome: Result<(), StoreError>) {
        match &outcome {
            Ok(()) => self.watch.answered(Instant::now()),
            Err(_) => {
                self.watch.failed();
                self.deferral_logged = false;
            }
        }
        let mut health = self.health.write().expect("store health");
        match outcome {
            Ok(()) => {
                if health.unreachable.take().is_some() {
                    tracing::info!("the state store answers again: renewing the leases held");
                    self.wake_after_renewal = true;
                }
            }
            Err(error) => {
                if health.unreachable.is_none() {
                    tracing::error!(%error, "the state store is unreachable: no run writes or applies anything until it answers and the leases are renewed");
                }
                health.unreachable = Some(error.to_string());
            }
        }
    }

    /// Runs every tenant held now, after the store came back and the leases
    /// were renewed: runs that failed meanwhile wait for their backoff,
    /// which an outage may have stretched, and a run woken before the
    /// renewal would find its lease run out by this daemon's clock.
    fn wake_held(&self) {
        tracing::info!(
            "leases renewed after the state store came back: reconciling every tenant held"
        );
        for handle in self.context.handles.values() {
            if handle.held.load(Ordering::Relaxed) {
                handle.trigger.notify_one();
            }
        }
    }

    /// Renews the leases held, stops workers whose lease is gone, then
    /// gives up or takes tenants toward this daemon's share.
    async fn balance(&mut self, started: Instant) -> Result<(), StoreError> {
        let store = self.context.store.clone();
        let renewed: HashMap<String, i64> = store
            .renew_leases(&self.id, self.timing.ttl)
            .await?
            .into_iter()
            .collect();
        let valid_until = started + self.timing.ttl;
        let mut lost = Vec::new();
        for (name, slot) in &self.slots {
            match slot {
                Slot::Running { fence, .. } if renewed.get(name) == Some(&fence.token) => {
                    fence.extend(valid_until);
                }
                Slot::Running { fence, .. } => {
                    tracing::warn!(tenant = %name, token = fence.token, "the tenant's lease was taken over: stopping its worker");
                    lost.push(name.clone());
                }
                // A worker finishing its last run keeps writing while the
                // lease is still its own.
                Slot::Stopping { fence, .. } if renewed.get(name) == Some(&fence.token) => {
                    fence.extend(valid_until);
                }
                Slot::Stopping { fence, .. } => fence.lose(),
                Slot::Idle(_) | Slot::Unloaded => {}
            }
        }
        for name in lost {
            self.stop(name, false);
        }
        for (name, token) in &renewed {
            if !matches!(
                self.slots.get(name),
                Some(Slot::Running { .. } | Slot::Stopping { .. })
            ) {
                store.release_lease(name, &self.id, *token).await?;
            }
        }
        self.collect_stopped().await;

        let alive = store.daemons().await?.iter().filter(|d| d.alive).count();
        let held = self
            .slots
            .values()
            .filter(|slot| matches!(slot, Slot::Running { .. } | Slot::Stopping { .. }))
            .count();
        let settled = self.watch.settled(Instant::now());
        match takeover::rebalance(self.slots.len(), alive, held, settled) {
            Rebalance::Keep => {}
            Rebalance::GiveUp(surplus) => {
                let mut running: Vec<String> = self
                    .slots
                    .iter()
                    .filter(|(_, slot)| matches!(slot, Slot::Running { .. }))
                    .map(|(name, _)| name.clone())
                    .collect();
                running.sort_by_key(|name| self.preference(name));
                for name in running.into_iter().take(surplus) {
                    tracing::info!(tenant = %name, held, daemons = alive, "giving the tenant up to rebalance");
                    self.stop(name, true);
                }
            }
            Rebalance::Take(wanted) => self.take(wanted, settled).await?,
        }
        Ok(())
    }

    /// Takes up to `wanted` idle tenants whose leases are free — or ran
    /// out, once `settled` — in this daemon's order of preference.
    async fn take(&mut self, mut wanted: usize, settled: bool) -> Result<(), StoreError> {
        let store = self.context.store.clone();
        let leases: HashMap<String, LeaseRecord> = store
            .leases()
            .await?
            .into_iter()
            .map(|lease| (lease.tenant.clone(), lease))
            .collect();
        let mut deferred = 0;
        let mut free: Vec<String> = Vec::new();
        for (name, slot) in &self.slots {
            if !matches!(slot, Slot::Idle(_)) {
                continue;
            }
            let found = Found::of(leases.get(name));
            if takeover::may_take(found, settled) {
                free.push(name.clone());
            } else if found == Found::RanOut {
                deferred += 1;
            }
        }
        if deferred > 0 && !self.deferral_logged {
            self.deferral_logged = true;
            tracing::info!(
                tenants = deferred,
                period = ?self.timing.period,
                "leases ran out: taking them only once the state store has answered for a whole lease period, so that daemons cut off from it as this one may have been renew theirs first"
            );
        }
        free.sort_by_key(|name| std::cmp::Reverse(self.preference(name)));
        for name in free {
            if wanted == 0 {
                break;
            }
            let before = Instant::now();
            if let Some(token) = store
                .acquire_lease(&name, &self.id, self.timing.ttl)
                .await?
            {
                tracing::info!(tenant = %name, token, "took the tenant's lease");
                self.start(&name, token, before + self.timing.ttl);
                wanted -= 1;
            }
        }
        Ok(())
    }

    /// This daemon's preference for a tenant: a hash of both names.
    fn preference(&self, tenant: &str) -> u64 {
        preference(&self.id, tenant)
    }

    /// Starts the worker of a tenant whose lease was just taken.
    fn start(&mut self, name: &str, token: i64, valid_until: Instant) {
        let Some(Slot::Idle(tenant)) = self.slots.remove(name) else {
            unreachable!("only idle tenants are taken");
        };
        let fence = Arc::new(Fence::new(name, &self.id, token, valid_until));
        let handle = &self.context.handles[name];
        {
            let mut status = handle.status.write().expect("tenant status");
            status.holder = Some(self.id.clone());
        }
        handle.held.store(true, Ordering::Relaxed);
        let cancel = self.context.shutdown.child_token();
        let worker = Worker::new(
            tenant,
            self.context
                .store
                .fenced(fence.clone(), self.context.keep_inventory_from),
            self.context.alerts.clone(),
            self.context.metrics.clone(),
            handle,
            cancel.clone(),
        );
        let task = self.context.host.spawn_caller(worker.run());
        self.slots.insert(
            name.to_string(),
            Slot::Running {
                fence,
                cancel,
                task,
            },
        );
    }

    /// Stops a tenant's worker after its run in flight; `release` gives the
    /// lease up afterwards (a lease already lost is left alone).
    fn stop(&mut self, name: String, release: bool) {
        let Some(Slot::Running {
            fence,
            cancel,
            task,
        }) = self.slots.remove(&name)
        else {
            return;
        };
        if !release {
            fence.lose();
        }
        cancel.cancel();
        let handle = self.context.handles[&name].clone();
        handle.held.store(false, Ordering::Relaxed);
        let store = self.context.store.clone();
        let id = self.id.clone();
        let held = fence.clone();
        let stopping = tokio::spawn(async move {
            let tenant = task.await.ok();
            handle.status.write().expect("tenant status").holder = None;
            if release && !held.is_lost() {
                held.lose();
                if let Err(error) = store.release_lease(&held.tenant, &id, held.token).await {
                    tracing::warn!(tenant = %held.tenant, %error, "could not give the lease up; it runs out by itself");
                }
            }
            tenant
        });
        self.slots.insert(
            name,
            Slot::Stopping {
                fence,
                task: stopping,
            },
        );
    }

    /// Tenants whose worker stopped become idle again.
    async fn collect_stopped(&mut self) {
        let finished: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Stopping { task, .. } if task.is_finished()))
            .map(|(name, _)| name.clone())
            .collect();
        for name in finished {
            if let Some(Slot::Stopping { task, .. }) = self.slots.remove(&name) {
                let slot = match task.await {
                    Ok(Some(tenant)) => Slot::Idle(tenant),
                    _ => {
                        tracing::error!(tenant = %name, "the tenant's worker crashed: it is not taken again by this daemon");
                        Slot::Unloaded
                    }
                };
                self.slots.insert(name, slot);
            }
        }
    }
}

/// Passes triggers queued by other daemons (webhooks, API calls) to the
/// workers of the tenants held here.
async fn deliver_triggers(
    store: StateStore,
    handles: Arc<BTreeMap<String, TenantHandle>>,
    shutdown: CancellationToken,
) {
    let mut listener = match store.coordination().trigger_listener().await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for triggers; looking for them every {TRIGGER_POLL:?} instead");
            None
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(TRIGGER_POLL) => {}
            told = notified(&mut listener) => {
                if let Err(error) = told {
                    tracing::debug!(%error, "the trigger listener lost its connection");
                    tokio::time::sleep(TRIGGER_POLL).await;
                }
            }
        }
        let held: Vec<String> = handles
            .iter()
            .filter(|(_, handle)| handle.held.load(Ordering::Relaxed))
            .map(|(name, _)| name.clone())
            .collect();
        match store.coordination().take_triggers(&held).await {
            Ok(triggered) => {
                for name in triggered {
                    tracing::debug!(tenant = %name, "a trigger another daemon received");
                    handles[&name].trigger.notify_one();
                }
            }
            Err(error) => tracing::debug!(%error, "cannot read the shared triggers"),
        }
    }
}

/// Waits for a notification of a queued trigger; never, without a listener.
async fn notified(listener: &mut Option<TriggerListener>) -> Result<(), StoreError> {
    match listener {
        Some(listener) => listener.wait().await,
        None => std::future::pending().await,
    }
}

/// This daemon's name when `[daemon] id` is not set: the host name and the
/// port it listens on. No two live daemons of one host share a port, and a
/// daemon restarted on its port takes back at once what its earlier life
/// held instead of waiting for those leases to run out.
pub fn default_id(listening: std::net::SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "cairn".to_string());
    format!("{host}-{}", listening.port())
}

/// Daemon `daemon`'s preference for `tenant`: the first eight bytes of the
/// SHA-256 of both names (separated by a NUL, which neither holds). A hash
/// whose algorithm is fixed, unlike the standard library's, so that
/// daemons built by different toolchains during a rolling upgrade still
/// spread their preferences the same way.
fn preference(daemon: &str, tenant: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(daemon.as_bytes())
        .chain_update([0])
        .chain_update(tenant.as_bytes())
        .finalize();
    u64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::preference;

    /// The first eight bytes of SHA-256("daemon-a\0tenant-1"), as
    /// `printf 'daemon-a\0tenant-1' | sha256sum` prints them.
    const PINNED: u64 = 0xe32b_0d74_ae14_43f4;

    #[test]
    fn the_preference_is_the_same_in_every_build() {
        assert_eq!(preference("daemon-a", "tenant-1"), PINNED);
        assert_ne!(
            preference("daemon-a", "tenant-1"),
            preference("daemon-b", "tenant-1")
        );
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(preference("ab", "c"), preference("a", "bc"));
    }
}
