//! Attackers written in JavaScript and Python, built by their languages'
//! own toolchains (ComponentizeJS, componentize-py: components that import
//! wasi:filesystem, wasi:sockets, the environment and exit whether they
//! use them or not), get what the Rust attacker gets: nothing. Every
//! attack of both languages runs at once, each as a tenant of its own,
//! beside a well-behaved tenant whose calls are timed.

use cairn::contract::ErrorKind;
use cairn::host::{Plugin, PluginError, PluginHost, ProviderInstance, ProviderSettings};
use cairn_tests::components::{HOSTILE_JS, HOSTILE_PY, built, compiled_cache};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Each attack's call timeout: a spinning call is stopped at it.
const ATTACK_TIMEOUT: Duration = Duration::from_secs(3);

/// Each attack's memory: twice what the larger toolchain needs to start
/// (about 13 MiB for componentize-py's interpreter).
const ATTACK_MEMORY: u64 = 32 << 20;

/// The attacks, run in each language at once.
const ATTACKS: [&str; 6] = [
    "read-files",
    "socket",
    "spin",
    "hoard",
    "exit",
    "exfiltrate",
];

/// The slowest a victim's call may be while every attack runs: a trivial
/// call takes milliseconds alone; this bounds a victim held behind the
/// attackers for their whole timeout.
const VICTIM_CEILING: Duration = Duration::from_secs(2);

fn attacker(
    host: &PluginHost,
    plugin: &Arc<Plugin>,
    tenant: &str,
    config: serde_json::Value,
) -> ProviderInstance {
    ProviderInstance::new(
        host,
        plugin.clone(),
        ProviderSettings {
            tenant: tenant.into(),
            name: "hostile".into(),
            config,
            secrets: Default::default(),
            grants: Vec::new(),
            memory_bytes: ATTACK_MEMORY,
            timeout: ATTACK_TIMEOUT,
            concurrency: Default::default(),
        },
    )
}

async fn list(instance: &ProviderInstance) -> Result<usize, PluginError> {
    instance
        .list(vec!["thing".into()], Vec::new())
        .await
        .map(|objects| objects.len())
}

/// What the plugin reported when it failed on its own, as `internal`.
fn reported(language: &str, mode: &str, outcome: &Result<usize, PluginError>) -> String {
    match outcome {
        Err(PluginError::Provider { error, .. }) => error.message.clone(),
        other => panic!("{language} {mode}: expected the plugin's report, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attackers_in_javascript_and_python_are_contained_all_at_once() {
    let host = PluginHost::new(Some(compiled_cache())).expect("the plugin host starts");
    let mut plugins = Vec::new();
    for (language, recipe) in [("JavaScript", HOSTILE_JS), ("Python", HOSTILE_PY)] {
        let plugin = host
            .load(&built(&recipe), None)
            .await
            .unwrap_or_else(|e| panic!("the {language} attacker loads: {e}"));
        plugins.push((language, plugin));
    }
    let rust = host
        .load(&cairn_tests::plugin_path("hostile_provider"), None)
        .await
        .expect("the Rust plugin loads");
    // A real listener on loopback: the socket attack must not reach it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());

    let mut attacks = Vec::new();
    for (language, plugin) in &plugins {
        for mode in ATTACKS {
            let instance = attacker(
                &host,
                plugin,
                &format!("{}-{mode}", language.to_lowercase()),
                serde_json::json!({"mode": mode, "target": target}),
            );
            let (language, mode) = (*language, mode);
            attacks.push(tokio::spawn(async move {
                let started = Instant::now();
                let outcome = list(&instance).await;
                (language, mode, outcome, started.elapsed())
            }));
        }
    }
    // The victim: a tenant of its own calling while every attack runs.
    let victim = attacker(&host, &rust, "victim", serde_json::json!({"mode": "well"}));
    let mut slowest = Duration::ZERO;
    let mut victim_calls = 0;
    let watching = Instant::now();
    while watching.elapsed() < ATTACK_TIMEOUT + Duration::from_secs(1) {
        let started = Instant::now();
        assert_eq!(list(&victim).await.expect("the victim's call succeeds"), 0);
        slowest = slowest.max(started.elapsed());
        victim_calls += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    for attack in attacks {
        let (language, mode, outcome, elapsed) = attack.await.unwrap();
        match mode {
            "read-files" => {
                let message = reported(language, mode, &outcome);
                for path in ["/", ".", "/etc/passwd"] {
                    assert!(
                        message.contains(&format!("{path}: refused")),
                        "{language}: {path} was not refused: {message}"
                    );
                }
                assert!(!message.contains("READ"), "{language}: {message}");
                assert!(
                    message.contains("environment: 0 variable(s)"),
                    "{language}: {message}"
                );
                assert!(message.contains("arguments: 0"), "{language}: {message}");
            }
            "socket" => {
                let message = reported(language, mode, &outcome);
                assert!(message.contains("socket: refused"), "{language}: {message}");
            }
            "spin" => {
                assert!(
                    matches!(outcome, Err(PluginError::Timeout { .. })),
                    "{language} spin: {outcome:?}"
                );
                assert!(
                    elapsed < ATTACK_TIMEOUT + Duration::from_secs(2),
                    "{language} spin was stopped after {elapsed:?}"
                );
            }
            "hoard" => assert!(
                matches!(
                    outcome,
                    Err(PluginError::MemoryExhausted { limit_mib: 32, .. })
                ),
                "{language} hoard: {outcome:?}"
            ),
            "exit" => assert!(
                matches!(&outcome, Err(PluginError::Trap { reason, .. }) if reason.contains("exit status")),
                "{language} exit: {outcome:?}"
            ),
            "exfiltrate" => {
                let message = reported(language, mode, &outcome);
                let Err(PluginError::Provider { error, .. }) = &outcome else {
                    unreachable!()
                };
                assert_eq!(error.kind, ErrorKind::Denied, "{language}: {message}");
                assert!(message.contains("/steal"), "{language}: {message}");
            }
            _ => unreachable!(),
        }
    }
    assert!(
        listener.accept().is_err(),
        "a socket attack reached the listener"
    );
    assert!(
        slowest < VICTIM_CEILING,
        "the victim's slowest call among {victim_calls} took {slowest:?} while every attack ran"
    );
    eprintln!("victim: {victim_calls} calls, the slowest {slowest:?}, beside 12 attacks");
}
