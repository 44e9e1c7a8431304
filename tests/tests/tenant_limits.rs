//! A tenant's repository and plans stay within the operator's quotas, and
//! a repository built to hurt the host — a huge blob, a hundred thousand
//! files, a symbolic link, a path that is not UTF-8, nesting past any
//! sense, another tenant's object, unsigned or wrongly signed commits — is
//! refused for that tenant alone, with an error saying what and where,
//! while the other tenant of the same `cairn.toml` applies as usual.

use cairn_tests::alerts::AlertReceiver;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::{GitRepo, Workspace};
use std::path::Path;
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// The well-behaved tenant's repository content.
const CALM: &str = "[[dns.zone]]\nname = \"calm.example.\"\n\n[[dns.record]]\nname = \"www.calm.example.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\n";

/// Writes `cairn.toml` with the workspace's tenant `calm` and a tenant
/// `rough` reading `rough_repo` with more `settings`.
fn configure(ws: &Workspace, rough_repo: &Path, settings: &str) {
    let calm = ws.tenant_block("calm", &ConfigOptions::default());
    let rough = ws.tenant_block(
        "rough",
        &ConfigOptions {
            repo: Some(rough_repo.display().to_string()),
            tenant_settings: settings.to_string(),
            ..ConfigOptions::default()
        },
    );
    std::fs::write(
        ws.config_path(),
        format!("{}\n{calm}{rough}", config_header()),
    )
    .expect("write cairn.toml");
}

/// `cairn apply` of the calm tenant still works, and its zone is served.
fn calm_is_fine(ws: &Workspace) {
    ws.cairn(&["apply", "--yes", "--tenant", "calm"])
        .expect_code(0);
    assert_eq!(ws.pdns.dig("www.calm.example.", "A"), ["192.0.2.1"]);
}

fn rough_fails_with(ws: &Workspace, expected: &[&str]) {
    let output = ws.cairn(&["plan", "--tenant", "rough"]);
    output.expect_code(1);
    for text in expected {
        output.expect_contains(text);
    }
}

fn zone_with_records(zone: &str, records: usize) -> String {
    let mut text = format!("[[dns.zone]]\nname = \"{zone}\"\n");
    for index in 0..records {
        text.push_str(&format!(
            "\n[[dns.record]]\nname = \"r{index}.{zone}\"\ntype = \"A\"\nrecords = [\"192.0.2.{}\"]\n",
            index % 250 + 1
        ));
    }
    text
}

#[test]
fn quotas_stop_only_the_tenant_that_exceeds_them() {
    let ws = Workspace::new();
    ws.repo.write("calm.toml", CALM);
    ws.repo.commit("calm", AUTHOR);
    let rough = GitRepo::init(&ws.path().join("rough"));
    rough.write("zone.toml", &zone_with_records("rough.example.", 30));
    rough.commit("thirty records", AUTHOR);

    configure(
        &ws,
        rough.path(),
        "[tenants.rough.quotas]\nresources = 20\n",
    );
    rough_fails_with(
        &ws,
        &[
            "quota exceeded",
            "the number of resources",
            "is 31",
            "quotas.resources = 20",
        ],
    );
    calm_is_fine(&ws);

    configure(
        &ws,
        rough.path(),
        "[tenants.rough.quotas]\nplan_changes = 10\n",
    );
    rough_fails_with(
        &ws,
        &[
            "the number of changes in the plan is 31",
            "quotas.plan_changes = 10",
        ],
    );
    assert!(
        ws.pdns.zones().iter().all(|zone| zone != "rough.example."),
        "nothing applied"
    );

    configure(
        &ws,
        rough.path(),
        "[tenants.rough.quotas]\nrepository_files = 3\n",
    );
    rough
        .write("notes/a.txt", "a")
        .write("notes/b.txt", "b")
        .write("notes/c.txt", "c");
    rough.commit("notes", AUTHOR);
    rough_fails_with(
        &ws,
        &[
            "the number of files below `.` is 4",
            "quotas.repository_files = 3",
        ],
    );

    configure(
        &ws,
        rough.path(),
        "[tenants.rough.quotas]\nrepository_bytes = \"1KiB\"\n",
    );
    rough_fails_with(
        &ws,
        &[
            "the size of the resource files and manifests",
            "quotas.repository_bytes = 1024",
        ],
    );

    // Memory is checked when the configuration is read.
    configure(
        &ws,
        rough.path(),
        "[tenants.rough.quotas]\nplugin_memory = \"32MiB\"\n",
    );
    ws.cairn(&["plan", "--tenant", "calm"])
        .expect_code(1)
        .expect_contains("memory is 64 MiB, more than the tenant's quotas.plugin_memory (32 MiB)");

    // Within its quotas, the same repository applies.
    configure(&ws, rough.path(), "");
    ws.cairn(&["apply", "--yes", "--tenant", "rough"])
        .expect_code(0);
    calm_is_fine(&ws);
}

#[test]
fn hostile_repositories_are_refused_for_their_tenant_alone() {
    let ws = Workspace::new();
    ws.repo.write("calm.toml", CALM);
    ws.repo.commit("calm", AUTHOR);
    let rough = GitRepo::init(&ws.path().join("rough"));
    configure(&ws, rough.path(), "");
    calm_is_fine(&ws);

    // A 100 MB resource file: refused from its size, never inflated.
    rough.commit_entry(
        "100644",
        b"huge.toml",
        &vec![b'#'; 100 << 20],
        "a huge file",
    );
    rough_fails_with(&ws, &["huge.toml", "104857600 bytes", "split it"]);
    rough.forget(b"huge.toml");

    // 100,000 files: counted from the tree before anything is read.
    let small = rough.git_with_input(&["hash-object", "-w", "--stdin"], b"# empty\n");
    let mut index = String::new();
    for number in 0..100_000 {
        index.push_str(&format!(
            "100644 {small}\tmany/{}/{number}.txt\n",
            number % 100
        ));
    }
    rough.git_with_input(&["update-index", "--add", "--index-info"], index.as_bytes());
    rough.git(&["commit", "--quiet", "-m", "many files"]);
    rough_fails_with(
        &ws,
        &[
            "the number of files below `.` is 100000",
            "quotas.repository_files = 50000",
        ],
    );
    rough.git(&["rm", "-r", "--quiet", "--cached", "many"]);

    // A symbolic link named like a resource file.
    rough.commit_entry("120000", b"link.toml", b"/etc/passwd", "a link");
    rough_fails_with(&ws, &["link.toml", "symbolic link"]);
    rough.forget(b"link.toml");

    // A path that is not UTF-8.
    rough.commit_entry("100644", b"bad-\xff\xfe.toml", b"# empty\n", "a bad name");
    rough_fails_with(&ws, &["its path is not UTF-8"]);
    rough.forget(b"bad-\xff\xfe.toml");

    // Contents that are not UTF-8, and nesting past any sense.
    rough.commit_entry("100644", b"latin1.toml", b"name = \"caf\xe9\"\n", "latin-1");
    rough_fails_with(&ws, &["latin1.toml", "not UTF-8 text"]);
    rough.forget(b"latin1.toml");
    let deep = format!(
        "[[dns.zone]]\nname = \"deep.example.\"\nnameservers = {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    rough.commit_entry("100644", b"deep.toml", deep.as_bytes(), "deep");
    rough_fails_with(&ws, &["deep.toml:3"]);
    rough.forget(b"deep.toml");

    // Another tenant's object: seen, and not taken.
    let theft = "[[dns.zone]]\nname = \"calm.example.\"\n\n[[dns.record]]\nname = \"www.calm.example.\"\ntype = \"A\"\nrecords = [\"203.0.113.66\"]\n";
    rough.commit_entry(
        "100644",
        b"theft.toml",
        theft.as_bytes(),
        "take calm's zone",
    );
    let refused = ws.cairn(&["apply", "--yes", "--tenant", "rough"]);
    refused
        .expect_code(1)
        .expect_contains("dns/zone/calm.example.")
        .expect_contains("Cairn did not create them");
    assert_eq!(ws.pdns.dig("www.calm.example.", "A"), ["192.0.2.1"]);
    // Saying `adopt = true` does not help where the operator does not allow
    // adoption (the default with `[daemon] multi_tenant = true`).
    let theft = "[[dns.zone]]\nname = \"calm.example.\"\nadopt = true\n";
    rough.commit_entry(
        "100644",
        b"theft.toml",
        theft.as_bytes(),
        "adopt calm's zone",
    );
    configure(&ws, rough.path(), "allow_adopt = false\n");
    ws.cairn(&["apply", "--yes", "--tenant", "rough"])
        .expect_code(1)
        .expect_contains("may not take over objects Cairn did not create for it")
        .expect_contains("dns/zone/calm.example.");
    assert_eq!(ws.pdns.dig("www.calm.example.", "A"), ["192.0.2.1"]);

    // Through all of it, the other tenant's runs went on.
    calm_is_fine(&ws);
}

/// Makes an ed25519 key `NAME` in `dir`; returns (private key, public key).
fn ssh_key(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let key = dir.join(name);
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .expect("run ssh-keygen (scripts/setup.sh installs openssh-client)");
    assert!(status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("the public key");
    (key, public.trim().to_string())
}

fn signed_commit(repo: &GitRepo, key: &Path, message: &str) {
    repo.git(&[
        "-c",
        "gpg.format=ssh",
        "-c",
        &format!("user.signingkey={}", key.display()),
        "commit",
        "--quiet",
        "--allow-empty",
        "-S",
        "-m",
        message,
    ]);
}

#[test]
fn only_commits_signed_by_a_trusted_key_are_applied() {
    let ws = Workspace::new();
    ws.repo.write("calm.toml", CALM);
    ws.repo.commit("calm", AUTHOR);
    let keys = ws.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (trusted, trusted_public) = ssh_key(&keys, "release");
    let (stranger, _) = ssh_key(&keys, "stranger");
    let signers = keys.join("allowed_signers");
    std::fs::write(&signers, format!("release@example.org {trusted_public}\n")).unwrap();
    let rough = GitRepo::init(&ws.path().join("rough"));
    configure(
        &ws,
        rough.path(),
        &format!("allowed_signers = {:?}\n", signers.display().to_string()),
    );

    rough.write("zone.toml", &zone_with_records("signed.example.", 1));
    rough.commit("unsigned", AUTHOR);
    rough_fails_with(&ws, &["is not signed", "allowed_signers", "git commit -S"]);

    signed_commit(&rough, &stranger, "signed by a stranger");
    rough_fails_with(&ws, &["is not signed by a key in", "allowed_signers"]);
    assert!(ws.pdns.zones().iter().all(|zone| zone != "signed.example."));
    calm_is_fine(&ws);

    // The agent records the refusal and alerts; the calm tenant goes on.
    let receiver = AlertReceiver::start();
    let settings = format!(
        "interval = \"1s\"\nallowed_signers = {:?}\n",
        signers.display().to_string()
    );
    let calm = ws.tenant_block(
        "calm",
        &ConfigOptions {
            tenant_settings: "interval = \"1s\"".into(),
            ..ConfigOptions::default()
        },
    );
    let rough_block = ws.tenant_block(
        "rough",
        &ConfigOptions {
            repo: Some(rough.path().display().to_string()),
            tenant_settings: settings,
            ..ConfigOptions::default()
        },
    );
    std::fs::write(
        ws.config_path(),
        format!(
            "{}\n{}{calm}{rough_block}",
            config_header(),
            receiver.table()
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "the refusal alerted", || {
        receiver.alerts().iter().any(|alert| {
            alert["tenant"] == "rough"
                && alert["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("is not signed by a key in"))
        })
    });
    let status = daemon.tenant("rough");
    assert_eq!(status["last_run"]["outcome"], "error", "{status:#}");
    ws.repo
        .write("calm.toml", &CALM.replace("192.0.2.1", "192.0.2.7"));
    ws.repo.commit("calm moves on", AUTHOR);
    wait_until(Duration::from_secs(20), "the calm tenant applied", || {
        ws.pdns.dig("www.calm.example.", "A") == ["192.0.2.7"]
    });
    drop(daemon);
    ws.repo.write("calm.toml", CALM);
    ws.repo.commit("calm back", AUTHOR);

    signed_commit(&rough, &trusted, "signed for release");
    ws.cairn(&["apply", "--yes", "--tenant", "rough"])
        .expect_code(0);
    assert_eq!(ws.pdns.dig("r0.signed.example.", "A"), ["192.0.2.1"]);
}
