//! Cairn's benchmarks, against a real PowerDNS on loopback. Prints a table.
//!
//! Run with `scripts/bench.sh` (release build). Measures:
//! - the plugin host's per-call overhead: a fresh store, instantiation of
//!   the pre-instantiated component and a call of a trivial function;
//! - `cairn apply --yes` of N records into an empty zone, whole process;
//! - `cairn plan` with nothing to change, N records, whole process;
//! - the same provider in Rust, JavaScript and Python (`languages`);
//! - what a policy, in Rust and in Rego, adds to a no-change plan
//!   (`policies`);
//! - each source's unchanged poll and one-file change (`sources`).

use anyhow::Context;
use cairn::host::{CompiledCache, PluginHost, ProviderInstance, ProviderSettings};
use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, HOOK_SECRET, metric_sum, wait_until};
use cairn_tests::git::GitRepo;
use cairn_tests::pdns::Pdns;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Calls measured for the per-call overhead (after a warm-up of 100).
const HOST_CALLS: usize = 2_000;
/// Runs of the no-change plan per round; the median is reported.
const PLAN_RUNS: usize = 3;
/// Tenants of the idle-daemon measurement.
const DAEMON_TENANTS: usize = 10;
/// The poll interval of the idle daemon's tenants.
const IDLE_INTERVAL: Duration = Duration::from_secs(10);
/// The drift interval of the idle daemon's tenants: a drift check observes
/// every resource (plugin calls by design), so none may fall due while the
/// daemon is watched. The default (5 min from start) would also lie beyond
/// the window; set, it does not depend on how long the pushes took.
const IDLE_DRIFT_INTERVAL: Duration = Duration::from_secs(3_600);
/// How long the idle daemon is watched.
const IDLE_WINDOW: Duration = Duration::from_secs(30);
/// Webhook pushes timed; the median is reported.
const PUSHES: usize = 9;

/// Records of the policy-cost measurement.
const POLICY_RECORDS: usize = 10_000;

/// Tenants of the dashboard's overview, and resources of its tenant page.
const DASHBOARD_TENANTS: usize = 1_000;
const DASHBOARD_RESOURCES: usize = 10_000;

/// Files of the repository in which one file changes.
const INCREMENTAL_FILES: usize = 10_000;
/// Tenants of the fleet measurements, and records per tenant (each tenant
/// also has its zone).
const FLEETS: [usize; 2] = [200, 1_000];
const FLEET_RECORDS: usize = 50;

mod apps;
mod bare;
mod chaos;
mod cluster;
mod dashboard;
mod fairness;
mod fleet;
mod floor;
mod identity;
mod incremental;
mod kubernetes;
mod languages;
mod octodns;
mod policies;
mod sources;

/// The parts of the benchmark, each selectable by name on the command line.
const SECTIONS: [&str; 15] = [
    "host",
    "languages",
    "policies",
    "dashboard",
    "fairness",
    "compare",
    "daemon",
    "incremental",
    "fleet",
    "identity",
    "apps",
    "chaos",
    "kubernetes",
    "cluster",
    "sources",
];

/// Resource files of the repository each source reads in `sources`.
const SOURCE_FILES: usize = 1_000;

/// Chaos runs timed for how late they end.
const CHAOS_RUNS: usize = 20;

/// Daemons sharing one PostgreSQL in the latency measurement, and the
/// tenants each holds, step by step.
const CLUSTER_DAEMONS: usize = 2;
const CLUSTER_PER_DAEMON: [usize; 5] = [10, 25, 50, 100, 200];

/// Tenants over three daemons in the failover measurement, and kills.
const FAILOVER_TENANTS: usize = 30;
const FAILOVER_KILLS: usize = 3;

/// Objects applied to a kube-apiserver.
const KUBERNETES_OBJECTS: usize = 500;

/// Pushes of the calm tenant timed alone and beside the contenders.
const FAIRNESS_PUSHES: usize = 30;

/// Apps deployed into podman (the first with 2 replicas, rolled out).
const APPS: usize = 20;

/// The directory reconciled into Canaille: users, and groups of them.
const IDENTITY_USERS: usize = 500;
const IDENTITY_GROUPS: usize = 50;

fn main() -> anyhow::Result<()> {
    // SAFETY: no other thread exists yet. The in-process measurements open
    // tenants whose secret reference names this variable, as `cairn` does.
    unsafe { std::env::set_var("PDNS_API_KEY", cairn_tests::pdns::API_KEY) };
    // `CAIRN_LOG=cairn=debug` shows the phases of in-process runs, timed.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(std::io::stderr)
            .init();
    }
    let mut sizes: Vec<usize> = Vec::new();
    let mut sections: Vec<String> = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.parse() {
            Ok(size) => sizes.push(size),
            Err(_) if SECTIONS.contains(&arg.as_str()) => sections.push(arg),
            Err(_) => anyhow::bail!(
                "`{arg}` is neither a record count nor a section ({})",
                SECTIONS.join(", ")
            ),
        }
    }
    if sizes.is_empty() {
        sizes.push(1_000);
    }
    let runs = |section: &str| sections.is_empty() || sections.iter().any(|s| s == section);
    let mut rows: Vec<(String, String)> = Vec::new();

    let runtime = tokio::runtime::Runtime::new()?;
    if runs("host") {
        // Interleaved rounds: Cairn's host (from a tenant's worker, then
        // from elsewhere), then the bare harness, repeated.
        let mut cairn_samples = Vec::new();
        let mut elsewhere_samples = Vec::new();
        let mut bare_samples = Vec::new();
        for _ in 0..ROUNDS {
            cairn_samples.extend(runtime.block_on(host_overhead(Caller::TenantWorker))?);
            elsewhere_samples.extend(runtime.block_on(host_overhead(Caller::Elsewhere))?);
            bare_samples.extend(runtime.block_on(bare::overhead(HOST_CALLS))?);
        }
        let (cairn, elsewhere, bare) = (
            summary(cairn_samples),
            summary(elsewhere_samples),
            summary(bare_samples),
        );
        let ratio = |host: &Summary| host.median.as_secs_f64() / bare.median.as_secs_f64();
        rows.push((
            format!(
                "plugin host: fresh store + instantiate + trivial call, from a tenant's worker (n={})",
                HOST_CALLS * ROUNDS
            ),
            format!("{} (Cairn/bare at p50: {:.2}×)", cairn.describe(), ratio(&cairn)),
        ));
        rows.push((
            "the same from another runtime's thread (a preview, a command): handed over and back"
                .into(),
            format!(
                "{} (Cairn/bare at p50: {:.2}×)",
                elsewhere.describe(),
                ratio(&elsewhere)
            ),
        ));
        rows.push((
            "bare wasmtime: same engine, component and call".into(),
            bare.describe(),
        ));
        let (cold, warm) = runtime.block_on(load_times())?;
        rows.push((
            "plugin load: compile (no cache) / from the compiled cache (median of 15)".into(),
            format!(
                "{:.1} ms / {:.1} ms",
                cold.as_secs_f64() * 1e3,
                warm.as_secs_f64() * 1e3
            ),
        ));
    }

    if runs("languages") {
        let figures = runtime.block_on(languages::side_by_side())?;
        let rust = figures
            .iter()
            .find(|f| f.language == cairn_tests::scaffold::Language::Rust)
            .map(|f| f.no_change_plan)
            .unwrap_or_default();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        for figure in &figures {
            rows.push((
                format!(
                    "{:?} provider (plugin new's kv): size / compile / cached load / fresh instance + trivial call",
                    figure.language
                ),
                format!(
                    "{:.1} MiB / {:.2} s / {:.1} ms / {:.2} ms",
                    figure.size as f64 / (1 << 20) as f64,
                    figure.compile.as_secs_f64(),
                    ms(figure.cached_load),
                    ms(figure.trivial_call)
                ),
            ));
            rows.push((
                format!(
                    "{:?} provider: no-change plan of 1,000 entries, validate + list + diff (median of 5)",
                    figure.language
                ),
                format!(
                    "{:.1} ms ({:.2}× the Rust provider): validate {:.1} / list {:.1} / diff {:.1} ms",
                    ms(figure.no_change_plan),
                    figure.no_change_plan.as_secs_f64() / rust.as_secs_f64(),
                    ms(figure.phases[0]),
                    ms(figure.phases[1]),
                    ms(figure.phases[2])
                ),
            ));
        }
    }

    if runs("fairness") {
        let figures = fairness::calm_beside_contenders(FAIRNESS_PUSHES)?;
        let (alone, beside) = (summary(figures.alone), summary(figures.beside));
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        rows.push((
            format!(
                "fairness: calm tenant push-to-applied, alone (median / p90 of {FAIRNESS_PUSHES})"
            ),
            format!("{:.1} ms / {:.1} ms", ms(alone.median), ms(alone.p90)),
        ));
        rows.push((
            "fairness: beside 2 tenants spinning on all 4 slots, a header holder, a log flooder"
                .into(),
            format!(
                "{:.1} ms / {:.1} ms: {:.2}× / {:.2}×",
                ms(beside.median),
                ms(beside.p90),
                beside.median.as_secs_f64() / alone.median.as_secs_f64(),
                beside.p90.as_secs_f64() / alone.p90.as_secs_f64()
            ),
        ));
    }

    let mut raw = serde_json::Map::new();
    for size in sizes.into_iter().filter(|_| runs("compare")) {
        let side = side_by_side(size)?;
        let cairn_create = median(side.cairn_create.clone());
        let cairn_plan = median(side.cairn_plan.clone());
        let ratio = |other: &[Duration], ours: Duration| {
            if other.is_empty() {
                String::new()
            } else {
                let theirs = median(other.to_vec());
                format!(
                    "; octoDNS {:.3} s, {:.1}× faster",
                    theirs.as_secs_f64(),
                    theirs.as_secs_f64() / ours.as_secs_f64()
                )
            }
        };
        let floor = |samples: &[Duration], ours: Duration, target: f64| {
            with_floor(
                ours.as_secs_f64(),
                median(samples.to_vec()).as_secs_f64(),
                target,
            )
        };
        rows.push((
            format!("create {size} records in an empty zone (median of {SIDE_ROUNDS} rounds)"),
            format!(
                "Cairn {}{}",
                floor(&side.floor_create, cairn_create, DNS_CREATE_TARGET),
                ratio(&side.octodns_create, cairn_create)
            ),
        ));
        rows.push((
            format!(
                "no-change plan, {size} records (median of {})",
                SIDE_ROUNDS * PLAN_RUNS
            ),
            format!(
                "Cairn {}{}",
                floor(&side.floor_plan, cairn_plan, DNS_PLAN_TARGET),
                ratio(&side.octodns_plan, cairn_plan)
            ),
        ));
        raw.insert(size.to_string(), side.to_json());
    }

    if runs("dashboard") {
        let figures = dashboard::page_costs(&runtime, DASHBOARD_TENANTS, DASHBOARD_RESOURCES)?;
        let page = |figures: &dashboard::PageFigures| {
            format!(
                "{:.1} ms, {:.1} KB",
                figures.time.as_secs_f64() * 1e3,
                figures.bytes as f64 / 1e3
            )
        };
        for (what, figures) in [
            (
                format!("dashboard: overview of {} tenants", figures.tenants),
                &figures.overview,
            ),
            (
                "dashboard: the same, filtered, sorted, page 10".to_string(),
                &figures.overview_filtered,
            ),
            (
                format!("dashboard: a tenant of {} resources", figures.resources),
                &figures.tenant,
            ),
            (
                "dashboard: the same, searched for one resource".to_string(),
                &figures.tenant_searched,
            ),
        ] {
            rows.push((format!("{what} (server time, median of 31)"), page(figures)));
        }
        raw.insert(
            "dashboard".into(),
            serde_json::json!({
                "tenants": figures.tenants,
                "resources": figures.resources,
                "overview_ms": figures.overview.time.as_secs_f64() * 1e3,
                "overview_bytes": figures.overview.bytes,
                "overview_filtered_ms": figures.overview_filtered.time.as_secs_f64() * 1e3,
                "tenant_ms": figures.tenant.time.as_secs_f64() * 1e3,
                "tenant_bytes": figures.tenant.bytes,
                "tenant_searched_ms": figures.tenant_searched.time.as_secs_f64() * 1e3,
            }),
        );
    }

    if runs("policies") {
        let figures = policies::policy_cost(POLICY_RECORDS)?;
        let cost = |with: Duration| {
            format!(
                "{:.3} s, +{:.0} ms ({:.2}×)",
                with.as_secs_f64(),
                (with.as_secs_f64() - figures.none.as_secs_f64()) * 1e3,
                with.as_secs_f64() / figures.none.as_secs_f64()
            )
        };
        rows.push((
            format!(
                "no-change plan, {} records, without a policy (median of 7)",
                figures.records
            ),
            format!("{:.3} s", figures.none.as_secs_f64()),
        ));
        rows.push((
            "the same with the production-TTL rule as a Rust policy".to_string(),
            cost(figures.rust),
        ));
        rows.push((
            "the same with the rule in Rego (the Rego policy)".to_string(),
            cost(figures.rego),
        ));
        raw.insert(
            "policies".into(),
            serde_json::json!({
                "records": figures.records,
                "none_s": figures.none.as_secs_f64(),
                "rust_s": figures.rust.as_secs_f64(),
                "rego_s": figures.rego.as_secs_f64(),
            }),
        );
    }

    if runs("sources") {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut figures = Vec::new();
        for each in sources::each_source(SOURCE_FILES)? {
            rows.push((
                format!(
                    "source {}: unchanged poll / one file of {SOURCE_FILES} changed, to the desired state loaded (medians)",
                    each.source
                ),
                format!("{:.1} ms / {:.1} ms", ms(each.poll), ms(each.change)),
            ));
            figures.push(serde_json::json!({
                "source": each.source,
                "poll_s": each.poll.as_secs_f64(),
                "change_s": each.change.as_secs_f64(),
            }));
        }
        raw.insert("sources".into(), serde_json::Value::Array(figures));
    }

    if runs("incremental") {
        let figures = incremental::one_file_changed(INCREMENTAL_FILES)?;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let describe = |timed: incremental::Timed| {
            format!(
                "{:.1} ms, of which provider calls {:.1} ms: host {:.1} ms",
                ms(timed.total),
                ms(timed.calls),
                ms(timed.host)
            )
        };
        for (what, timed) in [
            (
                "plan what changed, as the CLI (inventory read)",
                figures.changed,
            ),
            (
                "plan what changed, as the daemon (inventory kept)",
                figures.changed_in_daemon,
            ),
            ("full plan, for contrast", figures.full),
        ] {
            rows.push((
                format!("one file changed of {}: {what}", figures.files),
                describe(timed),
            ));
        }
        let seconds = |timed: incremental::Timed| {
            serde_json::json!({
                "total_s": timed.total.as_secs_f64(),
                "calls_s": timed.calls.as_secs_f64(),
                "host_s": timed.host.as_secs_f64(),
            })
        };
        raw.insert(
            "incremental".into(),
            serde_json::json!({
                "files": figures.files,
                "changed": seconds(figures.changed),
                "changed_in_daemon": seconds(figures.changed_in_daemon),
                "full": seconds(figures.full),
            }),
        );
    }

    if runs("fleet") {
        for tenants in FLEETS {
            let figures = fleet::fleet(tenants, FLEET_RECORDS)?;
            rows.push((
                format!(
                    "daemon, {} tenants × {} records (and a zone): ready / every tenant applied",
                    figures.tenants, figures.records
                ),
                format!(
                    "{:.2} s / {:.1} s (floor {:.1} s, {:.1}×; {} overloads, limit halved {} times)",
                    figures.ready.as_secs_f64(),
                    figures.first_runs.as_secs_f64(),
                    figures.floor.as_secs_f64(),
                    figures.first_runs.as_secs_f64() / figures.floor.as_secs_f64(),
                    figures.overloads,
                    figures.decreases
                ),
            ));
            rows.push((
                format!(
                    "daemon, {} tenants: CPU until every tenant applied, daemon / PowerDNS",
                    figures.tenants
                ),
                format!(
                    "{:.1} s / {:.1} s (PowerDNS for the floor {:.1} s)",
                    figures.daemon_cpu, figures.server_cpu, figures.floor_server_cpu
                ),
            ));
            rows.push((
                format!("daemon, {} tenants idle: resident memory", figures.tenants),
                format!(
                    "{:.1} MiB ({:.1} MiB anonymous)",
                    figures.rss_mib, figures.anonymous_mib
                ),
            ));
            raw.insert(
                format!("fleet_{tenants}"),
                serde_json::json!({
                    "records_per_tenant": figures.records,
                    "ready_s": figures.ready.as_secs_f64(),
                    "first_runs_s": figures.first_runs.as_secs_f64(),
                    "rss_mib": figures.rss_mib,
                    "anonymous_mib": figures.anonymous_mib,
                    "floor_s": figures.floor.as_secs_f64(),
                    "overloads": figures.overloads,
                    "limit_decreases": figures.decreases,
                    "daemon_cpu_s": figures.daemon_cpu,
                    "server_cpu_s": figures.server_cpu,
                    "floor_server_cpu_s": figures.floor_server_cpu,
                }),
            );
        }
    }

    if runs("cluster") {
        let mut steps = Vec::new();
        for per_daemon in CLUSTER_PER_DAEMON {
            let step = cluster::latency(CLUSTER_DAEMONS, per_daemon)?;
            rows.push((
                format!(
                    "{CLUSTER_DAEMONS} daemons on PostgreSQL, {} tenants each: push → applied p50 / p90 / all (changes retried; failed attempts)",
                    step.per_daemon
                ),
                // Each tenant's commit changes its `RECORDS` records (the
                // zone stays): that many changes per tenant applied.
                format!(
                    "{:.0} ms / {:.0} ms / {:.2} s ({} of {} changes retried; {} failed attempts)",
                    step.quantile(0.5).as_secs_f64() * 1e3,
                    step.quantile(0.9).as_secs_f64() * 1e3,
                    step.all_applied.as_secs_f64(),
                    step.retried_changes,
                    step.latencies.len() * cluster::RECORDS,
                    step.failed_attempts
                ),
            ));
            steps.push(serde_json::json!({
                "per_daemon": step.per_daemon,
                "p50_s": step.quantile(0.5).as_secs_f64(),
                "p90_s": step.quantile(0.9).as_secs_f64(),
                "all_applied_s": step.all_applied.as_secs_f64(),
                "retried_changes": step.retried_changes,
                "failed_attempts": step.failed_attempts,
            }));
        }
        let failovers = cluster::failover(FAILOVER_TENANTS, FAILOVER_KILLS)?;
        let longest = failovers.iter().max().copied().unwrap_or_default();
        rows.push((
            format!(
                "3 daemons, {FAILOVER_TENANTS} tenants, lease 10 s: SIGKILL → tenants held again (median / max of {FAILOVER_KILLS})"
            ),
            format!(
                "{:.2} s / {:.2} s",
                median(failovers.clone()).as_secs_f64(),
                longest.as_secs_f64()
            ),
        ));
        raw.insert(
            "cluster".into(),
            serde_json::json!({
                "daemons": CLUSTER_DAEMONS,
                "steps": steps,
                "failover_s": failovers.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            }),
        );
    }

    if runs("identity") {
        let figures = identity::directory(IDENTITY_USERS, IDENTITY_GROUPS)?;
        let (from_scratch, no_change, listing) = figures.medians();
        rows.push((
            format!(
                "identity: {} users + {} groups into an empty Canaille (median of {})",
                figures.users,
                figures.groups,
                figures.from_scratch.len()
            ),
            format!("{from_scratch:.2} s"),
        ));
        rows.push((
            format!(
                "identity: no-change plan, {} users + {} groups (median of {})",
                figures.users,
                figures.groups,
                figures.no_change.len()
            ),
            with_floor(no_change, listing, IDENTITY_PLAN_TARGET),
        ));
        raw.insert(
            "identity".into(),
            serde_json::json!({
                "users": figures.users,
                "groups": figures.groups,
                "from_scratch_s": figures.from_scratch.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "no_change_s": figures.no_change.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "listing_floor_s": figures.listing.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            }),
        );
    }

    if runs("kubernetes") {
        let figures = kubernetes::apply(KUBERNETES_OBJECTS)?;
        let (from_scratch, no_change, one_field) = figures.medians();
        rows.push((
            format!(
                "kubernetes: {} objects into an empty kube-apiserver (median of {})",
                figures.objects,
                figures.from_scratch.len()
            ),
            with_floor(from_scratch, figures.floor(), KUBERNETES_CREATE_TARGET),
        ));
        rows.push((
            format!(
                "kubernetes: the floor's applies one by one / {} at a time (median of {})",
                kubernetes::AT_ONCE,
                figures.server_side_applies.len()
            ),
            format!(
                "{:.3} s / {:.3} s",
                median(figures.server_side_applies.clone()).as_secs_f64(),
                median(figures.server_side_applies_at_once.clone()).as_secs_f64()
            ),
        ));
        rows.push((
            format!(
                "kubernetes: no-change plan, {} objects (median of {})",
                figures.objects,
                figures.no_change.len()
            ),
            format!("{no_change:.3} s"),
        ));
        rows.push((
            format!(
                "kubernetes: one field changed of {} objects (median of {})",
                figures.objects,
                figures.one_field.len()
            ),
            format!("{one_field:.3} s"),
        ));
        raw.insert(
            "kubernetes".into(),
            serde_json::json!({
                "objects": figures.objects,
                "from_scratch_s": figures.from_scratch.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "no_change_s": figures.no_change.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "one_field_s": figures.one_field.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "server_side_apply_floor_s": figures.server_side_applies.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "server_side_apply_at_once_floor_s": figures.server_side_applies_at_once.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            }),
        );
    }

    if runs("chaos") {
        let figures = chaos::lateness(CHAOS_RUNS)?;
        let worst = figures.late.iter().max().copied().unwrap_or_default();
        let middle = median(figures.late.clone());
        rows.push((
            format!(
                "chaos: a run ends after its duration by (median, worst of {})",
                figures.runs
            ),
            format!(
                "{:.0} ms, {:.0} ms",
                middle.as_secs_f64() * 1e3,
                worst.as_secs_f64() * 1e3
            ),
        ));
        raw.insert(
            "chaos".into(),
            serde_json::json!({
                "runs": figures.runs,
                "late_ms": figures.late.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
            }),
        );
    }

    if runs("apps") {
        let figures = apps::deploy(APPS)?;
        let (from_scratch, no_change, rolling) = figures.medians();
        rows.push((
            format!(
                "apps: {} apps into an empty podman (median of {})",
                figures.apps,
                figures.from_scratch.len()
            ),
            with_floor(from_scratch, figures.floor(), APPS_CREATE_TARGET),
        ));
        rows.push((
            format!(
                "apps: no-change plan, {} apps (median of {})",
                figures.apps,
                figures.no_change.len()
            ),
            format!("{no_change:.3} s"),
        ));
        rows.push((
            format!(
                "apps: rolling image update of one app, 2 replicas (median of {})",
                figures.rolling_update.len()
            ),
            format!("{rolling:.2} s"),
        ));
        raw.insert(
            "apps".into(),
            serde_json::json!({
                "apps": figures.apps,
                "from_scratch_s": figures.from_scratch.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "no_change_s": figures.no_change.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "rolling_update_s": figures.rolling_update.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "create_start_floor_s": figures.create_start.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            }),
        );
    }

    let raw_path = cairn_tests::target_dir().join("cairn-bench.json");
    std::fs::write(
        &raw_path,
        serde_json::to_string_pretty(&serde_json::Value::Object(raw))?,
    )?;

    if runs("daemon") {
        let idle = daemon_figures(DAEMON_TENANTS)?;
        rows.push((
            format!("daemon: push to applied via webhook (median of {PUSHES})"),
            format!(
                "{:.1} ms; floor (read the commit, one PATCH) {:.1} ms",
                idle.push_latency.as_secs_f64() * 1e3,
                idle.push_floor.as_secs_f64() * 1e3
            ),
        ));
        rows.push((
            format!(
                "daemon: idle CPU, {DAEMON_TENANTS} tenants (interval {}s), over {}s",
                IDLE_INTERVAL.as_secs(),
                IDLE_WINDOW.as_secs()
            ),
            format!("{:.2}% of one core", idle.cpu_percent),
        ));
        rows.push((
            format!(
                "daemon: a poll that finds nothing to do (mean of the {} in the {}s idle window)",
                idle.checks,
                IDLE_WINDOW.as_secs()
            ),
            format!(
                "{:.2} ms, {} plugin calls",
                idle.check_mean.as_secs_f64() * 1e3,
                idle.idle_plugin_calls
            ),
        ));
        rows.push((
            format!("daemon: resident memory, {DAEMON_TENANTS} tenants"),
            format!(
                "{:.1} MiB ({:.1} MiB anonymous)",
                idle.rss_mib, idle.anonymous_mib
            ),
        ));
    }

    let width = rows
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    println!("| {:<width$} | result |", "measurement");
    println!("|{}|--------|", "-".repeat(width + 2));
    for (name, value) in rows {
        println!("| {name:<width$} | {value} |");
    }
    println!("\nRaw numbers: {}", raw_path.display());
    Ok(())
}

/// Interleaved rounds of the host and the bare harness.
const ROUNDS: usize = 5;
/// Rounds of the side-by-side comparison with octoDNS, each on a fresh
/// PowerDNS.
const SIDE_ROUNDS: usize = 3;

/// Mean and percentiles of latency samples.
struct Summary {
    mean: Duration,
    median: Duration,
    p90: Duration,
    p99: Duration,
}

impl Summary {
    fn describe(&self) -> String {
        format!(
            "mean {} µs, p50 {} µs, p99 {} µs",
            self.mean.as_micros(),
            self.median.as_micros(),
            self.p99.as_micros()
        )
    }
}

fn summary(mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    Summary {
        mean: samples.iter().sum::<Duration>() / samples.len() as u32,
        median: samples[samples.len() / 2],
        p90: samples[samples.len() * 9 / 10],
        p99: samples[samples.len() * 99 / 100],
    }
}

/// Loads from the compiled cache measured for the median: one load takes
/// about 4 ms, so a single one is at the mercy of the machine's other work.
const CACHED_LOADS: usize = 15;

/// Loading the dns plugin: compiling it with an empty cache, then loading
/// it again (a new host each time, the same cache folder) from the
/// compiled code, [`CACHED_LOADS`] times: the median of those.
async fn load_times() -> anyhow::Result<(Duration, Duration)> {
    let cache = tempfile::tempdir()?;
    let plugin = cairn_tests::plugin_path("dns_powerdns");
    let mut times = Vec::new();
    for _ in 0..=CACHED_LOADS {
        let compiled =
            CompiledCache::open(cache.path().join("compiled"), &cache.path().join("key"))?;
        let host = PluginHost::new(Some(compiled))?;
        let started = Instant::now();
        host.load(&plugin, None).await?;
        times.push(started.elapsed());
    }
    let cold = times.remove(0);
    times.sort();
    Ok((cold, times[times.len() / 2]))
}

/// Where the plugin calls of [`host_overhead`] are made from.
#[derive(Clone, Copy)]
enum Caller {
    /// A task on the guest threads, as the daemon's tenant workers make
    /// their calls: each call is polled where it is made.
    TenantWorker,
    /// A thread of another runtime, as a preview or a command makes them:
    /// each call is handed to the guest threads and back.
    Elsewhere,
}

async fn host_overhead(caller: Caller) -> anyhow::Result<Vec<Duration>> {
    let host = PluginHost::new(None)?;
    let plugin = host
        .load(&cairn_tests::plugin_path("dns_powerdns"), None)
        .await?;
    let instance = ProviderInstance::new(
        &host,
        plugin,
        ProviderSettings {
            tenant: "bench".into(),
            name: "dns".into(),
            config: serde_json::json!({}),
            secrets: Default::default(),
            grants: Vec::new(),
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(10),
            concurrency: Default::default(),
        },
    );
    let calls = async move {
        for _ in 0..100 {
            instance.validate(&[]).await?;
        }
        let mut samples = Vec::with_capacity(HOST_CALLS);
        for _ in 0..HOST_CALLS {
            let started = Instant::now();
            instance.validate(&[]).await?;
            samples.push(started.elapsed());
        }
        anyhow::Ok(samples)
    };
    match caller {
        Caller::TenantWorker => host.spawn_caller(calls).await?,
        Caller::Elsewhere => calls.await,
    }
}

/// Seconds of each run, by tool and work, for one size.
struct SideBySide {
    cairn_create: Vec<Duration>,
    cairn_plan: Vec<Duration>,
    octodns_create: Vec<Duration>,
    octodns_plan: Vec<Duration>,
    /// PowerDNS's own work for the same ([`floor`]).
    floor_create: Vec<Duration>,
    floor_plan: Vec<Duration>,
}

impl SideBySide {
    fn to_json(&self) -> serde_json::Value {
        let seconds = |samples: &[Duration]| -> Vec<f64> {
            samples.iter().map(Duration::as_secs_f64).collect()
        };
        serde_json::json!({
            "cairn_create_s": seconds(&self.cairn_create),
            "cairn_noop_plan_s": seconds(&self.cairn_plan),
            "octodns_create_s": seconds(&self.octodns_create),
            "octodns_noop_plan_s": seconds(&self.octodns_plan),
            "floor_create_s": seconds(&self.floor_create),
            "floor_noop_plan_s": seconds(&self.floor_plan),
        })
    }
}

/// Rounds of: a fresh PowerDNS; Cairn and octoDNS each create `size`
/// records in a zone of their own (alternating which goes first); then
/// no-change plans, interleaved.
fn side_by_side(size: usize) -> anyhow::Result<SideBySide> {
    let mut side = SideBySide {
        cairn_create: Vec::new(),
        cairn_plan: Vec::new(),
        octodns_create: Vec::new(),
        octodns_plan: Vec::new(),
        floor_create: Vec::new(),
        floor_plan: Vec::new(),
    };
    for round in 0..SIDE_ROUNDS {
        let ws = Workspace::new();
        let mut text = format!("[[dns.zone]]\nname = \"{CAIRN_ZONE}\"\n\n");
        for index in 0..size {
            text.push_str(&format!(
                "[[dns.record]]\nname = \"r{index}.{CAIRN_ZONE}\"\ntype = \"A\"\nrecords = [\"{}\"]\n\n",
                record_address(index)
            ));
        }
        ws.repo.write("bench.toml", &text);
        ws.repo.commit("bench", "Bench <bench@cairn.invalid>");
        // Compile the plugin into the cache first, as any second run finds it.
        ws.cairn(&["validate"]).expect_code(0);
        let octodns = octodns::OctoDns::new(ws.path(), &ws.pdns, OCTODNS_ZONE, size)?;

        let cairn_create = || -> anyhow::Result<Duration> {
            let started = Instant::now();
            ws.cairn(&["apply", "--yes"]).expect_code(0);
            Ok(started.elapsed())
        };
        // The floor: the same records into a zone of its own, sent
        // directly, after the tools in one round and before them in the
        // next (a zone already full makes PowerDNS's writes slower).
        let floor_records = |zone: &str| -> Vec<(String, String)> {
            (0..size)
                .map(|index| (format!("r{index}.{zone}"), record_address(index)))
                .collect()
        };
        // The faster of one PATCH and PATCHes of floor::PATCH_BATCH.
        let floor_create = || -> anyhow::Result<Duration> {
            let mut fastest = Duration::MAX;
            for (zone, batch) in [(FLOOR_ZONE, size), (FLOOR_BATCHED_ZONE, floor::PATCH_BATCH)] {
                let took = floor::create_zone(&ws.pdns, zone, &floor_records(zone), batch)?;
                anyhow::ensure!(
                    records_served(&ws.pdns, zone, size) == size,
                    "the floor's zone {zone} does not serve every record"
                );
                fastest = fastest.min(took);
            }
            Ok(fastest)
        };
        if round % 2 == 0 {
            side.cairn_create.push(cairn_create()?);
            if let Some(o) = &octodns {
                side.octodns_create.push(o.apply()?);
            }
            side.floor_create.push(floor_create()?);
        } else {
            side.floor_create.push(floor_create()?);
            if let Some(o) = &octodns {
                side.octodns_create.push(o.apply()?);
            }
            side.cairn_create.push(cairn_create()?);
        }
        // Both creates are timed only if they did the whole work: every
        // record, with its address, served from each tool's zone.
        let served = records_served(&ws.pdns, CAIRN_ZONE, size);
        anyhow::ensure!(
            served == size,
            "Cairn's zone serves {served} of the {size} records"
        );
        if octodns.is_some() {
            let served = records_served(&ws.pdns, OCTODNS_ZONE, size);
            anyhow::ensure!(
                served == size,
                "octoDNS's zone serves {served} of the {size} records"
            );
        }

        // Each no-change plan is checked to be one: Cairn's exit code 0
        // means nothing to change; octoDNS's is checked in what it prints.
        for _ in 0..PLAN_RUNS {
            let started = Instant::now();
            ws.cairn(&["plan"]).expect_code(0);
            side.cairn_plan.push(started.elapsed());
            side.floor_plan
                .push(floor::read_zone(&ws.pdns, CAIRN_ZONE)?);
            if let Some(o) = &octodns {
                side.octodns_plan.push(o.no_change_plan()?);
            }
        }
    }
    Ok(side)
}

/// The zones of the side-by-side comparison: Cairn's, and octoDNS's on the
/// same PowerDNS.
const CAIRN_ZONE: &str = "c.bench.example.";
const OCTODNS_ZONE: &str = "o.bench.example.";
/// The zones the create floor fills, on the same PowerDNS: in one PATCH,
/// and in several.
const FLOOR_ZONE: &str = "f.bench.example.";
const FLOOR_BATCHED_ZONE: &str = "g.bench.example.";

/// How many of the side-by-side records (`r{index}.{zone}` A
/// [`record_address`]`(index)`, for `index` below `size`) `pdns` serves in
/// `zone`, read through its API; an RRset of another address (or of more
/// than one) does not count.
fn records_served(pdns: &Pdns, zone: &str, size: usize) -> usize {
    let expected: HashSet<String> = (0..size)
        .map(|index| format!("r{index}.{zone} A {}", record_address(index)))
        .collect();
    pdns.rrsets(zone)
        .iter()
        .filter(|rrset| {
            // `name type ttl contents`: the TTL is each tool's default.
            let fields: Vec<&str> = rrset.split_whitespace().collect();
            match fields.as_slice() {
                [name, kind, _ttl, content] => {
                    expected.contains(&format!("{name} {kind} {content}"))
                }
                _ => false,
            }
        })
        .count()
}

/// A workspace whose tenant `default` has applied zone `zone` with
/// `records` A records: the starting point of the measurements of one
/// large tenant.
fn applied_zone(zone: &str, records: usize) -> cairn_tests::Workspace {
    let ws = cairn_tests::Workspace::new();
    let mut text = format!("[[dns.zone]]\nname = \"{zone}\"\n\n");
    for index in 0..records {
        text.push_str(&format!(
            "[[dns.record]]\nname = \"r{index}.{zone}\"\ntype = \"A\"\nrecords = [\"{}\"]\n\n",
            record_address(index)
        ));
    }
    ws.repo.write("bench.toml", &text);
    ws.repo.commit("bench", "Bench <bench@cairn.invalid>");
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    ws
}

/// The address of the benchmark's record number `index`: 10.x.y.z.
fn record_address(index: usize) -> String {
    format!(
        "10.{}.{}.{}",
        (index >> 16) & 255,
        (index >> 8) & 255,
        index & 255
    )
}

/// `cairn apply --yes` in `ws`, timed as a whole process; an error quoting
/// its output, as `what` failed, unless it succeeds.
fn timed_apply(ws: &Workspace, what: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let apply = ws.cairn(&["apply", "--yes"]);
    let took = started.elapsed();
    anyhow::ensure!(apply.code == 0, "{what} failed: {}", apply.all());
    Ok(took)
}

/// `cairn plan` in `ws` `count` times, each timed as a whole process; an
/// error unless every one finds nothing to change.
fn timed_no_change_plans(ws: &Workspace, count: usize) -> anyhow::Result<Vec<Duration>> {
    (0..count)
        .map(|_| {
            let started = Instant::now();
            let plan = ws.cairn(&["plan"]);
            let took = started.elapsed();
            anyhow::ensure!(plan.code == 0, "the plan found changes: {}", plan.all());
            Ok(took)
        })
        .collect()
}

/// The most a DNS create of many records may take, as a multiple of its
/// floor measured in the same run.
const DNS_CREATE_TARGET: f64 = 1.5;
/// The most a DNS no-change plan may take, as a multiple of its floor.
const DNS_PLAN_TARGET: f64 = 2.0;
/// The most an identity no-change plan may take, as a multiple of
/// Canaille's own listing.
const IDENTITY_PLAN_TARGET: f64 = 1.2;
/// The most a Kubernetes apply from scratch may take, as a multiple of
/// the API server's own server-side applies.
const KUBERNETES_CREATE_TARGET: f64 = 1.5;
/// The most an apps deploy from scratch may take, as a multiple of
/// podman's own create and start.
const APPS_CREATE_TARGET: f64 = 1.2;

/// A measure beside its floor: `ours` and `floor` in seconds, the ratio,
/// and the `target` ratio.
fn with_floor(ours: f64, floor: f64, target: f64) -> String {
    format!(
        "{ours:.3} s; floor {floor:.3} s, {:.1}× (target ≤ {target}×)",
        ours / floor
    )
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// What the daemon measurement found.
struct DaemonFigures {
    push_latency: Duration,
    /// Reading the pushed commit and one PATCH, by a minimal client.
    push_floor: Duration,
    /// Polls that found nothing to do, within the idle window.
    checks: u64,
    /// Their mean duration.
    check_mean: Duration,
    /// Plugin calls within the idle window (the benchmark fails unless 0).
    idle_plugin_calls: u64,
    cpu_percent: f64,
    rss_mib: f64,
    /// Its anonymous part.
    anonymous_mib: f64,
}

/// Starts a daemon with `tenants` tenants of one zone each on one PowerDNS,
/// times webhook pushes, then watches it idle.
fn daemon_figures(tenants: usize) -> anyhow::Result<DaemonFigures> {
    let ws = Workspace::new();
    let zone = |tenant: usize, address: &str| {
        let mut text = format!("[[dns.zone]]\nname = \"t{tenant}.example.\"\n\n");
        for record in 0..5 {
            text.push_str(&format!("[[dns.record]]\nname = \"r{record}.t{tenant}.example.\"\ntype = \"A\"\nrecords = [\"{address}\"]\n\n"));
        }
        text
    };
    let mut config = config_header();
    let mut repos = Vec::new();
    for tenant in 0..tenants {
        let repo = GitRepo::init(&ws.path().join(format!("repo{tenant}")));
        repo.write("dns.toml", &zone(tenant, "192.0.2.1"));
        repo.commit("start", "Bench <bench@cairn.invalid>");
        let options = ConfigOptions {
            repo: Some(repo.path().display().to_string()),
            tenant_settings: format!(
                "interval = \"{}s\"\ndrift_interval = \"{}s\"\nwebhook_secret = {{ env = \"CAIRN_TEST_HOOK\" }}",
                IDLE_INTERVAL.as_secs(),
                IDLE_DRIFT_INTERVAL.as_secs()
            ),
            ..ConfigOptions::default()
        };
        config.push_str(&ws.tenant_block(&format!("t{tenant}"), &options));
        repos.push(repo);
    }
    std::fs::write(ws.config_path(), config)?;
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(60), "every tenant applied", || {
        (0..tenants).all(|t| ws.pdns.dig(&format!("r4.t{t}.example"), "A") == ["192.0.2.1"])
    });

    let mut latencies = Vec::new();
    for push in 0..PUSHES {
        let address = format!("192.0.2.{}", 10 + push);
        repos[0].write("dns.toml", &zone(0, &address));
        repos[0].commit("push", "Bench <bench@cairn.invalid>");
        let started = Instant::now();
        anyhow::ensure!(
            daemon.push("t0", HOOK_SECRET, "{}") == 202,
            "the webhook was refused"
        );
        // Asked of PowerDNS's API every 2 ms (a `dig` every 50 ms would
        // round the latency up by tens of milliseconds).
        loop {
            if floor::serves(&ws.pdns, "t0.example.", "r4.t0.example.", &address)? {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "push {push} was not applied within 30 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        latencies.push(started.elapsed());
    }

    // The floor, in the same run: a zone of the same five records that no
    // tenant manages, its file in a repository of its own, each push read
    // from Git and PATCHed by a minimal client.
    let records: Vec<(String, String)> = (0..5)
        .map(|record| (format!("r{record}.floor.example."), "192.0.2.1".to_string()))
        .collect();
    floor::create_zones(&ws.pdns, &[("floor.example.".to_string(), records)])?;
    let floor_repo = GitRepo::init(&ws.path().join("floor-repo"));
    let mut push_floor = Vec::new();
    for push in 0..PUSHES {
        let address = format!("192.0.2.{}", 10 + push);
        floor_repo.write("dns.toml", &zone(0, &address));
        floor_repo.commit("push", "Bench <bench@cairn.invalid>");
        let record = ("r4.floor.example.".to_string(), address);
        push_floor.push(floor::push_one_record(
            &ws.pdns,
            floor_repo.path(),
            "dns.toml",
            "floor.example.",
            &record,
        )?);
    }

    // Let the pushes' follow-up runs settle, then watch. The metrics are
    // read outside the CPU window, so that serving them is not counted as
    // idle work.
    std::thread::sleep(Duration::from_secs(2));
    let pid = daemon
        .pid()
        .ok_or_else(|| anyhow::anyhow!("the daemon is not running"))?;
    let metrics_before = read_metrics(&daemon).context("before the idle window")?;
    let cpu_before = cpu_seconds(pid)?;
    std::thread::sleep(IDLE_WINDOW);
    let cpu_after = cpu_seconds(pid)?;
    let metrics_after = read_metrics(&daemon).context("after the idle window")?;
    let in_window =
        |sample: &str| metric_sum(&metrics_after, sample) - metric_sum(&metrics_before, sample);

    // "A poll that finds nothing to do calls no plugin" is measured, not
    // assumed: every plugin call is counted in this histogram.
    const PLUGIN_CALLS: &str = "cairn_plugin_call_duration_seconds_count";
    anyhow::ensure!(
        metric_sum(&metrics_before, PLUGIN_CALLS) > 0.0,
        "/metrics has no {PLUGIN_CALLS} samples, though the tenants were applied: is the name right?"
    );
    let plugin_calls = in_window(PLUGIN_CALLS);
    anyhow::ensure!(
        plugin_calls == 0.0,
        "the idle daemon made {plugin_calls} plugin calls in the {}s window, where every poll should find nothing to do",
        IDLE_WINDOW.as_secs()
    );
    let checks = in_window("cairn_reconcile_check_duration_seconds_count");
    let check_seconds = in_window("cairn_reconcile_check_duration_seconds_sum");
    anyhow::ensure!(checks > 0.0, "no idle poll happened in the window");
    Ok(DaemonFigures {
        checks: checks as u64,
        check_mean: Duration::from_secs_f64(check_seconds / checks),
        idle_plugin_calls: plugin_calls as u64,
        push_latency: median(latencies),
        push_floor: median(push_floor),
        cpu_percent: (cpu_after - cpu_before) / IDLE_WINDOW.as_secs_f64() * 100.0,
        rss_mib: mib(daemon.resident_memory()),
        anonymous_mib: mib(daemon.anonymous_memory()),
    })
}

/// The daemon's `/metrics` (OpenMetrics text), over its HTTP port. The
/// bench configures no `api_token`, so the endpoint asks for none.
fn read_metrics(daemon: &Daemon) -> anyhow::Result<String> {
    let (status, text) = daemon
        .get("/metrics")
        .map_err(|e| anyhow::anyhow!("cannot read /metrics: {e}"))?;
    anyhow::ensure!(status == 200, "/metrics answered {status}: {text}");
    Ok(text)
}

/// `bytes` in MiB.
fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// Clock ticks per second of /proc's CPU times (Linux's USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of a process, from /proc.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // After the command name, fields 12 and 13 are utime and stime.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / TICKS_PER_SECOND)
}
