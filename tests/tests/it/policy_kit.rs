//! The policy side of the plugin kit: the example Rego policies pass their
//! cases under `cairn plugin test` with the shipped Rego policy, and a
//! policy written by `cairn plugin new --kind policy` builds and passes
//! its own; each broken by hand fails exactly the matching checks.

use crate::plugin_kit::{cairn, verdicts};
use cairn_tests::policies::{examples, rego_plugin};
use cairn_tests::scaffold::{self, Language};
use std::path::Path;

/// Copies the example policies into `dir`.
fn copy_examples(dir: &Path) {
    for folder in ["", "rules", "cases"] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        for entry in std::fs::read_dir(examples().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.join(folder).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
}

/// Runs `cairn plugin test` on the conformance file in `folder`, with
/// `plugin`; the report as JSON and the exit code.
fn plugin_test(folder: &Path, plugin: &Path) -> (serde_json::Value, i32) {
    let output = cairn(
        folder,
        &[
            "plugin",
            "test",
            "cairn-test.toml",
            "--plugin",
            plugin.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    (output.json(), output.code)
}

/// The rules that did not pass, with their detail.
fn not_passed(report: &serde_json::Value) -> Vec<String> {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| rule["verdict"] != "pass")
        .map(|rule| {
            format!(
                "{} {}: {}",
                rule["verdict"].as_str().unwrap(),
                rule["rule"].as_str().unwrap(),
                rule["detail"].as_str().unwrap()
            )
        })
        .collect()
}

/// Replaces `from` (found once) with `to` in `file`.
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from} in {}",
        file.display()
    );
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_example_policies_pass_their_cases_and_fail_when_broken() {
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let (report, code) = plugin_test(dir.path(), &rego_plugin());
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);
    // A policy given where a provider is expected says what it is.
    cairn(
        dir.path(),
        &["plugin", "inspect", rego_plugin().to_str().unwrap()],
    )
    .expect_code(1)
    .expect_contains("it is a policy (cairn:policy/policy@0.1.0), not a provider");
    let cases = verdicts(&report)
        .into_iter()
        .filter(|(rule, _)| rule == "case")
        .count();
    assert_eq!(cases, 6, "{report:#}");

    // A rule that lets a low TTL through fails its case, naming what is
    // missing; a rule file that does not parse fails every case that
    // uses it.
    edit(
        &dir.path().join("rules/dns_min_ttl.rego"),
        "r.spec.ttl < min_ttl\n\tfinding := {\n\t\t\"rule\": \"dns-min-ttl\"",
        "r.spec.ttl < 30\n\tfinding := {\n\t\t\"rule\": \"dns-min-ttl\"",
    );
    let (report, code) = plugin_test(dir.path(), &rego_plugin());
    assert_eq!(code, 1);
    let failed = not_passed(&report);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(
        failed[0].starts_with("fail case: TTLs under 300 s")
            && failed[0].contains("missing [error dns-min-ttl at dns/record/www.example.org./A]"),
        "{failed:#?}"
    );
    edit(
        &dir.path().join("rules/k8s_limits.rego"),
        "not limited(container)",
        "not limited(container",
    );
    let (report, _) = plugin_test(dir.path(), &rego_plugin());
    let failed = not_passed(&report);
    assert!(
        failed
            .iter()
            .filter(|f| f.contains("rules/k8s_limits.rego:"))
            .count()
            >= 5,
        "{failed:#?}"
    );
}

#[test]
fn a_new_policy_builds_and_passes_its_cases_and_fails_when_broken() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("max-deletes");
    let output = cairn(
        dir.path(),
        &[
            "plugin",
            "new",
            "max-deletes",
            "--kind",
            "policy",
            "--dir",
            folder.to_str().unwrap(),
        ],
    );
    output
        .expect_code(0)
        .expect_contains("Wrote the Rust policy `max-deletes`");
    cairn(
        dir.path(),
        &["plugin", "new", "nope", "--kind", "policy", "--lang", "js"],
    )
    .expect_code(1)
    .expect_contains("a policy is written in Rust");

    let plugin = scaffold::build(&folder, "max-deletes", Language::Rust);
    let (report, code) = plugin_test(&folder, &plugin);
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);

    // Broken by hand: one more delete allowed, and a config it cannot use
    // taken as zero.
    let source = folder.join("src/lib.rs");
    edit(
        &source,
        "if deletes.len() as u64 <= max {",
        "if deletes.len() as u64 <= max + 1 {",
    );
    edit(
        &source,
        ".ok_or_else(|| invalid(\"max_deletes must be a whole number of at least 0\"))?;",
        ".unwrap_or(0);",
    );
    let plugin = scaffold::build(&folder, "max-deletes", Language::Rust);
    let (report, code) = plugin_test(&folder, &plugin);
    assert_eq!(code, 1);
    let failed = not_passed(&report);
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert!(
        failed[0].starts_with(
            "fail case: three users deleted are too many: missing [error max-deletes]"
        ),
        "{failed:#?}"
    );
    assert!(
        failed[1].starts_with("fail config-refused: accepted it"),
        "{failed:#?}"
    );
}
