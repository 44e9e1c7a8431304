//! Providers in JavaScript and Python. `cairn plugin new --lang js` and
//! `--lang python`: the provider each
//! writes builds with its one command (ComponentizeJS, componentize-py) and
//! passes every rule of `cairn plugin test` against the same fake server
//! as the Rust one; broken the ways authors break one — a delete that fails
//! on an entry already gone, the SDK layer's refusal of foreign ids turned
//! off — it fails exactly the matching rules.

use super::plugin_kit::{FakeServer, TOKEN, cairn, conformance, skipped, verdicts};
use cairn_tests::components::{BROKER_RABBITMQ, KV_ETCD, built};
use cairn_tests::etcd::Etcd;
use cairn_tests::ports::free_port;
use cairn_tests::rabbitmq::RabbitMq;
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
        // The default diff looks the type up on its own and refuses one
        // the provider lacks, so only the foreign id gets through.
        &["delete-idempotent", "foreign-id-refused"],
    );
}

/// The password of etcd's `root` in the conformance run: long enough for
/// the hygiene rule to look for it.
const ETCD_ROOT_PASSWORD: &str = "etcd-root-7b2f91";

#[test]
fn the_etcd_provider_in_javascript_passes_every_rule_against_etcd() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start(dir.path());
    // Authentication on, as production etcds run, so that every rule
    // applies (the conformance file says why).
    let readied = std::process::Command::new("python3")
        .arg(cairn_tests::repo_root().join("plugins/kv-etcd/by_hand.py"))
        .args([etcd.url.as_str(), "root", ETCD_ROOT_PASSWORD, "enable-auth"])
        .output()
        .unwrap();
    assert!(
        readied.status.success(),
        "{}",
        String::from_utf8_lossy(&readied.stderr)
    );
    let report = conformance(
        "kv-etcd",
        &built(&KV_ETCD),
        &[
            ("ETCD_URL", etcd.url.as_str()),
            ("ETCD_USERNAME", "root"),
            ("ETCD_PASSWORD", ETCD_ROOT_PASSWORD),
        ],
    );
    assert_eq!(skipped(&report), Vec::<String>::new(), "{report}");
    assert_eq!(report["passed"], 22, "{report}");
}

/// The administrator the RabbitMQ conformance run logs in as, with a
/// password long enough for the hygiene rule to look for it (the node's
/// `guest` is too short).
const RABBITMQ_ADMIN: (&str, &str) = ("cairn-admin", "rabbit-admin-3c8e5a");

#[test]
fn the_rabbitmq_provider_in_python_passes_every_rule_against_rabbitmq() {
    let dir = tempfile::tempdir().unwrap();
    let rabbitmq = RabbitMq::start(dir.path());
    let (user, password) = RABBITMQ_ADMIN;
    rabbitmq
        .api(
            "PUT",
            &format!("/api/users/{user}"),
            Some(&serde_json::json!({"password": password, "tags": "administrator"})),
        )
        .unwrap();
    let report = conformance(
        "broker-rabbitmq",
        &built(&BROKER_RABBITMQ),
        &[
            ("RABBITMQ_URL", rabbitmq.url.as_str()),
            ("RABBITMQ_USERNAME", user),
            ("RABBITMQ_PASSWORD", password),
        ],
    );
    assert_eq!(skipped(&report), Vec::<String>::new(), "{report}");
    assert_eq!(report["passed"], 22, "{report}");
}
