//! Refused commits: a commit Cairn will not apply — not signed by a
//! trusted key, its signers' file gone, over a quota (and its ref gone
//! from the remote, in `git_source`) — is a run of its own in the history
//! (`refused`, its commit, its reason, no actions), in `cairn status` as in
//! the status API, and in an alert that names it; what was applied before
//! stays (README, "Refusals").

use cairn_tests::Workspace;
use cairn_tests::alerts::AlertReceiver;
use cairn_tests::cairn::ConfigOptions;
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::git::ssh_key;
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

fn zone(address: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"example.quest.\"\n\n[[dns.record]]\nname = \"www.example.quest.\"\ntype = \"A\"\nrecords = [\"{address}\"]\n"
    )
}

/// The runs of the history about `commit`, newest first.
fn runs_of(ws: &Workspace, commit: &str) -> Vec<serde_json::Value> {
    ws.history()
        .into_iter()
        .filter(|run| run["commit_id"] == commit)
        .collect()
}

/// Checks that `run` records `commit` refused as a run of `kind`, with
/// a reason holding `reason` and no actions; returns the reason.
fn assert_refused(run: &serde_json::Value, kind: &str, commit: &str, reason: &str) -> String {
    assert_eq!(run["kind"], kind, "{run:#}");
    assert_eq!(run["outcome"], "refused", "{run:#}");
    assert_eq!(run["commit_id"], commit, "{run:#}");
    assert_eq!(run["commit_author"], AUTHOR, "{run:#}");
    assert_eq!(run["changes"], 0, "{run:#}");
    assert!(run["actions"].as_array().unwrap().is_empty(), "{run:#}");
    let recorded = run["reason"].as_str().expect("a refused run has a reason");
    assert!(recorded.contains(reason), "{run:#}");
    recorded.to_string()
}

#[test]
fn a_commit_refused_for_its_signature_is_in_the_history_status_and_alert() {
    let ws = Workspace::new();
    let keys = ws.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (trusted, trusted_public) = ssh_key(&keys, "release");
    let signers = keys.join("allowed_signers");
    let receiver = AlertReceiver::start();
    let options = ConfigOptions {
        tenant_settings: format!(
            "interval = \"1s\"\nallowed_signers = {:?}\n",
            signers.display().to_string()
        ),
        top_settings: receiver.table(),
        ..ConfigOptions::default()
    };
    ws.configure(&options);
    let www = || ws.pdns.dig("www.example.quest", "A");

    // Without its signers' file, the configuration does not load.
    ws.cairn(&["plan"]).expect_code(1).expect_contains(&format!(
        "[tenants.default] allowed_signers: file not found: {}",
        signers.display()
    ));
    std::fs::write(&signers, format!("release@example.org {trusted_public}\n")).unwrap();

    ws.repo.write("dns.toml", &zone("192.0.2.1"));
    let good = ws.repo.commit_signed("signed", AUTHOR, &trusted);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(www(), ["192.0.2.1"]);

    // `cairn apply` of an unsigned commit: refused, and recorded so.
    ws.repo.write("dns.toml", &zone("192.0.2.66"));
    let unsigned = ws.repo.commit("not signed", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains(&format!("commit {unsigned} is not signed"));
    let runs = runs_of(&ws, &unsigned);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_refused(&runs[0], "apply", &unsigned, "is not signed");
    ws.cairn(&["history"])
        .expect_code(0)
        .expect_contains(&format!("refused: commit {unsigned} is not signed"));

    // The daemon: refused once however often it tries again, alerted with
    // the refused commit, shown by the API and `cairn status` alike.
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "three refusals, alerted", || {
        daemon.metric_sum("cairn_errors_total") >= 3.0
            && !receiver.of("apply-failed", None).is_empty()
    });
    let alerts = receiver.of("apply-failed", None);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(
        alerts[0]["commit"],
        unsigned.as_str(),
        "not the last good commit"
    );
    assert!(
        alerts[0]["message"]
            .as_str()
            .unwrap()
            .contains("is not signed")
    );
    let runs = runs_of(&ws, &unsigned);
    assert_eq!(runs.len(), 2, "refused once by the daemon: {runs:#?}");
    let reason = assert_refused(&runs[0], "reconcile", &unsigned, "is not signed");
    let api = daemon.tenant("default");
    assert_eq!(api["last_error"], reason.as_str(), "{api:#}");
    assert_eq!(api["last_run"]["outcome"], "error", "{api:#}");
    assert_eq!(api["last_run"]["run_id"], runs[0]["id"], "{api:#}");
    assert_eq!(
        api["last_recorded_run"]["reason"],
        reason.as_str(),
        "{api:#}"
    );

    let stored = ws.cairn(&["status", "--json"]).expect_code(0).json()[0].clone();
    let keys_of = |value: &serde_json::Value| {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys_of(&stored), keys_of(&api), "{stored:#}");
    for key in [
        "last_error",
        "reference",
        "loaded",
        "commit",
        "blocked",
        "holder",
    ] {
        assert_eq!(stored[key], api[key], "{key}");
    }
    let api_url = format!("http://127.0.0.1:{}", daemon.port);
    for args in [vec!["status"], vec!["status", "--api", &api_url]] {
        ws.cairn(&args)
            .expect_code(0)
            .expect_contains(&format!("last error: {reason}"))
            .expect_contains(&format!("refused at commit {}: commit", &unsigned[..12]));
    }
    assert_eq!(www(), ["192.0.2.1"]);

    // The signers' file goes away: a signed commit is refused saying so,
    // not as a signature the verifier did not trust.
    std::fs::remove_file(&signers).unwrap();
    let signed = ws
        .repo
        .commit_signed("signed, while the file is gone", AUTHOR, &trusted);
    let missing = format!("file not found: {}", signers.display());
    wait_until(Duration::from_secs(20), "the missing file said", || {
        daemon.tenant("default")["last_error"]
            .as_str()
            .is_some_and(|error| error.contains(&missing))
    });
    // (The commands load cairn.toml, which wants the file: the API says.)
    let recorded = daemon.tenant("default")["last_recorded_run"].clone();
    let reason = assert_refused(&recorded, "reconcile", &signed, &missing);
    assert!(!reason.contains("Undefined"), "{reason}");
    assert_eq!(www(), ["192.0.2.1"]);

    // The file back: the signed commit applies, and the error clears.
    std::fs::write(&signers, format!("release@example.org {trusted_public}\n")).unwrap();
    wait_until(Duration::from_secs(20), "the signed commit applied", || {
        www() == ["192.0.2.66"]
    });
    wait_until(Duration::from_secs(10), "the error cleared", || {
        daemon.tenant("default")["last_error"].is_null()
    });
    let outcomes: Vec<serde_json::Value> = runs_of(&ws, &signed)
        .iter()
        .map(|run| run["outcome"].clone())
        .collect();
    assert_eq!(outcomes, ["succeeded", "refused"], "refused once");
    assert!(
        receiver
            .of("recovered", None)
            .iter()
            .any(|alert| alert["commit"] == signed.as_str()),
        "{:#?}",
        receiver.alerts()
    );
    assert_eq!(runs_of(&ws, &good).len(), 1);
}

#[test]
fn a_commit_over_a_quota_is_refused_and_recorded() {
    let ws = Workspace::new();
    let www = || ws.pdns.dig("www.example.quest", "A");
    // Three files, three resources, three changes.
    ws.repo.write("dns.toml", &zone("192.0.2.1"));
    ws.repo.write(
        "more.toml",
        "[[dns.record]]\nname = \"mail.example.quest.\"\ntype = \"A\"\nrecords = [\"192.0.2.25\"]\n",
    );
    ws.repo.write("README.md", "Zones of example.quest.\n");
    let commit = ws.repo.commit("three of everything", AUTHOR);
    for (quota, kind, reason) in [
        (
            "repository_files = 2",
            "apply",
            "quotas.repository_files = 2",
        ),
        ("resources = 2", "apply", "quotas.resources = 2"),
        ("plan_changes = 2", "plan", "quotas.plan_changes = 2"),
    ] {
        ws.configure(&ConfigOptions {
            tenant_settings: format!("quotas = {{ {quota} }}"),
            ..ConfigOptions::default()
        });
        let command: &[&str] = match kind {
            "apply" => &["apply", "--yes"],
            _ => &["plan"],
        };
        ws.cairn(command)
            .expect_code(1)
            .expect_contains(&format!("commit {commit}: quota exceeded"))
            .expect_contains(reason);
        let runs = runs_of(&ws, &commit);
        assert_refused(
            &runs[0],
            kind,
            &commit,
            &format!("commit {commit}: quota exceeded"),
        );
        assert!(runs[0]["reason"].as_str().unwrap().contains(reason));
        assert!(www().is_empty(), "{quota}: something was applied");
    }
    assert_eq!(runs_of(&ws, &commit).len(), 3);
}
