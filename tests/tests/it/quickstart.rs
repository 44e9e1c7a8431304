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
