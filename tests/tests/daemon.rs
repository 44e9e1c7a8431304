//! `cairn daemon` against real servers: pushes applied through webhooks and
//! polling, drift reported and healed, failures backed off and recovered,
//! the safety threshold, rollback and resume, metrics and shutdown.

use cairn_tests::alerts::AlertReceiver;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, HOOK_SECRET, wait_until};
use cairn_tests::git::GitDaemon;
use cairn_tests::{Workspace, cairn::Output};
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// A zone with `www` pointing at `address`.
fn zone(zone: &str, address: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"{zone}\"\n\n[[dns.record]]\nname = \"www.{zone}\"\ntype = \"A\"\nrecords = [\"{address}\"]\ndepends_on = [\"dns/zone/{zone}\"]\n"
    )
}

#[test]
fn a_signed_push_is_applied_at_once_and_bad_signatures_change_nothing() {
    let ws = Workspace::new();
    let git = GitDaemon::start(ws.path());
    ws.repo
        .write("dns.toml", &zone("example.org.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    ws.configure(&ConfigOptions {
        repo: Some(git.url("zones")),
        tenant_settings: "interval = \"1h\"\ndrift_interval = \"1h\"\nwebhook_secret = { env = \"CAIRN_TEST_HOOK\" }".into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "the first commit applied", || {
        ws.pdns.dig("www.example.org", "A") == ["192.0.2.1"]
    });

    ws.repo
        .write("dns.toml", &zone("example.org.", "192.0.2.2"));
    let second = ws.repo.commit("second", AUTHOR);
    let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{second}\"}}");
    assert_eq!(daemon.push("default", "wrong secret", &body), 401);
    let (status, _) = daemon.post("/hooks/default", &[], &body).unwrap();
    assert_eq!(status, 401, "a push without a signature is refused");
    assert_eq!(daemon.push("nobody", HOOK_SECRET, &body), 404);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        ws.pdns.dig("www.example.org", "A"),
        ["192.0.2.1"],
        "a refused push changed something"
    );

    assert_eq!(daemon.push("default", HOOK_SECRET, &body), 202);
    let latency = wait_until(Duration::from_secs(10), "the pushed commit applied", || {
        ws.pdns.dig("www.example.org", "A") == ["192.0.2.2"]
    });
    eprintln!(
        "push-to-applied latency through the webhook: {} ms",
        latency.as_millis()
    );
    assert!(
        latency < Duration::from_secs(3),
        "the push took {latency:?}"
    );
    let status = daemon.tenant("default");
    assert_eq!(status["commit"]["id"], second);
    assert_eq!(status["last_run"]["trigger"], "webhook");
}

#[test]
fn polling_applies_a_commit_without_a_webhook() {
    let ws = Workspace::new();
    ws.repo
        .write("dns.toml", &zone("example.net.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "the first commit applied", || {
        ws.pdns.dig("www.example.net", "A") == ["192.0.2.1"]
    });
    ws.repo
        .write("dns.toml", &zone("example.net.", "192.0.2.7"));
    ws.repo.commit("second", AUTHOR);
    wait_until(Duration::from_secs(10), "the polled commit applied", || {
        ws.pdns.dig("www.example.net", "A") == ["192.0.2.7"]
    });
    // Idle polls find nothing to do and record nothing.
    std::thread::sleep(Duration::from_secs(2));
    let runs = ws.cairn(&["history", "--json"]).json();
    let kinds: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reconcile", "reconcile"], "{runs:#}");
    drop(daemon);
}

#[test]
fn drift_is_alerted_and_healed_only_when_allowed() {
    let ws = Workspace::new();
    let receiver = AlertReceiver::start();
    ws.repo
        .write("dns.toml", &zone("example.com.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    let settings = |self_heal: bool| ConfigOptions {
        tenant_settings: format!(
            "interval = \"1s\"\ndrift_interval = \"1s\"\nself_heal = {self_heal}"
        ),
        top_settings: receiver.table(),
        ..ConfigOptions::default()
    };
    ws.configure(&settings(true));
    let mut daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "the commit applied", || {
        ws.pdns.dig("www.example.com", "A") == ["192.0.2.1"]
    });

    // Someone edits the record by hand: reported, then repaired.
    ws.pdns.put_rrset(
        "example.com.",
        "www.example.com.",
        "A",
        60,
        &["203.0.113.5"],
    );
    let address = "dns/record/www.example.com./A";
    wait_until(Duration::from_secs(15), "the drift alert", || {
        !receiver.of("drift", Some(address)).is_empty()
    });
    wait_until(Duration::from_secs(15), "the repair", || {
        ws.pdns.dig("www.example.com", "A") == ["192.0.2.1"]
    });
    wait_until(Duration::from_secs(15), "the recovery alert", || {
        !receiver.of("recovered", Some(address)).is_empty()
    });
    let drift = &receiver.of("drift", Some(address))[0];
    assert_eq!(drift["tenant"], "default");
    assert!(
        drift["message"]
            .as_str()
            .unwrap()
            .contains("changed outside Cairn"),
        "{drift}"
    );
    assert!(
        drift["commit"].is_string() && drift["time"].is_string(),
        "{drift}"
    );
    assert_eq!(
        receiver.of("drift", Some(address)).len(),
        1,
        "drift alerts once"
    );

    // Deleted by hand: vanished, recreated.
    ws.pdns
        .request(
            "PATCH",
            "/api/v1/servers/localhost/zones/example.com.",
            Some(&serde_json::json!({"rrsets": [{"name": "www.example.com.", "type": "A", "changetype": "DELETE"}]})),
        )
        .unwrap();
    wait_until(
        Duration::from_secs(15),
        "the vanished record recreated",
        || ws.pdns.dig("www.example.com", "A") == ["192.0.2.1"],
    );

    // Without self-heal, drift is reported and left alone.
    daemon.stop();
    ws.configure(&settings(false));
    daemon.restart();
    ws.pdns.put_rrset(
        "example.com.",
        "www.example.com.",
        "A",
        60,
        &["203.0.113.6"],
    );
    wait_until(Duration::from_secs(15), "the drift reported", || {
        daemon.tenant("default")["drifted"] == serde_json::json!([address])
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        ws.pdns.dig("www.example.com", "A"),
        ["203.0.113.6"],
        "drift was repaired with self_heal off"
    );
    let status = daemon.tenant("default");
    let resource = status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == address)
        .unwrap()
        .clone();
    assert_eq!(resource["status"], "drifted");
    let history = ws.cairn(&["history", "--json"]).json();
    let detections: Vec<&serde_json::Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "drift")
        .flat_map(|r| r["actions"].as_array().unwrap())
        .collect();
    assert!(
        detections
            .iter()
            .all(|a| a["action"] == "drift" && a["result"] == "detected")
    );
    assert!(
        detections.len() >= 3,
        "every drift is in the audit log: {detections:#?}"
    );
}

#[test]
fn a_failing_tenant_backs_off_while_others_go_on_and_recovers() {
    let mut a = Workspace::new();
    let b = Workspace::new();
    let receiver = AlertReceiver::start();
    a.repo.write("dns.toml", &zone("a.example.", "192.0.2.1"));
    a.repo.commit("a", AUTHOR);
    b.repo.write("dns.toml", &zone("b.example.", "192.0.2.1"));
    b.repo.commit("b", AUTHOR);
    let options = ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        ..ConfigOptions::default()
    };
    let config = format!(
        "{}\n{}{}{}",
        config_header(),
        receiver.table(),
        a.tenant_block("a", &options),
        b.tenant_block("b", &options)
    );
    std::fs::write(a.config_path(), config).unwrap();
    let daemon = Daemon::start(&a.config_path());
    wait_until(Duration::from_secs(20), "both tenants applied", || {
        a.pdns.dig("www.a.example", "A") == ["192.0.2.1"]
            && b.pdns.dig("www.b.example", "A") == ["192.0.2.1"]
    });

    a.pdns.stop();
    a.repo.write("dns.toml", &zone("a.example.", "192.0.2.2"));
    a.repo.commit("a2", AUTHOR);
    wait_until(
        Duration::from_secs(15),
        "tenant a's failure alerted",
        || {
            receiver
                .alerts()
                .iter()
                .any(|e| e["tenant"] == "a" && e["event"] == "plugin-failed")
        },
    );
    // Tenant b is not held up.
    b.repo.write("dns.toml", &zone("b.example.", "192.0.2.2"));
    b.repo.commit("b2", AUTHOR);
    wait_until(Duration::from_secs(10), "tenant b applied", || {
        b.pdns.dig("www.b.example", "A") == ["192.0.2.2"]
    });
    let status = daemon.tenant("a");
    assert_eq!(status["last_run"]["outcome"], "error");
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{status:#}"
    );

    a.pdns.restart();
    wait_until(Duration::from_secs(20), "tenant a recovered", || {
        a.pdns.dig("www.a.example", "A") == ["192.0.2.2"]
    });
    wait_until(Duration::from_secs(10), "the recovery alert", || {
        receiver
            .alerts()
            .iter()
            .any(|e| e["tenant"] == "a" && e["event"] == "recovered")
    });
    let failures = receiver
        .alerts()
        .iter()
        .filter(|e| e["tenant"] == "a" && e["event"] == "plugin-failed")
        .count();
    assert_eq!(failures, 1, "a lasting failure alerts once");
}

#[test]
fn a_mass_delete_is_blocked_until_forced() {
    let ws = Workspace::new();
    let receiver = AlertReceiver::start();
    let mut text = String::from("[[dns.zone]]\nname = \"example.edu.\"\n\n");
    for index in 0..12 {
        text.push_str(&format!("[[dns.record]]\nname = \"r{index}.example.edu.\"\ntype = \"A\"\nrecords = [\"192.0.2.{index}\"]\n\n"));
    }
    ws.repo.write("dns.toml", &text);
    ws.repo.commit("twelve", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        top_settings: receiver.table(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "applied", || {
        ws.pdns.dig("r11.example.edu", "A") == ["192.0.2.11"]
    });

    ws.repo
        .write("dns.toml", "[[dns.zone]]\nname = \"example.edu.\"\n");
    ws.repo.commit("delete everything", AUTHOR);
    wait_until(Duration::from_secs(15), "the blocked alert", || {
        !receiver.of("blocked", None).is_empty()
    });
    let alert = &receiver.of("blocked", None)[0];
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("more than max_delete_percent = 30"),
        "{alert}"
    );
    assert!(
        !daemon.tenant("default")["blocked"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        ws.pdns.dig("r0.example.edu", "A"),
        ["192.0.2.0"],
        "a blocked plan was applied"
    );

    let output: Output = ws.cairn(&["apply", "--yes", "--force"]);
    output.expect_code(0);
    assert!(ws.pdns.dig("r0.example.edu", "A").is_empty());
    wait_until(Duration::from_secs(15), "the block cleared", || {
        daemon.tenant("default")["blocked"]
            .as_array()
            .unwrap()
            .is_empty()
    });
}

#[test]
fn rollback_holds_the_tenant_until_resume_or_a_new_commit() {
    let ws = Workspace::new();
    ws.repo
        .write("dns.toml", &zone("example.dev.", "192.0.2.1"));
    let good = ws.repo.commit("good", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    let www = || ws.pdns.dig("www.example.dev", "A");
    wait_until(Duration::from_secs(20), "good applied", || {
        www() == ["192.0.2.1"]
    });
    ws.repo
        .write("dns.toml", &zone("example.dev.", "192.0.2.66"));
    ws.repo.commit("bad", AUTHOR);
    wait_until(Duration::from_secs(10), "bad applied", || {
        www() == ["192.0.2.66"]
    });

    ws.cairn(&["rollback"])
        .expect_code(0)
        .expect_contains(&format!("held at commit {}", &good[..12]));
    assert_eq!(www(), ["192.0.2.1"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(www(), ["192.0.2.1"], "the daemon undid the rollback");
    assert_eq!(daemon.tenant("default")["control"]["held_commit"], good);
    ws.cairn(&["status"])
        .expect_code(0)
        .expect_contains("held at commit");

    ws.cairn(&["resume"]).expect_code(0);
    wait_until(Duration::from_secs(10), "the ref followed again", || {
        www() == ["192.0.2.66"]
    });

    ws.cairn(&["rollback", "--to", &good]).expect_code(0);
    assert_eq!(www(), ["192.0.2.1"]);
    ws.repo
        .write("dns.toml", &zone("example.dev.", "192.0.2.3"));
    ws.repo.commit("fixed", AUTHOR);
    wait_until(
        Duration::from_secs(10),
        "a new commit ends the hold",
        || www() == ["192.0.2.3"],
    );

    ws.cairn(&["suspend"]).expect_code(0);
    ws.repo
        .write("dns.toml", &zone("example.dev.", "192.0.2.4"));
    ws.repo.commit("while suspended", AUTHOR);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(www(), ["192.0.2.3"], "a suspended tenant was applied");
    ws.cairn(&["resume"]).expect_code(0);
    wait_until(Duration::from_secs(10), "resumed", || {
        www() == ["192.0.2.4"]
    });

    let kinds: Vec<String> = ws
        .cairn(&["history", "--json", "--limit", "100"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    for kind in ["rollback", "resume", "suspend", "release-hold"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} in the history: {kinds:?}"
        );
    }
}

#[test]
fn metrics_parse_as_prometheus_text_and_sigterm_stops_cleanly() {
    let ws = Workspace::new();
    ws.repo
        .write("dns.toml", &zone("example.biz.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        ..ConfigOptions::default()
    });
    let mut daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "applied", || {
        ws.pdns.dig("www.example.biz", "A") == ["192.0.2.1"]
    });
    assert_eq!(daemon.get("/healthz").unwrap(), (200, "ok\n".into()));
    let (status, text) = daemon.get("/metrics").unwrap();
    assert_eq!(status, 200);
    // The reference parser of the Prometheus project's Python client.
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
names = {family.name for family in text_string_to_metric_families(sys.stdin.read())}
print(" ".join(sorted(names)))
"#;
    let mut python = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    use std::io::Write;
    python
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = python.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the metrics do not parse: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names = String::from_utf8(output.stdout).unwrap();
    for name in [
        "cairn_reconcile_runs",
        "cairn_reconcile_duration_seconds",
        "cairn_changes_applied",
        "cairn_plugin_call_duration_seconds",
        "cairn_last_success_timestamp_seconds",
        "cairn_ready",
    ] {
        assert!(
            names.split_whitespace().any(|n| n == name),
            "{name} is missing from {names}"
        );
    }
    assert!(
        text.contains("cairn_changes_applied_total{tenant=\"default\",action=\"create\"} 2"),
        "{text}"
    );
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
}

#[test]
fn a_failing_resource_backs_off_without_blocking_the_others() {
    let ws = Workspace::new();
    let receiver = AlertReceiver::start();
    // `www.missing.example.` has no zone on the server: its create fails.
    let text = format!(
        "{}\n[[dns.record]]\nname = \"www.missing.example.\"\ntype = \"A\"\nrecords = [\"192.0.2.9\"]\n",
        zone("example.app.", "192.0.2.1")
    );
    ws.repo.write("dns.toml", &text);
    ws.repo.commit("one good zone, one orphan record", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        top_settings: receiver.table(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    let bad = "dns/record/www.missing.example./A";
    wait_until(
        Duration::from_secs(20),
        "the good resources applied",
        || ws.pdns.dig("www.example.app", "A") == ["192.0.2.1"],
    );
    wait_until(Duration::from_secs(10), "the failure alerted", || {
        !receiver.of("apply-failed", Some(bad)).is_empty()
    });
    let status = daemon.tenant("default");
    assert_eq!(status["retrying"], serde_json::json!([bad]), "{status:#}");
    let failure = &receiver.of("apply-failed", Some(bad))[0];
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("no zone on the server holds www.missing.example."),
        "{failure}"
    );

    // A later commit of an independent resource is not held up.
    ws.repo
        .write("dns.toml", &text.replace("192.0.2.1", "192.0.2.2"));
    ws.repo.commit("move www", AUTHOR);
    wait_until(Duration::from_secs(10), "the next commit applied", || {
        ws.pdns.dig("www.example.app", "A") == ["192.0.2.2"]
    });

    // The zone appears: the retry succeeds, the failure clears.
    ws.pdns
        .request("POST", "/api/v1/servers/localhost/zones", Some(&serde_json::json!({"name": "missing.example.", "kind": "Native", "nameservers": []})))
        .unwrap();
    wait_until(
        Duration::from_secs(20),
        "the retried resource applied",
        || ws.pdns.dig("www.missing.example", "A") == ["192.0.2.9"],
    );
    wait_until(Duration::from_secs(10), "the recovery alert", || {
        !receiver.of("recovered", Some(bad)).is_empty()
    });
    let failures = receiver.of("apply-failed", Some(bad)).len();
    assert_eq!(
        failures, 1,
        "a failing resource alerts once, not at every retry"
    );
    assert_eq!(daemon.tenant("default")["retrying"], serde_json::json!([]));
}

#[test]
fn a_plan_only_tenant_plans_and_reports_but_never_applies() {
    let ws = Workspace::new();
    ws.repo
        .write("dns.toml", &zone("example.shop.", "192.0.2.1"));
    let commit = ws.repo.commit("first", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"\nmode = \"plan-only\"".into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "the plan recorded", || {
        daemon.tenant("default")["last_run"]["outcome"] == "planned"
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        ws.pdns.zones().is_empty(),
        "a plan-only tenant changed the server"
    );
    let history = ws.cairn(&["history", "--json"]).json();
    let runs = history.as_array().unwrap();
    assert_eq!(runs.len(), 1, "one plan for one commit: {history:#}");
    assert_eq!(runs[0]["kind"], "plan");
    assert_eq!(runs[0]["commit_id"], commit);
    assert_eq!(runs[0]["changes"], 2);
}
