//! The convergence check against a provider that does not converge (the
//! unconverging test plugin, whose read-back differs from what it applied):
//! the daemon reports it once — in the history, the status API and an
//! alert — and holds the resource instead of applying it again at every
//! drift check, until Git changes it; a `null` where the spec omits a
//! field is no difference; `cairn plan` and `cairn apply` say what is held.
//!
//! Nothing here sleeps and then asserts that nothing happened: a negative
//! check waits until the daemon has demonstrably planned again (drift
//! checks counted) and then asserts that no write reached the server.

use cairn_tests::Workspace;
use cairn_tests::alerts::AlertReceiver;
use cairn_tests::cairn::config_header;
use cairn_tests::daemon::{Daemon, metric_sum_with, wait_until};
use cairn_tests::things::ThingsServer;
use std::time::Duration;

const AUTHOR: &str = "Grace Hopper <grace@example.org>";

/// The repository's things: thing `a` has a `ttl`, which the provider reads back as a string: it
/// never converges. Thing `b` has none: it reads back with a `null`
/// comment only, which is no difference.
fn things_at(ttl: u32) -> String {
    format!("[[odd.thing]]\nname = \"a\"\nttl = {ttl}\n\n[[odd.thing]]\nname = \"b\"\n")
}

/// What the daemon reports for thing `a` at `ttl`.
fn not_converged(ttl: u32) -> String {
    format!(r#"provider `odd` did not converge on ttl (applied {ttl}, observed "{ttl}")"#)
}

/// Writes `cairn.toml`: tenant `default` on the workspace's repository,
/// polling and checking drift every second, with the unconverging
/// provider as `odd`.
fn configure(ws: &Workspace, things: &ThingsServer, alerts: &AlertReceiver) {
    let text = format!(
        r#"{header}
{alerts}
[tenants.default]
repo = {repo:?}
ref = "main"
path = "."
interval = "1s"
drift_interval = "1s"
{provider}"#,
        header = config_header(),
        alerts = alerts.table(),
        repo = ws.repo.path().display().to_string(),
        provider = things.provider_table("default", "odd"),
    );
    std::fs::write(ws.config_path(), text).expect("write cairn.toml");
}

/// Runs the daemon counted with outcome `in-sync` for tenant `default`:
/// each is a full plan (a drift check) that found nothing to apply.
fn settled_runs(daemon: &Daemon) -> f64 {
    metric_sum_with(
        &daemon.metrics(),
        "cairn_reconcile_runs_total",
        &[("tenant", "default"), ("outcome", "in-sync")],
    )
}

/// Waits until the daemon has planned `count` more times and found
/// nothing to apply.
fn wait_for_settled_runs(daemon: &Daemon, count: f64) {
    let before = settled_runs(daemon);
    wait_until(
        Duration::from_secs(30),
        "more drift checks that apply nothing",
        || settled_runs(daemon) >= before + count,
    );
}

/// The actions of the history for `address`, newest run first: (result,
/// error).
fn actions_of(ws: &Workspace, address: &str) -> Vec<(String, String)> {
    ws.history()
        .iter()
        .flat_map(|run| run["actions"].as_array().cloned().unwrap_or_default())
        .filter(|action| action["address"] == address)
        .map(|action| {
            (
                action["result"].as_str().unwrap_or_default().to_string(),
                action["error"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_provider_that_does_not_converge_is_reported_once_and_held_until_git_changes() {
    let ws = Workspace::new();
    let things = ThingsServer::start();
    let receiver = AlertReceiver::start();
    configure(&ws, &things, &receiver);
    ws.repo.write("things.toml", &things_at(300));
    ws.repo.commit("two things", AUTHOR);

    let mut daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(30), "both things applied", || {
        things.writes("a") == 1 && things.writes("b") == 1
    });
    // Several drift checks later, neither is applied again: `a` is held,
    // `b` converged (its read-back differs by a `null` only).
    wait_for_settled_runs(&daemon, 3.0);
    assert_eq!(things.writes("a"), 1, "the held thing was applied again");
    assert_eq!(things.writes("b"), 1, "a converged thing was applied again");

    // In the history: the create of `a` made, and failed as not
    // converging; `b` made.
    assert_eq!(
        actions_of(&ws, "odd/thing/a"),
        [("failed".to_string(), not_converged(300))]
    );
    assert_eq!(
        actions_of(&ws, "odd/thing/b"),
        [("ok".to_string(), String::new())]
    );
    // In the status API: failed with the reason, and held.
    let status = daemon.tenant("default");
    assert_eq!(status["not_converged"], serde_json::json!(["odd/thing/a"]));
    let resources = status["resources"].as_array().expect("resources").clone();
    let of = |address: &str| {
        resources
            .iter()
            .find(|r| r["address"] == address)
            .unwrap_or_else(|| panic!("{address} in {resources:#?}"))
            .clone()
    };
    assert_eq!(of("odd/thing/a")["status"], "failed");
    assert_eq!(of("odd/thing/a")["not_converged"], true);
    assert_eq!(of("odd/thing/a")["last_error"], not_converged(300));
    assert_eq!(of("odd/thing/b")["status"], "in-sync");
    assert_eq!(of("odd/thing/b")["not_converged"], false);
    // One alert, and no recovery.
    let alerts = receiver.of("not-converged", Some("odd/thing/a"));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&not_converged(300)),
        "{}",
        alerts[0]
    );
    assert!(receiver.of("not-converged", Some("odd/thing/b")).is_empty());
    assert!(receiver.of("recovered", Some("odd/thing/a")).is_empty());

    // `cairn plan` says why nothing is planned for it.
    ws.cairn(&["plan"])
        .expect_code(0)
        .expect_contains("No changes to make: 1 resource(s) unchanged, 1 held")
        .expect_contains(&format!(
            "odd/thing/a is held: after its last apply, {}. It is not applied again until its spec in Git or its provider's plugin changes",
            not_converged(300)
        ));

    // Git changes it: applied once more, and held again.
    ws.repo.write("things.toml", &things_at(600));
    ws.repo.commit("a longer ttl", AUTHOR);
    wait_until(Duration::from_secs(30), "the new spec applied", || {
        things.writes("a") == 2
    });
    assert_eq!(things.thing("a").expect("a is stored")["ttl"], 600);
    wait_for_settled_runs(&daemon, 3.0);
    assert_eq!(things.writes("a"), 2, "the held thing was applied again");
    assert_eq!(things.writes("b"), 1);
    assert_eq!(
        actions_of(&ws, "odd/thing/a"),
        [
            ("failed".to_string(), not_converged(600)),
            ("failed".to_string(), not_converged(300)),
        ]
    );
    assert_eq!(
        daemon.tenant("default")["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|r| r["address"] == "odd/thing/a")
            .expect("a")["last_error"],
        not_converged(600)
    );
    // Still the one condition, alerted once.
    assert_eq!(receiver.of("not-converged", Some("odd/thing/a")).len(), 1);
    daemon.stop();

    // Removed from Git: deleted, held or not.
    ws.repo.write("things.toml", "");
    ws.repo.commit("no things", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains("delete odd/thing/a");
    assert_eq!(things.thing("a"), None);
}

#[test]
fn cairn_apply_reports_what_did_not_converge() {
    let ws = Workspace::new();
    let things = ThingsServer::start();
    let receiver = AlertReceiver::start();
    configure(&ws, &things, &receiver);
    ws.repo.write("things.toml", &things_at(300));
    ws.repo.commit("two things", AUTHOR);

    let apply = ws.cairn(&["apply", "--yes"]);
    apply
        .expect_code(1)
        .expect_contains("≠ create odd/thing/a")
        .expect_contains(&not_converged(300))
        .expect_contains("✓ create odd/thing/b")
        .expect_contains("Apply partial: 2 change(s), 0 not made.")
        .expect_contains("1 change(s) were made, but their provider did not converge");
    let json = ws
        .cairn(&["apply", "--yes", "--json"])
        .expect_code(0)
        .json();
    assert_eq!(json["report"], serde_json::Value::Null, "nothing to apply");
    assert_eq!(json["plan"]["diverged"][0]["address"], "odd/thing/a");
    assert_eq!(json["plan"]["diverged"][0]["reason"], not_converged(300));
    assert_eq!((things.writes("a"), things.writes("b")), (1, 1));
}
