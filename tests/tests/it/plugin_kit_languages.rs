//! `cairn plugin new --lang js` and `--lang python`: the provider each
//! writes builds with its one command (ComponentizeJS, componentize-py) and
//! passes every rule of `cairn plugin test` against the same fake server
//! as the Rust one; broken the ways authors break one — a delete that fails
//! on an entry already gone, the SDK layer's refusal of foreign ids turned
//! off — it fails exactly the matching rules.

use super::plugin_kit::{FakeServer, TOKEN, cairn, verdicts};
use cairn_tests::ports::free_port;
use cairn_tests::scaffold::{self, Language};
use std::path::{Path, PathBuf};

/// Writes the provider `name` in `language` into `dir/name`.
fn scaffold(dir: &Path, name: &str, language: Language) -> PathBuf {
    scaffold::new(dir, name, language)
}

/// Builds the provider in `folder` with the one command its README gives,
/// and points its conformance file at a server on `port`.
fn build(folder: &Path, language: Language, port: u16) {
    scaffold::build(folder, "kv", language);
    let file = folder.join("cairn-test.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("127.0.0.1:8780", &format!("127.0.0.1:{port}"));
    std::fs::write(&file, text).unwrap();
    std::fs::write(folder.join("token.secret"), format!("{TOKEN}\n")).unwrap();
}

/// Edits `file` of the scaffold: each `(from, to)` must be found once.
fn edit(folder: &Path, file: &str, edits: &[(&str, &str)]) {
    let path = folder.join(file);
    let mut source = std::fs::read_to_string(&path).unwrap();
    for (from, to) in edits {
        assert_eq!(
            source.matches(from).count(),
            1,
            "{from} is not in {file} once"
        );
        source = source.replace(from, to);
    }
    std::fs::write(&path, source).unwrap();
}

/// The rules `cairn plugin test` fails in `folder`, in report order.
fn failed_rules(folder: &Path) -> Vec<String> {
    let outcome = cairn(folder, &["plugin", "test", "--format", "json"]);
    let report = outcome.json();
    verdicts(&report)
        .into_iter()
        .filter(|(_, verdict)| verdict == "fail")
        .map(|(rule, _)| rule)
        .collect()
}

/// A new provider in `language` passes all 22 rules; with `breaks` made
/// to it, exactly `broken_rules` fail.
fn passes_and_fails_when_broken(
    language: Language,
    breaks: &[(&str, &[(&str, &str)])],
    broken_rules: &[&str],
) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let folder = scaffold(dir.path(), "kv", language);
    build(&folder, language, port);
    let _server = FakeServer::start(&folder, port);
    let outcome = cairn(&folder, &["plugin", "test", "--format", "json"]);
    outcome.expect_code(0);
    let report = outcome.json();
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["skipped"], 0, "{report}");
    assert_eq!(report["passed"], 22, "{report}");

    for (file, edits) in breaks {
        edit(&folder, file, edits);
    }
    build(&folder, language, port);
    assert_eq!(failed_rules(&folder), broken_rules);
}

#[test]
fn a_new_javascript_provider_passes_every_rule_and_fails_those_broken() {
    passes_and_fails_when_broken(
        Language::JavaScript,
        &[
            (
                "src/provider.js",
                &[(
                    "if (response.status !== 404) response.check(",
                    "if (response.status !== 0) response.check(",
                )],
            ),
            (
                "cairn-sdk/resource.js",
                &[(
                    "export function refusal(info, typeName, id, desired, observed) {",
                    "export function refusal(info, typeName, id, desired, observed) {\n  if (id !== '') return undefined;",
                )],
            ),
        ],
        &[
            "delete-idempotent",
            "unknown-type-refused",
            "foreign-id-refused",
        ],
    );
}

#[test]
fn a_new_python_provider_passes_every_rule_and_fails_those_broken() {
    passes_and_fails_when_broken(
        Language::Python,
        &[
            (
                "app.py",
                &[("if response.status != 404:", "if response.status != 0:")],
            ),
            (
                "cairn_provider/addressed.py",
                &[(
                    "def refusal(",
                    "def refusal(*_, **__):\n    return None\n\n\ndef refused_for_real(",
                )],
            ),
        ],
        &[
            "delete-idempotent",
            "unknown-type-refused",
            "foreign-id-refused",
        ],
    );
}
