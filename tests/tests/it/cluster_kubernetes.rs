//! The Kubernetes provider against a real kube-apiserver: objects in TOML
//! and YAML manifests applied by server-side apply, quiet plans although
//! the server defaults fields, updates of one field, prune that spares
//! objects without Cairn's label, a CRD with its custom objects, drift
//! healed by the agent, conflicts with another field manager, a token RBAC
//! refuses, two clusters driven from one repository, a controller's bundle
//! of manifests that the server partly refuses and that converges once
//! fixed in Git (its ports without `protocol`, which server-side apply of
//! this API server refuses unless defaulted), twenty objects dry-run and
//! applied side by side whose every answer goes to its own object, and a
//! Secret's value and the tokens in nothing Cairn wrote or printed (as
//! is, in base64 or in hex).

use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::kube::Kube;
use std::path::PathBuf;
use std::time::Duration;

const AUTHOR: &str = "Katherine Johnson <katherine@example.org>";

/// A Secret value no other test uses, so finding it anywhere is a leak.
const DB_PASSWORD: &str = "pw-7d1c9e-kube-secret";

/// A temporary folder for an API server, outside the workspace: etcd
/// rightly holds the Secret's value, and the workspace is searched for it.
fn cluster_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cairn-kube-")
        .tempdir()
        .expect("create a temporary folder")
}

/// Writes the admin token of `kube` to `NAME.secret` in the workspace.
fn token_file(ws: &Workspace, kube: &Kube, name: &str, limited: bool) -> PathBuf {
    let path = ws.path().join(format!("{name}.secret"));
    let token = if limited {
        &kube.limited_token
    } else {
        &kube.admin_token
    };
    std::fs::write(&path, token).expect("write the token");
    path
}

/// Writes `cairn.toml`: the workspace's DNS tenant plus a `k8s` provider.
fn configure(ws: &Workspace, kube: &Kube, limited: bool, settings: &str, provider_config: &str) {
    let password = ws.path().join("db_password.secret");
    std::fs::write(&password, DB_PASSWORD).expect("write the password");
    let options = ConfigOptions {
        tenant_settings: settings.to_string(),
        ..ConfigOptions::default()
    };
    let text = format!(
        "{}\n{}{}",
        config_header(),
        ws.tenant_block("default", &options),
        kube.provider_table(
            "default",
            "k8s",
            &token_file(ws, kube, "token", limited),
            &[("db_password", password)],
            provider_config
        )
    );
    std::fs::write(ws.config_path(), text).expect("write cairn.toml");
}

/// Objects in TOML: a namespace, configuration, a Secret from a secret
/// reference, an account with a role, a Deployment, a CRD and a custom
/// object of it.
const OBJECTS: &str = r#"
[[k8s.object]]
apiVersion = "v1"
kind = "Namespace"
metadata = { name = "shop" }

[[k8s.object]]
apiVersion = "v1"
kind = "ConfigMap"
metadata = { name = "settings", namespace = "shop", labels = { app = "api" } }
data = { greeting = "hello", mode = "test" }

[[k8s.object]]
apiVersion = "v1"
kind = "ConfigMap"
metadata = { name = "legacy", namespace = "shop" }
data = { old = "yes" }

[[k8s.object]]
apiVersion = "v1"
kind = "Secret"
metadata = { name = "db", namespace = "shop" }
stringData = { password = { secret = "db_password" } }

[[k8s.object]]
apiVersion = "v1"
kind = "ServiceAccount"
metadata = { name = "api", namespace = "shop" }

[[k8s.object]]
apiVersion = "rbac.authorization.k8s.io/v1"
kind = "Role"
metadata = { name = "read-config", namespace = "shop" }
rules = [{ apiGroups = [""], resources = ["configmaps"], verbs = ["get", "list"] }]

[[k8s.object]]
apiVersion = "rbac.authorization.k8s.io/v1"
kind = "RoleBinding"
metadata = { name = "api-reads-config", namespace = "shop" }
roleRef = { apiGroup = "rbac.authorization.k8s.io", kind = "Role", name = "read-config" }
subjects = [{ kind = "ServiceAccount", name = "api", namespace = "shop" }]

[[k8s.object]]
apiVersion = "apps/v1"
kind = "Deployment"
metadata = { name = "api", namespace = "shop" }

[k8s.object.spec]
replicas = 2
selector = { matchLabels = { app = "api" } }

[k8s.object.spec.template]
metadata = { labels = { app = "api" } }
spec = { serviceAccountName = "api", containers = [{ name = "api", image = "cairn-test/web:1", ports = [{ containerPort = 8080 }] }] }

[[k8s.object]]
apiVersion = "apiextensions.k8s.io/v1"
kind = "CustomResourceDefinition"
metadata = { name = "widgets.example.org" }

[k8s.object.spec]
group = "example.org"
scope = "Namespaced"
names = { plural = "widgets", singular = "widget", kind = "Widget" }

[[k8s.object.spec.versions]]
name = "v1"
served = true
storage = true
schema = { openAPIV3Schema = { type = "object", properties = { spec = { type = "object", properties = { size = { type = "integer" }, color = { type = "string", default = "blue" } } } } } }

[[k8s.object]]
apiVersion = "example.org/v1"
kind = "Widget"
metadata = { name = "gear", namespace = "shop" }
spec = { size = 3 }

[[k8s.manifests]]
name = "frontend"
files = ["manifests/*.yaml"]
"#;

/// Existing manifests, used as they are.
const SERVICE_YAML: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
spec:
  selector:
    app: api
  ports:
  - port: 80
    targetPort: 8080
    protocol: TCP
"#;

const FRONTEND_YAML: &str = r#"---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  namespace: shop
spec:
  replicas: 1
  selector:
    matchLabels: {app: frontend}
  template:
    metadata:
      labels: {app: frontend}
    spec:
      containers:
      - name: web
        image: cairn-test/web:1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: frontend-settings
  namespace: shop
data:
  theme: dark
"#;

fn commit_all(ws: &Workspace, objects: &str, frontend: &str, message: &str) {
    ws.repo.write("cluster/objects.toml", objects);
    ws.repo
        .write("cluster/manifests/service.yaml", SERVICE_YAML);
    ws.repo.write("cluster/manifests/frontend.yaml", frontend);
    ws.repo.commit(message, AUTHOR);
}

/// Makes ConfigMap `hand-made` (`owner = ops`) in `namespace` by hand,
/// without Cairn's label: someone else's object.
fn make_hand_made_config_map(kube: &Kube, namespace: &str) {
    let made = kube.kubectl(
        &[
            "-n",
            namespace,
            "create",
            "configmap",
            "hand-made",
            "--from-literal=owner=ops",
        ],
        None,
    );
    assert!(made.success, "{}", made.stderr);
}

fn label_of(object: &serde_json::Value, key: &str) -> String {
    object["metadata"]["labels"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn objects_and_manifests_apply_quietly_update_one_field_and_prune_only_their_own() {
    let ws = Workspace::new();
    let dir = cluster_dir();
    let kube = Kube::start(dir.path());
    configure(&ws, &kube, false, "", "");
    let mut outputs = Vec::new();
    commit_all(&ws, OBJECTS, FRONTEND_YAML, "shop on the cluster");

    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains("k8s/object/Namespace/shop")
        .expect_contains("k8s/object/shop/Widget/gear")
        .expect_contains("k8s/manifests/frontend")
        .expect_contains("create 3 (shop/ConfigMap/frontend-settings, shop/Deployment/frontend, shop/Service/api)")
        .expect_contains("11 to create");
    outputs.push(plan.all());
    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(0);
    outputs.push(apply.all());

    // Stored as written, defaulted by the server, marked as Cairn's.
    let settings = kube
        .get(&["-n", "shop", "configmap", "settings"])
        .expect("the ConfigMap exists");
    assert_eq!(settings["data"]["greeting"], "hello");
    assert_eq!(label_of(&settings, "app.kubernetes.io/managed-by"), "cairn");
    assert_eq!(label_of(&settings, "app"), "api");
    assert_eq!(
        settings["metadata"]["annotations"]["cairn.dev/address"],
        "k8s/object/shop/ConfigMap/settings"
    );
    assert_eq!(
        settings["metadata"]["annotations"]["cairn.dev/tenant"],
        "default"
    );
    let secret = kube
        .get(&["-n", "shop", "secret", "db"])
        .expect("the Secret exists");
    let stored = secret["data"]["password"].as_str().expect("a password");
    assert_eq!(stored, base64(DB_PASSWORD));
    let deployment = kube
        .get(&["-n", "shop", "deployment", "api"])
        .expect("the Deployment exists");
    assert_eq!(deployment["spec"]["replicas"], 2);
    // Fields the repository never set, filled in by the server.
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(deployment["spec"]["revisionHistoryLimit"], 10);
    let widget = kube
        .get(&["-n", "shop", "widget", "gear"])
        .expect("the custom object exists");
    assert_eq!(
        widget["spec"]["color"], "blue",
        "defaulted by the CRD's schema"
    );
    let binding = kube
        .get(&["-n", "shop", "rolebinding", "api-reads-config"])
        .expect("the RoleBinding exists");
    assert_eq!(binding["subjects"][0]["name"], "api");
    let frontend = kube
        .get(&["-n", "shop", "deployment", "frontend"])
        .expect("the manifest's Deployment exists");
    assert_eq!(
        frontend["metadata"]["annotations"]["cairn.dev/address"],
        "k8s/manifests/frontend"
    );
    assert!(kube.get(&["-n", "shop", "service", "api"]).is_some());

    // Nothing changed in Git: nothing to do, defaulted fields or not.
    let again = ws.cairn(&["plan"]);
    again.expect_code(0).expect_contains("No changes");
    outputs.push(again.all());

    // Someone else's objects, without Cairn's label.
    make_hand_made_config_map(&kube, "shop");

    // One field in TOML, one in YAML.
    let changed = OBJECTS
        .replace("greeting = \"hello\"", "greeting = \"welcome\"")
        .replace("replicas = 2", "replicas = 3");
    let frontend_changed = FRONTEND_YAML.replace("theme: dark", "theme: light");
    commit_all(
        &ws,
        &changed,
        &frontend_changed,
        "welcome, three replicas, light theme",
    );
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains("data/greeting: \"hello\" → \"welcome\"")
        .expect_contains("spec/replicas: 2 → 3")
        .expect_contains("shop/ConfigMap/frontend-settings/data/theme: \"dark\" → \"light\"")
        .expect_contains("3 to update");
    for quiet in [
        "strategy",
        "revisionHistoryLimit",
        "resourceVersion",
        "managedFields",
        "status",
    ] {
        assert!(
            !plan.all().contains(quiet),
            "the plan mentions {quiet}: {}",
            plan.all()
        );
    }
    outputs.push(plan.all());
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    let settings = kube.get(&["-n", "shop", "configmap", "settings"]).unwrap();
    assert_eq!(settings["data"]["greeting"], "welcome");
    assert_eq!(settings["data"]["mode"], "test");
    let deployment = kube.get(&["-n", "shop", "deployment", "api"]).unwrap();
    assert_eq!(deployment["spec"]["replicas"], 3);
    ws.cairn(&["plan"])
        .expect_code(0)
        .expect_contains("No changes");

    // Out of Git: a TOML object and a manifest document are pruned.
    let without_legacy = changed.replace(
        "[[k8s.object]]\napiVersion = \"v1\"\nkind = \"ConfigMap\"\nmetadata = { name = \"legacy\", namespace = \"shop\" }\ndata = { old = \"yes\" }\n",
        "",
    );
    assert_ne!(without_legacy, changed);
    let frontend_only = frontend_changed[..frontend_changed.rfind("---").unwrap()].to_string();
    commit_all(
        &ws,
        &without_legacy,
        &frontend_only,
        "drop legacy and the frontend settings",
    );
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains("- k8s/object/shop/ConfigMap/legacy")
        .expect_contains("delete 1 (shop/ConfigMap/frontend-settings)");
    outputs.push(plan.all());
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert!(kube.get(&["-n", "shop", "configmap", "legacy"]).is_none());
    assert!(
        kube.get(&["-n", "shop", "configmap", "frontend-settings"])
            .is_none()
    );
    let hand_made = kube
        .get(&["-n", "shop", "configmap", "hand-made"])
        .expect("the hand-made ConfigMap is untouched");
    assert_eq!(hand_made["data"]["owner"], "ops");
    assert!(hand_made["metadata"]["labels"].is_null());
    ws.cairn(&["plan"])
        .expect_code(0)
        .expect_contains("No changes");

    // A manifest naming the hand-made object does not take it over.
    let colliding = format!(
        "{frontend_only}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hand-made\n  namespace: shop\ndata:\n  owner: yaml\n"
    );
    commit_all(
        &ws,
        &without_legacy,
        &colliding,
        "a manifest for the hand-made map",
    );
    ws.cairn(&["plan"])
        .expect_code(2)
        .expect_contains("conflict: exists and is not Cairn's");
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("shop/ConfigMap/hand-made exists and is not Cairn's");
    assert_eq!(
        kube.get(&["-n", "shop", "configmap", "hand-made"]).unwrap()["data"]["owner"],
        "ops"
    );
    commit_all(
        &ws,
        &without_legacy,
        &frontend_only,
        "no manifest for the hand-made map",
    );

    // An object made by hand is not adopted silently.
    let mut taken = without_legacy.clone();
    taken.push_str(
        "\n[[k8s.object]]\napiVersion = \"v1\"\nkind = \"ConfigMap\"\nmetadata = { name = \"hand-made\", namespace = \"shop\" }\ndata = { owner = \"git\" }\n",
    );
    commit_all(&ws, &taken, &frontend_only, "claim the hand-made map");
    let refused = ws.cairn(&["apply", "--yes"]);
    refused.expect_code(1).expect_contains("adopt");
    assert_eq!(
        kube.get(&["-n", "shop", "configmap", "hand-made"]).unwrap()["data"]["owner"],
        "ops"
    );
    outputs.push(refused.all());

    // Another resource's object is not taken, even with `adopt = true`.
    let mut twice = without_legacy.clone();
    twice.push_str(
        "\n[[k8s.object]]\napiVersion = \"v1\"\nkind = \"ConfigMap\"\nmetadata = { name = \"frontend-settings\", namespace = \"shop\" }\ndata = { theme = \"toml\" }\nadopt = true\n",
    );
    commit_all(
        &ws,
        &twice,
        &frontend_changed,
        "declare the frontend settings twice",
    );
    let refused = ws.cairn(&["apply", "--yes"]);
    refused
        .expect_code(1)
        .expect_contains(" is declared by k8s/");
    outputs.push(refused.all());

    let history = ws.cairn(&["history", "--json"]);
    outputs.push(history.all());
    // The API server answers a Secret's `data` in base64, so a leak of the
    // observed object would not show the value as is: every form of it is
    // searched, and of the token too.
    ws.assert_never_written_encoded(&outputs, DB_PASSWORD);
    ws.assert_never_written_encoded(&outputs, &kube.admin_token);
}

#[test]
fn drift_is_healed_conflicts_need_force_and_refusals_are_clear() {
    let ws = Workspace::new();
    let dir = cluster_dir();
    let kube = Kube::start(dir.path());
    let objects = r#"
[[k8s.object]]
apiVersion = "v1"
kind = "Namespace"
metadata = { name = "ops" }

[[k8s.object]]
apiVersion = "v1"
kind = "ConfigMap"
metadata = { name = "limits", namespace = "ops" }
data = { max = "10", min = "1" }
"#;
    ws.repo.write("cluster.toml", objects);
    ws.repo.commit("limits", AUTHOR);

    // A token RBAC allows nothing: a clear error, nothing made.
    configure(&ws, &kube, true, "", "");
    let refused = ws.cairn(&["plan"]);
    refused
        .expect_code(1)
        .expect_contains("403")
        .expect_contains("forbidden")
        .expect_contains("RBAC");
    assert!(kube.get(&["namespace", "ops"]).is_none());

    configure(&ws, &kube, false, "", "");
    ws.cairn(&["apply", "--yes"]).expect_code(0);

    // Another applier takes a field: reported, and not taken back...
    let other = kube.kubectl(
        &["apply", "--server-side", "--force-conflicts", "--field-manager", "other-tool", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: limits, namespace: ops}\ndata: {max: \"99\"}\n"),
    );
    assert!(other.success, "{}", other.stderr);
    ws.cairn(&["plan"])
        .expect_code(2)
        .expect_contains("conflict: other-tool")
        .expect_contains("force_conflicts");
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("conflicts with field manager other-tool")
        .expect_contains("force_conflicts = true");
    let limits = kube.get(&["-n", "ops", "configmap", "limits"]).unwrap();
    assert_eq!(limits["data"]["max"], "99");

    // ...unless forced.
    configure(&ws, &kube, false, "", "force_conflicts = true");
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    let limits = kube.get(&["-n", "ops", "configmap", "limits"]).unwrap();
    assert_eq!(limits["data"]["max"], "10");

    // An edit by hand is drift, force or not: the agent takes the field
    // back, and leaves the field it added alone.
    configure(
        &ws,
        &kube,
        false,
        "interval = \"1s\"\ndrift_interval = \"1s\"\nself_heal = true",
        "",
    );
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(30), "the daemon's first run", || {
        daemon.tenant("default")["last_run"].is_object()
    });
    let edit = kube.kubectl(
        &[
            "-n",
            "ops",
            "patch",
            "configmap",
            "limits",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"min":"0","note":"by hand"}}"#,
        ],
        None,
    );
    assert!(edit.success, "{}", edit.stderr);
    wait_until(Duration::from_secs(30), "the repair", || {
        kube.get(&["-n", "ops", "configmap", "limits"])
            .is_some_and(|limits| limits["data"]["min"] == "1")
    });
    drop(daemon);
    let limits = kube.get(&["-n", "ops", "configmap", "limits"]).unwrap();
    assert_eq!(
        limits["data"]["note"], "by hand",
        "a field Git does not set stays"
    );
    let history = ws.cairn(&["history", "--json"]).json();
    let drifted = history
        .as_array()
        .expect("runs")
        .iter()
        .flat_map(|run| run["actions"].as_array().cloned().unwrap_or_default())
        .any(|action| {
            action["action"] == "drift" && action["address"] == "k8s/object/ops/ConfigMap/limits"
        });
    assert!(drifted, "the repair is recorded as drift: {history}");
    // The daemon's log is in the workspace, searched with the rest.
    ws.assert_never_written_encoded(&[], &kube.admin_token);
    ws.assert_never_written_encoded(&[], &kube.limited_token);
}

#[test]
fn one_repository_drives_two_clusters_and_a_dns_record_after_a_service() {
    let ws = Workspace::new();
    let (dir_a, dir_b) = (cluster_dir(), cluster_dir());
    let east = Kube::start(dir_a.path());
    let west = Kube::start(dir_b.path());
    let text = format!(
        "{}\n{}{}{}",
        config_header(),
        ws.tenant_block("default", &ConfigOptions::default()),
        east.provider_table(
            "default",
            "east",
            &token_file(&ws, &east, "east", false),
            &[],
            ""
        ),
        west.provider_table(
            "default",
            "west",
            &token_file(&ws, &west, "west", false),
            &[],
            ""
        ),
    );
    std::fs::write(ws.config_path(), text).expect("write cairn.toml");
    let service = |cluster: &str| {
        format!(
            r#"
[[{cluster}.object]]
apiVersion = "v1"
kind = "Namespace"
metadata = {{ name = "edge" }}

[[{cluster}.object]]
apiVersion = "v1"
kind = "Service"
metadata = {{ name = "www", namespace = "edge" }}
spec = {{ type = "ClusterIP", clusterIP = "{ip}", ports = [{{ port = 80, protocol = "TCP" }}] }}
"#,
            ip = if cluster == "east" {
                "10.96.0.80"
            } else {
                "10.96.0.81"
            }
        )
    };
    let dns = r#"
[[dns.zone]]
name = "example.org."
nameservers = ["ns1.example.org."]

[[dns.record]]
name = "www.example.org."
type = "A"
records = ["10.96.0.80"]
depends_on = ["east/object/edge/Service/www", "dns/zone/example.org."]
"#;
    ws.repo.write("east.toml", &service("east"));
    ws.repo.write("west.toml", &service("west"));
    ws.repo.write("dns.toml", dns);
    ws.repo.commit("www on both clusters", AUTHOR);

    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(0);
    let output = apply.all();
    let service_line = output
        .find("create east/object/edge/Service/www")
        .expect("service applied");
    let record_line = output
        .find("create dns/record/www.example.org./A")
        .expect("record applied");
    assert!(
        service_line < record_line,
        "the record comes after the Service: {output}"
    );
    for (kube, ip) in [(&east, "10.96.0.80"), (&west, "10.96.0.81")] {
        let www = kube
            .get(&["-n", "edge", "service", "www"])
            .expect("the Service exists");
        assert_eq!(www["spec"]["clusterIP"], ip);
        assert_eq!(
            www["metadata"]["annotations"]["cairn.dev/address"]
                .as_str()
                .unwrap(),
            format!(
                "{}/object/edge/Service/www",
                if ip.ends_with("80") { "east" } else { "west" }
            )
        );
    }
    assert_eq!(ws.pdns.dig("www.example.org.", "A"), ["10.96.0.80"]);
    ws.cairn(&["plan"])
        .expect_code(0)
        .expect_contains("No changes");

    // A namespaced kind without a namespace, a literal Secret value and a
    // pattern that matches nothing: clear errors with their places.
    ws.repo.write(
        "bad.toml",
        "[[east.object]]\napiVersion = \"v1\"\nkind = \"ConfigMap\"\nmetadata = { name = \"x\" }\n\n[[east.object]]\napiVersion = \"v1\"\nkind = \"Secret\"\nmetadata = { name = \"s\", namespace = \"edge\" }\nstringData = { key = \"in-git\" }\n\n[[west.manifests]]\nname = \"none\"\nfiles = [\"missing/*.yaml\"]\n\n[[west.manifests]]\nname = \"broken\"\nfiles = \"broken.yaml\"\n",
    );
    ws.repo.write(
        "broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n",
    );
    ws.repo.commit("bad objects", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("bad.toml:4")
        .expect_contains("a ConfigMap lives in a namespace")
        .expect_contains("a Secret's values never go in Git")
        .expect_contains("`missing/*.yaml` matches no manifest of this commit")
        .expect_contains("broken.yaml:4:1: invalid YAML");
    // Nothing of the commit was applied.
    assert!(east.get(&["configmap", "x"]).is_none());
    assert!(east.get(&["-n", "edge", "secret", "s"]).is_none());
}

/// Standard base64 of `text`, as a Secret's `data` holds it.
fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// An object in a namespace that neither Git declares nor the cluster has
/// is found when planning, at its place in Git, and nothing of the commit
/// reaches the API server; declared in the same commit, or made on the
/// cluster, the namespace resolves.
#[test]
fn an_object_in_a_namespace_nobody_has_stops_the_plan_before_anything_is_applied() {
    let ws = Workspace::new();
    let dir = cluster_dir();
    let kube = Kube::start(dir.path());
    configure(&ws, &kube, false, "", "");
    let objects = r#"[[k8s.object]]
apiVersion = "v1"
kind = "Namespace"
metadata = { name = "ops" }

[[k8s.object]]
apiVersion = "v1"
kind = "ConfigMap"
metadata = { name = "limits", namespace = "ops" }
data = { max = "10" }

[[k8s.object]]
apiVersion = "v1"
kind = "ConfigMap"
metadata = { name = "settings", namespace = "ghost" }
data = { mode = "on" }
"#;
    ws.repo.write("cluster.toml", objects);
    ws.repo.commit("a namespace nobody has", AUTHOR);
    let expected = "cluster.toml:12:1: k8s/object/ghost/ConfigMap/settings `metadata.namespace`: the namespace `ghost` of ghost/ConfigMap/settings is neither declared in this commit nor on the cluster";
    ws.cairn(&["plan"]).expect_code(1).expect_contains(expected);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains(expected);
    assert!(kube.get(&["namespace", "ops"]).is_none(), "nothing applied");

    kube.kubectl(&["create", "namespace", "ghost"], None);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert!(
        kube.get(&["configmap", "settings", "-n", "ghost"])
            .is_some()
    );
    assert!(kube.get(&["configmap", "limits", "-n", "ops"]).is_some());
    ws.cairn(&["plan"]).expect_code(0);
}

/// A controller's bundle, as projects ship it for `kubectl apply`: RBAC,
/// a Service and a Deployment whose ports do not say `protocol`, a Job, an
/// IngressClass, a webhook configuration and a ConfigMap whose key the
/// server refuses (`KEY`).
fn controller_yaml(key: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Namespace
metadata:
  name: ctl
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: controller
  namespace: ctl
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ctl-controller
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ctl-controller
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: ctl-controller
subjects:
- kind: ServiceAccount
  name: controller
  namespace: ctl
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ctl
data:
  {key}: "on"
---
apiVersion: v1
kind: Service
metadata:
  name: webhook
  namespace: ctl
spec:
  selector:
    app: controller
  ports:
  - name: https
    port: 443
    targetPort: 9443
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller
  namespace: ctl
spec:
  replicas: 1
  selector:
    matchLabels: {{app: controller}}
  template:
    metadata:
      labels: {{app: controller}}
    spec:
      serviceAccountName: controller
      initContainers:
      - name: certs
        image: cairn-test/web:1
        ports:
        - containerPort: 9000
      containers:
      - name: manager
        image: cairn-test/web:1
        ports:
        - containerPort: 9443
          name: webhook
        - containerPort: 8080
          name: metrics
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: ctl
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: cairn-test/web:1
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: ctl
spec:
  controller: example.org/ctl
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: ctl-widgets
webhooks:
- name: widgets.ctl.example.org
  admissionReviewVersions: ["v1"]
  sideEffects: None
  failurePolicy: Ignore
  clientConfig:
    service:
      name: webhook
      namespace: ctl
      path: /validate
  rules:
  - apiGroups: ["example.org"]
    apiVersions: ["v1"]
    operations: ["CREATE", "UPDATE"]
    resources: ["widgets"]
"#
    )
}

/// The objects of the controller's bundle.
const CONTROLLER_OBJECTS: usize = 10;

const CONTROLLER_SET: &str =
    "[[k8s.manifests]]\nname = \"controller\"\nfiles = [\"controller.yaml\"]\n";

#[test]
fn a_partly_refused_bundle_is_cairns_and_converges_once_fixed_in_git() {
    let ws = Workspace::new();
    let dir = cluster_dir();
    let kube = Kube::start(dir.path());
    configure(&ws, &kube, false, "", "");
    ws.repo.write("cluster/controller.toml", CONTROLLER_SET);
    ws.repo
        .write("cluster/controller.yaml", &controller_yaml("not a key!"));
    ws.repo.commit("the controller", AUTHOR);

    // The server refuses one object; the others are made, with Cairn's
    // marks, ports and all.
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains(&format!(
            "1 of {CONTROLLER_OBJECTS} objects failed (the others were applied)"
        ))
        .expect_contains("ctl/ConfigMap/settings")
        .expect_contains("a valid config key");
    assert!(kube.get(&["-n", "ctl", "configmap", "settings"]).is_none());
    let service = kube
        .get(&["-n", "ctl", "service", "webhook"])
        .expect("the Service was made");
    assert_eq!(service["spec"]["ports"][0]["protocol"], "TCP");
    assert_eq!(
        service["metadata"]["annotations"]["cairn.dev/address"],
        "k8s/manifests/controller"
    );
    let deployment = kube
        .get(&["-n", "ctl", "deployment", "controller"])
        .expect("the Deployment was made");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["ports"][1]["protocol"], "TCP");
    assert_eq!(pod["initContainers"][0]["ports"][0]["protocol"], "TCP");
    for object in [
        vec!["-n", "ctl", "serviceaccount", "controller"],
        vec!["clusterrole", "ctl-controller"],
        vec!["clusterrolebinding", "ctl-controller"],
        vec!["-n", "ctl", "job", "migrate"],
        vec!["ingressclass", "ctl"],
        vec!["validatingwebhookconfiguration", "ctl-widgets"],
    ] {
        let found = kube
            .get(&object)
            .unwrap_or_else(|| panic!("{object:?} was made"));
        assert_eq!(label_of(&found, "app.kubernetes.io/managed-by"), "cairn");
    }

    // What the failed apply made is Cairn's: the next plan completes the
    // set, it does not call it a conflict.
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains("~ k8s/manifests/controller")
        .expect_contains("create 1 (ctl/ConfigMap/settings)");
    assert!(
        !plan.all().contains("Cairn did not create them") && !plan.all().contains("adopt"),
        "{}",
        plan.all()
    );

    // Fixed in Git: the tenant converges without `adopt`, and stays so.
    ws.repo
        .write("cluster/controller.yaml", &controller_yaml("enabled"));
    ws.repo.commit("a valid key", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains("update k8s/manifests/controller");
    let settings = kube
        .get(&["-n", "ctl", "configmap", "settings"])
        .expect("the ConfigMap was made");
    assert_eq!(settings["data"]["enabled"], "on");
    // Ports without `protocol` compare equal to the server's defaults.
    ws.cairn(&["plan"])
        .expect_code(0)
        .expect_contains("No changes");

    // An object that is not Cairn's is still refused. A set that made
    // nothing (its one object is someone else's) is not recorded as
    // Cairn's; one that made its other objects is, and is not a conflict
    // at the next plan.
    make_hand_made_config_map(&kube, "ctl");
    let hand_made_yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hand-made\n  namespace: ctl\ndata:\n  owner: git\n";
    ws.repo.write(
        "cluster/intruders.toml",
        "[[k8s.manifests]]\nname = \"intruder\"\nfiles = [\"intruder.yaml\"]\n\n[[k8s.manifests]]\nname = \"mixed\"\nfiles = [\"mixed.yaml\"]\n",
    );
    ws.repo.write("cluster/intruder.yaml", hand_made_yaml);
    ws.repo.write(
        "cluster/mixed.yaml",
        &format!(
            "{hand_made_yaml}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mixed-own\n  namespace: ctl\ndata:\n  owner: git\n"
        ),
    );
    ws.repo.commit("claim the hand-made map twice", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("ctl/ConfigMap/hand-made exists and is not Cairn's")
        .expect_contains("1 of 2 objects failed (the others were applied)");
    let hand_made = kube
        .get(&["-n", "ctl", "configmap", "hand-made"])
        .expect("the hand-made map stays");
    assert_eq!(hand_made["data"]["owner"], "ops");
    assert!(hand_made["metadata"]["labels"].is_null());
    let mixed_own = kube
        .get(&["-n", "ctl", "configmap", "mixed-own"])
        .expect("the set's own map was made");
    assert_eq!(
        label_of(&mixed_own, "app.kubernetes.io/managed-by"),
        "cairn"
    );
    let status = ws.cairn(&["status", "--json"]).expect_code(0).json();
    let owned: Vec<String> = status[0]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["address"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        owned.contains(&"k8s/manifests/controller".to_string())
            && owned.contains(&"k8s/manifests/mixed".to_string())
            && !owned.contains(&"k8s/manifests/intruder".to_string()),
        "{owned:?}"
    );
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains("+ k8s/manifests/intruder")
        .expect_contains("~ k8s/manifests/mixed")
        .expect_contains("conflict: exists and is not Cairn's");
    assert!(
        !plan.all().contains("Cairn did not create them"),
        "{}",
        plan.all()
    );
}

/// Where a plan or an apply looks for many objects of one collection that
/// Cairn has not labelled, it lists the collection's metadata once instead
/// of asking for each object, the lists of several collections side by
/// side: an object made by hand among them is still found, in its own
/// collection and not in the other listed beside it, by an `object`
/// resource's plan (which then asks for adoption) and by a manifests
/// set's plan and apply (which leave it alone).
#[test]
fn many_objects_looked_for_in_one_collection_still_find_the_one_made_by_hand() {
    let ws = Workspace::new();
    let dir = cluster_dir();
    let kube = Kube::start(dir.path());
    configure(&ws, &kube, false, "", "");
    for namespace in ["objects", "sets", "others"] {
        let made = kube.kubectl(&["create", "namespace", namespace], None);
        assert!(made.success, "{}", made.stderr);
    }
    for namespace in ["objects", "sets"] {
        make_hand_made_config_map(&kube, namespace);
    }
    let config_map = |namespace: &str, name: &str| {
        format!(
            "[[k8s.object]]\napiVersion = \"v1\"\nkind = \"ConfigMap\"\nmetadata = {{ name = \"{name}\", namespace = \"{namespace}\" }}\ndata = {{ owner = \"git\" }}\n\n"
        )
    };
    // Beside each collection with the map made by hand, another of the
    // same kind where nothing is: its listing holds no `hand-made`.
    let beside = ["x", "y", "z"];
    let objects: String = ["a", "b", "c", "hand-made"]
        .iter()
        .map(|name| config_map("objects", name))
        .chain(beside.iter().map(|name| config_map("others", name)))
        .collect();
    let manifest = |namespace: &str, name: &str| {
        format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n  owner: yaml\n"
        )
    };
    let manifests: String = ["a", "b", "c", "hand-made"]
        .iter()
        .map(|name| manifest("sets", name))
        .chain(beside.iter().map(|name| manifest("others", name)))
        .collect();

    // An `object` resource: the plan finds the object made by hand.
    ws.repo.write("cluster/objects.toml", &objects);
    ws.repo.commit("seven maps, one made by hand", AUTHOR);
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("k8s/object/objects/ConfigMap/hand-made")
        .expect_contains("adopt = true");

    // A manifests set: its plan and its apply find it too.
    ws.repo.remove("cluster/objects.toml");
    ws.repo.write(
        "cluster/objects.toml",
        "[[k8s.manifests]]\nname = \"maps\"\nfiles = [\"maps.yaml\"]\n",
    );
    ws.repo.write("cluster/maps.yaml", &manifests);
    ws.repo.commit("the maps as a manifests set", AUTHOR);
    ws.cairn(&["plan"])
        .expect_code(2)
        .expect_contains("conflict: exists and is not Cairn's");
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("sets/ConfigMap/hand-made exists and is not Cairn's");
    for namespace in ["objects", "sets"] {
        let hand_made = kube
            .get(&["-n", namespace, "configmap", "hand-made"])
            .expect("the hand-made map is there");
        assert_eq!(hand_made["data"]["owner"], "ops");
        assert!(hand_made["metadata"]["labels"].is_null());
    }
}

/// The objects of [`many_objects_side_by_side_each_get_their_own_answer`]:
/// more than twice as many as the provider keeps open at once.
const SIDE_BY_SIDE: usize = 20;

/// Objects of one kind are dry-run and applied side by side, several
/// requests open at once: each answer still goes to its own object. The
/// server refuses two of twenty maps, each for its own key, and the plan
/// and the apply say so of those two alone; an edit by hand of a third
/// (a conflict, dry-run and applied again with force) is taken back on
/// that one; every map holds its own data, and the apply's states pass
/// the convergence check (a state handed to the wrong object would fail
/// it).
#[test]
fn many_objects_side_by_side_each_get_their_own_answer() {
    let ws = Workspace::new();
    let dir = cluster_dir();
    let kube = Kube::start(dir.path());
    configure(&ws, &kube, false, "", "");
    let made = kube.kubectl(&["create", "namespace", "many"], None);
    assert!(made.success, "{}", made.stderr);
    let refused = [5, 13];
    let maps = |broken: bool| -> String {
        (0..SIDE_BY_SIDE)
            .map(|n| {
                let key = if broken && refused.contains(&n) {
                    format!("\"bad key {n:02}!\"")
                } else {
                    "owner".to_string()
                };
                format!(
                    "[[k8s.object]]\napiVersion = \"v1\"\nkind = \"ConfigMap\"\nmetadata = {{ name = \"map-{n:02}\", namespace = \"many\" }}\ndata = {{ {key} = \"map-{n:02}\" }}\n\n"
                )
            })
            .collect()
    };
    let line_of = |output: &str, n: usize| -> String {
        let address = format!("k8s/object/many/ConfigMap/map-{n:02}");
        output
            .lines()
            .find(|line| line.contains(&address))
            .unwrap_or_else(|| panic!("no line names {address}:\n{output}"))
            .to_string()
    };

    ws.repo.write("cluster/maps.toml", &maps(true));
    ws.repo.commit("twenty maps, two refused", AUTHOR);
    let plan = ws.cairn(&["plan"]);
    let output = plan.all();
    for n in 0..SIDE_BY_SIDE {
        let line = line_of(&output, n);
        if refused.contains(&n) {
            assert!(
                line.contains("the server refuses it")
                    && line.contains(&format!("bad key {n:02}!")),
                "map-{n:02}: {line}"
            );
        } else {
            assert!(!line.contains("refuses"), "map-{n:02}: {line}");
        }
    }
    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(1);
    for n in refused {
        apply
            .expect_contains(&format!("many/ConfigMap/map-{n:02}"))
            .expect_contains(&format!("bad key {n:02}!"));
    }
    for n in 0..SIDE_BY_SIDE {
        let found = kube.get(&["-n", "many", "configmap", &format!("map-{n:02}")]);
        if refused.contains(&n) {
            assert!(found.is_none(), "map-{n:02} was refused");
            continue;
        }
        let found = found.unwrap_or_else(|| panic!("map-{n:02} was made"));
        assert_eq!(found["data"]["owner"], format!("map-{n:02}"));
        assert_eq!(label_of(&found, "app.kubernetes.io/managed-by"), "cairn");
    }
    assert!(!apply.all().contains("did not converge"), "{}", apply.all());

    // Fixed in Git, and one map edited by hand: the plan names the two
    // to create and the one to take back, each on its own line.
    ws.repo.write("cluster/maps.toml", &maps(false));
    ws.repo.commit("valid keys", AUTHOR);
    let edit = kube.kubectl(
        &[
            "-n",
            "many",
            "patch",
            "configmap",
            "map-09",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"owner":"by hand"}}"#,
        ],
        None,
    );
    assert!(edit.success, "{}", edit.stderr);
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2);
    let output = plan.all();
    assert!(
        line_of(&output, 9).contains("taken back"),
        "{}",
        line_of(&output, 9)
    );
    for n in refused {
        assert!(
            !line_of(&output, n).contains("refuses"),
            "{}",
            line_of(&output, n)
        );
    }
    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(0);
    for n in 0..SIDE_BY_SIDE {
        let found = kube
            .get(&["-n", "many", "configmap", &format!("map-{n:02}")])
            .unwrap_or_else(|| panic!("map-{n:02} is there"));
        assert_eq!(found["data"]["owner"], format!("map-{n:02}"));
    }
    ws.cairn(&["plan"])
        .expect_code(0)
        .expect_contains("No changes");
}

/// Objects in [`applied_objects_are_checked_without_dry_runs`].
const CHECKED: usize = 6;

/// The convergence check after an apply finds each object exactly as
/// applying the same body left it (its recorded state carries the body's
/// mark) and sends no dry run: the apply dry-runs each object once, for
/// its plan. The mark is write-only, never observed: a plan with nothing
/// moved compares nothing. An object Git moved, and one edited by hand,
/// are dry-run again, and only they.
#[test]
fn applied_objects_are_checked_without_dry_runs() {
    let ws = Workspace::new();
    let dir = cluster_dir();
    let kube = Kube::start(dir.path());
    configure(&ws, &kube, false, "", "");
    let made = kube.kubectl(&["create", "namespace", "checked"], None);
    assert!(made.success, "{}", made.stderr);
    let maps = |moved: Option<usize>| -> String {
        (0..CHECKED)
            .map(|n| {
                let value = if moved == Some(n) { "moved" } else { "first" };
                format!(
                    "[[k8s.object]]\napiVersion = \"v1\"\nkind = \"ConfigMap\"\nmetadata = {{ name = \"map-{n}\", namespace = \"checked\" }}\ndata = {{ value = \"{value}\" }}\n\n"
                )
            })
            .collect()
    };
    let logged = &[("CAIRN_LOG", "cairn=debug,cairn_sandbox=debug")];
    // `diff`'s requests for one map (dry runs, and for a map edited by
    // hand the look at who owns its fields), the map's name each; those
    // after the apply's own requests are the convergence check's.
    let is_diff_request = |line: &&str| {
        line.contains("plugin HTTP request")
            && line.contains(r#"function="diff""#)
            && line.contains("/namespaces/checked/configmaps/map-")
    };
    let requested = |log: &str| -> Vec<String> {
        let mut maps: Vec<String> = log
            .lines()
            .filter(is_diff_request)
            .filter_map(|line| line.split("/configmaps/").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .collect();
        maps.sort();
        maps.dedup();
        maps
    };
    let checked_after_apply = |log: &str| {
        log.lines()
            .skip_while(|line| !line.contains(r#"function="apply""#))
            .filter(is_diff_request)
            .count()
    };
    let all_maps: Vec<String> = (0..CHECKED).map(|n| format!("map-{n}")).collect();

    ws.repo.write("cluster/maps.toml", &maps(None));
    ws.repo.commit("six maps", AUTHOR);
    let apply = ws.cairn_env(&["apply", "--yes"], logged);
    apply.expect_code(0);
    let log = apply.all();
    assert!(!log.contains("did not converge"), "{log}");
    assert_eq!(
        requested(&log),
        all_maps,
        "each map dry-run for the plan: {log}"
    );
    assert_eq!(
        checked_after_apply(&log),
        0,
        "no dry run for the convergence check: {log}"
    );

    let plan = ws.cairn_env(&["plan"], logged);
    plan.expect_code(0).expect_contains("No changes");
    let log = plan.all();
    assert!(
        !log.contains(r#"function="diff""#),
        "nothing compared: {log}"
    );

    ws.repo.write("cluster/maps.toml", &maps(Some(2)));
    ws.repo.commit("map-2 moved", AUTHOR);
    let edit = kube.kubectl(
        &[
            "-n",
            "checked",
            "patch",
            "configmap",
            "map-4",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"value":"by hand"}}"#,
        ],
        None,
    );
    assert!(edit.success, "{}", edit.stderr);
    let plan = ws.cairn_env(&["plan"], logged);
    plan.expect_code(2)
        .expect_contains("checked/ConfigMap/map-2")
        .expect_contains("checked/ConfigMap/map-4");
    let log = plan.all();
    assert_eq!(
        requested(&log),
        ["map-2", "map-4"],
        "the moved and the edited map only: {log}"
    );

    let apply = ws.cairn_env(&["apply", "--yes"], logged);
    apply.expect_code(0);
    let log = apply.all();
    assert!(!log.contains("did not converge"), "{log}");
    assert_eq!(requested(&log), ["map-2", "map-4"], "{log}");
    assert_eq!(checked_after_apply(&log), 0, "{log}");
    for n in 0..CHECKED {
        let found = kube
            .get(&["-n", "checked", "configmap", &format!("map-{n}")])
            .unwrap_or_else(|| panic!("map-{n} is there"));
        let value = if n == 2 { "moved" } else { "first" };
        assert_eq!(found["data"]["value"], value, "map-{n}");
    }
    ws.cairn(&["plan"])
        .expect_code(0)
        .expect_contains("No changes");
}
