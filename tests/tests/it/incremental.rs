//! Planning costs what changed: a commit re-reads and re-validates only
//! the files it changed (the model cache, keyed by Git blob), the cache is
//! only ever a shortcut, and between drift checks the daemon examines only
//! what Git moved.

use cairn_tests::Workspace;
use cairn_tests::cairn::ConfigOptions;
use cairn_tests::daemon::{Daemon, wait_until};
use std::path::PathBuf;
use std::time::Duration;

const AUTHOR: &str = "Grace Hopper <grace@example.org>";

fn record(name: &str, address: &str) -> String {
    format!("[[dns.record]]\nname = \"{name}\"\ntype = \"A\"\nrecords = [\"{address}\"]\n")
}

/// Writes the zone and one record per file: `a.toml`, `b.toml`, `c.toml`.
fn three_files(ws: &Workspace, b_address: &str) {
    ws.repo
        .write("zone.toml", "[[dns.zone]]\nname = \"inc.example.\"\n")
        .write("a.toml", &record("a.inc.example.", "192.0.2.1"))
        .write("b.toml", &record("b.inc.example.", b_address))
        .write("c.toml", &record("c.inc.example.", "192.0.2.3"));
}

/// The workspace's model cache folder: every test workspace has a cache
/// of its own (sharing only the compiled plugins).
fn model_cache(ws: &Workspace) -> PathBuf {
    ws.path().join(".cairn/cache/model")
}

/// How many files the last load read (and validated) of how many.
fn files_read(stderr: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .rfind(|line| line.contains("loaded the desired state"))
        .unwrap_or_else(|| panic!("no load reported:\n{stderr}"));
    let field = |name: &str| -> usize {
        let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
        line[start..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (field("read"), field("files"))
}

#[test]
fn a_commit_reads_only_the_files_it_changed_and_the_cache_is_only_a_shortcut() {
    let ws = Workspace::new();
    let models = model_cache(&ws);
    three_files(&ws, "192.0.2.2");
    ws.repo.commit("three files", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("b.inc.example", "A"), ["192.0.2.2"]);
    let cache_files: Vec<_> = std::fs::read_dir(&models).unwrap().collect();
    assert_eq!(cache_files.len(), 1, "one model cache file per tenant");
    let cache_file = cache_files[0].as_ref().unwrap().path();

    // One file changes: it alone is read, and the plan is exactly its change.
    ws.repo
        .write("b.toml", &record("b.inc.example.", "192.0.2.20"));
    ws.repo.commit("move b", AUTHOR);
    let plan = ws.cairn_env(&["plan", "--json"], &[("CAIRN_LOG", "cairn=debug")]);
    plan.expect_code(2);
    assert_eq!(files_read(&plan.stderr), (1, 4));
    let changes = plan.json()["changes"].as_array().unwrap().clone();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["address"], "dns/record/b.inc.example./A");
    assert_eq!(changes[0]["action"], "update");
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("b.inc.example", "A"), ["192.0.2.20"]);

    // Nothing moved: nothing is read, nothing changes.
    let plan = ws.cairn_env(&["plan"], &[("CAIRN_LOG", "cairn=debug")]);
    plan.expect_code(0);
    assert_eq!(files_read(&plan.stderr), (0, 4));

    // A damaged cache costs a full load, never a wrong one; it is rewritten.
    std::fs::write(&cache_file, b"{\"fingerprint\": 7").unwrap();
    let plan = ws.cairn_env(&["plan"], &[("CAIRN_LOG", "cairn=debug")]);
    plan.expect_code(0);
    plan.expect_contains("No changes");
    assert_eq!(files_read(&plan.stderr), (4, 4));
    // Rewritten whole: the next process reads nothing again.
    let plan = ws.cairn_env(&["plan"], &[("CAIRN_LOG", "cairn=debug")]);
    plan.expect_code(0);
    assert_eq!(files_read(&plan.stderr), (0, 4));

    // A problem across files, one of them cached: the commit is read in
    // full, so both places are shown with their text.
    ws.repo.write(
        "copy.toml",
        &format!("\n{}", record("A.inc.example", "192.0.2.9")),
    );
    ws.repo.commit("a copy of a", AUTHOR);
    let validate = ws.cairn(&["validate"]);
    validate.expect_code(1);
    validate.expect_contains("duplicate resource dns/record/a.inc.example./A");
    validate.expect_contains("copy.toml:3:1");
    validate.expect_contains("a.toml:2:1");
    validate.expect_contains("first declared here");
    assert_eq!(ws.pdns.dig("a.inc.example", "A"), ["192.0.2.1"]);
}

#[test]
fn between_drift_checks_a_commit_touches_only_what_it_changed() {
    let ws = Workspace::new();
    three_files(&ws, "192.0.2.2");
    ws.repo.commit("three files", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"\ndrift_interval = \"1h\"\nself_heal = true".into(),
        ..ConfigOptions::default()
    });
    let mut daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(30), "the first commit applied", || {
        ws.pdns.dig("c.inc.example", "A") == ["192.0.2.3"]
    });
    daemon.wait_applied_run("default", None);

    // A hand edit of `a`, then a commit that moves only `b`.
    ws.pdns
        .put_rrset("inc.example.", "a.inc.example.", "A", 60, &["203.0.113.1"]);
    ws.repo
        .write("b.toml", &record("b.inc.example.", "192.0.2.22"));
    ws.repo.commit("move b", AUTHOR);
    wait_until(Duration::from_secs(30), "b's change applied", || {
        ws.pdns.dig("b.inc.example", "A") == ["192.0.2.22"]
    });
    // The commit's reconcile looked at `b` only: `a` waits for the drift
    // check (here: the full look of the next start).
    assert_eq!(ws.pdns.dig("a.inc.example", "A"), ["203.0.113.1"]);
    let status = daemon.tenant("default");
    let a = status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "dns/record/a.inc.example./A")
        .unwrap()
        .clone();
    assert_eq!(a["status"], "in-sync", "{a}");

    daemon.stop();
    daemon.restart();
    wait_until(Duration::from_secs(30), "the drift healed at start", || {
        ws.pdns.dig("a.inc.example", "A") == ["192.0.2.1"]
    });
    let history = ws.cairn(&["history", "--json"]).json();
    let healed = history
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|run| run["actions"].as_array().unwrap())
        .any(|action| {
            action["address"] == "dns/record/a.inc.example./A" && action["action"] == "drift"
        });
    assert!(healed, "the repair is recorded as drift: {history:#}");
}
