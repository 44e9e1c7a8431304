//! Planning costs what changed: a commit re-reads and re-validates only
//! the files it changed (the model cache, keyed by Git blob), the cache is
//! only ever a shortcut, and between drift checks the daemon examines only
//! what Git moved.

use cairn_tests::Workspace;
use cairn_tests::cairn::ConfigOptions;
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::git::GitRepo;
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

/// A small deterministic generator (a linear congruential one), so that
/// the commits below are the same in every run.
struct Choices(u64);

impl Choices {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

/// A desired state as the comparison sees it: every resource in order
/// (address, canonical spec, dependencies, lifecycle, where it is
/// declared) and the warnings; or the error, with every problem it holds.
fn described(loaded: Result<cairn::model::DesiredState, cairn::model::LoadError>) -> String {
    match loaded {
        Ok(state) => {
            let mut text = format!("commit {}\n", state.commit.id);
            for resource in &state.resources {
                text.push_str(&format!(
                    "{} {} {:?} {:?} {}\n",
                    resource.address,
                    resource.spec.text(),
                    resource.depends_on,
                    resource.lifecycle,
                    resource.origin
                ));
            }
            for warning in &state.warnings {
                text.push_str(&format!("warning {warning}\n"));
            }
            text
        }
        // Every problem, with its place and text.
        Err(cairn::model::LoadError::Invalid(invalid)) => {
            let mut text = format!("error {invalid}\n");
            for problem in &invalid.diagnostics {
                text.push_str(&format!("{problem:?}\n"));
            }
            text
        }
        Err(error) => format!("error {error}"),
    }
}

/// The number of the record a file `records/…/rN.toml` declares.
fn number_of(path: &str) -> usize {
    let name = path.rsplit('/').next().unwrap();
    name.trim_start_matches('r')
        .trim_end_matches(".toml")
        .parse()
        .unwrap()
}

/// A repository of a zone and record files, as the edits below leave it.
struct Records {
    /// The record files.
    files: Vec<String>,
    /// Those left with a problem, or with `depends_on` (which a later
    /// edit may break): mended now and then.
    to_mend: Vec<String>,
}

/// The edits the commits below are made of: each touches a file or two,
/// as people do, and some leave a problem in it, mended in a later commit.
fn edit(ws: &Workspace, choices: &mut Choices, records: &mut Records, serial: usize) {
    let any = |choices: &mut Choices, files: &[String]| files[choices.below(files.len())].clone();
    let host = |n: usize| format!("r{n}.inc.example.");
    if !records.to_mend.is_empty() && choices.below(3) == 0 {
        for file in std::mem::take(&mut records.to_mend) {
            if records.files.contains(&file) {
                ws.repo
                    .write(&file, &record(&host(number_of(&file)), "192.0.2.9"));
            }
        }
        return;
    }
    let files = &mut records.files;
    match choices.below(10) {
        // A record's address changes (the most common commit).
        0..=3 if !files.is_empty() => {
            let file = any(choices, files);
            let address = format!("192.0.2.{}", 1 + serial % 250);
            ws.repo
                .write(&file, &record(&host(number_of(&file)), &address));
        }
        // A record file is added, or removed.
        4 => {
            let file = format!("records/r{serial}.toml");
            ws.repo.write(&file, &record(&host(serial), "198.51.100.1"));
            files.push(file);
        }
        5 if files.len() > 2 => {
            let file = files.swap_remove(choices.below(files.len()));
            ws.repo.remove(&file);
        }
        // A file is renamed: the same blob at another path.
        6 if !files.is_empty() => {
            let index = choices.below(files.len());
            let moved = format!("records/moved/r{}.toml", number_of(&files[index]));
            if files.contains(&moved) {
                return;
            }
            let text = std::fs::read_to_string(ws.repo.path().join(&files[index])).unwrap();
            ws.repo.remove(&files[index]);
            ws.repo.write(&moved, &text);
            files[index] = moved;
        }
        // A file depends on another's record, declared or not.
        7 if files.len() > 1 => {
            let file = any(choices, files);
            let target = match choices.below(4) {
                0 => host(9_999),
                _ => host(number_of(&any(choices, files))),
            };
            ws.repo.write(
                &file,
                &format!(
                    "{}depends_on = [\"dns/record/{target}/A\"]\n",
                    record(&host(number_of(&file)), "192.0.2.7")
                ),
            );
            records.to_mend.push(file);
        }
        // A problem: a duplicate address, an address the provider refuses,
        // a file that is not TOML.
        8 if !files.is_empty() => {
            let file = any(choices, files);
            let text = match choices.below(3) {
                0 => record(&host(number_of(&any(choices, files))), "192.0.2.8"),
                1 => record(&host(serial), "999.0.2.1"),
                _ => "[[dns.record]\nname = \"broken\"\n".to_string(),
            };
            ws.repo.write(&file, &text);
            records.to_mend.push(file);
        }
        // Two files change at once.
        _ if files.len() > 1 => {
            for file in [any(choices, files), any(choices, files)] {
                let address = format!("203.0.113.{}", 1 + serial % 250);
                ws.repo
                    .write(&file, &record(&host(number_of(&file)), &address));
            }
        }
        _ => {}
    }
}

/// The tenant's commit, loaded in full, as [`described`] shows it.
async fn in_full(tenant: &cairn::tenant::Tenant) -> String {
    let snapshot = tenant.source.snapshot().await.unwrap();
    described(cairn::model::load(&snapshot, &tenant.providers, &tenant.config.quotas).await)
}

/// Commits what `ws` holds, and loads it as the tenant does: it must be
/// what a load in full gives. Returns it.
async fn loaded_as_in_full(
    ws: &Workspace,
    tenant: &cairn::tenant::Tenant,
    message: &str,
) -> String {
    ws.repo.commit(message, AUTHOR);
    let loaded = described(tenant.desired_state(None).await);
    assert_eq!(loaded, in_full(tenant).await, "{message}");
    loaded
}

/// A daemon loads each new commit of a tenant from the last one it loaded
/// (only the files that moved are read and checked); every such load must
/// give exactly what a load of the commit in full gives, the same desired
/// state in the same order or the same problems, whatever the commits do:
/// records changed, added, removed, renamed, depending on one another,
/// duplicated, refused, broken and mended, over the tenant's quota of
/// resources and back.
#[test]
fn commits_loaded_from_the_last_one_give_what_a_full_load_gives() {
    const COMMITS: usize = 80;
    let ws = Workspace::new();
    ws.configure(&ConfigOptions {
        tenant_settings: "[tenants.default.quotas]\nresources = 16".into(),
        ..ConfigOptions::default()
    });
    ws.repo
        .write("zone.toml", "[[dns.zone]]\nname = \"inc.example.\"\n");
    let mut records = Records {
        files: (1..=12).map(|n| format!("records/r{n}.toml")).collect(),
        to_mend: Vec::new(),
    };
    for (n, file) in (1..).zip(&records.files) {
        ws.repo
            .write(file, &record(&format!("r{n}.inc.example."), "192.0.2.1"));
    }
    ws.repo.commit("a zone of twelve records", AUTHOR);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = cairn::config::Config::load(&ws.config_path()).unwrap();
        let tenant_config = config.tenant(None).unwrap();
        let host =
            cairn::host::PluginHost::new(Some(cairn::tenant::compiled_cache(&config).unwrap()))
                .unwrap();
        let store = cairn::store::StateStore::open(&config.state).await.unwrap();
        let tenant = cairn::tenant::Tenant::open(&config, tenant_config, &host, &store)
            .await
            .unwrap();
        assert_eq!(
            described(tenant.desired_state(None).await),
            in_full(&tenant).await
        );

        let mut choices = Choices(7);
        let mut failed = 0;
        for commit in 0..COMMITS {
            edit(&ws, &mut choices, &mut records, 100 + commit);
            let loaded = loaded_as_in_full(&ws, &tenant, &format!("edit {commit}")).await;
            failed += usize::from(loaded.starts_with("error"));
        }
        for file in std::mem::take(&mut records.to_mend) {
            ws.repo.remove(&file);
        }
        loaded_as_in_full(&ws, &tenant, "every problem mended").await;

        // A resource that depends on another arrives with it; the other
        // leaves later: the dependency is then missing.
        ws.repo
            .write(
                "records/dependent.toml",
                &format!(
                    "{}depends_on = [\"dns/record/r501.inc.example./A\"]\n",
                    record("r500.inc.example.", "192.0.2.50")
                ),
            )
            .write(
                "records/target.toml",
                &record("r501.inc.example.", "192.0.2.51"),
            );
        let loaded = loaded_as_in_full(&ws, &tenant, "a dependency and its target").await;
        assert!(loaded.contains("r500"), "{loaded}");
        ws.repo.remove("records/target.toml");
        let loaded = loaded_as_in_full(&ws, &tenant, "the target leaves").await;
        assert!(
            loaded.contains("which no resource of this commit declares"),
            "{loaded}"
        );
        ws.repo.remove("records/dependent.toml");
        loaded_as_in_full(&ws, &tenant, "the dependent leaves too").await;

        // Files arrive one by one until the commit holds more resources
        // than the tenant's quota: each commit is within it alone.
        let mut over_quota = false;
        for n in 600..620 {
            ws.repo.write(
                &format!("records/r{n}.toml"),
                &record(&format!("r{n}.inc.example."), "192.0.2.60"),
            );
            let loaded = loaded_as_in_full(&ws, &tenant, &format!("r{n} arrives")).await;
            if loaded.contains("quotas.resources") {
                over_quota = true;
                break;
            }
        }
        assert!(over_quota, "the quota of resources was never reached");
        // Both kinds of commit were made, and a third at least were loaded
        // from the last one (about half are, with this seed).
        assert!(
            (5..=COMMITS - 20).contains(&failed),
            "{failed} commits failed"
        );
        let from_last = tenant.model_cache.loads_from_last();
        assert!(
            from_last as usize >= COMMITS / 3,
            "{from_last} of {COMMITS} commits loaded from the last one"
        );
    });
}

/// A commit's folder as its listing shows it: the commit, each resource
/// file with its blob, each manifest with its text or its problem; or the
/// error.
fn listed(snapshot: Result<cairn::source::Snapshot, cairn::source::SourceError>) -> String {
    let snapshot = match snapshot {
        Ok(snapshot) => snapshot,
        Err(error) => return format!("error: {error}"),
    };
    let mut text = format!("commit {}\n", snapshot.commit.id);
    for file in snapshot.files.iter() {
        text.push_str(&format!("{} {}\n", file.path, file.blob));
    }
    for (path, manifest) in &snapshot.manifests {
        match &manifest.text {
            Ok(contents) => text.push_str(&format!("{path}: {contents:?}\n")),
            Err(problem) => text.push_str(&format!("{path}: {problem}\n")),
        }
    }
    text
}

/// One change to the folder `desired` (and around it) of `repo`; returns
/// whether it committed already (an entry made straight in the index).
fn edit_folder(repo: &GitRepo, choices: &mut Choices, serial: usize) -> bool {
    const FOLDERS: [&str; 5] = ["", "d/", "d/e/", "g/", "z.toml/"];
    let root = repo.path().join("desired");
    // A folder `z.toml` that is a file now holds nothing.
    let any_path = |choices: &mut Choices, extension: &str| {
        let folder = match FOLDERS[choices.below(FOLDERS.len())] {
            "z.toml/" if root.join("z.toml").is_file() => "",
            folder => folder,
        };
        format!("desired/{folder}r{}.{extension}", choices.below(8))
    };
    let existing = |choices: &mut Choices| -> Option<PathBuf> {
        let mut files: Vec<PathBuf> = walk(&root);
        files.sort();
        (!files.is_empty()).then(|| files.swap_remove(choices.below(files.len())))
    };
    match choices.below(12) {
        // A resource file written: new contents, or contents another file
        // has (the same blob at two paths).
        0..=2 => {
            let text = match choices.below(3) {
                0 => "# the same in every file\n".to_string(),
                _ => format!("# edit {serial}\n{}", "x".repeat(choices.below(400))),
            };
            repo.write(&any_path(choices, "toml"), &text);
        }
        3 | 4 => {
            if let Some(file) = existing(choices) {
                std::fs::remove_file(file).unwrap();
            }
        }
        5 => {
            repo.write(&any_path(choices, "yaml"), &format!("kind: Edit{serial}\n"));
        }
        // Files the listing does not keep, inside and outside the folder.
        6 => {
            repo.write("desired/d/notes.txt", &format!("{serial}\n"));
            repo.write("outside.toml", &format!("# {serial}\n"));
        }
        // A folder named like a resource file becomes a file, or back.
        7 => {
            let folder = root.join("z.toml");
            if folder.is_dir() {
                std::fs::remove_dir_all(&folder).unwrap();
                repo.write("desired/z.toml", "# a file now\n");
            } else {
                let _ = std::fs::remove_file(&folder);
                repo.write("desired/z.toml/r1.toml", "# a folder again\n");
            }
        }
        // A folder moves.
        8 => {
            let (from, to) = (root.join("d"), root.join("m"));
            let (from, to) = if from.is_dir() {
                (from, to)
            } else {
                (to, from)
            };
            if from.is_dir() && !to.exists() {
                std::fs::rename(from, to).unwrap();
            }
        }
        // A large file, over the quota of bytes with the others.
        9 => {
            repo.write(&any_path(choices, "toml"), &"#".repeat(3_000));
        }
        // Entries the listing refuses or skips, made in the index: a
        // symbolic link, a name that is not UTF-8, a submodule, an
        // executable file. The next commit (from the work tree) takes
        // each out again.
        _ => {
            let (mode, path): (&str, Vec<u8>) = match choices.below(4) {
                0 => ("120000", any_path(choices, "toml").into_bytes()),
                1 => ("100644", b"desired/bad-\xff.toml".to_vec()),
                2 => ("160000", any_path(choices, "toml").into_bytes()),
                _ => ("100755", any_path(choices, "toml").into_bytes()),
            };
            if !root
                .join(String::from_utf8_lossy(&path[8..]).as_ref())
                .is_dir()
            {
                repo.commit_entry(mode, &path, format!("# {serial}\n").as_bytes(), "entry");
                return true;
            }
        }
    }
    false
}

/// Every file below `folder`.
fn walk(folder: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    entries
        .flat_map(|entry| {
            let path = entry.unwrap().path();
            match path.is_dir() {
                true => walk(&path),
                false => vec![path],
            }
        })
        .collect()
}

/// Git lists each commit of a tenant's folder from the last listing (only
/// the entries that changed between the two folder trees are listed
/// again); every such listing must be what a listing of every entry gives,
/// the same files, blobs and manifests or the same error, whatever the
/// commits do: files written, removed and copied, in nested folders that
/// move; a folder that becomes a file; manifests; files the listing skips;
/// commits that leave the folder alone; symbolic links, names that are not
/// UTF-8, submodules and executables; quotas of files and bytes passed and
/// regained. Every listing that succeeds after the first success is made
/// from the last one: what it leaves to a listing of every entry fails.
#[test]
fn a_folder_listed_from_the_last_listing_is_what_a_full_listing_gives() {
    // Few files, or few bytes: each quota is passed where the other holds.
    for (max_files, max_bytes) in [(14, 1 << 20), (1_000, 6_000)] {
        listed_from_the_last(cairn::source::ReadPolicy {
            max_files,
            max_bytes,
            allowed_signers: None,
        });
    }
}

fn listed_from_the_last(policy: cairn::source::ReadPolicy) {
    const COMMITS: usize = 120;
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::init(&dir.path().join("repo"));
    repo.write("desired/a.toml", "# first\n");
    repo.commit("first", AUTHOR);
    let source = || {
        cairn::source::Source::new(
            &repo.path().display().to_string(),
            "main",
            "desired",
            &dir.path().join("cache"),
        )
        .with_policy(policy.clone())
    };
    let kept = source();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut choices = Choices(11);
        let mut failed = 0;
        // Successes after the first, which has none to start from.
        let mut succeeded = 0;
        for commit in 0..COMMITS {
            let mut committed = false;
            for _ in 0..=choices.below(2) {
                committed = edit_folder(&repo, &mut choices, commit);
                if committed {
                    break;
                }
            }
            if !committed {
                repo.commit(&format!("edit {commit}"), AUTHOR);
            }
            let from_last = listed(kept.snapshot().await);
            assert_eq!(
                from_last,
                listed(source().snapshot().await),
                "edit {commit}"
            );
            match from_last.starts_with("error") {
                true => failed += 1,
                false => succeeded += 1,
            }
        }
        // Listings that fail and listings that succeed both follow ones of
        // either kind.
        assert!(
            (10..=COMMITS - 30).contains(&failed),
            "{policy:?}: {failed} failed"
        );
        assert_eq!(
            kept.listed_from_last(),
            succeeded - 1,
            "{policy:?}: listings made from the last one"
        );
    });
}
