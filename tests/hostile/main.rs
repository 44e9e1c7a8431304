//! The hostile-plugin suite: real plugins, built from source, each
//! attacking one boundary of the sandbox from its own tenant, in one daemon
//! that also serves a well-behaved tenant. For every attack the run fails
//! (or the excess is dropped) with an error naming the limit, the daemon
//! stays up, and the well-behaved tenant's reconcile latency is measured
//! with and without the attackers.

use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::serve::Served;
use cairn_tests::{GitRepo, Workspace};
use std::time::{Duration, Instant};

const AUTHOR: &str = "Mallory <mallory@example.org>";

/// The well-behaved tenant's webhook secret.
const HOOK_SECRET: &str = "calm-hook-secret-3e1f";

/// Pushes measured per daemon, one after another: about two seconds of
/// pushes, long enough to overlap the attackers' first runs and retries.
const PUSHES: usize = 20;

/// One attack: the hostile plugin's `mode`, its network grants, and what
/// the tenant's recorded error (or the daemon's log) must say.
struct Attack {
    mode: &'static str,
    target: String,
    grants: Vec<String>,
    expect: &'static str,
}

/// Every attack of the suite against a server at `server` (which
/// redirects `/` to `elsewhere` and streams 80 MiB from `/big`).
fn attacks(server: &str, elsewhere: &str) -> Vec<Attack> {
    let port = server.rsplit(':').next().unwrap_or_default();
    let attack = |mode: &'static str, target: &str, grants: &[&str], expect: &'static str| Attack {
        mode,
        target: target.to_string(),
        grants: grants.iter().map(|g| g.to_string()).collect(),
        expect,
    };
    vec![
        attack("spin", server, &[], "did not finish `list` within"),
        attack("hog", server, &[], "exceeded its memory limit of 32 MiB"),
        attack("recurse", server, &[], "call stack exhausted"),
        attack(
            "huge-return",
            server,
            &[],
            "exceeded its memory limit of 32 MiB",
        ),
        attack("log-flood", server, &[], "log records dropped"),
        attack(
            "exfiltrate",
            elsewhere,
            &[server],
            "outside this provider's network grants",
        ),
        attack(
            "exfiltrate",
            &format!("http://127.0.0.1:{}", port.parse::<u16>().unwrap_or(1) ^ 1),
            &[server],
            "outside this provider's network grants",
        ),
        attack(
            "exfiltrate",
            &server.replace("http://", "https://"),
            &[server],
            "outside this provider's network grants",
        ),
        attack(
            "exfiltrate",
            &format!("http://localhost:{port}"),
            &[&format!("http://localhost:{port}")],
            "DestinationIpProhibited",
        ),
        attack(
            "follow",
            server,
            &[server],
            "outside this provider's network grants",
        ),
        attack("big-request", server, &[server], "HttpRequestBodySize"),
        attack(
            "big-response",
            server,
            &[server],
            "response body size exceeds limit",
        ),
        attack("flood", server, &[server], "refused 1984 of 2000"),
        attack("headers", server, &[server], "HttpRequestHeaderSectionSize"),
        attack("apply-trap", server, &[], "crashed in `apply`"),
        attack("apply-panic", server, &[], "panics in apply on purpose"),
        attack("garbage", server, &[], "broke the contract in `diff`"),
    ]
}

/// The `cairn.toml` tenant tables of an attack.
fn attacker_block(name: &str, repo: &GitRepo, attack: &Attack) -> String {
    let grants: Vec<String> = attack.grants.iter().map(|g| format!("{g:?}")).collect();
    format!(
        r#"
[tenants.{name}]
repo = {repo:?}
path = "."
interval = "1s"
drift_interval = "1s"

[tenants.{name}.providers.hostile]
plugin = {plugin:?}
allow = [{grants}]
memory = {memory:?}
timeout = "1s"
config = {{ mode = {mode:?}, target = {target:?} }}
"#,
        repo = repo.path().display().to_string(),
        plugin = cairn_tests::plugin_path("hostile_provider")
            .display()
            .to_string(),
        grants = grants.join(", "),
        mode = attack.mode,
        target = attack.target,
        // Room to hold an answer larger than the gate lets through.
        memory = if attack.mode == "big-response" {
            "256MiB"
        } else {
            "32MiB"
        },
    )
}

/// The well-behaved tenant's zone with `www` at `address`.
fn calm_zone(address: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"calm.example.\"\n\n[[dns.record]]\nname = \"www.calm.example.\"\ntype = \"A\"\nrecords = [\"{address}\"]\ndepends_on = [\"dns/zone/calm.example.\"]\n"
    )
}

/// Commits new addresses to the calm tenant, pushes its webhook, and
/// returns how long each took to be served by PowerDNS.
fn measure(ws: &Workspace, daemon: &Daemon, round: usize) -> Vec<Duration> {
    (0..PUSHES)
        .map(|push| {
            let address = format!("198.51.100.{}", round * PUSHES + push + 1);
            ws.repo.write("calm.toml", &calm_zone(&address));
            ws.repo.commit(&format!("calm {address}"), AUTHOR);
            let started = Instant::now();
            let status = daemon.push("calm", HOOK_SECRET, "{}");
            assert!(status < 300, "the webhook answered {status}");
            wait_until(Duration::from_secs(30), "the calm tenant applied", || {
                ws.pdns.dig("www.calm.example.", "A") == [address.clone()]
            });
            started.elapsed()
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[test]
fn attacks_fail_with_their_limit_and_the_calm_tenant_keeps_its_pace() {
    let ws = Workspace::new();
    ws.repo.write("calm.toml", &calm_zone("198.51.100.250"));
    ws.repo.commit("calm", AUTHOR);
    let elsewhere = Served::start(|| {
        axum::Router::new().route("/", axum::routing::get(|| async { "not yours" }))
    });
    let elsewhere_url = elsewhere.base_url.clone();
    let server = Served::start(move || {
        use axum::routing::get;
        axum::Router::new()
            .route(
                "/",
                get(move || async move {
                    (
                        axum::http::StatusCode::FOUND,
                        [(axum::http::header::LOCATION, elsewhere_url)],
                        "moved",
                    )
                })
                .post(|| async { "taken" }),
            )
            .route("/big", get(|| async { vec![b'x'; 80 << 20] }))
            .layer(axum::extract::DefaultBodyLimit::disable())
    });
    let calm_settings = format!(
        "interval = \"1h\"\ndrift_interval = \"1h\"\nwebhook_secret = {{ file = {:?} }}",
        ws.path().join("hook.secret").display().to_string()
    );
    std::fs::write(ws.path().join("hook.secret"), HOOK_SECRET).expect("write the hook secret");
    let calm = ws.tenant_block(
        "calm",
        &ConfigOptions {
            tenant_settings: calm_settings,
            ..ConfigOptions::default()
        },
    );

    // The calm tenant alone.
    std::fs::write(ws.config_path(), format!("{}\n{calm}", config_header())).unwrap();
    let daemon = Daemon::start(&ws.config_path());
    wait_until(
        Duration::from_secs(30),
        "the calm tenant's first apply",
        || ws.pdns.dig("www.calm.example.", "A") == ["198.51.100.250"],
    );
    let alone = median(measure(&ws, &daemon, 0));
    drop(daemon);

    // The same, with every attacker beside it.
    let attacks = attacks(&server.base_url, &elsewhere.base_url);
    let mut config = format!("{}\n{calm}", config_header());
    let mut repos = Vec::new();
    for (index, attack) in attacks.iter().enumerate() {
        let repo = GitRepo::init(&ws.path().join(format!("attacker-{index}")));
        repo.write("thing.toml", "[[hostile.thing]]\nname = \"bait\"\n");
        repo.commit("bait", AUTHOR);
        config.push_str(&attacker_block(&format!("attacker{index}"), &repo, attack));
        repos.push(repo);
    }
    std::fs::write(ws.config_path(), config).unwrap();
    let daemon = Daemon::start(&ws.config_path());
    // Measured while the attackers make their first runs and retries.
    let beside = median(measure(&ws, &daemon, 1));
    // Every attack fails with its limit named.
    let deadline = Instant::now() + Duration::from_secs(60);
    for (index, attack) in attacks.iter().enumerate() {
        let tenant = format!("attacker{index}");
        loop {
            let error = daemon.tenant(&tenant)["last_error"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if error.contains(attack.expect) || daemon.log().contains(attack.expect) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{tenant} ({}) was not refused with `{}`; its last error: {error}",
                attack.mode,
                attack.expect
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // The daemon stayed up: its API still answers for the calm tenant.
    assert!(
        daemon.tenant("calm")["last_error"].is_null(),
        "the calm tenant failed: {:#}",
        daemon.tenant("calm")
    );
    drop(daemon);
    let ratio = beside.as_secs_f64() / alone.as_secs_f64();
    eprintln!(
        "hostile suite: {} attacks; calm tenant push-to-served median {alone:?} alone, {beside:?} beside the attackers: {ratio:.2}×",
        attacks.len()
    );
    assert!(
        ratio < 3.0,
        "the calm tenant slowed down {ratio:.2}× beside the attackers ({alone:?} → {beside:?})"
    );
}

#[test]
fn a_provider_whose_answers_change_between_calls_cannot_get_a_saved_plan_applied() {
    let ws = Workspace::new();
    ws.repo.write(
        "thing.toml",
        "[[hostile.thing]]\nname = \"bait\"\nadopt = true\n",
    );
    ws.repo.commit("bait", AUTHOR);
    let attack = Attack {
        mode: "flip-flop",
        target: String::new(),
        grants: Vec::new(),
        expect: "no longer matches the real world",
    };
    let block = attacker_block("default", &ws.repo, &attack);
    std::fs::write(ws.config_path(), format!("{}\n{block}", config_header())).unwrap();
    let saved = ws.path().join("plan.json");
    let saved = saved.display().to_string();
    ws.cairn(&["plan", "--out", &saved]).expect_code(2);
    ws.cairn(&["apply", &saved, "--yes"])
        .expect_code(1)
        .expect_contains(attack.expect);
}
