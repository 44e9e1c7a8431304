//! The hostile-plugin suite: real plugins, built from source, each
//! attacking one boundary of the sandbox from its own tenant, in one daemon
//! that also serves a well-behaved tenant. For every attack the run fails
//! (or the excess is dropped) with an error naming the limit, the daemon
//! stays up, and the well-behaved tenant's reconcile latency is measured
//! with and without the attackers. The attackers are the Rust one and, for
//! the boundaries other toolchains reach for, ones in JavaScript and Python.

use cairn_tests::Workspace;
use cairn_tests::alerts::AlertReceiver;
use cairn_tests::cairn::config_header;
use cairn_tests::components::{HOSTILE_JS, HOSTILE_PY};
use cairn_tests::daemon::{Daemon, metric_sums_by, wait_until};
use cairn_tests::hostile::{
    AUTHOR, Attack, attacker_block, attackers_config, calm_block, calm_zone, contenders,
    measure_one, quantile,
};
use cairn_tests::proxy::RecordingProxy;
use cairn_tests::serve::Served;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Pushes measured per daemon, one after another, at least: about two
/// seconds of pushes. Beside the attackers the pushes go on until every
/// attacker has been seen making calls during them.
const PUSHES: usize = 20;

/// The most pushes beside the attackers before the test gives up waiting
/// for an attacker to make a call.
const MAX_PUSHES: usize = 200;

/// How much slower the calm tenant's median push-to-served may be beside
/// the attackers than alone.
const MAX_MEDIAN_RATIO: f64 = 2.0;

/// How much slower its 90th percentile may be. Guest code runs on threads
/// of its own in turns shared fairly between tenants, so the attackers cost
/// the calm tenant little (measured 1.17–2.0× here on the debug build);
/// the bound catches a daemon whose tenants wait on each other again.
const MAX_P90_RATIO: f64 = 4.0;

/// The longest any one push may take beside the attackers (measured about
/// 110 ms, alone about 90 ms): a push waiting on an attacker's call, its
/// deadline or its tenant's lease would take seconds.
const MAX_PUSH_BESIDE: Duration = Duration::from_secs(2);

/// The longest `/healthz` may take beside the attackers: guest code runs on
/// threads of its own, so the daemon's API never waits on it (measured
/// in milliseconds; the bound catches an API that waits for a guest's
/// epoch tick or deadline).
const MAX_HEALTH_WAIT: Duration = Duration::from_millis(500);

/// Every attack of the suite against a server at `server` (which
/// redirects `/` to `elsewhere` and streams 80 MiB from `/big`).
fn attacks(server: &str, elsewhere: &str) -> Vec<Attack> {
    let port = server.rsplit(':').next().unwrap_or_default();
    let attack = Attack::new;
    let denied = |url: &str| {
        format!(
            "GET {url} failed: the host refused the request: the URL is outside this provider's network grants"
        )
    };
    let other_port = format!("http://127.0.0.1:{}", port.parse::<u16>().unwrap_or(1) ^ 1);
    let https = server.replace("http://", "https://");
    // The contenders first (two tenants spinning at full slots, a header
    // holder, a log-field flooder), then one tenant per other limit.
    let mut attacks = contenders(["3s", "4s"]);
    attacks.extend([
        attack(
            "big-header-set",
            server,
            &[],
            "total size of fields exceeds limit",
        ),
        Attack {
            timeout: "1s",
            ..attack("spin", server, &[], "did not finish `list` within 1s")
        },
        attack(
            "hog",
            server,
            &[],
            "exceeded its memory limit of 32 MiB in `list`",
        ),
        attack("recurse", server, &[], "call stack exhausted"),
        attack(
            "huge-return",
            server,
            &[],
            "returned 100 MiB from `list`, more than the 64 MiB the host accepts",
        ),
        attack(
            "log-flood",
            server,
            &[],
            "log records dropped: a call may write at most 10000 records",
        ),
        attack(
            "exfiltrate",
            elsewhere,
            &[server],
            &denied(&format!("{elsewhere}/steal")),
        ),
        attack(
            "exfiltrate",
            &other_port,
            &[server],
            &denied(&format!("{other_port}/steal")),
        ),
        attack(
            "exfiltrate",
            &https,
            &[server],
            &denied(&format!("{https}/steal")),
        ),
        attack(
            "exfiltrate",
            &format!("http://localhost:{port}"),
            &[&format!("http://localhost:{port}")],
            "DestinationIpProhibited",
        ),
        attack("follow", server, &[server], &denied(elsewhere)),
        attack("big-request", server, &[server], "HttpRequestBodySize"),
        attack(
            "big-response",
            server,
            &[server],
            "response body size exceeds limit",
        ),
        attack("flood", server, &[server], "refused 1984 of 2000"),
        attack("headers", server, &[server], "HttpRequestHeaderSectionSize"),
        attack(
            "apply-trap",
            server,
            &[],
            "crashed in `apply`: wasm trap: wasm `unreachable` instruction executed",
        ),
        attack("apply-panic", server, &[], "panics in apply on purpose"),
        attack("garbage", server, &[], "broke the contract in `diff`"),
        // Policies, held by the same sandbox: each fails closed, blocking
        // its tenant's plan, or is refused the network.
        Attack::by_policy(
            "spin",
            server,
            "1s",
            "policy `hostile-policy` did not finish `evaluate` within 1s",
        ),
        Attack::by_policy(
            "hog",
            server,
            "10s",
            "policy `hostile-policy` exceeded its memory limit of 32 MiB in `evaluate`",
        ),
        Attack::by_policy(
            "exfiltrate",
            elsewhere,
            "10s",
            "refused: ErrorCode::HttpRequestDenied",
        ),
    ]);
    // The same boundaries attacked by providers in JavaScript and Python,
    // whose toolchains import the filesystem, sockets, the environment and
    // exit whether they use them or not.
    for recipe in [HOSTILE_JS, HOSTILE_PY] {
        attacks.extend(
            [
                Attack {
                    timeout: "1s",
                    ..attack("spin", server, &[], "did not finish `list` within 1s")
                },
                attack(
                    "hoard",
                    server,
                    &[],
                    "exceeded its memory limit of 32 MiB in `list`",
                ),
                attack("read-files", server, &[], "/etc/passwd: refused"),
                attack("socket", server, &[], "socket: refused"),
                attack("exit", server, &[], "Exited with i32 exit status"),
                attack(
                    "exfiltrate",
                    elsewhere,
                    &[server],
                    "outside this provider's network grants",
                ),
            ]
            .map(|attack| attack.by(&recipe)),
        );
    }
    attacks
}

/// Plugin calls finished so far, by tenant.
fn calls_by_tenant(daemon: &Daemon) -> BTreeMap<String, f64> {
    metric_sums_by(
        &daemon.metrics(),
        "cairn_plugin_call_duration_seconds_count",
        "tenant",
    )
}

/// The lines of `log` that name `tenant` (`tenant=NAME`, not a longer
/// name that starts the same).
fn lines_of<'a>(log: &'a str, tenant: &str) -> Vec<&'a str> {
    let key = format!("tenant={tenant}");
    log.lines()
        .filter(|line| {
            line.match_indices(&key).any(|(at, _)| {
                line[at + key.len()..]
                    .chars()
                    .next()
                    .is_none_or(|next| !next.is_ascii_alphanumeric() && next != '-' && next != '_')
            })
        })
        .collect()
}

/// What `tenant` itself left behind: its recorded error, its policies'
/// findings, its alerts and the daemon's log lines that name it.
fn evidence_of(daemon: &Daemon, alerts: &AlertReceiver, tenant: &str) -> String {
    let status = daemon.tenant(tenant);
    let mut evidence = vec![
        status["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ];
    evidence.extend(
        status["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|finding| finding["message"].as_str().unwrap_or_default().to_string()),
    );
    evidence.extend(
        alerts
            .alerts()
            .iter()
            .filter(|alert| alert["tenant"] == tenant)
            .map(|alert| alert["message"].as_str().unwrap_or_default().to_string()),
    );
    evidence.extend(
        lines_of(&daemon.log(), tenant)
            .into_iter()
            .map(str::to_string),
    );
    evidence.join("\n")
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
    // The calm tenant's PowerDNS behind a proxy, which reads a request's
    // body whole before passing it on: an attacker stalling its bodies
    // there holds turns of the limit it shares with the calm tenant,
    // without reaching PowerDNS.
    let front = RecordingProxy::start(&ws.pdns.url());
    let calm = calm_block(&ws, &front.url);

    // The calm tenant alone.
    std::fs::write(ws.config_path(), format!("{}\n{calm}", config_header())).unwrap();
    let mut daemon = Daemon::start(&ws.config_path());
    wait_until(
        Duration::from_secs(30),
        "the calm tenant's first apply",
        || ws.pdns.dig("www.calm.example.", "A") == ["198.51.100.250"],
    );
    let alone: Vec<Duration> = (0..PUSHES)
        .map(|push| measure_one(&ws, &daemon, push))
        .collect();
    // Stopped, not killed: it hands the calm tenant's lease back, so the
    // next daemon takes it at once instead of after it runs out.
    daemon.stop();

    // The same, with every attacker beside it.
    let mut attacks = attacks(&server.base_url, &elsewhere.base_url);
    attacks.push(Attack {
        instances: 4,
        ..Attack::new(
            "stall-bodies",
            &front.url,
            &[&front.url],
            "stalled 16 request bodies for 2 s",
        )
    });
    let alerts = AlertReceiver::start();
    let (attackers_config, _repos) = attackers_config(&ws, &attacks);
    let config = format!(
        "{}\n{}{calm}{attackers_config}",
        config_header(),
        alerts.table()
    );
    std::fs::write(ws.config_path(), config).unwrap();
    let daemon = Daemon::start(&ws.config_path());
    // Measured while the attackers make their first runs and retries:
    // pushes go on until every attacker has finished a call since the
    // first push, so that the window is known to overlap every attack.
    let attackers: Vec<String> = (0..attacks.len())
        .map(|index| format!("attacker{index}"))
        .collect();
    let before = calls_by_tenant(&daemon);
    let mut beside = Vec::new();
    let mut health = Vec::new();
    loop {
        beside.push(measure_one(&ws, &daemon, PUSHES + beside.len()));
        // The daemon's own API, asked while the spinners hold every turn.
        let asked = Instant::now();
        let (status, _) = daemon.get("/healthz").expect("/healthz answers");
        assert_eq!(status, 200);
        health.push(asked.elapsed());
        let now = calls_by_tenant(&daemon);
        let idle: Vec<&String> = attackers
            .iter()
            .filter(|tenant| now.get(*tenant) <= before.get(*tenant))
            .collect();
        if beside.len() >= PUSHES && idle.is_empty() {
            break;
        }
        assert!(
            beside.len() < MAX_PUSHES,
            "{idle:?} made no plugin call during {MAX_PUSHES} pushes of the calm tenant"
        );
    }
    // Every attack fails with its limit named, in its own tenant's record.
    let deadline = Instant::now() + Duration::from_secs(60);
    for (tenant, attack) in attackers.iter().zip(&attacks) {
        loop {
            let evidence = evidence_of(&daemon, &alerts, tenant);
            if evidence.contains(&attack.expect) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{tenant} ({}) was not refused with `{}`; what it left behind:\n{evidence}",
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
    let pushes = beside.len();
    let (alone_median, alone_p90) = (quantile(alone.clone(), 0.5), quantile(alone, 0.9));
    let beside_max = beside.iter().max().copied().unwrap_or_default();
    let (beside_median, beside_p90) = (quantile(beside.clone(), 0.5), quantile(beside, 0.9));
    let median_ratio = beside_median.as_secs_f64() / alone_median.as_secs_f64();
    let p90_ratio = beside_p90.as_secs_f64() / alone_p90.as_secs_f64();
    let health_max = health.iter().max().copied().unwrap_or_default();
    eprintln!(
        "hostile suite: {} attacks; calm tenant push-to-served alone median {alone_median:?} p90 {alone_p90:?}; beside the attackers ({pushes} pushes) median {beside_median:?} p90 {beside_p90:?} max {beside_max:?}: {median_ratio:.2}× and {p90_ratio:.2}×; /healthz beside them median {:?} max {health_max:?}",
        attacks.len(),
        quantile(health, 0.5)
    );
    assert!(
        beside_max < MAX_PUSH_BESIDE,
        "a push of the calm tenant took {beside_max:?} beside the attackers"
    );
    assert!(
        health_max < MAX_HEALTH_WAIT,
        "/healthz took {health_max:?} beside the attackers"
    );
    assert!(
        median_ratio < MAX_MEDIAN_RATIO,
        "the calm tenant's median slowed down {median_ratio:.2}× beside the attackers ({alone_median:?} → {beside_median:?})"
    );
    assert!(
        p90_ratio < MAX_P90_RATIO,
        "the calm tenant's p90 slowed down {p90_ratio:.2}× beside the attackers ({alone_p90:?} → {beside_p90:?})"
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
        expect: "no longer matches the real world".into(),
        instances: 1,
        timeout: "1s",
        plugin: None,
        policy: None,
    };
    let block = attacker_block("default", &ws.repo, &attack);
    std::fs::write(ws.config_path(), format!("{}\n{block}", config_header())).unwrap();
    let saved = ws.path().join("plan.json");
    let saved = saved.display().to_string();
    ws.cairn(&["plan", "--out", &saved]).expect_code(2);
    ws.cairn(&["apply", &saved, "--yes"])
        .expect_code(1)
        .expect_contains(&attack.expect);
}
