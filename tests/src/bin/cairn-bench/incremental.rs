//! One file changed in a repository of thousands: what planning the new
//! commit costs, in process, with the provider's own calls timed apart.

use cairn::config::Config;
use cairn::host::PluginHost;
use cairn::plan::{self, ApplyOptions, PlanScope, PlanSettings};
use cairn::store::StateStore;
use cairn::tenant::Tenant;
use cairn_tests::Workspace;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Commits planned (each changing one file); the median is reported. Even,
/// so that each scope is planned first as often as second (see below).
const COMMITS: usize = 6;

/// Medians over [`COMMITS`] commits.
pub struct Figures {
    /// Files in the repository.
    pub files: usize,
    /// Reading the commit, loading and planning only what changed.
    pub changed_total: Duration,
    /// The provider calls within it.
    pub changed_calls: Duration,
    /// The same commit planned in full (every resource observed), on the
    /// same warm model cache.
    pub full_total: Duration,
    /// The provider calls within it.
    pub full_calls: Duration,
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
        let tenant = Tenant::open(&config, tenant_config, &host).await?;
        let store = StateStore::open(&config.state).await?;
        // The commit applied is the one the cache knows.
        tenant.desired_state(None).await?;

        let (mut changed, mut changed_calls, mut full, mut full_calls) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..COMMITS {
            let index = 1 + round * 7 % (files - 1);
            ws.repo
                .write(&format!("records/r{index}.toml"), &record(index, 2 + round));
            ws.repo.commit("one file", "Bench <bench@cairn.invalid>");
            // The first plan of a commit reads it and parses and validates
            // its changed file, which the model cache then knows; the
            // second finds nothing new to read. Always planning what
            // changed first flattered the full plan, so the order
            // alternates per commit and each scope pays that first read
            // half the time. The model cache is not cleared for the full
            // plan: "full" is the scope (every resource observed), and the
            // daemon's full plans (drift checks, start) find it warm too.
            let order = if round % 2 == 0 {
                [PlanScope::Changed, PlanScope::Full]
            } else {
                [PlanScope::Full, PlanScope::Changed]
            };
            let mut full_plan = None;
            for scope in order {
                *calls.lock().expect("call time") = Duration::ZERO;
                let started = Instant::now();
                let desired = tenant.desired_state(None).await?;
                let plan = plan::plan(
                    &PlanSettings::from(&tenant),
                    &tenant.providers,
                    &desired,
                    &store,
                    scope,
                )
                .await?;
                let elapsed = started.elapsed();
                anyhow::ensure!(
                    plan.changes.len() == 1,
                    "one change expected, the {scope:?} plan has {}",
                    plan.changes.len()
                );
                let in_calls = *calls.lock().expect("call time");
                match scope {
                    PlanScope::Changed => {
                        changed.push(elapsed);
                        changed_calls.push(in_calls);
                    }
                    PlanScope::Full => {
                        full.push(elapsed);
                        full_calls.push(in_calls);
                        full_plan = Some(plan);
                    }
                    PlanScope::Holding => unreachable!("only the full and changed plans are timed"),
                }
            }
            // Applied, as the daemon would, before the next commit; only
            // once both scopes planned it, or the second would find the
            // change made.
            let plan =
                full_plan.ok_or_else(|| anyhow::anyhow!("the commit was not planned in full"))?;
            let options = ApplyOptions::default();
            let report = plan::apply(&tenant, &plan, &store, options, &|_| {}).await?;
            anyhow::ensure!(report.succeeded(), "the change was not applied");
        }
        Ok(Figures {
            files,
            changed_total: crate::median(changed),
            changed_calls: crate::median(changed_calls),
            full_total: crate::median(full),
            full_calls: crate::median(full_calls),
        })
    })
}

fn record(index: usize, version: usize) -> String {
    format!(
        "[[dns.record]]\nname = \"r{index}.inc.bench.example.\"\ntype = \"A\"\nrecords = [\"198.51.100.{}\"]\n",
        version % 250
    )
}
