//! Sources beyond Git, each running the quickstart's DNS scenario against
//! the real PowerDNS with the same plan, apply and history as Git, apart
//! from the revision: a plain folder (`dir:PATH`), read as it is, with no
//! author and no past.

use cairn_tests::Workspace;
use cairn_tests::cairn::ConfigOptions;

fn zone(address: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"example.org.\"\n\n[[dns.record]]\nname = \"www.example.org.\"\ntype = \"A\"\nrecords = [\"{address}\"]\ndepends_on = [\"dns/zone/example.org.\"]\n"
    )
}

/// A folder is planned and applied as it is on disk — nothing to commit —
/// its revision a content hash shown where a commit id would be, its
/// author saying it is not auditable; it keeps no past to roll back to,
/// and a link in it is refused with nothing applied.
#[test]
fn a_plain_folder_is_read_as_it_is_and_keeps_no_past() {
    let ws = Workspace::new();
    let folder = ws.path().join("desired");
    std::fs::create_dir_all(&folder).expect("the folder");
    ws.configure(&ConfigOptions {
        repo: Some(format!("dir:{}", folder.display())),
        ..ConfigOptions::default()
    });
    std::fs::write(folder.join("dns.toml"), zone("192.0.2.1")).expect("write");
    ws.cairn(&["validate"]).expect_code(0);
    let first = ws.cairn(&["apply", "--yes"]);
    first.expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);

    std::fs::write(folder.join("dns.toml"), zone("192.0.2.2")).expect("edit");
    ws.cairn(&["plan"])
        .expect_code(2)
        .expect_contains("add 192.0.2.2, remove 192.0.2.1");
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains("No changes");

    let history = ws.history();
    let applies: Vec<_> = history
        .iter()
        .filter(|run| run["kind"] == "apply")
        .collect();
    assert_eq!(applies.len(), 2, "{history:#?}");
    for run in &history {
        assert_eq!(
            run["commit_author"], "nobody (a plain folder: not auditable)",
            "{run:#}"
        );
        assert_eq!(run["commit_id"].as_str().map(str::len), Some(64), "{run:#}");
    }
    assert_ne!(applies[0]["commit_id"], applies[1]["commit_id"]);

    ws.cairn(&["rollback"])
        .expect_code(1)
        .expect_contains("keeps no past revisions");
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);

    std::os::unix::fs::symlink("/etc/hostname", folder.join("link.toml")).expect("a link");
    std::fs::write(folder.join("dns.toml"), zone("192.0.2.3")).expect("edit");
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("link.toml")
        .expect_contains("symbolic link");
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);
}
