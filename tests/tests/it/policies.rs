//! Policies from the operator's side, against real servers: a mandatory
//! policy blocks `cairn validate`, `plan` and `apply` and cannot be
//! overridden; an advisory one only reports; a soft-mandatory one is let
//! through for one plan by an override that the history records with who
//! and why; the daemon records, alerts and shows a blocked plan once and
//! applies nothing; findings are part of a saved plan's checksum; a policy
//! that loops, hogs memory, panics, floods or calls out is held by the
//! sandbox and fails closed; a Rego file with a syntax error blocks the
//! plan, naming the file and line (README, "Policies").

use cairn_tests::alerts::AlertReceiver;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, metric_sum_with, wait_until};
use cairn_tests::policies::{example_rule, policy_table, rego_plugin, rego_table, sha256_of};
use cairn_tests::{Canaille, Workspace};
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// The production-TTL rule as the shared, mandatory policy of every
/// tenant.
fn production_ttl() -> String {
    rego_table(
        "[[policies]]",
        "production-ttl",
        "mandatory",
        "dns_min_ttl.rego",
        r#"production_zones = ["example.quest."]"#,
    )
}

/// Appends `tables` to the workspace's `cairn.toml`.
fn add_to_config(ws: &Workspace, tables: &[String]) {
    let mut text = std::fs::read_to_string(ws.config_path()).unwrap();
    for table in tables {
        text.push_str(table);
    }
    std::fs::write(ws.config_path(), text).unwrap();
}

/// A zone with `www` at `ttl` and a wildcard record.
fn zone(ttl: u32) -> String {
    format!(
        r#"[[dns.zone]]
name = "example.quest."

[[dns.record]]
name = "www.example.quest."
type = "A"
ttl = {ttl}
records = ["192.0.2.1"]

[[dns.record]]
name = "*.example.quest."
type = "A"
ttl = 300
records = ["192.0.2.2"]
"#
    )
}

#[test]
fn a_mandatory_policy_blocks_the_command_line_and_an_advisory_one_only_reports() {
    let ws = Workspace::new();
    add_to_config(
        &ws,
        &[
            production_ttl(),
            rego_table(
                "[[tenants.default.policies]]",
                "wildcards",
                "advisory",
                "dns_wildcards.rego",
                "wildcard_zones = []",
            ),
        ],
    );
    ws.repo.write("dns.toml", &zone(60));
    let bad = ws.repo.commit("short TTL", AUTHOR);

    let blocking = "blocks production-ttl/dns-min-ttl [mandatory] dns/record/www.example.quest./A (ttl): www.example.quest. A has a TTL of 60 s, under 300 s in a production zone";
    let advisory = "error wildcards/dns-wildcard [advisory] dns/record/*.example.quest./A (name)";
    ws.cairn(&["validate"])
        .expect_code(1)
        .expect_contains(blocking)
        .expect_contains(advisory)
        .expect_contains("help: raise ttl to 300 or more (dns.toml, line 4)")
        .expect_contains("Blocked by policy: production-ttl.");
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("+ dns/record/www.example.quest./A")
        .expect_contains(blocking)
        .expect_contains(advisory)
        .expect_contains(
            "Blocked by policy: production-ttl. Nothing can be applied until the commit passes.",
        );
    let plan = ws.cairn(&["plan", "--json"]).json();
    let findings = plan["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{plan:#}");
    assert_eq!(findings[0]["policy"], "production-ttl");
    assert_eq!(findings[0]["enforcement"], "mandatory");
    assert_eq!(findings[0]["severity"], "error");
    assert_eq!(findings[0]["field"], "ttl");
    assert_eq!(findings[1]["policy"], "wildcards");
    // The plan's run in the history holds what the policies found in it.
    let planned = &ws.history()[0];
    assert_eq!(planned["kind"], "plan", "{planned:#}");
    assert_eq!(planned["outcome"], "planned", "{planned:#}");
    assert_eq!(planned["commit_id"], bad.as_str());
    assert_eq!(
        planned["changes"],
        plan["changes"].as_array().unwrap().len(),
        "{planned:#}"
    );
    assert_eq!(planned["findings"], plan["findings"], "{planned:#}");

    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("the plan is blocked by policy `production-ttl`: 1 finding(s)");
    ws.cairn(&[
        "apply",
        "--yes",
        "--override-policy",
        "production-ttl",
        "--reason",
        "just this once",
    ])
    .expect_code(1)
    .expect_contains("policy `production-ttl` is mandatory: it cannot be overridden");
    assert!(ws.pdns.zones().is_empty(), "nothing was applied");
    let history = ws.history();
    let blocked = &history[0];
    assert_eq!(blocked["kind"], "apply", "{blocked:#}");
    assert_eq!(blocked["outcome"], "blocked", "{blocked:#}");
    assert_eq!(blocked["commit_id"], bad.as_str());
    assert_eq!(
        blocked["findings"].as_array().unwrap().len(),
        2,
        "{blocked:#}"
    );
    assert!(blocked["actions"].as_array().unwrap().is_empty());
    ws.cairn(&["history"]).expect_code(0).expect_contains(
        "blocks production-ttl/dns-min-ttl [mandatory] dns/record/www.example.quest./A",
    );

    // Fixed: applied, and the advisory finding recorded with the run.
    ws.repo.write("dns.toml", &zone(300));
    ws.repo.commit("TTL 300", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.quest", "A"), ["192.0.2.1"]);
    assert_eq!(ws.pdns.dig("anything.example.quest", "A"), ["192.0.2.2"]);
    let applied = &ws.history()[0];
    assert_eq!(applied["outcome"], "succeeded", "{applied:#}");
    let recorded = applied["findings"].as_array().unwrap();
    assert_eq!(recorded.len(), 1, "{applied:#}");
    assert_eq!(recorded[0]["rule"], "dns-wildcard");
}

/// A temporary folder for Canaille, outside the workspace.
fn canaille_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cairn-canaille-")
        .tempdir()
        .expect("create a temporary folder")
}

fn users(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| {
            format!(
                "[[idp.user]]\nuser_name = \"{name}\"\nname = {{ family_name = \"{name}\" }}\nremoval = \"delete\"\n\n"
            )
        })
        .collect()
}

#[test]
fn a_soft_mandatory_override_of_user_deletes_is_recorded_with_who_and_why() {
    let ws = Workspace::new();
    let canaille_home = canaille_dir();
    let canaille = Canaille::start(canaille_home.path());
    let text = format!(
        "{}\n{}{}{}",
        config_header(),
        ws.tenant_block("default", &ConfigOptions::default()),
        canaille.provider_table("default", ws.path(), &canaille.client_secret, &[], ""),
        rego_table(
            "[[tenants.default.policies]]",
            "user-deletes",
            "soft-mandatory",
            "user_deletes.rego",
            "max_user_deletes = 2",
        )
    );
    std::fs::write(ws.config_path(), text).unwrap();
    let everyone = ["ada", "bob", "carol", "dave", "erin"];
    ws.repo.write("users.toml", &users(&everyone));
    ws.repo.commit("the team", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    for name in everyone {
        assert!(canaille.user(name).is_some(), "{name} was created");
    }

    ws.repo.write("users.toml", &users(&["ada"]));
    ws.repo.commit("everyone leaves", AUTHOR);
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("blocks user-deletes/user-deletes [soft-mandatory]")
        .expect_contains("the plan deletes 4 users, more than 2")
        .expect_contains("or an operator overrides the soft-mandatory ones");
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("blocked by policy `user-deletes`");
    assert!(canaille.user("bob").is_some(), "nothing was deleted");
    // An override needs a reason, and only names policies that block.
    ws.cairn(&["apply", "--yes", "--override-policy", "user-deletes"])
        .expect_code(1)
        .expect_contains("an override needs a reason: add --reason");
    ws.cairn(&[
        "apply",
        "--yes",
        "--override-policy",
        "wildcards",
        "--reason",
        "no",
    ])
    .expect_code(1)
    .expect_contains("--override-policy wildcards: that policy does not block this plan");
    assert!(canaille.user("bob").is_some(), "nothing was deleted");

    ws.cairn_env(
        &[
            "apply",
            "--yes",
            "--override-policy",
            "user-deletes",
            "--reason",
            "the contractors' accounts end today (ticket 4711)",
        ],
        &[("USER", "grace")],
    )
    .expect_code(0);
    for name in ["bob", "carol", "dave", "erin"] {
        assert!(canaille.user(name).is_none(), "{name} was deleted");
    }
    assert!(canaille.user("ada").is_some());
    let run = &ws.history()[0];
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert_eq!(
        run["policy_override"]["policies"][0], "user-deletes",
        "{run:#}"
    );
    assert_eq!(run["policy_override"]["by"], "grace", "{run:#}");
    assert_eq!(
        run["policy_override"]["reason"],
        "the contractors' accounts end today (ticket 4711)"
    );
    assert_eq!(run["findings"][0]["rule"], "user-deletes", "{run:#}");
    ws.cairn(&["history"]).expect_code(0).expect_contains(
        "policy override of user-deletes by grace: the contractors' accounts end today (ticket 4711)",
    );
}

#[test]
fn the_daemon_records_alerts_and_shows_a_blocked_plan_once_and_applies_nothing() {
    let ws = Workspace::new();
    let receiver = AlertReceiver::start();
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"200ms\"\n".into(),
        top_settings: receiver.table(),
        ..ConfigOptions::default()
    });
    add_to_config(&ws, &[production_ttl()]);
    ws.repo.write("dns.toml", &zone(60));
    let bad = ws.repo.commit("short TTL", AUTHOR);

    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(30), "the blocked plan alerted", || {
        !receiver.of("blocked", None).is_empty()
    });
    let alert = &receiver.of("blocked", None)[0];
    assert_eq!(alert["commit"], bad.as_str(), "{alert:#}");
    let message = alert["message"].as_str().unwrap();
    assert!(
        message.contains("blocked by policy production-ttl: production-ttl/dns-min-ttl dns/record/www.example.quest./A"),
        "{message}"
    );
    let status = daemon.tenant("default");
    assert_eq!(status["last_run"]["outcome"], "blocked", "{status:#}");
    assert_eq!(
        status["blocked"][0], "policy `production-ttl`",
        "{status:#}"
    );
    assert_eq!(status["findings"][0]["rule"], "dns-min-ttl", "{status:#}");
    let metrics = daemon.metrics();
    assert_eq!(
        metric_sum_with(&metrics, "cairn_policy_blocked", &[("tenant", "default")]),
        1.0
    );
    assert_eq!(
        metric_sum_with(
            &metrics,
            "cairn_policy_findings",
            &[("tenant", "default"), ("severity", "error")]
        ),
        1.0
    );

    ws.cairn(&["status"])
        .expect_code(0)
        .expect_contains("blocked: policy `production-ttl`")
        .expect_contains("policy blocks: production-ttl/dns-min-ttl dns/record/www.example.quest./A: www.example.quest. A has a TTL of 60 s");

    // Polls keep coming (every 200 ms); the block is recorded and alerted
    // once, and nothing is applied.
    std::thread::sleep(Duration::from_secs(3));
    let blocked_runs = ws
        .history()
        .into_iter()
        .filter(|run| run["outcome"] == "blocked")
        .count();
    assert_eq!(blocked_runs, 1, "{:#?}", ws.history());
    assert_eq!(receiver.of("blocked", None).len(), 1);
    assert!(ws.pdns.zones().is_empty(), "nothing was applied");

    // A new commit that passes is applied, and the block clears.
    ws.repo.write("dns.toml", &zone(600));
    ws.repo.commit("TTL 600", AUTHOR);
    wait_until(Duration::from_secs(30), "the fixed commit applied", || {
        ws.pdns.dig("www.example.quest", "A") == ["192.0.2.1"]
    });
    wait_until(Duration::from_secs(10), "the block cleared", || {
        let status = daemon.tenant("default");
        status["blocked"].as_array().is_some_and(Vec::is_empty)
            && metric_sum_with(
                &daemon.metrics(),
                "cairn_policy_blocked",
                &[("tenant", "default")],
            ) == 0.0
    });
    wait_until(Duration::from_secs(10), "the recovery alerted", || {
        receiver
            .of("recovered", None)
            .iter()
            .any(|alert| alert["cleared"] == "blocked")
    });
}

#[test]
fn findings_are_part_of_a_saved_plans_checksum() {
    let ws = Workspace::new();
    let advisory = |zones: &str| {
        rego_table(
            "[[policies]]",
            "ttl",
            "advisory",
            "dns_min_ttl.rego",
            &format!("production_zones = [{zones}]"),
        )
    };
    add_to_config(&ws, &[advisory(r#""example.quest.""#)]);
    ws.repo.write("dns.toml", &zone(60));
    ws.repo.commit("short TTL", AUTHOR);
    let saved = ws.path().join("reviewed.plan");
    ws.cairn(&["plan", "--out", saved.to_str().unwrap()])
        .expect_code(2)
        .expect_contains("error ttl/dns-min-ttl [advisory]");
    // The operator changes what the policy finds: the saved plan was
    // reviewed with other findings, and is refused.
    ws.configure(&ConfigOptions::default());
    add_to_config(&ws, &[advisory("")]);
    ws.cairn(&["apply", saved.to_str().unwrap()])
        .expect_code(1)
        .expect_contains("no longer matches the real world");
    assert!(ws.pdns.zones().is_empty());
    // Made again and reviewed, it applies.
    ws.cairn(&["plan", "--out", saved.to_str().unwrap()])
        .expect_code(2);
    ws.cairn(&["apply", saved.to_str().unwrap()]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.quest", "A"), ["192.0.2.1"]);
}

/// The hostile policy in `mode`, mandatory, with `rest` (more keys).
fn hostile(id: &str, mode: &str, rest: &str) -> String {
    policy_table(
        "[[policies]]",
        id,
        &cairn_tests::plugin_path("hostile_policy"),
        "mandatory",
        &[],
        &format!("config = {{ mode = {mode:?}{rest} }}\ntimeout = \"2s\"\nmemory = \"32MiB\""),
    )
}

#[test]
fn a_policy_that_loops_hogs_panics_floods_or_calls_out_is_held_and_fails_closed() {
    let ws = Workspace::new();
    // Something listening, so that a request the gate let through would
    // be seen arriving.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    add_to_config(
        &ws,
        &[
            hostile("spin", "spin", ""),
            hostile("hog", "hog", ""),
            hostile("panic", "panic", ""),
            hostile("flood", "flood", ""),
            hostile(
                "exfiltrate",
                "exfiltrate",
                &format!(", target = {target:?}"),
            ),
            hostile("quiet", "pass", ""),
        ],
    );
    ws.repo.write("dns.toml", &zone(3600));
    ws.repo.commit("a zone", AUTHOR);
    let started = std::time::Instant::now();
    let plan = ws.cairn(&["plan", "--json"]);
    plan.expect_code(1);
    // Every policy ran at once, each within its own deadline.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let plan = plan.json();
    let message_of = |policy: &str| -> String {
        let found: Vec<&serde_json::Value> = plan["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|finding| finding["policy"] == policy)
            .collect();
        assert_eq!(found.len(), 1, "{policy}: {found:#?}");
        found[0]["message"].as_str().unwrap().to_string()
    };
    assert!(
        message_of("spin").contains("policy `spin` did not finish `evaluate` within 2s"),
        "{}",
        message_of("spin")
    );
    assert!(
        message_of("hog").contains("policy `hog` exceeded its memory limit of 32 MiB"),
        "{}",
        message_of("hog")
    );
    assert!(
        message_of("panic").contains("the hostile policy panics on purpose"),
        "{}",
        message_of("panic")
    );
    assert!(
        message_of("flood").contains("reported 20000 findings, more than the 10000"),
        "{}",
        message_of("flood")
    );
    let exfiltrate = message_of("exfiltrate");
    assert!(
        exfiltrate.starts_with("refused: ErrorCode::HttpRequestDenied"),
        "{exfiltrate}"
    );
    assert!(
        listener.accept().is_err(),
        "no connection reached the listener"
    );
    let findings = plan["findings"].as_array().unwrap();
    for finding in findings.iter().filter(|f| f["policy"] != "exfiltrate") {
        assert_eq!(finding["rule"], "policy-failed", "{finding:#}");
        assert_eq!(finding["severity"], "error", "{finding:#}");
    }
    assert!(!findings.iter().any(|f| f["policy"] == "quiet"));
    let mut blocked: Vec<String> = findings
        .iter()
        .filter(|f| f["rule"] == "policy-failed")
        .map(|f| f["policy"].as_str().unwrap().to_string())
        .collect();
    blocked.sort();
    assert_eq!(blocked, ["flood", "hog", "panic", "spin"]);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("the plan is blocked by policies `flood`, `hog`, `panic`, `spin`");
    assert!(ws.pdns.zones().is_empty());
}

#[test]
fn a_rego_file_with_a_syntax_error_blocks_the_plan_naming_its_file_and_line() {
    let ws = Workspace::new();
    let rules = ws.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for name in ["dns_min_ttl.rego", "dns_wildcards.rego", "broken.rego"] {
        std::fs::copy(example_rule(name), rules.join(name)).unwrap();
    }
    let plugin = rego_plugin();
    let table = format!(
        "\n[[policies]]\nid = \"dns\"\nplugin = {:?}\nsha256 = {:?}\nenforcement = \"mandatory\"\nfiles = [\"rules/dns_min_ttl.rego\", \"rules/dns_wildcards.rego\", \"rules/broken.rego\"]\nconfig = {{ data = {{ production_zones = [], wildcard_zones = [\"example.quest.\"] }} }}\n",
        plugin.display().to_string(),
        sha256_of(&plugin)
    );
    add_to_config(&ws, &[table]);
    ws.repo.write("dns.toml", &zone(60));
    ws.repo.commit("a zone", AUTHOR);
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("blocks dns/policy-failed [mandatory]: policy `dns` could not evaluate: rules/broken.rego:10: expecting `}` while parsing query (invalid-rules)")
        .expect_contains("(invalid-rules)")
        .expect_contains("help: fix the rule file named, then plan again");
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("blocked by policy `dns`");
    assert!(ws.pdns.zones().is_empty());

    // Without the broken file, the other two files' rules run.
    let text = std::fs::read_to_string(ws.config_path())
        .unwrap()
        .replace(", \"rules/broken.rego\"", "");
    std::fs::write(ws.config_path(), text).unwrap();
    ws.cairn(&["plan"])
        .expect_code(2)
        .expect_contains("warning dns/dns-low-ttl")
        .expect_contains("+ dns/record/www.example.quest./A");
    // A missing rule file stops the configuration, naming it.
    std::fs::remove_file(rules.join("dns_wildcards.rego")).unwrap();
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("[[policies]] number 1: files: cannot read")
        .expect_contains("rules/dns_wildcards.rego");
}

#[test]
fn a_policy_is_shown_the_commit_with_its_signer_and_the_resources_with_their_place() {
    let ws = Workspace::new();
    let keys = ws.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (key, public) = cairn_tests::git::ssh_key(&keys, "release");
    let signers = keys.join("allowed_signers");
    std::fs::write(&signers, format!("release@example.org {public}\n")).unwrap();
    let input_of = |ws: &Workspace| -> serde_json::Value {
        let file = ws.path().join("input.json");
        ws.cairn(&["plan", "--policy-input", file.to_str().unwrap()])
            .expect_code(2);
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
    };
    ws.repo.write("dns.toml", &zone(300));
    let unsigned = ws.repo.commit("a zone", AUTHOR);
    let input = input_of(&ws);
    assert_eq!(input["tenant"], "default");
    assert_eq!(input["commit"]["id"], unsigned.as_str());
    assert_eq!(input["commit"]["author"], AUTHOR);
    assert_eq!(input["commit"]["message"], "a zone");
    assert!(input["commit"]["signer"].is_null(), "{input:#}");
    let resources = input["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 3);
    assert_eq!(resources[1]["address"], "dns/record/www.example.quest./A");
    assert_eq!(resources[1]["type"], "record");
    assert_eq!(resources[1]["spec"]["ttl"], 300);
    assert_eq!(resources[1]["file"], "dns.toml");
    assert_eq!(resources[1]["line"], 4);
    assert_eq!(input["plan"]["changes"].as_array().unwrap().len(), 3);

    ws.configure(&ConfigOptions {
        tenant_settings: format!("allowed_signers = {:?}\n", signers.display().to_string()),
        ..ConfigOptions::default()
    });
    ws.repo.write("dns.toml", &zone(600));
    let signed = ws.repo.commit_signed("signed", AUTHOR, &key);
    let input = input_of(&ws);
    assert_eq!(input["commit"]["id"], signed.as_str());
    let signer = input["commit"]["signer"].as_str().unwrap_or_default();
    assert!(signer.starts_with("SHA256:"), "{input:#}");
}

#[test]
fn a_policy_whose_config_or_pin_is_wrong_stops_its_tenant_and_applies_nothing() {
    let ws = Workspace::new();
    ws.repo.write("dns.toml", &zone(60));
    ws.repo.commit("short TTL", AUTHOR);
    // A key the Rego policy's config schema does not have.
    add_to_config(
        &ws,
        &[policy_table(
            "[[policies]]",
            "ttl",
            &rego_plugin(),
            "mandatory",
            &[example_rule("dns_min_ttl.rego")],
            "config = { datum = {} }",
        )],
    );
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains(
            "tenant `default`: policy `ttl`: config does not match what the policy accepts",
        )
        .expect_contains("datum");
    ws.cairn(&["apply", "--yes"]).expect_code(1);
    // Another file than the one pinned.
    ws.configure(&ConfigOptions::default());
    let pinned = rego_table("[[policies]]", "ttl", "mandatory", "dns_min_ttl.rego", "");
    let other = sha256_of(&cairn_tests::plugin_path("hostile_policy"));
    add_to_config(&ws, &[pinned.replace(&sha256_of(&rego_plugin()), &other)]);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("policy `ttl`:")
        .expect_contains(&other);
    assert!(ws.pdns.zones().is_empty(), "nothing was applied");
}
