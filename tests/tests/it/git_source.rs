//! The Git source: remotes cloned bare and fetched (`file://` and a real
//! `git daemon`), refs that are branches, tags or commit ids, and a folder
//! inside the repository.

use cairn_tests::Workspace;
use cairn_tests::cairn::ConfigOptions;
use cairn_tests::git::{GitDaemon, GitHttpServer};

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
