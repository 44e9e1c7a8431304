//! Bad input gets a clear error that says where and what to do, and the
//! server is left exactly as it was.

use cairn_tests::Workspace;
use cairn_tests::cairn::ConfigOptions;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

const GOOD: &str = "[[dns.zone]]\nname = \"example.org.\"\n\n[[dns.record]]\nname = \"www.example.org.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\n";

/// A workspace whose server already holds the GOOD zone, applied by Cairn.
fn applied() -> Workspace {
    let ws = Workspace::new();
    ws.repo.write("zones/good.toml", GOOD);
    ws.repo.commit("good", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    ws
}

/// Commits `files` on top of the applied state, then checks that validate,
/// plan and apply all fail with `expected` in their output and the server
/// is unchanged.
#[track_caller]
fn assert_rejected(ws: &Workspace, files: &[(&str, &str)], expected: &[&str]) {
    let before = ws.pdns.rrsets("example.org.");
    for (path, text) in files {
        ws.repo.write(path, text);
    }
    ws.repo.commit("bad input", AUTHOR);
    for command in [&["validate"][..], &["plan"], &["apply", "--yes"]] {
        let output = ws.cairn(command);
        output.expect_code(1);
        for text in expected {
            output.expect_contains(text);
        }
    }
    assert_eq!(ws.pdns.rrsets("example.org."), before, "the server changed");
    assert_eq!(ws.pdns.zones(), ["example.org."]);
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    let ws = applied();
    assert_rejected(
        &ws,
        &[
            ("zones/good.toml", &GOOD.replace("192.0.2.1", "192.0.2.2")),
            (
                "zones/broken.toml",
                "[[dns.record]]\nname = \"a.example.org.\ntype = \"A\"\n",
            ),
        ],
        &[
            "zones/broken.toml:2:",
            "invalid TOML",
            "nothing was applied",
        ],
    );
}

#[test]
fn an_unknown_key_in_a_spec_is_pointed_at() {
    let ws = applied();
    assert_rejected(
        &ws,
        &[(
            "zones/extra.toml",
            "[[dns.record]]\nname = \"b.example.org.\"\ntype = \"A\"\ntll = 300\nrecords = [\"192.0.2.9\"]\n",
        )],
        &[
            "zones/extra.toml:4:1",
            "unknown field `tll`",
            "remove the key or fix its spelling",
        ],
    );
}

#[test]
fn a_bad_value_is_pointed_at_with_its_path() {
    let ws = applied();
    assert_rejected(
        &ws,
        &[(
            "zones/extra.toml",
            "[[dns.record]]\nname = \"b.example.org.\"\ntype = \"A\"\nrecords = [\"192.0.2.9\", \"192.0.2.300\"]\n",
        )],
        &[
            "zones/extra.toml:4:25",
            "dns.record `records.1`",
            "`192.0.2.300` is not an IPv4 address",
        ],
    );
}

#[test]
fn an_unknown_provider_lists_the_known_ones() {
    let ws = applied();
    assert_rejected(
        &ws,
        &[(
            "zones/extra.toml",
            "[[dnss.record]]\nname = \"b.example.org.\"\ntype = \"A\"\nrecords = [\"192.0.2.9\"]\n",
        )],
        &[
            "zones/extra.toml:1:3",
            "unknown provider `dnss`",
            "the providers of this tenant are: dns",
        ],
    );
}

#[test]
fn an_unknown_type_lists_the_provider_types() {
    let ws = applied();
    assert_rejected(
        &ws,
        &[(
            "zones/extra.toml",
            "[[dns.recrod]]\nname = \"b.example.org.\"\n",
        )],
        &[
            "provider `dns` has no resource type `recrod`",
            "its types are: zone, record",
        ],
    );
}

#[test]
fn a_duplicate_resource_names_both_places() {
    let ws = applied();
    assert_rejected(
        &ws,
        &[(
            "zones/copy.toml",
            "\n\n[[dns.record]]\nname = \"WWW.example.org\"\ntype = \"a\"\nrecords = [\"192.0.2.7\"]\n",
        )],
        &[
            "duplicate resource dns/record/www.example.org./A",
            "zones/copy.toml:4:1",
            "zones/good.toml:5:1",
            "first declared here",
        ],
    );
}

#[test]
fn a_dependency_cycle_names_the_cycle() {
    let ws = applied();
    assert_rejected(
        &ws,
        &[(
            "zones/cycle.toml",
            "[[dns.record]]\nname = \"a.example.org.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\ndepends_on = [\"dns/record/b.example.org./A\"]\n\n[[dns.record]]\nname = \"b.example.org.\"\ntype = \"A\"\nrecords = [\"192.0.2.2\"]\ndepends_on = [\"dns/record/a.example.org./A\"]\n",
        )],
        &[
            "dependency cycle: dns/record/a.example.org./A → dns/record/b.example.org./A → dns/record/a.example.org./A",
        ],
    );
}

#[test]
fn a_missing_dependency_is_named_with_a_suggestion() {
    let ws = applied();
    assert_rejected(
        &ws,
        &[(
            "zones/extra.toml",
            "[[dns.record]]\nname = \"b.example.org.\"\ntype = \"A\"\nrecords = [\"192.0.2.9\"]\ndepends_on = [\"dns/zone/Example.org\"]\n",
        )],
        &[
            "depends_on names `dns/zone/Example.org`, which no resource of this commit declares",
            "did you mean `dns/zone/example.org.`?",
        ],
    );
}

#[test]
fn a_wrong_sha256_refuses_the_plugin() {
    let ws = applied();
    let before = ws.pdns.rrsets("example.org.");
    ws.repo
        .write("zones/good.toml", &GOOD.replace("192.0.2.1", "192.0.2.2"));
    ws.repo.commit("change", AUTHOR);
    ws.configure(&ConfigOptions {
        sha256: Some("0".repeat(64)),
        ..ConfigOptions::default()
    });
    for command in [&["plan"][..], &["apply", "--yes"]] {
        ws.cairn(command).expect_code(1).expect_contains(&format!(
            "but cairn.toml pins {}: refusing to load it",
            "0".repeat(64)
        ));
    }
    assert_eq!(ws.pdns.rrsets("example.org."), before);

    // The right digest loads.
    let digest = ws.cairn_bare(&[
        "plugin",
        "inspect",
        "--json",
        cairn_tests::plugin_path("dns_powerdns").to_str().unwrap(),
    ]);
    let sha256 = digest.json()["sha256"].as_str().unwrap().to_string();
    ws.configure(&ConfigOptions {
        sha256: Some(sha256),
        ..ConfigOptions::default()
    });
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);
}

#[test]
fn a_request_outside_the_grants_is_refused_before_connecting() {
    let ws = applied();
    let before = ws.pdns.rrsets("example.org.");
    ws.repo
        .write("zones/good.toml", &GOOD.replace("192.0.2.1", "192.0.2.2"));
    ws.repo.commit("change", AUTHOR);
    // The grant names another port of the same host: nothing may pass.
    let grant = format!("http://127.0.0.1:{}", ws.pdns.api_port + 1);
    ws.configure(&ConfigOptions {
        allow: Some(vec![grant.clone()]),
        ..ConfigOptions::default()
    });
    let output = ws.cairn(&["apply", "--yes"]);
    output
        .expect_code(1)
        .expect_contains("outside this provider's network grants")
        .expect_contains("denied by the network gate");
    // The host's log names the URL and the grants.
    assert!(
        output.stderr.contains("refused a plugin's HTTP request"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains(&format!(
            "url=http://127.0.0.1:{}/api/v1/servers/localhost/",
            ws.pdns.api_port
        )),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains(&grant), "{}", output.stderr);
    assert_eq!(ws.pdns.rrsets("example.org."), before);

    // No grant at all is the same refusal.
    ws.configure(&ConfigOptions {
        allow: Some(vec![]),
        ..ConfigOptions::default()
    });
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("outside this provider's network grants");
}

#[test]
fn powerdns_down_is_a_clear_error_and_nothing_is_recorded_as_applied() {
    let mut ws = applied();
    ws.repo
        .write("zones/good.toml", &GOOD.replace("192.0.2.1", "192.0.2.2"));
    ws.repo.commit("change", AUTHOR);
    ws.pdns.stop();
    let output = ws.cairn(&["apply", "--yes"]);
    output
        .expect_code(1)
        .expect_contains("failed in `list`")
        .expect_contains("ConnectionRefused")
        .expect_contains("(unavailable)");
    let history = ws.cairn(&["history", "--json"]).json();
    let applies = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "apply")
        .count();
    assert_eq!(applies, 1, "only the first apply is recorded");
}

#[test]
fn an_unreachable_repository_is_a_clear_error() {
    let ws = applied();
    let before = ws.pdns.rrsets("example.org.");
    ws.configure(&ConfigOptions {
        repo: Some("git://127.0.0.1:1/zones.git".into()),
        ..ConfigOptions::default()
    });
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("cannot fetch git://127.0.0.1:1/zones.git")
        .expect_contains("Nothing was applied");
    ws.configure(&ConfigOptions {
        repo: Some("no-such-folder".into()),
        ..ConfigOptions::default()
    });
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("cannot open the repository")
        .expect_contains("no-such-folder");
    assert_eq!(ws.pdns.rrsets("example.org."), before);
}

#[test]
fn a_bad_operator_config_says_where() {
    let ws = Workspace::new();
    std::fs::write(
        ws.config_path(),
        "[tenants.default]\nrepo = \"zones\"\nref = \"main\"\nbranch = \"x\"\n",
    )
    .unwrap();
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("line 4, column 1: unknown field `branch`");
}

/// A provider's `config` is checked against its plugin's config schema
/// when the tenant loads, so `cairn validate` finds a misspelt key or a
/// value of the wrong type at its table, before any call to the plugin:
/// before, the first call that configured the plugin failed, at plan.
#[test]
fn a_provider_config_its_plugin_does_not_accept_is_named_at_its_table() {
    let ws = Workspace::new();
    ws.repo
        .write("dns.toml", "[[dns.zone]]\nname = \"example.org.\"\n");
    ws.repo.commit("zone", AUTHOR);
    let text = std::fs::read_to_string(ws.config_path()).expect("cairn.toml");
    let config = "config = { url = ";
    assert!(text.contains(config), "{text}");
    let wrong = text.replace(config, "config = { server_id = \"localhost\", url = ");
    std::fs::write(
        ws.config_path(),
        wrong.replace("server = \"localhost\"", "server = 8081"),
    )
    .expect("write cairn.toml");
    for command in [&["validate"][..], &["plan"]] {
        ws.cairn(command)
            .expect_code(1)
            .expect_contains(
                "[tenants.default.providers.dns] config does not match what its plugin accepts",
            )
            .expect_contains("config.server: 8081 is not of type \"string\"")
            .expect_contains("server_id")
            .expect_contains(
                "`cairn plugin inspect --json PLUGIN` shows the plugin's config schema",
            );
    }
    assert!(ws.pdns.zones().is_empty(), "nothing was applied");
}

/// A resource its provider refuses is still declared: a `depends_on`
/// naming it (even in its canonical form, which differs from what is
/// written) is not a second problem. Before, every such reference was
/// reported missing beside the real problem.
#[test]
fn a_refused_resource_is_one_problem_not_a_cascade() {
    let ws = applied();
    let bad = "[[dns.record]]\nname = \"WWW2.example.org\"\ntype = \"A\"\nrecords = [\"not-an-address\"]\n\n[[dns.record]]\nname = \"api.example.org.\"\ntype = \"CNAME\"\nrecords = [\"www2.example.org.\"]\ndepends_on = [\"dns/record/www2.example.org./A\"]\n";
    assert_rejected(
        &ws,
        &[("zones/bad.toml", bad)],
        &["has 1 problem; nothing was applied", "zones/bad.toml:4:12"],
    );
    let text = ws.cairn(&["validate"]);
    assert!(!text.all().contains("depends_on"), "{}", text.all());

    let json = ws.cairn(&["validate", "--json"]);
    json.expect_code(1);
    let report = json.json();
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(
        (&errors[0]["file"], &errors[0]["line"]),
        (&serde_json::json!("zones/bad.toml"), &serde_json::json!(4)),
        "{report:#}"
    );
}

/// `cairn.toml` with the workspace's tenant and a Kubernetes provider
/// `k8s` whose server is never reached: `cairn validate` makes no request.
fn configure_kubernetes(ws: &Workspace) {
    let token = ws.path().join("token.secret");
    std::fs::write(&token, "unused").expect("write the token");
    let text = format!(
        "{header}\n{tenant}\n[tenants.default.providers.k8s]\nplugin = {plugin:?}\nallow = [\"https://127.0.0.1:9\"]\nconfig = {{ url = \"https://127.0.0.1:9\", tenant = \"default\", instance = \"k8s\" }}\nsecrets = {{ token = {{ file = {token:?} }} }}\n",
        header = cairn_tests::cairn::config_header(),
        tenant = ws.tenant_block("default", &ConfigOptions::default()),
        plugin = cairn_tests::plugin_path("cluster_kubernetes")
            .display()
            .to_string(),
        token = token.display().to_string(),
    );
    std::fs::write(ws.config_path(), text).expect("write cairn.toml");
}

/// Two sets naming the same manifests.
const SETS: &str = "[[k8s.manifests]]\nname = \"shop\"\nfiles = [\"manifests/*.yaml\"]\n\n[[k8s.manifests]]\nname = \"again\"\nfiles = \"manifests/broken.yaml\"\n";

/// A manifest whose fifth line is not YAML: a second `:` in a plain
/// value.
const BROKEN: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: app: shop\n  namespace: shop\n";

/// A manifest whose second object lacks its namespace and holds a field
/// the server writes.
const OBJECTS: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\n# the settings\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  uid: 0e9f0c2a\ndata:\n  theme: dark\n";

/// A problem in a YAML manifest is reported at the manifest's own line and
/// column, with its text, and the resource that names it beside it — not
/// at the TOML resource naming it, as it was, with the YAML's line only in
/// the message. A manifest that two resources name is reported once.
#[test]
fn manifest_problems_point_into_the_manifest() {
    let ws = Workspace::new();
    configure_kubernetes(&ws);
    ws.repo.write("k8s/cluster.toml", SETS);
    ws.repo.write("k8s/manifests/broken.yaml", BROKEN);
    ws.repo.commit("a broken manifest", AUTHOR);

    let text = ws.cairn(&["validate"]);
    text.expect_code(1)
        .expect_contains("has 1 problem; nothing was applied")
        .expect_contains("k8s/manifests/broken.yaml:5:14: invalid YAML")
        // The manifest's own text, and where it is named.
        .expect_contains("labels: app: shop")
        .expect_contains("k8s/manifests/broken.yaml is named here");
    let report = ws.cairn(&["validate", "--json"]).json();
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(errors[0]["file"], "k8s/manifests/broken.yaml", "{report:#}");
    assert_eq!(
        (&errors[0]["line"], &errors[0]["column"]),
        (&serde_json::json!(5), &serde_json::json!(14)),
        "{report:#}"
    );
    assert_eq!(errors[0]["snippet"], "  labels: app: shop", "{report:#}");
    assert_eq!(errors[0]["related"][0]["file"], "k8s/cluster.toml");
    assert_eq!(errors[0]["related"][0]["line"], 3);
    assert_eq!(
        errors[0]["related"][0]["snippet"],
        "files = [\"manifests/*.yaml\"]"
    );

    // Valid YAML, objects the provider refuses: each at the line of the
    // field in its document.
    ws.repo.remove("k8s/manifests/broken.yaml");
    ws.repo.write("k8s/manifests/objects.yaml", OBJECTS);
    ws.repo.write(
        "k8s/cluster.toml",
        "[[k8s.manifests]]\nname = \"shop\"\nfiles = [\"manifests/*.yaml\"]\n",
    );
    ws.repo.commit("objects the provider refuses", AUTHOR);
    ws.cairn(&["validate"])
        .expect_code(1)
        .expect_contains("k8s/manifests/objects.yaml:9:1: k8s.manifests `metadata`: a ConfigMap lives in a namespace")
        .expect_contains("k8s/manifests/objects.yaml:11:3: k8s.manifests `metadata.uid`: `metadata.uid` is set by the server")
        .expect_contains("uid: 0e9f0c2a");
    let report = ws.cairn(&["validate", "--json"]).json();
    let places: Vec<(String, u64, u64)> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| {
            (
                error["file"].as_str().unwrap_or_default().to_string(),
                error["line"].as_u64().unwrap_or_default(),
                error["column"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            ("k8s/manifests/objects.yaml".to_string(), 9, 1),
            ("k8s/manifests/objects.yaml".to_string(), 11, 3),
        ],
        "{report:#}"
    );
    assert_eq!(
        report["errors"][1]["snippet"], "  uid: 0e9f0c2a",
        "{report:#}"
    );
}
