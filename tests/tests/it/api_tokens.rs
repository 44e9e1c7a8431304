//! The daemon's API with tokens: the operator's sees every tenant and the
//! metrics; a tenant's sees and triggers only its own tenant; no token or a
//! wrong one is refused; `cairn status --api` sends the token.

use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::Daemon;

const OPERATOR: &str = "operator-token-4f1c";
const TENANT_A: &str = "tenant-a-token-9d2e";
const TENANT_B: &str = "tenant-b-token-77a0";

#[test]
fn tokens_decide_what_the_api_shows() {
    let ws = Workspace::new();
    ws.repo.write("README.md", "no resources yet\n");
    ws.repo.commit("empty", "Ada Lovelace <ada@example.org>");
    for (file, token) in [("operator", OPERATOR), ("a", TENANT_A), ("b", TENANT_B)] {
        std::fs::write(
            ws.path().join(format!("{file}.token")),
            format!("{token}\n"),
        )
        .unwrap();
    }
    let tenant = |name: &str| {
        ws.tenant_block(
            name,
            &ConfigOptions {
                tenant_settings: format!(
                    "interval = \"1h\"\napi_token = {{ file = \"{name}.token\" }}"
                ),
                ..ConfigOptions::default()
            },
        )
    };
    let text = format!(
        "{}\n[daemon]\napi_token = {{ file = \"operator.token\" }}\n{}{}",
        config_header(),
        tenant("a"),
        tenant("b")
    );
    std::fs::write(ws.config_path(), text).unwrap();
    let daemon = Daemon::start(&ws.config_path());
    let bearer = |token: &str| format!("Bearer {token}");
    let get = |path: &str, token: Option<&str>| {
        let header = token.map(bearer);
        let headers: Vec<(&str, &str)> = header
            .as_deref()
            .map(|value| vec![("Authorization", value)])
            .unwrap_or_default();
        daemon.get_with(path, &headers).expect("the API answers")
    };
    let names = |body: &str| -> Vec<String> {
        let list: serde_json::Value = serde_json::from_str(body).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };

    // Health and readiness stay open; everything else wants a token.
    assert_eq!(get("/healthz", None).0, 200);
    let (status, body) = get("/api/v1/tenants", None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Authorization: Bearer"), "{body}");
    assert_eq!(get("/metrics", None).0, 401);
    assert_eq!(get("/api/v1/tenants", Some("guess")).0, 401);

    // The operator sees everything.
    let (status, body) = get("/api/v1/tenants", Some(OPERATOR));
    assert_eq!(status, 200);
    assert_eq!(names(&body), ["a", "b"]);
    assert_eq!(get("/metrics", Some(OPERATOR)).0, 200);
    assert_eq!(get("/api/v1/tenants/b", Some(OPERATOR)).0, 200);

    // A tenant sees itself only; the others do not exist for it.
    let (status, body) = get("/api/v1/tenants", Some(TENANT_A));
    assert_eq!(status, 200);
    assert_eq!(names(&body), ["a"]);
    assert_eq!(get("/api/v1/tenants/a", Some(TENANT_A)).0, 200);
    let (status, body) = get("/api/v1/tenants/b", Some(TENANT_A));
    assert_eq!(status, 404, "{body}");
    assert_eq!(get("/metrics", Some(TENANT_A)).0, 403);
    let trigger = |tenant: &str, token: &str| {
        daemon
            .post(
                &format!("/api/v1/tenants/{tenant}/reconcile"),
                &[("Authorization", &bearer(token))],
                "",
            )
            .expect("the API answers")
            .0
    };
    assert_eq!(trigger("a", TENANT_A), 202);
    assert_eq!(trigger("b", TENANT_A), 404);
    assert_eq!(trigger("b", TENANT_B), 202);

    // `cairn status --api` sends CAIRN_API_TOKEN.
    let api = format!("http://127.0.0.1:{}", daemon.port);
    let refused = ws.cairn(&["status", "--api", &api, "--tenant", "a"]);
    refused.expect_code(1).expect_contains("wants an API token");
    let shown = ws.cairn_env(
        &["status", "--api", &api, "--tenant", "a", "--json"],
        &[("CAIRN_API_TOKEN", TENANT_A)],
    );
    shown.expect_code(0);
    assert_eq!(shown.json()[0]["name"], "a");
    let hidden = ws.cairn_env(
        &["status", "--api", &api, "--tenant", "b"],
        &[("CAIRN_API_TOKEN", TENANT_A)],
    );
    hidden
        .expect_code(1)
        .expect_contains("no tenant `b` that this token may see");
    // The tokens never reach the daemon's log.
    let log = daemon.log();
    for token in [OPERATOR, TENANT_A, TENANT_B] {
        assert!(!log.contains(token), "a token was logged");
    }
}
