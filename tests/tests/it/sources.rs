//! Sources beyond Git, each running the quickstart's DNS scenario against
//! the real PowerDNS with the same plan, apply and history as Git, apart
//! from the revision: a Mercurial repository (in place, and served by `hg
//! serve`), an OCI artifact pushed with `cairn push` to the CNCF
//! distribution registry, and a plain folder (`dir:PATH`), read as it is,
//! with no author and no past.

use cairn_tests::Workspace;
use cairn_tests::cairn::ConfigOptions;
use cairn_tests::daemon::{Daemon, HOOK_SECRET, wait_until};
use cairn_tests::hg::{HgRepo, HgServe};
use cairn_tests::registry::Registry;
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

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

/// The scenario against a Mercurial repository: each changeset applied,
/// its node and author in the history; rollback goes to the changeset
/// before.
fn apply_follow_mercurial(ws: &Workspace, hg: &HgRepo) {
    hg.write("dns/zone.toml", &zone("192.0.2.1"));
    let first = hg.commit("first", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(&first[..12])
        .expect_contains(AUTHOR);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
    hg.write("dns/zone.toml", &zone("192.0.2.2"));
    let second = hg.commit("second", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(&second[..12]);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);
    let applied: Vec<String> = ws
        .history()
        .iter()
        .filter(|run| run["kind"] == "apply")
        .map(|run| run["commit_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(applied, [second.clone(), first.clone()]);
    ws.cairn(&["rollback"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
}

/// A local Mercurial repository is read in place at its `default`
/// branch, without touching its working copy: an edit not committed is
/// not applied.
#[test]
fn a_mercurial_repository_is_read_in_place_at_a_changeset() {
    let ws = Workspace::new();
    let hg = HgRepo::init(&ws.path().join("zones-hg"));
    ws.configure(&ConfigOptions {
        repo: Some(hg.path().display().to_string()),
        reference: "default".into(),
        path: "dns".into(),
        ..ConfigOptions::default()
    });
    apply_follow_mercurial(&ws, &hg);
    hg.write("dns/zone.toml", &zone("192.0.2.9"));
    ws.cairn(&["plan"])
        .expect_code(2)
        .expect_contains("add 192.0.2.2, remove 192.0.2.1");

    // What a repository could attack with is refused per changeset, before
    // any file is read, with nothing applied: a link, then more bytes
    // than the quota.
    std::os::unix::fs::symlink("/etc/hostname", hg.path().join("dns/link.toml")).expect("a link");
    hg.commit("a link", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("dns/link.toml")
        .expect_contains("symbolic link");
    hg.hg(&["remove", "dns/link.toml"]);
    hg.commit("no link", AUTHOR);
    ws.configure(&ConfigOptions {
        repo: Some(hg.path().display().to_string()),
        reference: "default".into(),
        path: "dns".into(),
        tenant_settings: "[tenants.default.quotas]\nrepository_bytes = \"100B\"".into(),
        ..ConfigOptions::default()
    });
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("repository_bytes");
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
}

/// Served by `hg serve`: cloned without a working copy and pulled; a
/// bookmark followed, moved and then deleted on the remote (an error
/// naming the changeset it last named, nothing applied); a tag, and the
/// same tag moved (an error); a ref that names nothing.
#[test]
fn a_served_mercurial_repository_follows_bookmarks_and_tags() {
    let ws = Workspace::new();
    let hg = HgRepo::init(&ws.path().join("zones-hg"));
    let served = HgServe::start(hg.path());
    let configure = |reference: &str| {
        ws.configure(&ConfigOptions {
            repo: Some(served.url.clone()),
            path: "dns".into(),
            reference: reference.to_string(),
            ..ConfigOptions::default()
        })
    };
    configure("default");
    apply_follow_mercurial(&ws, &hg);

    hg.hg(&["bookmark", "live"]);
    hg.write("dns/zone.toml", &zone("192.0.2.3"));
    let third = hg.commit("third", AUTHOR);
    configure("live");
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(&third[..12]);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.3"]);

    hg.hg(&["bookmark", "--delete", "live"]);
    hg.write("dns/zone.toml", &zone("192.0.2.4"));
    hg.commit("fourth", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("the ref `live` no longer exists on the remote")
        .expect_contains(&third[..12]);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.3"]);

    hg.hg(&["tag", "-r", &third, "v3"]);
    configure("v3");
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains("No changes");
    // A tag moved (`hg tag -f`) is not followed.
    let fourth = hg.node("tip~1");
    hg.hg(&["tag", "-f", "-r", &fourth, "v3"]);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("the tag `v3`")
        .expect_contains("moved");
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.3"]);
    configure("nothing-by-this-name");
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("the ref `nothing-by-this-name` names no commit");
}

/// The daemon follows a served Mercurial repository like a Git one: a
/// push webhook wakes it at once (it polls once an hour) and the pulled
/// changeset is applied, recorded with its node.
#[test]
fn the_daemon_applies_a_pushed_mercurial_changeset_at_once() {
    let ws = Workspace::new();
    let hg = HgRepo::init(&ws.path().join("zones-hg"));
    hg.write("dns/zone.toml", &zone("192.0.2.1"));
    hg.commit("first", AUTHOR);
    let served = HgServe::start(hg.path());
    ws.configure(&ConfigOptions {
        repo: Some(served.url.clone()),
        reference: "default".into(),
        path: "dns".into(),
        tenant_settings: "interval = \"1h\"\ndrift_interval = \"1h\"\nwebhook_secret = { env = \"CAIRN_TEST_HOOK\" }".into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    wait_until(
        Duration::from_secs(20),
        "the first changeset applied",
        || ws.pdns.dig("www.example.org", "A") == ["192.0.2.1"],
    );
    hg.write("dns/zone.toml", &zone("192.0.2.2"));
    let second = hg.commit("second", AUTHOR);
    assert_eq!(daemon.push("default", HOOK_SECRET, "{}"), 202);
    wait_until(
        Duration::from_secs(15),
        "the pushed changeset applied",
        || ws.pdns.dig("www.example.org", "A") == ["192.0.2.2"],
    );
    let status = daemon.wait_for_run_of("default", &second, Duration::from_secs(10));
    assert_eq!(status["last_run"]["trigger"], "webhook", "{status:#}");
}

/// Pushes `folder` to `artifact` (`oci://…:TAG`) with `cairn push` and the
/// registry's credentials; the digest it printed.
fn push(
    ws: &Workspace,
    registry: &Registry,
    folder: &std::path::Path,
    artifact: &str,
    message: &str,
) -> String {
    push_signed(ws, registry, folder, artifact, message, None)
}

/// [`push`], signed with the SSH key at `key` when given.
fn push_signed(
    ws: &Workspace,
    registry: &Registry,
    folder: &std::path::Path,
    artifact: &str,
    message: &str,
    key: Option<&std::path::Path>,
) -> String {
    let mut args = vec![
        "push".to_string(),
        folder.display().to_string(),
        artifact.to_string(),
        "--author".into(),
        AUTHOR.into(),
        "--message".into(),
        message.into(),
        "--revision".into(),
        "0123456789abcdef".into(),
    ];
    if let Some(key) = key {
        args.extend(["--sign-key".to_string(), key.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = ws.cairn_env(
        &args,
        &[
            ("CAIRN_REGISTRY_USERNAME", &registry.username),
            ("CAIRN_REGISTRY_PASSWORD", &registry.password),
        ],
    );
    output.expect_code(0);
    let text = output.all();
    let digest = text
        .split_whitespace()
        .find(|word| word.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in:\n{text}"));
    digest.to_string()
}

/// The cache folders of the tenant's artifacts, emptied: the next read
/// pulls from the registry.
fn forget_pulled_artifacts(ws: &Workspace) {
    let mut pending = vec![ws.path().to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("a folder").flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            match entry.file_name().to_string_lossy().starts_with("oci-") {
                true => std::fs::remove_dir_all(&path).expect("empty the cache"),
                false => pending.push(path),
            }
        }
    }
}

/// An artifact pushed with `cairn push` under a tag is applied, its
/// manifest digest and annotations the revision, author and message; the
/// tag pushed again is followed; a digest pins it; rollback goes to the
/// digest before. Wrong credentials, a layer altered in the registry and
/// a layer over the quota are each an error with nothing applied.
#[test]
fn an_oci_artifact_pushed_with_cairn_push_is_applied_pinned_and_checked() {
    let ws = Workspace::new();
    let registry = Registry::start();
    let folder = ws.path().join("build");
    cairn_tests::write_file(&folder, "dns/zone.toml", &zone("192.0.2.1"));
    cairn_tests::write_file(&folder, "README.md", "not a resource file");
    let artifact = format!("{}:v1", registry.address("team/zones"));
    let first = push(&ws, &registry, &folder, &artifact, "first");
    std::fs::write(ws.path().join("registry-password"), &registry.password).expect("write");
    let configure = |reference: &str, settings: &str| {
        ws.configure(&ConfigOptions {
            repo: Some(registry.address("team/zones")),
            reference: reference.to_string(),
            path: "dns".into(),
            tenant_settings: format!(
                "registry_credentials = {{ username = \"cairn\", password = {{ file = \"registry-password\" }} }}\n{settings}"
            ),
            ..ConfigOptions::default()
        })
    };
    configure("v1", "");
    let hex = |digest: &str| digest.trim_start_matches("sha256:").to_string();
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(&hex(&first)[..12])
        .expect_contains(AUTHOR);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
    let run = ws.history()[0].clone();
    assert_eq!(run["commit_id"], hex(&first).as_str(), "{run:#}");
    assert_eq!(run["commit_author"], AUTHOR, "{run:#}");
    assert!(
        run["commit_summary"]
            .as_str()
            .is_some_and(|summary| summary.starts_with("first (revision 0123456789abcdef")),
        "{run:#}"
    );

    cairn_tests::write_file(&folder, "dns/zone.toml", &zone("192.0.2.2"));
    let second = push(&ws, &registry, &folder, &artifact, "second");
    assert_ne!(first, second);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(&hex(&second)[..12]);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);

    // A tag the registry does not have names nothing.
    configure("no-such-tag", "");
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("the ref `no-such-tag` names no commit");

    // Pinned to the first digest, whatever the tag says.
    configure(&first, "");
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
    configure("v1", "");
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);
    ws.cairn(&["rollback"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
    ws.cairn(&["resume"]).expect_code(0);

    // The registry refuses a wrong password: nothing applied.
    cairn_tests::write_file(&folder, "dns/zone.toml", &zone("192.0.2.3"));
    let third = push(&ws, &registry, &folder, &artifact, "third");
    std::fs::write(ws.path().join("registry-password"), "wrong").expect("write");
    forget_pulled_artifacts(&ws);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("refused the credentials");
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
    std::fs::write(ws.path().join("registry-password"), &registry.password).expect("write");

    // A layer altered in the registry's storage: refused by its digest.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(registry.blob_path(&third)).expect("the manifest blob"),
    )
    .expect("a manifest");
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .expect("a layer")
        .to_string();
    let mut bytes = std::fs::read(registry.blob_path(&layer)).expect("the layer");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(registry.blob_path(&layer), bytes).expect("alter the layer");
    forget_pulled_artifacts(&ws);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("does not match its digest");
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);

    // A layer over the tenant's repository_bytes is refused before it is
    // pulled.
    configure(
        &second,
        "[tenants.default.quotas]\nrepository_bytes = \"64B\"",
    );
    forget_pulled_artifacts(&ws);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("repository_bytes")
        .expect_contains("the size of the artifact's layer");
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
}

/// The registry's own notifications wake the daemon (it polls once an
/// hour): a `cairn push` is applied at once; the daemon's own pulls,
/// notified too, wake nothing.
#[test]
fn a_registry_notification_of_a_push_wakes_the_daemon() {
    let ws = Workspace::new();
    let mut registry = Registry::start();
    let folder = ws.path().join("build");
    cairn_tests::write_file(&folder, "dns/zone.toml", &zone("192.0.2.1"));
    let artifact = format!("{}:live", registry.address("zones"));
    push(&ws, &registry, &folder, &artifact, "first");
    std::fs::write(ws.path().join("registry-password"), &registry.password).expect("write");
    std::fs::write(ws.path().join("hook-token"), "registry-hook-token").expect("write");
    ws.configure(&ConfigOptions {
        repo: Some(registry.address("zones")),
        reference: "live".into(),
        path: "dns".into(),
        tenant_settings: "interval = \"1h\"\ndrift_interval = \"1h\"\nwebhook_secret = { file = \"hook-token\" }\nwebhook_style = \"registry\"\nregistry_credentials = { username = \"cairn\", password = { file = \"registry-password\" } }".into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    wait_until(
        Duration::from_secs(20),
        "the first artifact applied",
        || ws.pdns.dig("www.example.org", "A") == ["192.0.2.1"],
    );
    registry.notify(
        &format!("http://127.0.0.1:{}/hooks/default", daemon.port),
        "registry-hook-token",
    );
    cairn_tests::write_file(&folder, "dns/zone.toml", &zone("192.0.2.2"));
    let second = push(&ws, &registry, &folder, &artifact, "second");
    wait_until(
        Duration::from_secs(20),
        "the pushed artifact applied",
        || ws.pdns.dig("www.example.org", "A") == ["192.0.2.2"],
    );
    let commit = second.trim_start_matches("sha256:");
    let status = daemon.wait_for_run_of("default", commit, Duration::from_secs(10));
    assert_eq!(status["last_run"]["trigger"], "webhook", "{status:#}");
}

/// With `allowed_signers`, only an artifact signed by a listed key
/// (`cairn push --sign-key`) is applied: one without a signature, or
/// signed by another key, is refused, recorded, with nothing applied.
#[test]
fn a_tenant_with_allowed_signers_applies_only_signed_artifacts() {
    let ws = Workspace::new();
    let registry = Registry::start();
    let keys = ws.path().join("keys");
    std::fs::create_dir_all(&keys).expect("a folder");
    let (trusted, trusted_public) = cairn_tests::git::ssh_key(&keys, "release");
    let (stranger, _) = cairn_tests::git::ssh_key(&keys, "stranger");
    let signers = keys.join("allowed_signers");
    std::fs::write(&signers, format!("release@example.org {trusted_public}\n")).expect("write");
    std::fs::write(ws.path().join("registry-password"), &registry.password).expect("write");
    ws.configure(&ConfigOptions {
        repo: Some(registry.address("zones")),
        reference: "live".into(),
        path: "dns".into(),
        tenant_settings: format!(
            "registry_credentials = {{ username = \"cairn\", password = {{ file = \"registry-password\" }} }}\nallowed_signers = {:?}",
            signers.display().to_string()
        ),
        ..ConfigOptions::default()
    });
    let folder = ws.path().join("build");
    let artifact = format!("{}:live", registry.address("zones"));

    cairn_tests::write_file(&folder, "dns/zone.toml", &zone("192.0.2.1"));
    push_signed(&ws, &registry, &folder, &artifact, "signed", Some(&trusted));
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);

    cairn_tests::write_file(&folder, "dns/zone.toml", &zone("192.0.2.2"));
    push(&ws, &registry, &folder, &artifact, "unsigned");
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("has no signature")
        .expect_contains("--sign-key");
    cairn_tests::write_file(&folder, "dns/zone.toml", &zone("192.0.2.3"));
    push_signed(
        &ws,
        &registry,
        &folder,
        &artifact,
        "a stranger's",
        Some(&stranger),
    );
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("is not signed by a key in");
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.1"]);
    let refused: Vec<_> = ws
        .history()
        .into_iter()
        .filter(|run| run["outcome"] == "refused")
        .collect();
    assert_eq!(refused.len(), 2, "{refused:#?}");
}

/// The scenario in Git, a Mercurial repository, an OCI artifact and a
/// folder prints the same plans and applies, line for line, apart from
/// the line naming the revision: nothing past the source knows which one
/// it read.
#[test]
fn every_source_plans_and_applies_alike_apart_from_the_revision() {
    let mut transcripts: Vec<(&str, Vec<String>)> = Vec::new();
    for source in ["git", "hg", "oci", "dir"] {
        let ws = Workspace::new();
        let registry = (source == "oci").then(Registry::start);
        let hg = (source == "hg").then(|| HgRepo::init(&ws.path().join("zones-hg")));
        let folder = match source {
            "git" => ws.repo.path().to_path_buf(),
            "hg" => hg.as_ref().expect("a repository").path().to_path_buf(),
            _ => ws.path().join("desired"),
        };
        let (repo, reference) = match source {
            "git" => (ws.repo.path().display().to_string(), "main"),
            "hg" => (folder.display().to_string(), "default"),
            "oci" => {
                let registry = registry.as_ref().expect("a registry");
                std::fs::write(ws.path().join("registry-password"), &registry.password)
                    .expect("write");
                (registry.address("zones"), "live")
            }
            _ => (format!("dir:{}", folder.display()), "main"),
        };
        let credentials = match source {
            "oci" => {
                "registry_credentials = { username = \"cairn\", password = { file = \"registry-password\" } }"
            }
            _ => "",
        };
        ws.configure(&ConfigOptions {
            repo: Some(repo),
            reference: reference.into(),
            path: "dns".into(),
            tenant_settings: credentials.into(),
            ..ConfigOptions::default()
        });
        let publish = |address: &str, message: &str| {
            cairn_tests::write_file(&folder, "dns/zone.toml", &zone(address));
            match source {
                "git" => {
                    ws.repo.commit(message, AUTHOR);
                }
                "hg" => {
                    hg.as_ref().expect("a repository").commit(message, AUTHOR);
                }
                "oci" => {
                    let registry = registry.as_ref().expect("a registry");
                    let artifact = format!("{}:live", registry.address("zones"));
                    push(&ws, registry, &folder, &artifact, message);
                }
                _ => {}
            }
        };
        let mut transcript = Vec::new();
        let mut run = |args: &[&str], code: i32| {
            let output = ws.cairn(args);
            output.expect_code(code);
            transcript.extend(
                output
                    .all()
                    .lines()
                    .filter(|line| !line.contains(" at commit "))
                    .map(without_duration),
            );
        };
        publish("192.0.2.1", "first");
        run(&["apply", "--yes"], 0);
        publish("192.0.2.2", "second");
        run(&["plan"], 2);
        run(&["apply", "--yes"], 0);
        run(&["plan"], 0);
        assert_eq!(
            ws.pdns.dig("www.example.org", "A"),
            ["192.0.2.2"],
            "{source}"
        );
        transcripts.push((source, transcript));
    }
    let (_, git) = &transcripts[0];
    assert!(git.len() > 5, "{git:#?}");
    for (source, transcript) in &transcripts[1..] {
        assert_eq!(transcript, git, "{source} printed otherwise than git");
    }
}

/// `line` without the duration an apply prints after a change, `(15 ms)`.
fn without_duration(line: &str) -> String {
    match line.rfind(" (") {
        Some(at) if line.ends_with(" ms)") || line.ends_with(" s)") => line[..at].to_string(),
        _ => line.to_string(),
    }
}
