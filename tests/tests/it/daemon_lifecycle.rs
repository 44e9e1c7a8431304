//! The daemon's runs against the world around them: triggers that arrive
//! during a run, a `cairn apply` that meets a daemon run, and SIGTERM with a
//! run in flight — both the run that finishes within the grace period and
//! the one cut off by it.
//!
//! A run is kept in flight deterministically, not by making it slow: the
//! dns provider talks to PowerDNS through a recording proxy that holds the
//! answer to the run's write (PowerDNS has made the change; the daemon
//! waits to hear of it) until the test releases it.

use cairn_tests::Workspace;
use cairn_tests::cairn::ConfigOptions;
use cairn_tests::daemon::{Daemon, HOOK_SECRET, since, wait_until};
use cairn_tests::pdns::{API_KEY, rrset_writes};
use cairn_tests::proxy::RecordingProxy;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// A tenant that polls every `interval` and takes signed webhooks.
fn settings(interval: &str) -> String {
    format!(
        "interval = {interval:?}\ndrift_interval = \"1h\"\nwebhook_secret = {{ env = \"CAIRN_TEST_HOOK\" }}"
    )
}

/// Writes `cairn.toml` with the dns provider behind `proxy`.
fn configure(ws: &Workspace, proxy: &RecordingProxy, tenant_settings: &str, top_settings: &str) {
    ws.configure(&ConfigOptions {
        url: Some(proxy.url.clone()),
        tenant_settings: tenant_settings.into(),
        top_settings: top_settings.into(),
        ..ConfigOptions::default()
    });
}

/// A zone with `www` pointing at `address`.
fn zone(zone: &str, address: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"{zone}\"\n\n[[dns.record]]\nname = \"www.{zone}\"\ntype = \"A\"\nrecords = [\"{address}\"]\ndepends_on = [\"dns/zone/{zone}\"]\n"
    )
}

/// A push webhook's body naming `commit`.
fn push_body(commit: &str) -> String {
    format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{commit}\"}}")
}

/// The first reconcile run (the daemon's) of `commit`.
fn run_of(ws: &Workspace, commit: &str) -> Option<Value> {
    ws.history()
        .into_iter()
        .filter(|run| run["kind"] == "reconcile" && run["commit_id"] == commit)
        .min_by_key(|run| run["id"].as_i64())
}

/// Whether the daemon's run of `commit` has begun and not ended.
fn in_flight(ws: &Workspace, commit: &str) -> bool {
    run_of(ws, commit).is_some_and(|run| run["outcome"].is_null() && run["finished_at"].is_null())
}

/// The addresses in the journal of changes sent and not yet recorded,
/// read from the SQLite state store directly.
fn journal(ws: &Workspace) -> Vec<String> {
    let url = format!("sqlite:{}", ws.path().join(".cairn/state.db").display());
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .expect("open the state store");
        let addresses: Vec<String> = sqlx::query_scalar(
            "SELECT address FROM intents WHERE tenant = 'default' ORDER BY address",
        )
        .fetch_all(&pool)
        .await
        .expect("read the journal");
        pool.close().await;
        addresses
    })
}

/// The triggers of `tenant`'s runs in the order they ended, from the
/// daemon's log at debug level: each run is a `reconcile` span, and at
/// debug every span is logged as it closes
/// (`reconcile{tenant=T trigger=Webhook commit="…"}: close time.busy=…`;
/// the spans nested in it close as `reconcile{…}:NAME…: close`).
fn ended_runs(log: &str, tenant: &str) -> Vec<String> {
    let opening = format!("reconcile{{tenant={tenant} ");
    log.lines()
        .filter_map(|line| {
            let span = &line[line.find(&opening)?..];
            let fields_end = span.find('}')?;
            if !span[fields_end..].starts_with("}: close") {
                return None;
            }
            span[..fields_end]
                .split(' ')
                .find_map(|field| field.strip_prefix("trigger="))
                .map(str::to_string)
        })
        .collect()
}

/// Waits until `check` holds of the daemon's log; on timeout, panics with
/// the end of the log.
#[track_caller]
fn wait_for_log(
    daemon: &Daemon,
    timeout: Duration,
    what: &str,
    mut check: impl FnMut(&str) -> bool,
) {
    let started = Instant::now();
    loop {
        let log = daemon.log();
        if check(&log) {
            return;
        }
        if started.elapsed() > timeout {
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            panic!(
                "timed out after {timeout:?} waiting for {what}; the end of the daemon's log:\n{tail}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `cairn` command running in the background, its output in files;
/// killed when dropped.
struct Background {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Background {
    /// Starts `cairn ARGS --config cairn.toml` in the workspace, as
    /// `Workspace::cairn` runs it, with `CAIRN_LOG=log_filter`.
    fn start(ws: &Workspace, args: &[&str], log_filter: &str) -> Self {
        let stdout = ws.path().join("background.stdout");
        let stderr = ws.path().join("background.stderr");
        let child = cairn_tests::cairn_command()
            .args(args)
            .arg("--config")
            .arg(ws.config_path())
            .current_dir(ws.path())
            .env("PDNS_API_KEY", API_KEY)
            .env("NO_COLOR", "1")
            .env("CAIRN_LOG", log_filter)
            .env_remove("CAIRN_CONFIG")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("create the command's stdout"))
            .stderr(std::fs::File::create(&stderr).expect("create the command's stderr"))
            .spawn()
            .expect("start cairn");
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Its exit code, once it has exited.
    fn exited(&mut self) -> Option<i32> {
        self.child
            .try_wait()
            .expect("look at the command")
            .map(|status| status.code().unwrap_or(-1))
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for it to exit and returns its exit code.
    #[track_caller]
    fn wait(&mut self, timeout: Duration) -> i32 {
        let started = Instant::now();
        loop {
            if let Some(code) = self.exited() {
                return code;
            }
            assert!(
                started.elapsed() < timeout,
                "the command did not finish within {timeout:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Triggers that arrive while a run is in progress coalesce into one
/// follow-up run (README, "Webhook": "Triggers that arrive during a run
/// coalesce into one follow-up run"): five signed pushes during one run
/// make exactly one webhook-triggered run after it — not five, and not
/// none.
#[test]
fn pushes_during_a_run_coalesce_into_one_follow_up_run() {
    let ws = Workspace::new();
    let proxy = RecordingProxy::start(&ws.pdns.url());
    ws.repo
        .write("dns.toml", &zone("coalesce.example.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    configure(&ws, &proxy, &settings("1s"), "");
    // At debug the daemon logs every run as it ends, with its trigger.
    let daemon = Daemon::start_logging(&ws.config_path(), "info,cairn=debug");
    let www = || ws.pdns.dig("www.coalesce.example", "A");
    wait_until(Duration::from_secs(20), "the first commit applied", || {
        www() == ["192.0.2.1"]
    });

    // The poll that takes the next commit stays in its apply: its write is
    // made and the answer held.
    proxy.hold_writes(|exchange| exchange.method == "PATCH");
    ws.repo
        .write("dns.toml", &zone("coalesce.example.", "192.0.2.2"));
    let second = ws.repo.commit("second", AUTHOR);
    wait_until(
        Duration::from_secs(30),
        "the poll's apply in flight",
        || proxy.held() >= 1,
    );
    assert!(in_flight(&ws, &second), "{:#?}", ws.history());
    let body = push_body(&second);
    for _ in 0..5 {
        assert_eq!(daemon.push("default", HOOK_SECRET, &body), 202);
    }
    assert!(
        in_flight(&ws, &second),
        "the run ended before the pushes: they did not arrive during it"
    );
    proxy.release();
    wait_until(Duration::from_secs(20), "the held run finished", || {
        run_of(&ws, &second).is_some_and(|run| run["outcome"] == "succeeded")
    });

    // Queued triggers would all run before the second poll after the run
    // (a ready trigger is taken before a poll that is not due yet); three
    // polls after it leave no doubt that whatever the pushes caused is over.
    let after = daemon.log().len();
    wait_for_log(
        &daemon,
        Duration::from_secs(30),
        "three polls after the held run",
        |log| {
            ended_runs(since(log, after), "default")
                .iter()
                .filter(|trigger| trigger.as_str() == "Poll")
                .count()
                >= 3
        },
    );
    let triggers = ended_runs(&daemon.log(), "default");
    let follow_ups = triggers
        .iter()
        .filter(|trigger| trigger.as_str() == "Webhook")
        .count();
    assert_eq!(
        follow_ups, 1,
        "five pushes during one run made {follow_ups} webhook runs; every run's trigger, in order: {triggers:?}"
    );
    assert_eq!(www(), ["192.0.2.2"]);
}

/// `cairn apply` waits for a daemon run of the same tenant and then
/// completes (README, "Locks": "a command waits for a daemon run to
/// finish"): started while the daemon's apply is in flight, it neither
/// fails nor touches the server until that run has ended, and its own run
/// begins after the daemon's finished.
#[test]
fn the_cli_waits_for_a_daemon_run_and_then_applies() {
    let ws = Workspace::new();
    let proxy = RecordingProxy::start(&ws.pdns.url());
    ws.repo
        .write("dns.toml", &zone("locks.example.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    configure(&ws, &proxy, &settings("1h"), "");
    let daemon = Daemon::start(&ws.config_path());
    let www = || ws.pdns.dig("www.locks.example", "A");
    wait_until(Duration::from_secs(20), "the first commit applied", || {
        www() == ["192.0.2.1"]
    });

    proxy.hold_writes(|exchange| exchange.method == "PATCH");
    ws.repo
        .write("dns.toml", &zone("locks.example.", "192.0.2.2"));
    let by_daemon = ws.repo.commit("for the daemon", AUTHOR);
    assert_eq!(
        daemon.push("default", HOOK_SECRET, &push_body(&by_daemon)),
        202
    );
    wait_until(
        Duration::from_secs(30),
        "the daemon's apply in flight",
        || proxy.held() >= 1,
    );
    assert!(in_flight(&ws, &by_daemon), "{:#?}", ws.history());
    // The operator's commit comes after the daemon's run read its own.
    ws.repo
        .write("dns.toml", &zone("locks.example.", "192.0.2.3"));
    let by_hand = ws.repo.commit("by hand", AUTHOR);
    let mut cli = Background::start(&ws, &["apply", "--yes", "--json"], "cairn=debug");
    // Opening the state store is the command's last step before the lock
    // (its plugins are loaded before): at debug it logs `open: close` as
    // that step ends.
    let started = Instant::now();
    while !cli.stderr().contains("DEBUG open: close") {
        assert!(
            cli.exited().is_none(),
            "cairn apply ended while the daemon's run was in flight:\n{}\n{}",
            cli.stdout(),
            cli.stderr()
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "cairn apply never reached its lock:\n{}",
            cli.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // From there a command that did not wait would plan at once, asking
    // the server what exists (through the proxy, which records it). For a
    // second it must not: it waits, it does not fail.
    let requests = proxy.exchanges().len();
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(1) {
        assert!(
            cli.exited().is_none(),
            "cairn apply ended while the daemon's run was in flight:\n{}\n{}",
            cli.stdout(),
            cli.stderr()
        );
        assert_eq!(
            proxy.exchanges().len(),
            requests,
            "cairn apply talked to the server while the daemon's run was in flight: {:#?}",
            &proxy.exchanges()[requests..]
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        in_flight(&ws, &by_daemon),
        "the daemon's run ended by itself: nothing was tested"
    );

    proxy.release();
    let code = cli.wait(Duration::from_secs(60));
    assert_eq!(
        code,
        0,
        "cairn apply failed:\n{}\n{}",
        cli.stdout(),
        cli.stderr()
    );
    let output: Value = serde_json::from_str(&cli.stdout()).unwrap_or_else(|e| {
        panic!(
            "cairn apply --json printed no JSON ({e}):\n{}",
            cli.stdout()
        )
    });
    assert_eq!(output["report"]["outcome"], "succeeded", "{output:#}");
    let cli_run_id = output["report"]["run_id"]
        .as_i64()
        .expect("the apply was recorded");
    assert_eq!(www(), ["192.0.2.3"]);

    let runs = ws.history();
    let daemon_run = run_of(&ws, &by_daemon).expect("the daemon's run is recorded");
    let cli_run = runs
        .iter()
        .find(|run| run["id"] == cli_run_id)
        .expect("the command's run is recorded");
    assert_eq!(daemon_run["outcome"], "succeeded", "{daemon_run:#}");
    assert!(daemon_run["daemon"].is_string(), "{daemon_run:#}");
    assert!(cli_run["daemon"].is_null(), "{cli_run:#}");
    assert_eq!(cli_run["commit_id"], by_hand.as_str(), "{cli_run:#}");
    let daemon_finished = daemon_run["finished_at"]
        .as_i64()
        .expect("the daemon's run finished");
    let cli_started = cli_run["started_at"].as_i64().expect("a start time");
    assert!(
        cli_started >= daemon_finished,
        "the command's run began at {cli_started}, before the daemon's ended at {daemon_finished}: {runs:#?}"
    );
}

/// On SIGTERM the daemon stops taking requests and lets the run in flight
/// finish within `shutdown_grace`, then exits with code 0 (README,
/// "Shutdown": "it stops taking triggers and waits up to `[daemon]
/// shutdown_grace` (30 s) for runs in flight"): the run ends as it would
/// have, recorded, its change made once and nothing left in the journal.
#[test]
fn sigterm_lets_the_run_in_flight_finish() {
    let ws = Workspace::new();
    let proxy = RecordingProxy::start(&ws.pdns.url());
    ws.repo
        .write("dns.toml", &zone("grace.example.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    // Long enough for the run; short enough that a daemon that let it run
    // on past its grace would still exit within `Daemon::stop`'s 30 s.
    configure(
        &ws,
        &proxy,
        &settings("1h"),
        "[daemon]\nshutdown_grace = \"20s\"\n\n",
    );
    let mut daemon = Daemon::start(&ws.config_path());
    let www = || ws.pdns.dig("www.grace.example", "A");
    wait_until(Duration::from_secs(20), "the first commit applied", || {
        www() == ["192.0.2.1"]
    });

    proxy.hold_writes(|exchange| exchange.method == "PATCH");
    ws.repo
        .write("dns.toml", &zone("grace.example.", "192.0.2.2"));
    let commit = ws.repo.commit("second", AUTHOR);
    assert_eq!(
        daemon.push("default", HOOK_SECRET, &push_body(&commit)),
        202
    );
    wait_until(Duration::from_secs(30), "the apply in flight", || {
        proxy.held() >= 1
    });
    assert!(in_flight(&ws, &commit), "{:#?}", ws.history());

    // SIGTERM; once the daemon has stopped taking requests (its API no
    // longer answers), the run's answer is let through.
    let port = daemon.port;
    let code = std::thread::scope(|scope| {
        let proxy = &proxy;
        scope.spawn(move || {
            wait_until(
                Duration::from_secs(15),
                "the daemon to stop taking requests after SIGTERM",
                || {
                    // A fresh client each time: no kept-alive connection.
                    let agent = cairn_tests::http_agent(Duration::from_secs(2));
                    let request = ureq::http::Request::builder()
                        .method("GET")
                        .uri(format!("http://127.0.0.1:{port}/healthz"))
                        .body(())
                        .expect("a valid request");
                    agent.run(request).is_err()
                },
            );
            proxy.release();
        });
        daemon.stop()
    });
    let log = daemon.log();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("shutting down: no new runs"), "{log}");
    assert!(
        !log.contains("still in flight after the grace period"),
        "the run was cut off: {log}"
    );

    let run = run_of(&ws, &commit).expect("the run is recorded");
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert!(run["finished_at"].is_i64(), "{run:#}");
    assert!(journal(&ws).is_empty(), "changes left in the journal");
    assert_eq!(www(), ["192.0.2.2"]);
    let writes = rrset_writes(&proxy.exchanges());
    assert_eq!(
        writes.get("www.grace.example. A 192.0.2.2").copied(),
        Some(1),
        "{writes:?}"
    );
}

/// SIGTERM with a run whose change PowerDNS has made but whose answer has
/// not come back: after `shutdown_grace` the daemon exits (code 0) with the
/// run cut off; the change is in the journal, and the next start finds it
/// out — the cut-off run recorded as `interrupted`, the changes that took
/// effect recorded as `adopt`, none made a second time — and the world
/// matches Git (README, "Shutdown": "what is cut off is journaled and found
/// out on the next start"; "Crash safety").
#[test]
fn a_run_cut_off_by_sigterm_is_journaled_and_found_out_at_the_next_start() {
    let ws = Workspace::new();
    let proxy = RecordingProxy::start(&ws.pdns.url());
    ws.repo
        .write("dns.toml", &zone("sigterm.example.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    configure(
        &ws,
        &proxy,
        &settings("1h"),
        "[daemon]\nshutdown_grace = \"2s\"\n\n",
    );
    let mut daemon = Daemon::start(&ws.config_path());
    let www = || ws.pdns.dig("www.sigterm.example", "A");
    let new = || ws.pdns.dig("new.sigterm.example", "A");
    wait_until(Duration::from_secs(20), "the first commit applied", || {
        www() == ["192.0.2.1"]
    });

    // One commit updates a record and creates another: one write to
    // PowerDNS, whose answer is held.
    proxy.hold_writes(|exchange| exchange.method == "PATCH");
    let text = format!(
        "{}\n[[dns.record]]\nname = \"new.sigterm.example.\"\ntype = \"A\"\nrecords = [\"192.0.2.9\"]\ndepends_on = [\"dns/zone/sigterm.example.\"]\n",
        zone("sigterm.example.", "192.0.2.2")
    );
    ws.repo.write("dns.toml", &text);
    let commit = ws.repo.commit("update one record, create another", AUTHOR);
    assert_eq!(
        daemon.push("default", HOOK_SECRET, &push_body(&commit)),
        202
    );
    wait_until(Duration::from_secs(30), "the apply in flight", || {
        proxy.held() >= 1
    });
    // PowerDNS made both changes; the daemon has not heard of them.
    assert_eq!(www(), ["192.0.2.2"]);
    assert_eq!(new(), ["192.0.2.9"]);
    assert!(in_flight(&ws, &commit), "{:#?}", ws.history());

    let code = daemon.stop();
    let log = daemon.log();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("runs were still in flight after the grace period"),
        "{log}"
    );
    // The cut-off run is left as it was, and its changes are journaled.
    let www_address = "dns/record/www.sigterm.example./A";
    let new_address = "dns/record/new.sigterm.example./A";
    let journaled = journal(&ws);
    for address in [www_address, new_address] {
        assert!(
            journaled.iter().any(|a| a == address),
            "{address} is not in the journal: {journaled:?}"
        );
    }
    assert!(
        in_flight(&ws, &commit),
        "the cut-off run was recorded as finished: {:#?}",
        ws.history()
    );
    proxy.release();

    daemon.restart();
    let adopted = |runs: &[Value], address: &str| {
        runs.iter()
            .filter(|run| run["commit_id"] == commit.as_str())
            .flat_map(|run| run["actions"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["address"] == address && a["action"] == "adopt" && a["result"] == "ok")
            .count()
    };
    wait_until(
        Duration::from_secs(30),
        "the cut-off changes found out",
        || {
            let runs = ws.history();
            runs.iter().all(|run| !run["outcome"].is_null())
                && adopted(&runs[..], www_address) > 0
                && adopted(&runs[..], new_address) > 0
        },
    );
    let runs = ws.history();
    assert!(
        runs.iter().all(|run| !run["outcome"].is_null()),
        "a run was left unfinished: {runs:#?}"
    );
    let cut = run_of(&ws, &commit).expect("the cut-off run is recorded");
    assert_eq!(cut["outcome"], "interrupted", "{cut:#}");

    // Nothing made twice, counted at the server: each record's new content
    // was written once (by the cut-off run).
    let writes = rrset_writes(&proxy.exchanges());
    for key in [
        "www.sigterm.example. A 192.0.2.2",
        "new.sigterm.example. A 192.0.2.9",
    ] {
        assert_eq!(writes.get(key).copied(), Some(1), "{key}: {writes:?}");
    }
    // And in the audit log: found made once, never recorded as made.
    for address in [www_address, new_address] {
        assert_eq!(adopted(&runs[..], address), 1, "{address}: {runs:#?}");
        let made = runs
            .iter()
            .filter(|run| run["commit_id"] == commit.as_str())
            .flat_map(|run| run["actions"].as_array().cloned().unwrap_or_default())
            .filter(|a| {
                a["address"] == address
                    && matches!(a["action"].as_str(), Some("create" | "update" | "replace"))
                    && a["result"] == "ok"
            })
            .count();
        assert_eq!(made, 0, "{address} was made again: {runs:#?}");
    }
    assert!(journal(&ws).is_empty(), "changes left in the journal");
    assert_eq!(www(), ["192.0.2.2"]);
    assert_eq!(new(), ["192.0.2.9"]);
    wait_until(Duration::from_secs(10), "every resource in sync", || {
        let status = daemon.tenant("default");
        let resources = status["resources"].as_array().cloned().unwrap_or_default();
        resources.len() == 3 && resources.iter().all(|r| r["status"] == "in-sync")
    });
}
