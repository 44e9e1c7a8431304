//! One file changed in a repository of thousands: what planning the new
//! commit costs, in process, with the provider's own calls timed apart.

use cairn::config::Config;
use cairn::host::PluginHost;
use cairn::plan::{self, ApplyOptions, Inventory, PlanScope, PlanSettings};
use cairn::store::StateStore;
use cairn::tenant::Tenant;
use cairn_tests::Workspace;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Commits planned (each changing one file); the median is reported. A
/// multiple of the three plans made of each, so that each is made first
/// as often as the others (see below).
const COMMITS: usize = 12;

/// A plan's time, and the provider calls' share of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timed {
    /// From reading the commit to the plan.
    pub total: Duration,
    /// The provider calls within it.
    pub calls: Duration,
    /// What the host itself spent: the total less the calls, of each plan
    /// (the median of these, not the difference of the two medians: the
    /// calls wait for PowerDNS, whose jitter of a few milliseconds would
    /// otherwise land in the host's share).
    pub host: Duration,
}

impl Timed {
    /// A plan's time, `total`, of which `calls` in provider calls.
    fn new(total: Duration, calls: Duration) -> Self {
        Self {
            total,
            calls,
            host: total.saturating_sub(calls),
        }
    }
}

/// Medians over [`COMMITS`] commits.
pub struct Figures {
    /// Files in the repository.
    pub files: usize,
    /// Reading the commit, loading and planning only what changed, as a
    /// process does: its tenant opened afresh (the model cache read from
    /// disk, no last load to start from), the inventory read from the
    /// store while the commit loads, as `cairn plan` reads it.
    pub changed: Timed,
    /// The same, as a daemon's worker does: the commit loaded from the
    /// last one, and the inventory kept in memory while the tenant is held
    /// ([`StateStore::keeping_inventory`]).
    pub changed_in_daemon: Timed,
    /// The same commit planned in full (every resource observed), on the
    /// same warm model cache.
    pub full: Timed,
}

/// The three plans of each commit.
#[derive(Debug, Clone, Copy)]
enum Planned {
    Changed,
    ChangedInDaemon,
    Full,
}

impl Planned {
    /// Rotated per commit: each is made first (and pays the first read of
    /// the commit) as often as the others.
    fn order(round: usize) -> [Self; 3] {
        let mut order = [Self::Changed, Self::ChangedInDaemon, Self::Full];
        order.rotate_left(round % 3);
        order
    }
}

/// A repository of `files` files (one zone, one record per other file),
/// applied; then commits that each change one record file.
pub fn one_file_changed(files: usize) -> anyhow::Result<Figures> {
    let ws = Workspace::new();
    ws.repo
        .write("zone.toml", "[[dns.zone]]\nname = \"inc.bench.example.\"\n");
    for index in 1..files {
        ws.repo
            .write(&format!("records/r{index}.toml"), &record(index, 1));
    }
    ws.repo.commit("bench", "Bench <bench@cairn.invalid>");
    ws.cairn(&["apply", "--yes"]).expect_code(0);

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let config = Config::load(&ws.config_path())?;
        let tenant_config = config.tenant(None)?;
        let mut host = PluginHost::new(Some(cairn::tenant::compiled_cache(&config)?))?;
        let calls: Arc<Mutex<Duration>> = Arc::default();
        let total = calls.clone();
        host.set_call_observer(Arc::new(move |_, _, _, _, duration| {
            *total.lock().expect("call time") += duration;
        }));
        let store = StateStore::open(&config.state).await?;
        let tenant = Tenant::open(&config, tenant_config, &host, &store).await?;
        // The commit applied is the one the cache knows.
        tenant.desired_state(None).await?;

        // The worker's view of the store: the inventory kept after the
        // first read, and in step with the applies made through it.
        let worker_store =
            store.keeping_inventory(&tenant.name, cairn::store::DEFAULT_KEEP_INVENTORY_FROM);
        worker_store.inventory(&tenant.name).await?;

        let (mut changed, mut changed_in_daemon, mut full) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..COMMITS {
            let index = 1 + round * 7 % (files - 1);
            ws.repo
                .write(&format!("records/r{index}.toml"), &record(index, 2 + round));
            ws.repo.commit("one file", "Bench <bench@cairn.invalid>");
            // The first plan of a commit reads it and parses and validates
            // its changed file, which the model cache then knows; the
            // others find nothing new to read. Always planning one first
            // flattered the others, so the order rotates per commit and
            // each pays that first read a third of the time. The model
            // cache is not cleared for the full plan: "full" is the scope
            // (every resource observed), and the daemon's full plans
            // (drift checks, start) find it warm too.
            let mut full_plan = None;
            for planned in Planned::order(round) {
                let (scope, store) = match planned {
                    Planned::Changed => (PlanScope::Changed, &store),
                    Planned::ChangedInDaemon => (PlanScope::Changed, &worker_store),
                    Planned::Full => (PlanScope::Full, &store),
                };
                // A process opens its tenant afresh: its model cache is
                // read from disk, and it has no last load to start from.
                // The daemon's worker keeps its tenant from commit to
                // commit.
                let process_tenant = match planned {
                    Planned::Changed => {
                        Some(Tenant::open(&config, tenant_config, &host, store).await?)
                    }
                    Planned::ChangedInDaemon | Planned::Full => None,
                };
                let tenant = process_tenant.as_ref().unwrap_or(&tenant);
                *calls.lock().expect("call time") = Duration::ZERO;
                let started = Instant::now();
                // As `cairn plan` and the daemon do: the inventory is read
                // while the commit loads (the store works on its own thread).
                let (desired, inventory) = tokio::join!(
                    tenant.desired_state(None),
                    Inventory::read_apart(store, &tenant.name)
                );
                let plan = plan::plan_against(
                    &PlanSettings::from(tenant),
                    &tenant.providers,
                    &desired?,
                    inventory?,
                    scope,
                )
                .await?;
                let timed = Timed::new(started.elapsed(), *calls.lock().expect("call time"));
                anyhow::ensure!(
                    plan.changes.len() == 1,
                    "one change expected, the {planned:?} plan has {}",
                    plan.changes.len()
                );
                match planned {
                    Planned::Changed => changed.push(timed),
                    Planned::ChangedInDaemon => changed_in_daemon.push(timed),
                    Planned::Full => {
                        full.push(timed);
                        full_plan = Some(plan);
                    }
                }
            }
            // Applied, as the daemon would, through the worker's store
            // (whose kept inventory follows), before the next commit; only
            // once every plan is made, or the later ones would find the
            // change made.
            let plan =
                full_plan.ok_or_else(|| anyhow::anyhow!("the commit was not planned in full"))?;
            let options = ApplyOptions::default();
            let report = plan::apply(&tenant, &plan, &worker_store, options, &|_| {}).await?;
            anyhow::ensure!(report.succeeded(), "the change was not applied");
        }
        Ok(Figures {
            files,
            changed: median(changed),
            changed_in_daemon: median(changed_in_daemon),
            full: median(full),
        })
    })
}

/// The medians of the totals, of the calls' shares and of the host's,
/// apart.
fn median(timed: Vec<Timed>) -> Timed {
    Timed {
        total: crate::median(timed.iter().map(|t| t.total).collect()),
        calls: crate::median(timed.iter().map(|t| t.calls).collect()),
        host: crate::median(timed.iter().map(|t| t.host).collect()),
    }
}

fn record(index: usize, version: usize) -> String {
    format!(
        "[[dns.record]]\nname = \"r{index}.inc.bench.example.\"\ntype = \"A\"\nrecords = [\"198.51.100.{}\"]\n",
        version % 250
    )
}
