//! Secrets stay references: with a recognisable value for every kind of
//! secret — the provider's API key, a tenant's webhook secret and API
//! token, the operator's API token, an alert signing secret — every
//! command (`validate`, `plan`, both kinds of `apply`, `rollback`,
//! `suspend`, `resume`, `history`, `status` from the store and from the
//! daemon's API, `plugin inspect`) runs at `CAIRN_LOG=cairn=trace`, the
//! daemon runs at the same level through a push, the API, metrics and a
//! drift alert, and then every file Cairn wrote and everything it printed
//! is searched for each value, as is and in base64 and hex.

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

/// The most verbose logging of Cairn's own code, where a secret printed
/// for debugging would show.
const TRACE: (&str, &str) = ("CAIRN_LOG", "cairn=trace");

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

    // Each command at trace level, and each with something to do: a saved
    // plan applied, then a fresh one after a new commit, a rollback to the
    // commit before it (its hold ended by `resume`), and the reading
    // commands last so that they show all of it. No daemon runs yet: the
    // tenant lock keeps its runs and the commands apart but not in order,
    // and a run of its own between two commands would change what the next
    // one finds.
    let run = |args: &[&str], code: i32| {
        let output = ws.cairn_env(args, &[TRACE]);
        output.expect_code(code);
        output.all()
    };
    let mut outputs = Vec::new();
    let plan_file = ws.path().join("saved-plan.json");
    let plan_path = plan_file.display().to_string();
    for (args, code) in [
        (vec!["validate"], 0),
        (vec!["plan"], 2),
        (vec!["plan", "--json"], 2),
        (vec!["plan", "--out", plan_path.as_str()], 2),
        (vec!["apply", plan_path.as_str(), "--yes"], 0),
    ] {
        outputs.push(run(&args, code));
    }
    assert_eq!(ws.pdns.dig("www.example.org.", "A"), ["192.0.2.1"]);
    ws.repo.write("dns.toml", &zone("192.0.2.2"));
    ws.repo.commit("second", AUTHOR);
    outputs.push(run(&["apply", "--yes"], 0));
    assert_eq!(ws.pdns.dig("www.example.org.", "A"), ["192.0.2.2"]);
    outputs.push(run(&["rollback"], 0));
    assert_eq!(ws.pdns.dig("www.example.org.", "A"), ["192.0.2.1"]);
    for args in [
        vec!["suspend"],
        vec!["resume"],
        vec!["history"],
        vec!["history", "--json"],
        vec!["status"],
    ] {
        outputs.push(run(&args, 0));
    }
    // `plugin inspect` takes a plugin, not a `cairn.toml`.
    let plugin = cairn_tests::plugin_path("dns_powerdns")
        .display()
        .to_string();
    let inspect = ws.cairn_bare_env(&["plugin", "inspect", plugin.as_str()], &[TRACE]);
    inspect.expect_code(0);
    outputs.push(inspect.all());

    // The daemon, at trace level too: a push, the API with both tokens and
    // through `cairn status --api`, drift and its alert.
    let daemon = Daemon::start_logging(&ws.config_path(), "cairn=trace");
    ws.repo.write("dns.toml", &zone("192.0.2.3"));
    ws.repo.commit("third", AUTHOR);
    assert!(daemon.push("default", HOOK, "{}") < 300);
    wait_until(Duration::from_secs(20), "the push applied", || {
        ws.pdns.dig("www.example.org.", "A") == ["192.0.2.3"]
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
    // The command sends CAIRN_API_TOKEN to the daemon: it must be accepted,
    // and shown nowhere.
    let api = format!("http://127.0.0.1:{}", daemon.port);
    let status = ws.cairn_env(
        &["status", "--api", api.as_str()],
        &[TRACE, ("CAIRN_API_TOKEN", OPERATOR_TOKEN)],
    );
    status.expect_code(0).expect_contains("Tenant default");
    outputs.push(status.all());
    // The hand edit waits for a drift check of the pushed commit that
    // found nothing: the push's run, its convergence check included, is
    // over. An edit before that check is taken, as it should be, for a
    // provider that did not converge, and held rather than alerted as
    // drift.
    let third = ws.repo.head();
    wait_until(
        Duration::from_secs(60),
        "a drift check of the push in sync",
        || {
            let (_, body) = daemon
                .get_with("/api/v1/tenants/default", &[("Authorization", &bearer)])
                .expect("the API answers");
            let status: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            status["commit"]["id"] == third.as_str()
                && status["last_run"]["trigger"] == "drift"
                && status["last_run"]["outcome"] == "in-sync"
        },
    );
    ws.pdns.put_rrset(
        "example.org.",
        "www.example.org.",
        "A",
        300,
        &["203.0.113.9"],
    );
    // A drift check every second; the bound leaves room for a machine
    // busy with the rest of the suite (a plugin build among it).
    wait_until(Duration::from_secs(60), "the drift alerted", || {
        !receiver.of("drift", None).is_empty()
    });
    outputs.push(daemon.log());
    drop(daemon);
    for alert in receiver.alerts() {
        outputs.push(alert.to_string());
    }
    for secret in [API_KEY, HOOK, TENANT_TOKEN, OPERATOR_TOKEN, ALERT_SECRET] {
        ws.assert_never_written_encoded(&outputs, secret);
    }
}
