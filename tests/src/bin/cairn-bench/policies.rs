//! What a policy costs a plan: the no-change plan of 10,000 records,
//! whole process, without a policy, with the production-TTL rule as a
//! Rust policy (`tests/plugins/ttl-policy`) and with the same rule in Rego
//! (`examples/policies/rules/dns_min_ttl.rego`, run by the shipped Rego
//! policy), the three taken in turn in each round so that the server's
//! and the machine's drift falls on all of them alike.

use cairn_tests::cairn::ConfigOptions;
use cairn_tests::policies::{example_rule, policy_table, rego_plugin};
use std::time::{Duration, Instant};

/// Rounds; each times one plan of every variant.
const ROUNDS: usize = 7;

/// The medians, by variant.
pub struct Figures {
    /// Records planned.
    pub records: usize,
    /// No policy.
    pub none: Duration,
    /// The Rust policy.
    pub rust: Duration,
    /// The Rego policy.
    pub rego: Duration,
}

/// Measures the three variants on `records` records.
pub fn policy_cost(records: usize) -> anyhow::Result<Figures> {
    let zone = "p.bench.example.";
    let ws = super::applied_zone(zone, records);
    let zones = format!("production_zones = [{zone:?}]");
    let rust = policy_table(
        "[[policies]]",
        "ttl",
        &cairn_tests::plugin_path("ttl_policy"),
        "mandatory",
        &[],
        &format!("config = {{ {zones} }}"),
    );
    let rego = policy_table(
        "[[policies]]",
        "ttl",
        &rego_plugin(),
        "mandatory",
        &[example_rule("dns_min_ttl.rego")],
        &format!("config = {{ data = {{ {zones} }} }}"),
    );
    let configure = |policy: &str| {
        ws.configure(&ConfigOptions::default());
        let mut config = std::fs::read_to_string(ws.config_path()).expect("cairn.toml");
        config.push_str(policy);
        std::fs::write(ws.config_path(), config).expect("write cairn.toml");
    };
    let plan = |policy: &str| -> anyhow::Result<Duration> {
        configure(policy);
        let started = Instant::now();
        let output = ws.cairn(&["plan", "--json"]);
        let took = started.elapsed();
        anyhow::ensure!(output.code == 0, "the plan found changes: {}", output.all());
        let findings = output.json()["findings"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(findings == 0, "the policy found {findings} thing(s)");
        Ok(took)
    };
    // Compiled once into the cache before anything is timed, as any
    // second run finds them.
    for policy in ["", &rust, &rego] {
        plan(policy)?;
    }
    let (mut none, mut with_rust, mut with_rego) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        none.push(plan("")?);
        with_rust.push(plan(&rust)?);
        with_rego.push(plan(&rego)?);
    }
    Ok(Figures {
        records,
        none: super::median(none),
        rust: super::median(with_rust),
        rego: super::median(with_rego),
    })
}
