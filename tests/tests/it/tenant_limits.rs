//! A tenant's repository and plans stay within the operator's quotas, and
//! a repository built to hurt the host — a huge blob, a hundred thousand
//! files, a symbolic link, a path that is not UTF-8, nesting past any
//! sense, another tenant's object, unsigned or wrongly signed commits — is
//! refused for that tenant alone, with an error saying what and where,
//! while the other tenant of the same `cairn.toml` applies as usual.

use cairn_tests::alerts::AlertReceiver;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, metric_sums_by, wait_until};
use cairn_tests::git::ssh_key;
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

/// A daemon serving the calm tenant (polling every second) beside rough
/// tenants, and an alert receiver.
struct Beside {
    daemon: Daemon,
    alerts: AlertReceiver,
    /// Addresses the calm tenant was moved to, one per [`Beside::calm_moves`].
    moves: usize,
}

impl Beside {
    /// Starts a daemon with the calm tenant and `rough` tenant tables
    /// (`[tenants.NAME]` blocks); waits for it to answer, not to be
    /// ready.
    fn start(ws: &Workspace, rough: &str) -> Self {
        let alerts = AlertReceiver::start();
        let calm = ws.tenant_block(
            "calm",
            &ConfigOptions {
                tenant_settings: "interval = \"1s\"".into(),
                ..ConfigOptions::default()
            },
        );
        std::fs::write(
            ws.config_path(),
            format!("{}\n{}{calm}{rough}", config_header(), alerts.table()),
        )
        .expect("write cairn.toml");
        let daemon = Daemon::spawned(&ws.config_path(), "info");
        Self {
            daemon,
            alerts,
            moves: 0,
        }
    }

    /// Commits a new address for the calm tenant and waits until the
    /// daemon has applied it.
    fn calm_moves(&mut self, ws: &Workspace) {
        self.moves += 1;
        let address = format!("192.0.2.{}", 100 + self.moves % 100);
        ws.repo
            .write("calm.toml", &CALM.replace("192.0.2.1", &address));
        ws.repo.commit(&format!("calm moves to {address}"), AUTHOR);
        wait_until(Duration::from_secs(30), "the calm tenant applied", || {
            ws.pdns.dig("www.calm.example.", "A") == [address.clone()]
        });
    }

    /// Waits until `tenant`'s run failed with every one of `expected` in
    /// its recorded error and in an alert, and the failure was counted as
    /// `kind`; the calm tenant applies a new commit meanwhile.
    fn fails_with(&mut self, ws: &Workspace, tenant: &str, kind: &str, expected: &[&str]) {
        let says_all = |text: &str| expected.iter().all(|part| text.contains(part));
        self.calm_moves(ws);
        wait_until(
            Duration::from_secs(30),
            &format!("{tenant} refused with {expected:?}"),
            || {
                self.daemon.tenant(tenant)["last_error"]
                    .as_str()
                    .is_some_and(says_all)
            },
        );
        let alerted = || {
            self.alerts.alerts().iter().any(|alert| {
                alert["tenant"] == tenant
                    && alert["event"] == "apply-failed"
                    && alert["message"].as_str().is_some_and(says_all)
            })
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !alerted() {
            assert!(
                std::time::Instant::now() < deadline,
                "{tenant}'s refusal was not alerted; the alerts: {:#?}",
                self.alerts.alerts()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let counted = metric_sums_by(&self.daemon.metrics(), "cairn_errors_total", "kind");
        assert!(
            counted.get(kind).is_some_and(|&count| count >= 1.0),
            "no `{kind}` error counted: {counted:?}"
        );
        self.calm_moves(ws);
    }

    /// Commits `repo` as its index now stands (the hostile entry taken out)
    /// and waits until `tenant` applies again and its recovery is alerted,
    /// so that the next refusal is a new alert.
    fn recovers(&self, repo: &GitRepo, tenant: &str) {
        let recovered = || {
            self.alerts
                .alerts()
                .iter()
                .filter(|alert| alert["tenant"] == tenant && alert["event"] == "recovered")
                .count()
        };
        let before = recovered();
        repo.git(&["commit", "--quiet", "--allow-empty", "-m", "back to good"]);
        wait_until(
            Duration::from_secs(30),
            &format!("{tenant}'s recovery alerted"),
            || recovered() > before,
        );
    }
}

/// A rough tenant's tables: `repo` with its `quotas` table's body.
fn rough_block(ws: &Workspace, name: &str, repo: &GitRepo, quotas: &str) -> String {
    let mut block = ws.tenant_block(
        name,
        &ConfigOptions {
            repo: Some(repo.path().display().to_string()),
            tenant_settings: "interval = \"1s\"".into(),
            ..ConfigOptions::default()
        },
    );
    if !quotas.is_empty() {
        block.push_str(&format!("\n[tenants.{name}.quotas]\n{quotas}\n"));
    }
    block
}

#[test]
fn quotas_stop_only_the_tenant_that_exceeds_them() {
    let ws = Workspace::new();
    ws.repo.write("calm.toml", CALM);
    ws.repo.commit("calm", AUTHOR);
    // One repository, read by a tenant per quota: thirty records in one
    // file of more than a KiB, and three more files.
    let rough = GitRepo::init(&ws.path().join("rough"));
    rough
        .write("zone.toml", &zone_with_records("rough.example.", 30))
        .write("notes/a.txt", "a")
        .write("notes/b.txt", "b")
        .write("notes/c.txt", "c");
    rough.commit("thirty records and notes", AUTHOR);
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "resources",
            "resources = 20",
            &[
                "quota exceeded",
                "the number of resources",
                "is 31",
                "quotas.resources = 20",
            ],
        ),
        (
            "changes",
            "plan_changes = 10",
            &[
                "the number of changes in the plan is 31",
                "quotas.plan_changes = 10",
            ],
        ),
        (
            "files",
            "repository_files = 3",
            &[
                "the number of files below `.` is 4",
                "quotas.repository_files = 3",
            ],
        ),
        (
            "bytes",
            "repository_bytes = \"1KiB\"",
            &[
                "the size of the resource files and manifests",
                "quotas.repository_bytes = 1024",
            ],
        ),
    ];
    let mut tenants: String = cases
        .iter()
        .map(|(name, quota, _)| rough_block(&ws, name, &rough, quota))
        .collect();
    // Memory is the operator's setting, checked when the tenant loads.
    let memory_quota = "plugin_memory = \"32MiB\"";
    tenants.push_str(&rough_block(&ws, "memory", &rough, memory_quota));

    // All of them in one daemon beside the calm tenant.
    let mut beside = Beside::start(&ws, &tenants);
    let over_memory = "memory is 64 MiB, more than the tenant's quotas.plugin_memory (32 MiB)";
    wait_until(Duration::from_secs(30), "the memory quota reported", || {
        beside.daemon.tenant("memory")["load_error"]
            .as_str()
            .is_some_and(|error| error.contains(over_memory))
    });
    // The daemon is ready (it serves the others), and says which tenant
    // does not run (the API is open here: no token is set).
    beside.daemon.wait_ready();
    let (status, readiness) = beside.daemon.get("/readyz").unwrap();
    assert_eq!(status, 200, "{readiness}");
    assert!(
        readiness.contains("memory: [tenants.memory.providers"),
        "{readiness}"
    );
    assert!(readiness.contains(over_memory), "{readiness}");
    for (name, _, expected) in &cases {
        beside.fails_with(&ws, name, "quota", expected);
    }
    assert!(
        ws.pdns.zones().iter().all(|zone| zone != "rough.example."),
        "nothing applied"
    );
    drop(beside);
    ws.repo.write("calm.toml", CALM);
    ws.repo.commit("calm back", AUTHOR);

    // The command line says the same, tenant by tenant.
    ws.cairn(&["plan", "--tenant", "memory"])
        .expect_code(1)
        .expect_contains(over_memory);
    ws.cairn(&["plan", "--tenant", "calm"]).expect_code(2);

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
    rough.write("zone.toml", &zone_with_records("rough.example.", 1));
    rough.commit("a zone", AUTHOR);
    let mut beside = Beside::start(&ws, &rough_block(&ws, "rough", &rough, ""));
    beside.daemon.wait_ready();
    wait_until(Duration::from_secs(30), "the rough tenant applied", || {
        ws.pdns.dig("r0.rough.example.", "A") == ["192.0.2.1"]
    });

    // A 100 MB resource file: refused from its size in the object header;
    // the daemon's peak memory stays below the file's size, so it was
    // never inflated.
    beside.daemon.reset_peak_memory();
    let huge = 100 << 20;
    rough.commit_entry("100644", b"huge.toml", &vec![b'#'; huge], "a huge file");
    beside.fails_with(
        &ws,
        "rough",
        "source",
        &["huge.toml", "104857600 bytes", "split it"],
    );
    let peak = beside.daemon.peak_memory();
    eprintln!(
        "the daemon's peak memory while refusing a 100 MiB file: {} MiB",
        peak >> 20
    );
    assert!(
        peak < huge as u64,
        "the daemon's peak memory reached {} MiB while refusing a 100 MiB file",
        peak >> 20
    );
    rough.forget(b"huge.toml");
    beside.recovers(&rough, "rough");

    // 100,000 files beside that huge file again, in one commit: counted
    // from the tree before any file is read (else the huge file would be
    // the error).
    let huge_blob = rough.git_with_input(&["hash-object", "-w", "--stdin"], &vec![b'#'; huge]);
    let small = rough.git_with_input(&["hash-object", "-w", "--stdin"], b"# empty\n");
    let mut index = format!("100644 {huge_blob}\thuge.toml\n");
    for number in 0..100_000 {
        index.push_str(&format!(
            "100644 {small}\tmany/{}/{number}.txt\n",
            number % 100
        ));
    }
    rough.git_with_input(&["update-index", "--add", "--index-info"], index.as_bytes());
    rough.git(&["commit", "--quiet", "-m", "many files"]);
    beside.fails_with(
        &ws,
        "rough",
        "quota",
        &[
            "the number of files below `.` is 100002",
            "quotas.repository_files = 50000",
        ],
    );
    rough.git(&["rm", "-r", "--quiet", "--cached", "many"]);
    rough.forget(b"huge.toml");
    beside.recovers(&rough, "rough");

    // A symbolic link named like a resource file.
    rough.commit_entry("120000", b"link.toml", b"/etc/passwd", "a link");
    beside.fails_with(&ws, "rough", "source", &["link.toml", "symbolic link"]);
    rough.forget(b"link.toml");
    beside.recovers(&rough, "rough");

    // A path that is not UTF-8.
    rough.commit_entry("100644", b"bad-\xff\xfe.toml", b"# empty\n", "a bad name");
    beside.fails_with(&ws, "rough", "source", &["its path is not UTF-8"]);
    rough.forget(b"bad-\xff\xfe.toml");
    beside.recovers(&rough, "rough");

    // Contents that are not UTF-8, and nesting past any sense.
    rough.commit_entry("100644", b"latin1.toml", b"name = \"caf\xe9\"\n", "latin-1");
    beside.fails_with(&ws, "rough", "source", &["latin1.toml", "not UTF-8 text"]);
    rough.forget(b"latin1.toml");
    beside.recovers(&rough, "rough");
    let deep = format!(
        "[[dns.zone]]\nname = \"deep.example.\"\nnameservers = {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    rough.commit_entry("100644", b"deep.toml", deep.as_bytes(), "deep");
    beside.fails_with(&ws, "rough", "invalid", &["deep.toml:3"]);
    rough.forget(b"deep.toml");
    beside.recovers(&rough, "rough");
    drop(beside);
    ws.repo.write("calm.toml", CALM);
    ws.repo.commit("calm back", AUTHOR);

    // Another tenant's object: seen, and not taken.
    let theft = "[[dns.zone]]\nname = \"calm.example.\"\n\n[[dns.record]]\nname = \"www.calm.example.\"\ntype = \"A\"\nrecords = [\"203.0.113.66\"]\n";
    rough.commit_entry(
        "100644",
        b"theft.toml",
        theft.as_bytes(),
        "take calm's zone",
    );
    configure(&ws, rough.path(), "");
    calm_is_fine(&ws);
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

    rough.commit_signed("signed by a stranger", AUTHOR, &stranger);
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

    rough.commit_signed("signed for release", AUTHOR, &trusted);
    ws.cairn(&["apply", "--yes", "--tenant", "rough"])
        .expect_code(0);
    assert_eq!(ws.pdns.dig("r0.signed.example.", "A"), ["192.0.2.1"]);
}
