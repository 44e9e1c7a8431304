//! Tenants whose plugins talk to one server share an adaptive limit on the
//! requests open there at once (README, "Many tenants, one server"):
//! under a server that answers 500 to whatever comes beyond three requests
//! at once, a fleet of tenants applies with a few refusals, where the same
//! fleet without the limit (`adaptive_concurrency = false`) meets many.

use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::proxy::RecordingProxy;
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// Tenants of the fleet, each with its own zone on the one server.
const TENANTS: usize = 40;

/// Requests the server serves at once; beyond them it answers 500.
const AT_ONCE: usize = 3;

/// How long the server takes to answer a request it serves.
const SERVICE: Duration = Duration::from_millis(40);

/// What one fleet met on its way to every tenant applied.
struct Met {
    /// Requests the server refused for coming beyond its capacity.
    refusals: usize,
    /// Every request the server answered.
    requests: usize,
    /// The endpoint's limit at the end, as the metrics say (0 without).
    limit: f64,
    /// Overloads the daemon counted at the endpoint.
    overloads: f64,
    /// Times the daemon halved the endpoint's limit.
    decreases: f64,
}

/// Starts a fleet of [`TENANTS`] tenants against a server of [`AT_ONCE`],
/// with `provider_settings` in each dns provider's table, and waits until
/// every tenant's record is served.
fn fleet(provider_settings: &str) -> Met {
    let ws = Workspace::new();
    let proxy = RecordingProxy::start(&ws.pdns.url());
    proxy.refuse_crowds(AT_ONCE, SERVICE);
    for tenant in 0..TENANTS {
        ws.repo.write(
            &format!("t{tenant}/dns.toml"),
            &format!(
                "[[dns.zone]]\nname = \"t{tenant}.example.\"\n\n[[dns.record]]\nname = \"www.t{tenant}.example.\"\ntype = \"A\"\nrecords = [\"192.0.2.{}\"]\n",
                tenant + 1
            ),
        );
    }
    let tables = ws.fleet_blocks(
        TENANTS,
        &ConfigOptions {
            url: Some(proxy.url.clone()),
            tenant_settings: "interval = \"1s\"\ndrift_interval = \"1h\"".into(),
            provider_settings: provider_settings.into(),
            ..ConfigOptions::default()
        },
    );
    ws.repo.commit("a zone per tenant", AUTHOR);
    std::fs::write(ws.config_path(), format!("{}\n{tables}", config_header())).unwrap();
    let started = std::time::Instant::now();
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(120), "every tenant applied", || {
        (0..TENANTS).all(|tenant| {
            ws.pdns.dig(&format!("www.t{tenant}.example."), "A")
                == [format!("192.0.2.{}", tenant + 1)]
        })
    });
    let met = Met {
        refusals: proxy.crowd_refusals(),
        requests: proxy.exchanges().len(),
        limit: daemon.metric_sum("cairn_endpoint_concurrency_limit"),
        overloads: daemon.metric_sum("cairn_endpoint_overloads_total"),
        decreases: daemon.metric_sum("cairn_endpoint_limit_decreases_total"),
    };
    eprintln!(
        "{provider_settings:?}: {} of {} requests refused, limit {} after {} decreases, overloads counted {}, all applied in {:?}",
        met.refusals,
        met.requests,
        met.limit,
        met.decreases,
        met.overloads,
        started.elapsed()
    );
    met
}

#[test]
fn a_fleet_sharing_a_server_finds_its_capacity() {
    let adaptive = fleet("");
    let unlimited = fleet("adaptive_concurrency = false");
    // The limit came down from where it started, and stayed in force.
    assert!(
        adaptive.decreases >= 1.0 && adaptive.limit >= 1.0,
        "the limit ended at {} after {} decreases",
        adaptive.limit,
        adaptive.decreases
    );
    // Every refusal was seen and counted as an overload.
    assert!(
        adaptive.overloads >= adaptive.refusals as f64,
        "{} overloads counted for {} refusals",
        adaptive.overloads,
        adaptive.refusals
    );
    assert_eq!(
        unlimited.limit, 0.0,
        "no limit without adaptive_concurrency"
    );
    // Fewer requests met a 500 than without the limit: at most two
    // thirds as many (half as many, or fewer, in runs on a quiet
    // machine), and at most a fifth of all (the limit's probing past the
    // capacity costs about one in eight).
    assert!(
        adaptive.refusals * 3 <= unlimited.refusals * 2,
        "with the limit {} refusals, without {}",
        adaptive.refusals,
        unlimited.refusals
    );
    assert!(
        adaptive.refusals * 5 <= adaptive.requests,
        "with the limit {} of {} requests were refused",
        adaptive.refusals,
        adaptive.requests
    );
}
