//! Many tenants on one daemon: how long it takes to load them and become
//! ready, to reconcile every one of them once, and how much memory it then
//! holds while they idle.

use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use std::time::{Duration, Instant};

/// How long the fleet may take to reconcile every tenant once.
const FIRST_RUNS_TIMEOUT: Duration = Duration::from_secs(600);

/// What one fleet measured.
pub struct Figures {
    /// Tenants.
    pub tenants: usize,
    /// Records per tenant, besides its zone.
    pub records: usize,
    /// From the daemon's start to `/readyz` answering 200.
    pub ready: Duration,
    /// From the daemon's start to every tenant's first reconcile done.
    pub first_runs: Duration,
    /// Resident memory once idle.
    pub rss_mib: f64,
    /// Its anonymous part ([`cairn_tests::daemon::Daemon::anonymous_memory`]).
    pub anonymous_mib: f64,
    /// The floor of `first_runs`: the same zones and records created
    /// directly, one POST per zone on one connection, in the same run.
    pub floor: Duration,
    /// Answers of PowerDNS the daemon counted as overload (5xx, failed
    /// requests) on its way, and the times its adaptive limit halved.
    pub overloads: f64,
    /// See `overloads`.
    pub decreases: f64,
    /// CPU seconds the daemon spent from its start to every tenant applied.
    pub daemon_cpu: f64,
    /// CPU seconds PowerDNS spent in the same time.
    pub server_cpu: f64,
    /// CPU seconds PowerDNS spent on the floor's requests.
    pub floor_server_cpu: f64,
}

/// `tenants` tenants of one zone and `records` records in it each (so
/// `records + 1` resources), every tenant a folder of one shared
/// repository, on one PowerDNS.
pub fn fleet(tenants: usize, records: usize) -> anyhow::Result<Figures> {
    let ws = Workspace::new();
    let mut config = config_header();
    for tenant in 0..tenants {
        let mut text = format!("[[dns.zone]]\nname = \"f{tenant}.example.\"\n\n");
        // `r1` to `r{records}`: the zone is not one of the records.
        for record in 1..=records {
            text.push_str(&format!(
                "[[dns.record]]\nname = \"r{record}.f{tenant}.example.\"\ntype = \"A\"\nrecords = [\"192.0.2.{}\"]\n\n",
                record % 250
            ));
        }
        ws.repo.write(&format!("f{tenant}/dns.toml"), &text);
        let options = ConfigOptions {
            path: format!("f{tenant}"),
            ..ConfigOptions::default()
        };
        config.push_str(&ws.tenant_block(&format!("f{tenant}"), &options));
    }
    ws.repo.commit("fleet", "Bench <bench@cairn.invalid>");
    std::fs::write(ws.config_path(), config)?;

    let server_pid = ws.pdns.pid().expect("PowerDNS runs");
    let server_cpu_before = crate::cpu_seconds(server_pid)?;
    let started = Instant::now();
    let daemon = Daemon::start(&ws.config_path());
    let ready = started.elapsed();
    wait_until(FIRST_RUNS_TIMEOUT, "every tenant reconciled once", || {
        daemon
            .get("/api/v1/tenants")
            .ok()
            .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(&body).ok())
            .and_then(|list| {
                list.as_array().map(|list| {
                    list.len() == tenants
                        && list.iter().all(|t| {
                            matches!(
                                t["last_run"]["outcome"].as_str(),
                                Some("applied" | "in-sync")
                            )
                        })
                })
            })
            .unwrap_or(false)
    });
    let first_runs = started.elapsed();
    let daemon_cpu = crate::cpu_seconds(daemon.pid().expect("the daemon runs"))?;
    let server_cpu = crate::cpu_seconds(server_pid)? - server_cpu_before;
    anyhow::ensure!(
        ws.pdns
            .dig(&format!("r{records}.f{}.example", tenants - 1), "A")
            == [format!("192.0.2.{}", records % 250)],
        "the last tenant's records are not served"
    );
    let overloads = daemon.metric_sum("cairn_endpoint_overloads_total");
    let decreases = daemon.metric_sum("cairn_endpoint_limit_decreases_total");
    // Idle: the daemon hands freed memory back every TRIM_INTERVAL, so the
    // memory is read once a trim has passed since the last run ended (3 s
    // after one is not idle: what the runs freed may still be held).
    std::thread::sleep(cairn::daemon::trim::TRIM_INTERVAL + Duration::from_secs(3));
    let rss_mib = crate::mib(daemon.resident_memory());
    let anonymous_mib = crate::mib(daemon.anonymous_memory());
    drop(daemon);
    let zones: Vec<(String, Vec<(String, String)>)> = (0..tenants)
        .map(|tenant| {
            let zone = format!("g{tenant}.example.");
            let records = (1..=records)
                .map(|record| {
                    (
                        format!("r{record}.{zone}"),
                        format!("192.0.2.{}", record % 250),
                    )
                })
                .collect();
            (zone, records)
        })
        .collect();
    let floor_cpu_before = crate::cpu_seconds(server_pid)?;
    let floor = crate::floor::create_zones(&ws.pdns, &zones)?;
    let floor_server_cpu = crate::cpu_seconds(server_pid)? - floor_cpu_before;
    Ok(Figures {
        tenants,
        records,
        ready,
        first_runs,
        rss_mib,
        anonymous_mib,
        floor,
        overloads,
        decreases,
        daemon_cpu,
        server_cpu,
        floor_server_cpu,
    })
}
