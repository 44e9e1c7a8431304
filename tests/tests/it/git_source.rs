//! The Git source: remotes cloned bare and fetched (`file://` and a real
//! `git daemon`), refs that are branches, tags or commit ids, a folder
//! inside the repository, and a branch deleted on the remote.

use cairn_tests::Workspace;
use cairn_tests::alerts::AlertReceiver;
use cairn_tests::cairn::{ConfigOptions, Output};
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::git::{GitDaemon, GitHttpServer};
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

fn zone(address: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"example.org.\"\n\n[[dns.record]]\nname = \"www.example.org.\"\ntype = \"A\"\nrecords = [\"{address}\"]\n"
    )
}

/// Applies, commits a change, and checks that the next apply fetched it.
fn apply_follow_the_remote(ws: &Workspace) {
    ws.repo.write("dns/zone.toml", &zone("192.0.2.1"));
    let first = ws.repo.commit("first", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(&first[..12]);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);

    ws.repo.write("dns/zone.toml", &zone("192.0.2.2"));
    let second = ws.repo.commit("second", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(&second[..12]);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);
}

#[test]
fn a_file_url_is_cloned_and_fetched() {
    let ws = Workspace::new();
    ws.configure(&ConfigOptions {
        repo: Some(format!("file://{}", ws.repo.path().display())),
        ..ConfigOptions::default()
    });
    apply_follow_the_remote(&ws);
}

#[test]
fn a_git_url_served_by_git_daemon_is_cloned_and_fetched() {
    let ws = Workspace::new();
    let daemon = GitDaemon::start(ws.path());
    ws.configure(&ConfigOptions {
        repo: Some(daemon.url("zones")),
        ..ConfigOptions::default()
    });
    apply_follow_the_remote(&ws);
}

#[test]
fn an_http_url_served_by_git_http_backend_is_cloned_and_fetched() {
    let ws = Workspace::new();
    let server = GitHttpServer::start(ws.path());
    ws.configure(&ConfigOptions {
        repo: Some(format!("{}/zones", server.url)),
        ..ConfigOptions::default()
    });
    apply_follow_the_remote(&ws);
}

#[test]
fn tags_commit_ids_and_folders_select_what_is_read() {
    let ws = Workspace::new();
    ws.repo.write("dns/zone.toml", &zone("192.0.2.1"));
    // Files outside the configured folder are not resources.
    ws.repo
        .write("docs/notes.toml", "this is = not = a resource file");
    let first = ws.repo.commit("first", AUTHOR);
    ws.repo.git(&["tag", "v1"]);
    ws.repo.write("dns/zone.toml", &zone("192.0.2.2"));
    ws.repo.commit("second", AUTHOR);

    let config = std::fs::read_to_string(ws.config_path()).unwrap();
    let with = |reference: &str| {
        let text = config
            .replace("ref = \"main\"", &format!("ref = \"{reference}\""))
            .replace("path = \".\"", "path = \"dns\"");
        std::fs::write(ws.config_path(), text).unwrap();
    };

    with("v1");
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(&first[..12]);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);

    with("main");
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);

    with(&first);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);

    with("no-such-branch");
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("the ref `no-such-branch` names no commit");
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
}

/// A branch deleted on the remote stays in Cairn's mirror (a fetch never
/// removes a ref), and was read from there forever. It is now an error
/// naming the ref and the remote: `cairn plan` and `cairn apply` fail
/// (exit 1) having applied nothing; the daemon records the refusal once,
/// shows it in its status and alerts, naming the commit the ref last
/// named; what was applied stays; and the branch pushed again is followed
/// again.
#[test]
fn a_branch_deleted_on_the_remote_is_an_error_until_it_is_back() {
    let ws = Workspace::new();
    let remote = format!("file://{}", ws.repo.path().display());
    let receiver = AlertReceiver::start();
    ws.configure(&ConfigOptions {
        repo: Some(remote.clone()),
        tenant_settings: "interval = \"1s\"".into(),
        top_settings: receiver.table(),
        ..ConfigOptions::default()
    });
    let www = || ws.pdns.dig("www.example.org", "A");
    ws.repo.write("dns/zone.toml", &zone("192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    // A second commit is fetched by a plan, and never applied.
    ws.repo.write("dns/zone.toml", &zone("192.0.2.2"));
    let second = ws.repo.commit("second", AUTHOR);
    ws.cairn(&["plan"]).expect_code(2);

    // The remote's branch goes (its work tree moves to another first).
    ws.repo.git(&["checkout", "--quiet", "-b", "elsewhere"]);
    ws.repo.git(&["branch", "--quiet", "-D", "main"]);
    let gone = format!("the ref `main` no longer exists on the remote {remote}");
    for command in [&["plan"][..], &["apply", "--yes"][..]] {
        ws.cairn(command)
            .expect_code(1)
            .expect_contains(&gone)
            .expect_contains(&format!("it last named commit {}", &second[..12]))
            .expect_contains("Push the branch to the remote again, or set `ref` in cairn.toml");
    }
    assert_eq!(www(), ["192.0.2.1"]);
    let refused: Vec<serde_json::Value> = ws
        .history()
        .into_iter()
        .filter(|run| run["outcome"] == "refused")
        .collect();
    let kinds: Vec<&str> = refused
        .iter()
        .map(|run| run["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["apply", "plan"], "{refused:#?}");
    assert!(
        refused
            .iter()
            .all(|run| run["commit_id"] == second.as_str())
    );

    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "three failed runs", || {
        daemon.metric_sum("cairn_errors_total") >= 3.0
    });
    let status = daemon.tenant("default");
    let error = status["last_error"].as_str().expect("an error");
    assert!(error.contains(&gone), "{status:#}");
    let refused: Vec<serde_json::Value> = ws
        .history()
        .into_iter()
        .filter(|run| run["kind"] == "reconcile" && run["outcome"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1, "recorded once: {refused:#?}");
    assert_eq!(refused[0]["reason"], error);
    assert_eq!(status["last_run"]["run_id"], refused[0]["id"]);
    wait_until(Duration::from_secs(10), "the alert", || {
        !receiver.of("apply-failed", None).is_empty()
    });
    let alert = &receiver.of("apply-failed", None)[0];
    assert_eq!(alert["commit"], second.as_str(), "{alert:#}");
    assert!(
        alert["message"].as_str().unwrap().contains(&gone),
        "{alert:#}"
    );
    ws.cairn(&["status"])
        .expect_code(0)
        .expect_contains(&format!("last error: {error}"));
    assert_eq!(www(), ["192.0.2.1"], "the applied state moved");

    // The branch is back, with a new commit: followed again.
    ws.repo.git(&["checkout", "--quiet", "-b", "main"]);
    ws.repo.write("dns/zone.toml", &zone("192.0.2.3"));
    ws.repo.commit("third", AUTHOR);
    wait_until(Duration::from_secs(20), "the branch followed again", || {
        www() == ["192.0.2.3"]
    });
    wait_until(Duration::from_secs(10), "the error cleared", || {
        daemon.tenant("default")["last_error"].is_null()
    });
}

/// A workspace reading tag `v1` of its repository served by `git daemon`,
/// and the tag's commit, applied.
fn release_applied() -> (Workspace, GitDaemon, String) {
    let ws = Workspace::new();
    let daemon = GitDaemon::start(ws.path());
    ws.configure(&ConfigOptions {
        repo: Some(daemon.url("zones")),
        reference: "v1".into(),
        ..ConfigOptions::default()
    });
    ws.repo.write("dns/zone.toml", &zone("192.0.2.1"));
    let first = ws.repo.commit("first", AUTHOR);
    ws.repo.git(&["tag", "v1"]);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(&first[..12]);
    (ws, daemon, first)
}

/// Moves tag `v1` to a new commit (`git tag -f`), which it returns.
fn move_the_release(ws: &Workspace) -> String {
    ws.repo.write("dns/zone.toml", &zone("192.0.2.2"));
    let second = ws.repo.commit("second", AUTHOR);
    ws.repo.git(&["tag", "-f", "v1"]);
    second
}

/// Panics unless `output` is the refusal of tag `v1`, moved from `first`
/// to `second`.
#[track_caller]
fn refused_as_moved(output: Output, first: &str, second: &str) {
    output
        .expect_code(1)
        .expect_contains("the tag `v1`")
        .expect_contains("moved")
        .expect_contains(&first[..12])
        .expect_contains(&second[..12]);
}

/// A release tag does not move: moved on the remote (`git tag -f` and a
/// forced push), it is an error naming both commits, every time, with
/// nothing applied; another ref is read as usual.
#[test]
fn a_tag_that_moves_is_an_error_with_nothing_applied() {
    let (ws, daemon, first) = release_applied();
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);

    let second = move_the_release(&ws);
    for _ in 0..2 {
        refused_as_moved(ws.cairn(&["apply", "--yes"]), &first, &second);
    }
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
    ws.repo.git(&["tag", "v2"]);
    ws.configure(&ConfigOptions {
        repo: Some(daemon.url("zones")),
        reference: "v2".into(),
        ..ConfigOptions::default()
    });
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(&second[..12]);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);
}

/// What a tag named is remembered in the state store, not in a cache
/// folder: a reader with a cache of its own sharing the store (a daemon
/// on another host) refuses the move just the same, and so does one whose
/// cache was emptied.
#[test]
fn a_moved_tag_is_refused_by_every_reader_of_the_store() {
    let (ws, _daemon, first) = release_applied();

    // Another host: a folder and a cache of its own, the same store.
    let host = tempfile::tempdir().unwrap();
    cairn_tests::cairn::share_compiled_plugins(host.path());
    let state = ws.path().join(".cairn/state.db").display().to_string();
    let text = std::fs::read_to_string(ws.config_path())
        .unwrap()
        .replace("sqlite:.cairn/state.db", &format!("sqlite:{state}"));
    assert!(text.contains(&state), "{text}");
    let other = host.path().join("cairn.toml");
    std::fs::write(&other, text).unwrap();
    // And the first host's clones and what they remembered, gone.
    std::fs::remove_dir_all(ws.path().join(".cairn/cache/repos")).unwrap();

    let second = move_the_release(&ws);
    for config in [other.as_path(), ws.config_path().as_path()] {
        let apply = ws.cairn_bare(&["apply", "--yes", "--config", config.to_str().unwrap()]);
        refused_as_moved(apply, &first, &second);
    }
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
}
