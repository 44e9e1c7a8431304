//! Cairn's benchmarks, against a real PowerDNS on loopback. Prints a table.
//!
//! Run with `scripts/bench.sh` (release build). Measures:
//! - the plugin host's per-call overhead: a fresh store, instantiation of
//!   the pre-instantiated component and a call of a trivial function;
//! - `cairn apply --yes` of N records into an empty zone, whole process;
//! - `cairn plan` with nothing to change, N records, whole process.

use cairn::host::{PluginHost, ProviderInstance, ProviderSettings};
use cairn_tests::Workspace;
use std::time::{Duration, Instant};

/// Calls measured for the per-call overhead (after a warm-up of 100).
const HOST_CALLS: usize = 2_000;
/// Runs of the no-change plan; the median is reported.
const PLAN_RUNS: usize = 5;

fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|arg| arg.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() { vec![1_000] } else { sizes };
    let mut rows: Vec<(String, String)> = Vec::new();

    let runtime = tokio::runtime::Runtime::new()?;
    let (mean, p50, p99) = runtime.block_on(host_overhead())?;
    rows.push((
        format!("plugin host: fresh store + instantiate + trivial call (n={HOST_CALLS})"),
        format!(
            "mean {} µs, p50 {} µs, p99 {} µs",
            mean.as_micros(),
            p50.as_micros(),
            p99.as_micros()
        ),
    ));

    for size in sizes {
        let (apply, plans) = records(size)?;
        rows.push((
            format!("cairn apply --yes: create {size} records in an empty zone"),
            format!("{:.3} s", apply.as_secs_f64()),
        ));
        rows.push((
            format!("cairn plan, no changes, {size} records (median of {PLAN_RUNS})"),
            format!("{:.3} s", median(plans).as_secs_f64()),
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
    Ok(())
}

async fn host_overhead() -> anyhow::Result<(Duration, Duration, Duration)> {
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
        },
    );
    for _ in 0..100 {
        instance.validate(&[]).await?;
    }
    let mut samples = Vec::with_capacity(HOST_CALLS);
    for _ in 0..HOST_CALLS {
        let started = Instant::now();
        instance.validate(&[]).await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    Ok((
        mean,
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    ))
}

/// Applies `size` records to an empty zone, then plans with nothing to do.
fn records(size: usize) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let ws = Workspace::new();
    let mut text = String::from("[[dns.zone]]\nname = \"bench.example.\"\n\n");
    for index in 0..size {
        text.push_str(&format!(
            "[[dns.record]]\nname = \"r{index}.bench.example.\"\ntype = \"A\"\nrecords = [\"10.{}.{}.{}\"]\n\n",
            (index >> 16) & 255,
            (index >> 8) & 255,
            index & 255
        ));
    }
    ws.repo.write("bench.toml", &text);
    ws.repo.commit("bench", "Bench <bench@cairn.invalid>");
    // Compile the plugin into the cache first, as any second run finds it.
    ws.cairn(&["validate"]).expect_code(0);

    let started = Instant::now();
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    let apply = started.elapsed();
    let count = ws.pdns.rrsets("bench.example.").len();
    anyhow::ensure!(
        count >= size,
        "the zone holds {count} RRsets, expected {size}"
    );

    let mut plans = Vec::with_capacity(PLAN_RUNS);
    for _ in 0..PLAN_RUNS {
        let started = Instant::now();
        ws.cairn(&["plan"]).expect_code(0);
        plans.push(started.elapsed());
    }
    Ok((apply, plans))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
