//! The plugin kit from an author's side: `cairn plugin new` writes a
//! provider that builds and passes `cairn plugin test` against the fake
//! server it comes with, out of the box; providers broken the ways authors
//! break them fail exactly the matching rules, each with its hint.

use cairn_tests::Workspace;
use cairn_tests::cairn::Output;
use cairn_tests::canaille::Canaille;
use cairn_tests::kube::Kube;
use cairn_tests::pdns::API_KEY;
use cairn_tests::podman::Podman;
use cairn_tests::ports::free_port;
use cairn_tests::scaffold::{self, Language};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The token the fake server wants, long enough for the hygiene rule to
/// look for it.
pub(crate) const TOKEN: &str = "kit-token-4d1c9a";

pub(crate) fn cairn(dir: &Path, args: &[&str]) -> Output {
    cairn_tests::cairn_command()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run cairn")
        .into()
}

/// Writes the provider `name` into `dir/name` with `cairn plugin new`.
fn scaffold(dir: &Path, name: &str) -> PathBuf {
    scaffold::new(dir, name, Language::Rust)
}

/// Builds the provider in `folder` as its README says, and points its
/// conformance file at the plugin and at a server on `port`.
fn build(folder: &Path, name: &str, port: u16) {
    let wasm = scaffold::build(folder, name, Language::Rust);
    let file = folder.join("cairn-test.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace(
            &format!(
                "target/wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            ),
            wasm.to_str().unwrap(),
        )
        .replace("127.0.0.1:8780", &format!("127.0.0.1:{port}"));
    std::fs::write(&file, text).unwrap();
    std::fs::write(folder.join("token.secret"), format!("{TOKEN}\n")).unwrap();
}

/// The scaffold's fake server, stopped when dropped.
pub(crate) struct FakeServer(Child);

impl FakeServer {
    pub(crate) fn start(folder: &Path, port: u16) -> Self {
        let mut child = Command::new("python3")
            .arg(folder.join("fake_server.py"))
            .args(["--port", &port.to_string(), "--token", TOKEN])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the fake server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("listening"),
            "the fake server said {line:?}"
        );
        Self(child)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The verdict of each rule in a JSON report.
pub(crate) fn verdicts(report: &serde_json::Value) -> Vec<(String, String)> {
    report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|rule| {
            (
                rule["rule"].as_str().unwrap().to_string(),
                rule["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Edits the generated provider: each `(from, to)` must be found once.
fn break_provider(folder: &Path, edits: &[(&str, &str)]) {
    let path = folder.join("src/lib.rs");
    let mut source = std::fs::read_to_string(&path).unwrap();
    for (from, to) in edits {
        assert_eq!(
            source.matches(from).count(),
            1,
            "{from} is not in the template once"
        );
        source = source.replace(from, to);
    }
    std::fs::write(&path, source).unwrap();
}

#[test]
fn a_new_provider_builds_and_passes_every_rule_against_its_fake_server() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scaffold(dir.path(), "kv");
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "README.md",
        "cairn.toml",
        "cairn-test.toml",
        "fake_server.py",
        "samples/valid.toml",
        "samples/invalid.toml",
    ] {
        assert!(folder.join(file).is_file(), "{file} was not written");
    }
    // The folder exists now: a second scaffold there is refused.
    cairn(
        dir.path(),
        &["plugin", "new", "kv", "--dir", folder.to_str().unwrap()],
    )
    .expect_code(1)
    .expect_contains("is not empty");

    let port = free_port();
    build(&folder, "kv", port);
    let _server = FakeServer::start(&folder, port);

    let text = cairn(&folder, &["plugin", "test"]);
    text.expect_code(0).expect_contains("0 failed");
    let report = cairn(&folder, &["plugin", "test", "--format", "json"]);
    report.expect_code(0);
    let report = report.json();
    assert_eq!(report["failed"], 0, "{report}");
    // Every rule the conformance file gives the means for is checked.
    assert_eq!(report["skipped"], 0, "{report}");
    assert_eq!(report["passed"], 22, "{report}");

    let junit = cairn(&folder, &["plugin", "test", "--format", "junit"]);
    junit
        .expect_code(0)
        .expect_contains("tests=\"22\" failures=\"0\" skipped=\"0\"");
}

#[test]
fn broken_providers_fail_the_matching_rules_with_their_hints() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();

    // A delete that fails on an entry already gone, and the token in a
    // log record.
    let careless = scaffold(dir.path(), "careless");
    break_provider(
        &careless,
        &[
            ("if response.status != 404 {", "if response.status != 0 {"),
            (
                "let token = secrets.require(\"token\")?;",
                "let token = secrets.require(\"token\")?;\n        log::info(\"configured\", &[(\"token\", token)]);",
            ),
        ],
    );
    build(&careless, "careless", port);
    let _server = FakeServer::start(&careless, port);
    let outcome = cairn(&careless, &["plugin", "test", "--format", "json"]);
    outcome.expect_code(1);
    let report = outcome.json();
    let failed: Vec<String> = verdicts(&report)
        .into_iter()
        .filter(|(_, verdict)| verdict == "fail")
        .map(|(rule, _)| rule)
        .collect();
    assert_eq!(failed, ["delete-idempotent", "secrets-hidden"], "{report}");
    let text = cairn(&careless, &["plugin", "test"]);
    text.expect_code(1)
        .expect_contains("fix: treat a 404")
        .expect_contains("the secret `token` is in a log record of the plugin");

    // An entry read back in another shape than validate writes it.
    let skewed = scaffold(dir.path(), "skewed");
    break_provider(
        &skewed,
        &[(
            "key: entry.key.clone(),\n                    value: entry.value,",
            "key: entry.key.clone(),\n                    value: entry.value.to_uppercase(),",
        )],
    );
    build(&skewed, "skewed", port);
    let outcome = cairn(&skewed, &["plugin", "test", "--format", "json"]);
    outcome.expect_code(1);
    let report = outcome.json();
    let verdicts = verdicts(&report);
    let verdict = |rule: &str| {
        verdicts
            .iter()
            .find(|(name, _)| name == rule)
            .map(|(_, verdict)| verdict.as_str())
            .unwrap()
            .to_string()
    };
    assert_eq!(verdict("applied-is-observed"), "fail", "{report}");
    assert_eq!(verdict("next-plan-empty"), "fail", "{report}");
    // The rules that build on a settled object are not reached.
    assert_eq!(verdict("delete"), "skip", "{report}");
    assert_eq!(verdict("create"), "pass", "{report}");
    assert!(
        report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|rule| rule["rule"] == "next-plan-empty"
                && rule["hint"]
                    .as_str()
                    .unwrap()
                    .contains("shape validate writes")),
        "{report}"
    );
}

/// Runs the conformance file of a shipped provider against its real
/// server, with `env` naming the server; returns the JSON report, which
/// must show no failure.
pub(crate) fn conformance(
    provider: &str,
    plugin: &Path,
    env: &[(&str, &str)],
) -> serde_json::Value {
    let file = cairn_tests::repo_root()
        .join("plugins")
        .join(provider)
        .join("cairn-test.toml");
    let output = cairn_tests::cairn_command()
        .args(["plugin", "test"])
        .arg(&file)
        .arg("--plugin")
        .arg(plugin)
        .args(["--format", "json"])
        .envs(env.iter().copied())
        .output()
        .expect("run cairn");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("no report ({error}):\n{stdout}\n{stderr}"));
    assert_eq!(report["failed"], 0, "{report}\n{stderr}");
    assert_eq!(output.status.code(), Some(0), "{report}\n{stderr}");
    report
}

/// The rules a report skipped, by name.
pub(crate) fn skipped(report: &serde_json::Value) -> Vec<String> {
    verdicts(report)
        .into_iter()
        .filter(|(_, verdict)| verdict == "skip")
        .map(|(rule, _)| rule)
        .collect()
}

#[test]
fn the_powerdns_provider_passes_every_rule_against_powerdns() {
    let ws = Workspace::new();
    let url = ws.pdns.url();
    let report = conformance(
        "dns-powerdns",
        &cairn_tests::plugin_path("dns_powerdns"),
        &[("PDNS_URL", url.as_str()), ("PDNS_API_KEY", API_KEY)],
    );
    assert_eq!(skipped(&report), Vec::<String>::new(), "{report}");
    assert_eq!(report["passed"], 22, "{report}");
}

#[test]
fn the_identity_provider_passes_every_rule_against_canaille() {
    let dir = tempfile::Builder::new()
        .prefix("cairn-canaille-")
        .tempdir()
        .unwrap();
    let canaille = Canaille::start(dir.path());
    let origin = canaille.scim_url.split("/scim").next().unwrap().to_string();
    let report = conformance(
        "identity-scim",
        &cairn_tests::plugin_path("identity_scim"),
        &[
            ("SCIM_URL", canaille.scim_url.as_str()),
            ("SCIM_TOKEN_URL", canaille.token_url.as_str()),
            ("SCIM_ORIGIN", origin.as_str()),
            ("SCIM_CLIENT_ID", canaille.client_id.as_str()),
            ("SCIM_CLIENT_SECRET", canaille.client_secret.as_str()),
        ],
    );
    assert_eq!(skipped(&report), Vec::<String>::new(), "{report}");
}

#[test]
fn the_apps_provider_passes_every_rule_against_podman() {
    let podman = Podman::start_in_scratch();
    let url = podman.url();
    let report = conformance(
        "apps-docker",
        &cairn_tests::plugin_path("apps_docker"),
        &[
            ("DOCKER_URL", url.as_str()),
            ("APPS_TOKEN", "apps-conformance-token"),
        ],
    );
    // podman's API on loopback takes no credential.
    assert_eq!(skipped(&report), ["wrong-credential"], "{report}");
}

#[test]
fn the_kubernetes_provider_passes_every_rule_against_kube_apiserver() {
    let dir = tempfile::Builder::new()
        .prefix("cairn-kube-")
        .tempdir()
        .unwrap();
    let kube = Kube::start(dir.path());
    let ca = kube.ca.display().to_string();
    let kubeconfig = kube.kubeconfig().display().to_string();
    let kubectl = Kube::kubectl_binary().display().to_string();
    let report = conformance(
        "cluster-kubernetes",
        &cairn_tests::plugin_path("cluster_kubernetes"),
        &[
            ("KUBE_URL", kube.url.as_str()),
            ("KUBE_CA", ca.as_str()),
            ("KUBE_TOKEN", kube.admin_token.as_str()),
            ("KUBECONFIG", kubeconfig.as_str()),
            ("KUBECTL", kubectl.as_str()),
        ],
    );
    assert_eq!(skipped(&report), Vec::<String>::new(), "{report}");
}
