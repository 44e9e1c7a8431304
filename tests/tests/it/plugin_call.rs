//! `cairn plugin call`: one call of a plugin in the real sandbox, driven
//! from the command line as a plugin's author drives it — against a real
//! PowerDNS, with a secret from the environment and a network grant — and
//! every mistake in its arguments named.

use cairn_tests::Workspace;
use cairn_tests::cairn::Output;

/// Runs `cairn plugin call ARGS` with `PDNS_API_KEY` set.
fn call(ws: &Workspace, args: &[&str]) -> Output {
    let mut all = vec!["plugin", "call"];
    all.extend(args);
    ws.cairn_bare(&all)
}

fn plugin(name: &str) -> String {
    cairn_tests::plugin_path(name).display().to_string()
}

#[test]
fn a_plugin_is_called_function_by_function_against_its_real_server() {
    let ws = Workspace::new();
    let dns = plugin("dns_powerdns");
    let url = ws.pdns.url();
    let config = format!(r#"{{"url": "{url}"}}"#);
    let reach = [
        "--provider-config",
        config.as_str(),
        "--secret",
        "api_key=env:PDNS_API_KEY",
        "--allow",
        url.as_str(),
    ];

    let described = call(&ws, &[&dns, "describe"]);
    described.expect_code(0);
    let info = described.json();
    assert!(
        info["resource_types"]
            .as_array()
            .expect("resource types")
            .iter()
            .any(|t| t["name"] == "record"),
        "{info}"
    );

    let validated = call(
        &ws,
        &[
            &dns,
            "validate",
            r#"[{"type_name": "zone", "spec": {"name": "Example.ORG."}}, {"type_name": "zone", "spec": {"name": 7}}]"#,
        ],
    );
    validated.expect_code(0);
    let validations = validated.json();
    assert_eq!(
        validations[0]["canonical"]["name"], "example.org.",
        "{validations}"
    );
    assert!(validations[1]["canonical"].is_null(), "{validations}");
    assert!(!validations[1]["diagnostics"].as_array().unwrap().is_empty());

    // Compare a zone Git would declare with nothing observed, apply what
    // diff answers, and list what is there now.
    let spec = serde_json::json!({"type_name": "zone", "spec": {"name": "example.org."}});
    let canonical =
        call(&ws, &[&dns, "validate", &format!("[{spec}]")]).json()[0]["canonical"].clone();
    let diff_input = serde_json::json!({"inputs": [{"type_name": "zone", "id": "example.org.", "desired": canonical}]});
    let mut args = vec![dns.as_str(), "diff", ""];
    let diff_text = diff_input.to_string();
    args[2] = &diff_text;
    args.extend(reach);
    let diffed = call(&ws, &args);
    diffed.expect_code(0);
    let changes = diffed.json();
    assert_eq!(changes[0]["action"], "create", "{changes}");

    let changes_text = changes.to_string();
    let mut args = vec![dns.as_str(), "apply", changes_text.as_str()];
    args.extend(reach);
    let applied = call(&ws, &args);
    applied.expect_code(0);
    assert!(
        applied.json()[0]["applied"].is_object(),
        "{}",
        applied.stdout
    );
    assert_eq!(ws.pdns.zones(), ["example.org."]);

    let mut args = vec![
        dns.as_str(),
        "list",
        r#"{"type_names": ["zone"], "ids": ["example.org."]}"#,
    ];
    args.extend(reach);
    let listed = call(&ws, &args);
    listed.expect_code(0);
    assert_eq!(listed.json()[0]["id"], "example.org.", "{}", listed.stdout);

    // Without the grant, the request is refused before it leaves.
    let denied = call(
        &ws,
        &[
            &dns,
            "list",
            r#"{"type_names": ["zone"], "ids": ["example.org."]}"#,
            "--provider-config",
            &config,
            "--secret",
            "api_key=env:PDNS_API_KEY",
        ],
    );
    denied.expect_code(1).expect_contains("denied");
}

#[test]
fn the_plugins_log_and_its_answer_are_printed_apart() {
    let ws = Workspace::new();
    let notes = plugin("provider_v0_1");
    let change = r#"[{"type_name": "note", "id": "hello", "action": "create", "summary": "write hello", "fields": [], "desired": {"name": "hello", "text": "hi"}, "observed": null}]"#;
    let applied = call(&ws, &[&notes, "apply", change]);
    applied.expect_code(0);
    assert_eq!(
        applied.json(),
        serde_json::json!([{"applied": {"name": "hello", "text": "hi"}}])
    );
    assert!(
        applied.stderr.contains("applying notes"),
        "{}",
        applied.stderr
    );
    assert!(applied.stderr.contains("changes=1"), "{}", applied.stderr);
}

#[test]
fn every_mistake_in_a_call_is_named() {
    let ws = Workspace::new();
    let dns = plugin("dns_powerdns");
    // A configuration the plugin accepts, for the cases about the rest.
    let config = r#"{"url": "http://127.0.0.1:1"}"#;
    let with_config = |args: &[&'static str]| {
        let mut all: Vec<&str> = vec![dns.as_str()];
        all.extend(args);
        all.extend(["--provider-config", config]);
        all
    };
    for (args, expected) in [
        (
            with_config(&["list", "{}"]),
            "the input of list at `.`: missing field `type_names`",
        ),
        (
            with_config(&["list"]),
            "list needs an input: JSON, @FILE or - for standard input",
        ),
        (
            vec![
                dns.as_str(),
                "list",
                r#"{"type_names": []}"#,
                "--provider-config",
                r#"{"url": "http://127.0.0.1:1", "ulr": 1}"#,
            ],
            "--provider-config does not match what the plugin accepts: config: Additional properties are not allowed ('ulr' was unexpected)",
        ),
        (
            with_config(&[
                "list",
                r#"{"type_names": []}"#,
                "--secret",
                "api_key=hunter2",
            ]),
            "--secret api_key=hunter2: write NAME=env:VARIABLE or NAME=file:PATH",
        ),
        (
            with_config(&["diff", r#"{"inputs": [{"type_name": 1}]}"#]),
            "the input of diff at `inputs[0].type_name`",
        ),
        (
            with_config(&["list", "@/nonexistent/input.json"]),
            "cannot read /nonexistent/input.json",
        ),
    ] {
        call(&ws, &args).expect_code(1).expect_contains(expected);
    }
}
