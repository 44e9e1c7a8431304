//! At most 64 runs plan or apply at once in a daemon (README, "Performance,
//! against the floor"): 70 tenants with a change each, whose writes the
//! server holds, make 64 runs in progress and 6 waiting for a slot, never
//! more in progress; once the writes go through, every tenant applies.

use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::proxy::RecordingProxy;
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// More tenants than the daemon has run slots.
const TENANTS: usize = 70;

/// The daemon's run slots, as the README states them.
const RUN_SLOTS: usize = 64;

/// Tenant `tenant`'s zone, its `www` record at `network.{tenant + 1}`.
fn zone(tenant: usize, network: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"t{tenant}.example.\"\n\n[[dns.record]]\nname = \"www.t{tenant}.example.\"\ntype = \"A\"\nrecords = [\"{network}.{}\"]\n",
        tenant + 1
    )
}

/// Commits every tenant's zone with its record in `network`.
fn commit_every_zone(ws: &Workspace, network: &str) {
    for tenant in 0..TENANTS {
        ws.repo
            .write(&format!("t{tenant}/dns.toml"), &zone(tenant, network));
    }
    ws.repo
        .commit(&format!("every record in {network}"), AUTHOR);
}

/// Whether every tenant's record is served in `network`.
fn every_record_in(ws: &Workspace, network: &str) -> bool {
    (0..TENANTS).all(|tenant| {
        ws.pdns.dig(&format!("www.t{tenant}.example."), "A")
            == [format!("{network}.{}", tenant + 1)]
    })
}

/// Writes `cairn.toml`: [`TENANTS`] tenants through `proxy`, with
/// `provider_settings` in each dns provider's table.
fn configure(ws: &Workspace, proxy: &RecordingProxy, provider_settings: &str) {
    let tables = ws.fleet_blocks(
        TENANTS,
        &ConfigOptions {
            url: Some(proxy.url.clone()),
            tenant_settings: "interval = \"1s\"\ndrift_interval = \"1h\"".into(),
            provider_settings: provider_settings.into(),
            // Longer than any wait below: a held write that timed out
            // would free its slot for a waiting run.
            timeout: "5m".into(),
            ..ConfigOptions::default()
        },
    );
    std::fs::write(ws.config_path(), format!("{}\n{tables}", config_header())).unwrap();
}

#[test]
fn at_most_64_runs_plan_or_apply_at_once() {
    let ws = Workspace::new();
    let proxy = RecordingProxy::start(&ws.pdns.url());
    // The zones first, through the endpoint's adaptive limit (PowerDNS's
    // sqlite backend refuses many writes at once).
    configure(&ws, &proxy, "");
    commit_every_zone(&ws, "192.0.2");
    let mut daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(120), "every zone applied", || {
        every_record_in(&ws, "192.0.2")
    });
    daemon.kill();

    // Then a change for every tenant, each write held before it reaches
    // the server, and no limit per endpoint: only the run slots (and the
    // process's 64 plugin call slots, which a held write keeps) hold runs
    // back.
    configure(&ws, &proxy, "adaptive_concurrency = false");
    proxy.hold_requests(|method, _| method == "PATCH");
    commit_every_zone(&ws, "198.51.100");
    daemon.restart();
    let in_progress = || {
        let in_progress = daemon.metric_sum("cairn_reconcile_runs_in_progress");
        assert!(
            in_progress <= RUN_SLOTS as f64,
            "{in_progress} runs in progress at once"
        );
        in_progress
    };
    wait_until(
        Duration::from_secs(120),
        "64 runs in progress, 6 waiting",
        || {
            in_progress() == RUN_SLOTS as f64
                && daemon.metric_sum("cairn_reconcile_runs_waiting") == (TENANTS - RUN_SLOTS) as f64
                && proxy.held_requests() == RUN_SLOTS
        },
    );
    // A while longer: a run that was not held back would start meanwhile.
    let until = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < until {
        in_progress();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        daemon.metric_sum("cairn_reconcile_runs_waiting"),
        (TENANTS - RUN_SLOTS) as f64,
        "runs waiting for a slot"
    );

    proxy.release();
    wait_until(Duration::from_secs(120), "every change applied", || {
        every_record_in(&ws, "198.51.100")
    });
    wait_until(Duration::from_secs(30), "every run ended", || {
        daemon.metric_sum("cairn_reconcile_runs_in_progress") == 0.0
            && daemon.metric_sum("cairn_reconcile_runs_waiting") == 0.0
    });
}
