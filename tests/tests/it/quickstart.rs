//! The quickstart's repository (`examples/quickstart/`), applied as
//! `scripts/quickstart.sh` applies it: its operator's file with the
//! placeholders filled in, its first commit validated, planned and applied
//! to a real PowerDNS, then its second commit. What the script shows a
//! newcomer is what this test checks.

use cairn_tests::Workspace;
use std::path::PathBuf;

/// The example's folder.
fn example() -> PathBuf {
    cairn_tests::repo_root().join("examples/quickstart")
}

/// A file of the example.
fn read(file: &str) -> String {
    std::fs::read_to_string(example().join(file))
        .unwrap_or_else(|error| panic!("read examples/quickstart/{file}: {error}"))
}

/// `text` with the placeholders the quickstart script fills in
/// (`@NAME@`) replaced by `values`, checking that none is left.
fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let filled = values
        .iter()
        .fold(text.to_string(), |text, (placeholder, value)| {
            text.replace(placeholder, value)
        });
    let left =
        filled.split('@').skip(1).step_by(2).find(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        });
    assert!(
        left.is_none(),
        "placeholder @{}@ is left in the example's operator file:\n{filled}",
        left.unwrap_or_default()
    );
    filled
}

#[test]
fn the_quickstart_repository_applies_as_the_script_shows() {
    let ws = Workspace::new();
    let pdns = ws.pdns.url();
    let config = fill(
        &read("cairn.toml"),
        &[
            ("@PLUGIN_DIR@", cairn_tests::PLUGIN_DIR),
            ("@PDNS_URL@", &pdns),
        ],
    );
    std::fs::write(ws.config_path(), config).expect("write cairn.toml");

    ws.repo
        .write("example.toml", &read("first-commit/example.toml"));
    ws.repo
        .commit("Add example.org", "Ada Lovelace <ada@example.org>");
    ws.cairn(&["validate"]).expect_code(0);
    ws.cairn(&["plan"]).expect_code(2);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(
        ws.pdns.dig("www.example.org", "A"),
        ["192.0.2.10", "192.0.2.11"]
    );
    assert_eq!(ws.pdns.dig_ttl("www.example.org", "A"), Some(300));
    assert_eq!(ws.pdns.dig("example.org", "MX"), ["10 mail.example.org."]);
    assert_eq!(ws.pdns.dig("example.org", "TXT"), ["\"v=spf1 mx -all\""]);
    ws.cairn(&["plan"]).expect_code(0);

    ws.repo
        .write("example.toml", &read("second-commit/example.toml"));
    ws.repo
        .commit("Move www, add api", "Grace Hopper <grace@example.org>");
    ws.cairn(&["plan"])
        .expect_code(2)
        .expect_contains("api.example.org.");
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(
        ws.pdns.dig("www.example.org", "A"),
        ["192.0.2.10", "192.0.2.12"]
    );
    assert_eq!(ws.pdns.dig_ttl("www.example.org", "A"), Some(600));
    assert_eq!(ws.pdns.dig("api.example.org", "A"), ["192.0.2.20"]);
    ws.cairn(&["plan"]).expect_code(0);

    let history = ws.history();
    let applies = history.iter().filter(|run| run["kind"] == "apply").count();
    assert_eq!(applies, 2, "two applies in the history: {history:?}");
}

/// With `--identity` the script adds the identity provider and the
/// people of `first-commit/people.toml`: the repository validates with
/// them (Canaille itself is not needed to validate).
#[test]
fn the_quickstart_repository_with_identity_validates() {
    let ws = Workspace::new();
    let pdns = ws.pdns.url();
    let idp = "http://127.0.0.1:9";
    let values = [
        ("@PLUGIN_DIR@", cairn_tests::PLUGIN_DIR),
        ("@PDNS_URL@", pdns.as_str()),
        ("@IDP_URL@", idp),
        ("@SCIM_URL@", "http://127.0.0.1:9/scim/v2"),
        ("@TOKEN_URL@", "http://127.0.0.1:9/oauth/token"),
    ];
    let config = fill(
        &format!("{}{}", read("cairn.toml"), read("cairn.identity.toml")),
        &values,
    );
    std::fs::write(ws.config_path(), config).expect("write cairn.toml");
    ws.repo
        .write("example.toml", &read("first-commit/example.toml"))
        .write("people.toml", &read("first-commit/people.toml"));
    ws.repo
        .commit("Add example.org", "Ada Lovelace <ada@example.org>");
    ws.cairn_env(
        &["validate"],
        &[
            ("IDP_CLIENT_ID", "quickstart"),
            ("IDP_CLIENT_SECRET", "quickstart-secret"),
            ("ALICE_PASSWORD", "quickstart-password"),
        ],
    )
    .expect_code(0);
}

/// What `scripts/build.sh` (the quickstart's first step) ran and printed,
/// with a stand-in `cargo` that records its arguments, against the target
/// folder `target`.
fn build_script(target: &std::path::Path, bin: &std::path::Path) -> (String, Vec<String>) {
    let log = target.with_extension("log");
    let _ = std::fs::remove_file(&log);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new("bash")
        .arg(cairn_tests::repo_root().join("scripts/build.sh"))
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_LOG_FILE", &log)
        .env_remove("CAIRN_PLUGIN_TARGET_DIR")
        .output()
        .expect("run scripts/build.sh");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let calls = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    (stdout, calls)
}

/// On a fresh machine the quickstart compiled for about 13 minutes in
/// silence (`cargo --quiet`, and the plugins inside a build script, whose
/// output cargo hides). The build script now says what a first build
/// does and how long it takes, and lets cargo show its progress for the
/// plugins and the binary; a later build only has cargo's lines.
#[test]
fn the_quickstart_build_shows_its_progress() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("create a temporary folder");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("create bin/");
    let cargo = bin.join("cargo");
    std::fs::write(&cargo, "#!/bin/sh\necho \"$*\" >> \"$CARGO_LOG_FILE\"\n")
        .expect("write the stand-in cargo");
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755))
        .expect("make it executable");
    let target = dir.path().join("target");
    std::fs::create_dir(&target).expect("create target/");

    let (first, calls) = build_script(&target, &bin);
    assert!(
        first.contains("a first build compiles Cairn")
            && first.contains("10 to 15 minutes on two cores"),
        "{first}"
    );
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|call| !call.contains("--quiet") && !call.contains(" -q")),
        "cargo's progress is hidden: {calls:?}"
    );
    // The plugins where tests/build.rs builds them, each named.
    let plugins = &calls[0];
    assert!(
        plugins.starts_with(&format!(
            "build --release --target wasm32-wasip2 --target-dir {}/plugins",
            target.display()
        )),
        "{plugins}"
    );
    for package in [
        "dns-powerdns",
        "identity-scim",
        "apps-docker",
        "cluster-kubernetes",
        "hostile-provider",
    ] {
        assert!(
            plugins.contains(&format!("--package {package}")),
            "{plugins}"
        );
    }
    assert_eq!(calls[1], "build --bins");

    // Once built, no word of a first build.
    std::fs::create_dir(target.join("debug")).expect("create debug/");
    let cairn = target.join("debug/cairn");
    std::fs::write(&cairn, "").expect("write a binary");
    std::fs::set_permissions(&cairn, std::fs::Permissions::from_mode(0o755))
        .expect("make it executable");
    let (later, calls) = build_script(&target, &bin);
    assert!(!later.contains("first build"), "{later}");
    assert_eq!(calls.len(), 2, "{calls:?}");
}
