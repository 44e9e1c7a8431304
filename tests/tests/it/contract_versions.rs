//! Plugins of every released contract version load side by side: one
//! built against `cairn:provider@0.1.0` with wit-bindgen alone (no SDK)
//! is driven through every call and the log import, next to the
//! first-party plugins of `0.3.0`, and `cairn plugin inspect` names the
//! version of each.

use cairn::contract::{Action, Declared, DiffInput, Outcome};
use cairn::host::{ContractVersion, PluginHost, ProviderInstance, ProviderSettings};
use std::time::Duration;

fn settings() -> ProviderSettings {
    ProviderSettings {
        tenant: "t".into(),
        name: "notes".into(),
        config: serde_json::json!({}),
        secrets: Default::default(),
        grants: Vec::new(),
        memory_bytes: 32 << 20,
        timeout: Duration::from_secs(10),
        concurrency: Default::default(),
    }
}

#[tokio::test]
async fn a_plugin_of_contract_0_1_0_loads_and_answers_every_call() {
    let host = PluginHost::new(None).expect("the plugin host starts");
    let old = host
        .load(&cairn_tests::plugin_path("provider_v0_1"), None)
        .await
        .expect("a 0.1.0 plugin loads");
    assert_eq!(old.contract_version(), ContractVersion::V0_1);
    assert_eq!(old.info().name, "notes");
    let new = host
        .load(&cairn_tests::plugin_path("dns_powerdns"), None)
        .await
        .expect("a 0.3.0 plugin loads");
    assert_eq!(new.contract_version(), ContractVersion::V0_3);

    let notes = ProviderInstance::new(&host, old, settings());
    let validations = notes
        .validate(&[
            (
                "note".into(),
                serde_json::json!({"name": " Hello ", "text": "hi"}),
            ),
            (
                "note".into(),
                serde_json::json!({"name": "empty", "text": " "}),
            ),
        ])
        .await
        .expect("validate answers");
    assert_eq!(
        validations[0].canonical,
        Some(serde_json::json!({"name": "hello", "text": "hi"}))
    );
    assert_eq!(validations[1].diagnostics[0].path, "text");
    assert_eq!(
        validations[1].diagnostics[0].message,
        "a note's text is empty"
    );

    assert!(
        notes
            .list(vec!["note".into()], vec!["hello".into()])
            .await
            .unwrap()
            .is_empty()
    );
    let input = DiffInput {
        type_name: "note".into(),
        id: "hello".into(),
        desired: validations[0].canonical.clone(),
        observed: None,
        prior: None,
        halt: false,
    };
    // `declared` does not reach a 0.1.0 plugin; its changes carry no
    // diagnostics.
    let declared = [Declared {
        type_name: "note".into(),
        id: "other".into(),
    }];
    let changes = notes.diff(&[input], &declared).await.expect("diff answers");
    assert_eq!(changes[0].action, Action::Create);
    assert_eq!(changes[0].summary, "write the note");
    assert!(changes[0].diagnostics.is_empty());
    let outcomes = notes.apply(&changes).await.expect("apply answers");
    let Outcome::Applied(Some(state)) = &outcomes[0] else {
        panic!("not applied: {:?}", outcomes[0]);
    };
    assert_eq!(state["text"], "hi");

    let mut wrong = settings();
    wrong.config = serde_json::json!(["not", "a", "table"]);
    let error = ProviderInstance::new(&host, notes.plugin().clone(), wrong)
        .list(vec!["note".into()], Vec::new())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("the config is not a table"),
        "{error}"
    );
}

#[test]
fn inspect_names_each_plugins_contract_version() {
    for (plugin, version) in [
        ("provider_v0_1", "cairn:provider@0.1.0"),
        ("dns_powerdns", "cairn:provider@0.3.0"),
    ] {
        let output = cairn_tests::cairn_command()
            .args(["plugin", "inspect"])
            .arg(cairn_tests::plugin_path(plugin))
            .output()
            .expect("cairn runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}");
        assert!(stdout.contains(&format!("contract: {version}")), "{stdout}");
    }
}

/// `cairn plugin inspect --check` lists what the host checked at load and
/// its advice: the four shipped providers need none but the Kubernetes
/// object's open schema (any object's fields are its own).
#[test]
fn inspect_check_lists_the_load_checks_and_the_advice() {
    for (plugin, warnings) in [
        ("dns_powerdns", 0),
        ("identity_scim", 0),
        ("apps_docker", 0),
        ("cluster_kubernetes", 1),
    ] {
        let output = cairn_tests::cairn_command()
            .args(["plugin", "inspect", "--check", "--json"])
            .arg(cairn_tests::plugin_path(plugin))
            .output()
            .expect("cairn runs");
        assert!(output.status.success(), "{plugin}");
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("inspect --json prints JSON");
        let checks = report["checks"].as_array().expect("checks");
        let levels = |level: &str| checks.iter().filter(|c| c["level"] == level).count();
        assert_eq!(levels("ok"), 3, "{plugin}: {checks:#?}");
        assert_eq!(levels("warning"), warnings, "{plugin}: {checks:#?}");
    }
    let text = cairn_tests::cairn_command()
        .args(["plugin", "inspect", "--check"])
        .arg(cairn_tests::plugin_path("dns_powerdns"))
        .output()
        .expect("cairn runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("  ok      contract: it speaks cairn:provider@0.3.0; this host supports cairn:provider@0.3.0, cairn:provider@0.2.0 and cairn:provider@0.1.0"),
        "{text}"
    );
}

/// `cairn plugin docs` makes a provider's reference page from its own
/// description: every type, its identity and fields with their types,
/// defaults and whether they are required.
#[test]
fn plugin_docs_prints_the_reference_of_a_plugin() {
    let output = cairn_tests::cairn_command()
        .args(["plugin", "docs"])
        .arg(cairn_tests::plugin_path("dns_powerdns"))
        .output()
        .expect("cairn runs");
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{page}");
    for expected in [
        "Contract: `cairn:provider@0.3.0`.",
        "| `url` | string | yes |",
        "### `zone`",
        "### `record`",
        "- **identity**: `name`, `type`",
        "| `ttl` | integer ≥ 1 |  | `3600` |",
        "| `records` | array of string | yes |",
    ] {
        assert!(page.contains(expected), "{expected}\n{page}");
    }
}

/// A component exporting a provider interface whose one function,
/// `describe`, returns a number: `version` names the interface.
fn component_exporting(version: &str) -> String {
    format!(
        r#"(component
  (core module $m
    (func (export "describe") (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (func $describe (result u32) (canon lift (core func $i "describe")))
  (instance $provider (export "describe" (func $describe)))
  (export "cairn:provider/provider@{version}" (instance $provider)))"#
    )
}

/// `cairn plugin inspect` of `text` written to a file: exit code and
/// everything it printed.
fn inspect_text(text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("plugin.wasm");
    std::fs::write(&path, text).expect("write the component");
    let output = cairn_tests::cairn_command()
        .args(["plugin", "inspect"])
        .arg(&path)
        .env("NO_COLOR", "1")
        .output()
        .expect("cairn runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), printed)
}

/// A plugin of a version this host does not support is refused with the
/// version it speaks and the ones the host supports; one that claims a
/// supported version with other types is told it was built against
/// another draft of it — not "crashed in describe".
#[test]
fn a_contract_mismatch_names_what_the_plugin_speaks_and_what_the_host_supports() {
    let (code, printed) = inspect_text(&component_exporting("0.4.0"));
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("it speaks cairn:provider@0.4.0, and this host supports cairn:provider@0.3.0, cairn:provider@0.2.0 and cairn:provider@0.1.0"),
        "{printed}"
    );

    for version in ["0.3.0", "0.2.0"] {
        let (code, printed) = inspect_text(&component_exporting(version));
        assert_eq!(code, Some(1), "{printed}");
        assert!(
            printed.contains(&format!("it speaks cairn:provider@{version}, but its types are not those of cairn:provider@{version} as this host defines them")),
            "{printed}"
        );
        assert!(
            printed.contains(&format!("wit/provider@{version}")),
            "{printed}"
        );
    }
    assert!(!printed.contains("crashed"), "{printed}");
    // A later patch of a supported version is taken for it, as wasmtime
    // takes it.
    let (code, printed) = inspect_text(&component_exporting("0.2.1"));
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("it speaks cairn:provider@0.2.1, but its types are not those of cairn:provider@0.2.0 as this host defines them"),
        "{printed}"
    );

    let (code, printed) = inspect_text("(component)");
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("it exports no provider interface (`cairn:provider/provider@VERSION`); this host supports cairn:provider@0.3.0, cairn:provider@0.2.0 and cairn:provider@0.1.0"),
        "{printed}"
    );
}
