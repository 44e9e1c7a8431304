//! Secrets stay references: with a recognisable value for every kind of
//! secret — the provider's API key, a tenant's webhook secret and API
//! token, the operator's API token, an alert signing secret — every
//! command and the daemon run, and then every file Cairn wrote and
//! everything it printed is searched for each value.

use cairn_tests::Workspace;
use cairn_tests::alerts::AlertReceiver;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::pdns::API_KEY;
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";
const HOOK: &str = "hook-secret-6c0ffee-b1";
const TENANT_TOKEN: &str = "tenant-token-6c0ffee-b2";
const OPERATOR_TOKEN: &str = "operator-token-6c0ffee-b3";
const ALERT_SECRET: &str = "alert-secret-6c0ffee-b4";

fn zone(address: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"example.org.\"\n\n[[dns.record]]\nname = \"www.example.org.\"\ntype = \"A\"\nrecords = [\"{address}\"]\n"
    )
}

#[test]
fn no_secret_reaches_a_file_an_output_a_log_or_the_api() {
    let ws = Workspace::new();
    let receiver = AlertReceiver::start();
    let secret_file = |name: &str, value: &str| {
        let path = ws.path().join(format!("{name}.secret"));
        std::fs::write(&path, value).expect("write a secret");
        path.display().to_string()
    };
    let settings = format!(
        "interval = \"1h\"\ndrift_interval = \"1s\"\nwebhook_secret = {{ file = {:?} }}\napi_token = {{ file = {:?} }}",
        secret_file("hook", HOOK),
        secret_file("tenant-token", TENANT_TOKEN)
    );
    let config = format!(
        "{}\n[daemon]\napi_token = {{ file = {:?} }}\n\n[[alerts]]\nurl = {:?}\nsecret = {{ file = {:?} }}\n{}",
        config_header(),
        secret_file("operator-token", OPERATOR_TOKEN),
        receiver.url,
        secret_file("alert", ALERT_SECRET),
        ws.tenant_block(
            "default",
            &ConfigOptions {
                tenant_settings: settings,
                ..ConfigOptions::default()
            }
        )
    );
    std::fs::write(ws.config_path(), config).expect("write cairn.toml");
    ws.repo.write("dns.toml", &zone("192.0.2.1"));
    ws.repo.commit("first", AUTHOR);

    let mut outputs = Vec::new();
    let plan_file = ws.path().join("saved-plan.json");
    let plan_path = plan_file.display().to_string();
    for args in [
        vec!["validate"],
        vec!["plan"],
        vec!["plan", "--json"],
        vec!["plan", "--out", plan_path.as_str()],
        vec!["apply", plan_path.as_str(), "--yes"],
        vec!["history"],
        vec!["history", "--json"],
        vec!["status"],
    ] {
        let output = ws.cairn_env(&args, &[("CAIRN_LOG", "cairn=trace")]);
        outputs.push(output.all());
    }
    assert_eq!(ws.pdns.dig("www.example.org.", "A"), ["192.0.2.1"]);

    // The daemon: a push, the API with both tokens, drift and its alert.
    let daemon = Daemon::start(&ws.config_path());
    ws.repo.write("dns.toml", &zone("192.0.2.2"));
    ws.repo.commit("second", AUTHOR);
    assert!(daemon.push("default", HOOK, "{}") < 300);
    wait_until(Duration::from_secs(20), "the push applied", || {
        ws.pdns.dig("www.example.org.", "A") == ["192.0.2.2"]
    });
    for token in [TENANT_TOKEN, OPERATOR_TOKEN] {
        let bearer = format!("Bearer {token}");
        let (status, body) = daemon
            .get_with("/api/v1/tenants/default", &[("Authorization", &bearer)])
            .expect("the API answers");
        assert_eq!(status, 200, "{body}");
        outputs.push(body);
    }
    let bearer = format!("Bearer {OPERATOR_TOKEN}");
    let (_, metrics) = daemon
        .get_with("/metrics", &[("Authorization", &bearer)])
        .expect("metrics answer");
    outputs.push(metrics);
    let (_, refused) = daemon
        .get_with(
            "/api/v1/tenants/default",
            &[("Authorization", "Bearer wrong")],
        )
        .expect("the API answers");
    outputs.push(refused);
    ws.pdns.put_rrset(
        "example.org.",
        "www.example.org.",
        "A",
        300,
        &["203.0.113.9"],
    );
    wait_until(Duration::from_secs(20), "the drift alerted", || {
        !receiver.of("drift", None).is_empty()
    });
    outputs.push(daemon.log());
    drop(daemon);
    for alert in receiver.alerts() {
        outputs.push(alert.to_string());
    }
    for secret in [API_KEY, HOOK, TENANT_TOKEN, OPERATOR_TOKEN, ALERT_SECRET] {
        ws.assert_never_written(&outputs, secret);
    }
}
