//! `cairn daemon` against real servers: pushes applied through webhooks and
//! polling, drift reported and healed, failures backed off on the
//! documented schedule and recovered, the safety threshold, rollback and
//! resume, metrics and shutdown.
//!
//! Nothing here sleeps and then asserts that nothing happened: a negative
//! check waits until the daemon has demonstrably looked again (an idle poll
//! counted, a refusal counted, a plan recorded) and then asserts that the
//! forbidden effect is absent.

use cairn_tests::alerts::AlertReceiver;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{
    Daemon, HOOK_SECRET, metric_sum_with, since, wait_until, wait_until_explained,
};
use cairn_tests::git::GitDaemon;
use cairn_tests::proxy::RecordingProxy;
use cairn_tests::{Workspace, cairn::Output};
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// A zone with `www` pointing at `address`.
fn zone(zone: &str, address: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"{zone}\"\n\n[[dns.record]]\nname = \"www.{zone}\"\ntype = \"A\"\nrecords = [\"{address}\"]\ndepends_on = [\"dns/zone/{zone}\"]\n"
    )
}

/// The histogram of polls that found nothing to do (no plugin call): one
/// sample per idle poll, so its count is the daemon's "I looked again".
const CHECKS: &str = "cairn_reconcile_check_duration_seconds_count";

/// Every plugin call the daemon made (a histogram: its count series).
const PLUGIN_CALLS: &str = "cairn_plugin_call_duration_seconds_count";

/// The sum of the samples of metric `name` whose labels include each of
/// `labels` (`[("tenant", "default"), ("outcome", "blocked")]`).
fn metric(daemon: &Daemon, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (status, text) = daemon.get("/metrics").expect("the metrics answer");
    assert_eq!(status, 200, "{text}");
    metric_sum_with(&text, name, labels)
}

/// `cairn_reconcile_runs_total` of tenant `default` with `outcome`.
fn runs_with_outcome(daemon: &Daemon, outcome: &str) -> f64 {
    metric(
        daemon,
        "cairn_reconcile_runs_total",
        &[("tenant", "default"), ("outcome", outcome)],
    )
}

// ---------------------------------------------------------------------
// The retry schedule (README, "Retries": "exponential backoff and jitter
// (1 s, doubling, capped at the poll interval — at least 4 s — and at most
// 5 min), reset on success"; runtime/src/daemon/backoff.rs: BACKOFF_BASE
// 1 s, each failure doubles it, JITTER ±20%, the cap applied before and
// after the jitter; runtime/src/daemon/worker/mod.rs: cap = min(5 min,
// max(interval, 4 s))). The tests below poll every second, so the cap is
// 4 s and the k-th wait after k failures in a row lies in
// [min(0.8·2^(k−1), 3.2), min(1.2·2^(k−1), 4)] seconds: 0.8–1.2, 1.6–2.4,
// 3.2–4, 3.2–4, …
// ---------------------------------------------------------------------

/// The cap of every test tenant here (`interval = "1s"`): 4 s.
const RETRY_CAP: f64 = 4.0;

/// The jitter of each wait, ±20%.
const RETRY_JITTER: f64 = 0.2;

/// How much sooner than its shortest wait an attempt may appear to come.
/// Timers never fire early; the times compared are the daemon's own wall
/// clock (µs in its log, ms in the audit log), so this covers rounding and
/// a slewing clock, nothing more.
const EARLY: f64 = 0.05;

/// Asserts that `gaps` (seconds between consecutive failed attempts, the
/// first gap being the wait after the first failure) follow the schedule.
/// Lower bounds are exact (a timer never fires early). Upper bounds are
/// only used where they tell the schedule apart from a wrong one, with at
/// least 2 s to spare for the attempt's own work and a loaded machine:
/// the first wait must be shorter than any capped wait could be (so the
/// schedule starts near 1 s and grows), and the fourth shorter than an
/// uncapped one could be (8 s − 20% = 6.4 s: the cap holds).
#[track_caller]
fn assert_backs_off(gaps: &[f64], what: &str) {
    assert!(gaps.len() >= 4, "{what}: too few attempts: {gaps:?}");
    for (index, gap) in gaps.iter().enumerate() {
        let nominal = 2f64.powi(index as i32).min(RETRY_CAP);
        let shortest = (nominal * (1.0 - RETRY_JITTER)).min(RETRY_CAP);
        assert!(
            *gap >= shortest - EARLY,
            "{what}: attempt {} came {gap:.3} s after the one before, sooner than the schedule's {shortest:.1} s; every gap: {gaps:.3?}",
            index + 2
        );
    }
    let capped_at_least = RETRY_CAP * (1.0 - RETRY_JITTER);
    assert!(
        gaps[0] < capped_at_least,
        "{what}: the first retry waited {:.3} s: the schedule starts at about 1 s and grows, it does not start at the cap; every gap: {gaps:.3?}",
        gaps[0]
    );
    assert!(
        gaps[2] > gaps[0],
        "{what}: the waits do not grow: {gaps:.3?}"
    );
    let uncapped_at_least = 8.0 * (1.0 - RETRY_JITTER);
    assert!(
        gaps[3] < uncapped_at_least,
        "{what}: the fourth retry waited {:.3} s, as if there were no {RETRY_CAP} s cap; every gap: {gaps:.3?}",
        gaps[3]
    );
}

/// Asserts that the first wait after a fresh failure is the schedule's
/// first again (0.8–1.2 s), not the cap where the earlier failures had
/// brought it: the success in between reset the backoff.
#[track_caller]
fn assert_backoff_was_reset(gap: f64, what: &str) {
    let first_at_least = 1.0 - RETRY_JITTER;
    let capped_at_least = RETRY_CAP * (1.0 - RETRY_JITTER);
    assert!(
        gap >= first_at_least - EARLY,
        "{what}: the first retry after a fresh failure came {gap:.3} s after it, sooner than the schedule's {first_at_least} s"
    );
    assert!(
        gap < capped_at_least,
        "{what}: the first retry after a fresh failure waited {gap:.3} s, as long as a capped wait: the success before did not reset the backoff"
    );
}

/// The seconds between consecutive times (µs or ms, per `unit`).
fn gaps(times: &[i64], unit: f64) -> Vec<f64> {
    times
        .windows(2)
        .map(|pair| (pair[1] - pair[0]) as f64 / unit)
        .collect()
}

/// The time of a daemon log line, in microseconds since the Unix epoch:
/// tracing's text format starts each line with `2026-11-26T14:41:33.193456Z`.
fn logged_at(line: &str) -> Option<i64> {
    let stamp = line.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let mut time = time.splitn(3, ':');
    let hour: i64 = time.next()?.parse().ok()?;
    let minute: i64 = time.next()?.parse().ok()?;
    let second: f64 = time.next()?.parse().ok()?;
    // Days since 1970-01-01 of a Gregorian date (Howard Hinnant's
    // days_from_civil), so that a test running over midnight still counts.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some((days * 86_400 + hour * 3_600 + minute * 60) * 1_000_000 + (second * 1e6).round() as i64)
}

/// When a tenant's runs reached the server at `url`, from the daemon's log
/// at debug level (the host logs every plugin HTTP request with its URL):
/// requests less than half a second apart are one run's (the shortest
/// retry wait is 0.8 s). Microseconds since the Unix epoch.
fn attempts_at(log: &str, url: &str) -> Vec<i64> {
    let needle = format!("url={url}/");
    let mut attempts = Vec::new();
    let mut last: Option<i64> = None;
    for line in log
        .lines()
        .filter(|line| line.contains("plugin HTTP request") && line.contains(&needle))
    {
        let Some(time) = logged_at(line) else {
            continue;
        };
        if last.is_none_or(|previous| time - previous >= 500_000) {
            attempts.push(time);
        }
        last = Some(time);
    }
    attempts
}

/// When each attempt at `address` failed, from the audit log (ms since the
/// Unix epoch), oldest first; only runs of `commit` when given.
fn failed_attempts(ws: &Workspace, address: &str, commit: Option<&str>) -> Vec<i64> {
    let mut times: Vec<i64> = ws
        .history()
        .iter()
        .filter(|run| commit.is_none_or(|commit| run["commit_id"] == commit))
        .flat_map(|run| run["actions"].as_array().cloned().unwrap_or_default())
        .filter(|action| action["address"] == address && action["result"] == "failed")
        .map(|action| action["time"].as_i64().expect("an action has a time"))
        .collect();
    times.sort_unstable();
    times
}

/// A signed push is applied at once, as a webhook run; a push with a bad or
/// missing signature is refused with 401, counted, and wakes nothing: the
/// commit it names waits for the next poll (README, "Webhook": "A bad or
/// missing signature gets 401 and changes nothing").
#[test]
fn a_signed_push_is_applied_at_once_and_bad_signatures_change_nothing() {
    let ws = Workspace::new();
    let git = GitDaemon::start(ws.path());
    ws.repo
        .write("dns.toml", &zone("example.org.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    ws.configure(&ConfigOptions {
        repo: Some(git.url("zones")),
        // Polls every 5 s: the commit the refused pushes name is applied by
        // the next poll, and the run that applied it says which trigger it
        // was. The signed push below lands seconds before the poll after
        // that one could take its commit.
        tenant_settings: "interval = \"5s\"\ndrift_interval = \"1h\"\nwebhook_secret = { env = \"CAIRN_TEST_HOOK\" }".into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "the first commit applied", || {
        ws.pdns.dig("www.example.org", "A") == ["192.0.2.1"]
    });
    wait_until(Duration::from_secs(10), "the first run recorded", || {
        daemon.last_run_id("default").is_some()
    });
    let first_run = daemon.last_run_id("default");

    ws.repo
        .write("dns.toml", &zone("example.org.", "192.0.2.2"));
    let second = ws.repo.commit("second", AUTHOR);
    let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{second}\"}}");
    assert_eq!(daemon.push("default", "wrong secret", &body), 401);
    let (status, _) = daemon.post("/hooks/default", &[], &body).unwrap();
    assert_eq!(status, 401, "a push without a signature is refused");
    // A name that is no tenant's answers as a bad signature does.
    assert_eq!(daemon.push("nobody", HOOK_SECRET, &body), 401);
    // The daemon checked both and counted both refusals (before answering).
    assert_eq!(
        metric(
            &daemon,
            "cairn_errors_total",
            &[("tenant", "default"), ("kind", "webhook-signature")]
        ),
        2.0,
        "the refusals are not counted"
    );
    assert_eq!(
        ws.pdns.dig("www.example.org", "A"),
        ["192.0.2.1"],
        "a refused push changed something"
    );
    // The next poll applies the commit. Had a refused push woken the worker,
    // a webhook run would have applied it at once and the poll would have
    // found nothing to do (an idle poll leaves the last run as it is): the
    // run that applied it would say "webhook".
    wait_until(
        Duration::from_secs(15),
        "the next poll applied the commit",
        || ws.pdns.dig("www.example.org", "A") == ["192.0.2.2"],
    );
    wait_until(Duration::from_secs(10), "its run recorded", || {
        let run = daemon.last_run_id("default");
        run.is_some() && run != first_run
    });
    let status = daemon.tenant("default");
    assert_eq!(status["commit"]["id"], second, "{status:#}");
    assert_eq!(status["last_run"]["outcome"], "applied", "{status:#}");
    assert_eq!(
        status["last_run"]["trigger"], "poll",
        "the commit a refused push named was applied by a webhook run: {status:#}"
    );

    ws.repo
        .write("dns.toml", &zone("example.org.", "192.0.2.3"));
    let third = ws.repo.commit("third", AUTHOR);
    let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{third}\"}}");
    let second_run = daemon.last_run_id("default");
    assert_eq!(daemon.push("default", HOOK_SECRET, &body), 202);
    let latency = wait_until(Duration::from_secs(10), "the pushed commit applied", || {
        ws.pdns.dig("www.example.org", "A") == ["192.0.2.3"]
    });
    eprintln!(
        "push-to-applied latency through the webhook: {} ms",
        latency.as_millis()
    );
    assert!(
        latency < Duration::from_secs(3),
        "the push took {latency:?}"
    );
    wait_until(Duration::from_secs(10), "the pushed run recorded", || {
        daemon.last_run_id("default") != second_run
    });
    let status = daemon.tenant("default");
    assert_eq!(status["commit"]["id"], third);
    assert_eq!(status["last_run"]["trigger"], "webhook", "{status:#}");

    // One run for each commit: the refused pushes added none.
    let runs = ws.history();
    for commit in [&second, &third] {
        let count = runs
            .iter()
            .filter(|r| r["commit_id"] == commit.as_str())
            .count();
        assert_eq!(count, 1, "runs of {commit}: {runs:#?}");
    }
}

/// The headers a forge of `style` sends with a push of `body`, proven
/// with `secret`, in the forge's real form.
fn forge_headers(style: &str, secret: &str, body: &str) -> Vec<(&'static str, String)> {
    let hmac = cairn_tests::hmac_sha256_hex(secret.as_bytes(), body.as_bytes());
    match style {
        "github" => vec![
            ("X-Hub-Signature-256", format!("sha256={hmac}")),
            ("X-GitHub-Event", "push".into()),
        ],
        "gitlab" => vec![
            ("X-Gitlab-Token", secret.into()),
            ("X-Gitlab-Event", "Push Hook".into()),
        ],
        "gitea" => vec![
            ("X-Gitea-Signature", hmac),
            ("X-Gitea-Event", "push".into()),
        ],
        "forgejo" => vec![
            ("X-Forgejo-Signature", hmac.clone()),
            ("X-Gitea-Signature", hmac),
            ("X-Forgejo-Event", "push".into()),
        ],
        "bitbucket" => vec![
            ("X-Hub-Signature", format!("sha256={hmac}")),
            ("X-Event-Key", "repo:refs_changed".into()),
        ],
        "generic" => vec![("X-Signature", format!("sha256={hmac}"))],
        other => panic!("no style {other}"),
    }
}

/// Each forge's webhook style (README, "Webhooks"), in the forge's real
/// header form, wakes its tenant at once — the daemon polls once an hour —
/// and the same headers made with another secret are refused with 401,
/// counted, and apply nothing.
#[test]
fn every_forges_webhook_wakes_its_tenant_and_a_forged_one_is_refused() {
    let ws = Workspace::new();
    ws.repo
        .write("dns.toml", &zone("example.org.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    let mut daemon: Option<Daemon> = None;
    let styles = [
        "github",
        "gitlab",
        "gitea",
        "forgejo",
        "bitbucket",
        "generic",
    ];
    for (n, style) in styles.into_iter().enumerate() {
        ws.configure(&ConfigOptions {
            tenant_settings: format!(
                "interval = \"1h\"\ndrift_interval = \"1h\"\nwebhook_secret = {{ env = \"CAIRN_TEST_HOOK\" }}\nwebhook_style = \"{style}\""
            ),
            ..ConfigOptions::default()
        });
        let daemon = match daemon.as_mut() {
            Some(running) => {
                running.stop();
                running.restart();
                running
            }
            None => daemon.insert(Daemon::start(&ws.config_path())),
        };
        let applied = format!("192.0.2.{}", n + 1);
        // The start's run done (a run, or a check that found the commit
        // applied): the next commit can come only through the webhook.
        wait_until(Duration::from_secs(20), "the start's run", || {
            daemon.metric_sum("cairn_reconcile_runs_total") + daemon.metric_sum(CHECKS) >= 1.0
        });
        assert_eq!(ws.pdns.dig("www.example.org", "A"), [applied.as_str()]);

        let next = format!("192.0.2.{}", n + 2);
        ws.repo.write("dns.toml", &zone("example.org.", &next));
        let commit = ws.repo.commit(&format!("pushed to {style}"), AUTHOR);
        let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{commit}\"}}");
        let post = |secret: &str| {
            let headers = forge_headers(style, secret, &body);
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            daemon
                .post("/hooks/default", &headers, &body)
                .expect("the webhook answers")
                .0
        };
        let refused_before = metric(
            daemon,
            "cairn_errors_total",
            &[("tenant", "default"), ("kind", "webhook-signature")],
        );
        assert_eq!(post("a forged secret"), 401, "{style}: a forged push");
        // Counted before the answer, and not applied.
        assert_eq!(
            metric(
                daemon,
                "cairn_errors_total",
                &[("tenant", "default"), ("kind", "webhook-signature")],
            ),
            refused_before + 1.0,
            "{style}: the forged push is not counted"
        );
        assert_eq!(ws.pdns.dig("www.example.org", "A"), [applied.as_str()]);

        assert_eq!(post(HOOK_SECRET), 202, "{style}: the real push");
        wait_until(Duration::from_secs(15), "the pushed commit applied", || {
            ws.pdns.dig("www.example.org", "A") == [next.as_str()]
        });
        let status = daemon.wait_for_run_of("default", &commit, Duration::from_secs(10));
        assert_eq!(
            status["last_run"]["trigger"], "webhook",
            "{style}: {status:#}"
        );
    }
}

/// Polling applies a new commit without a webhook, and a poll that finds
/// the commit already reconciled ends there: no plugin is called and
/// nothing is recorded (README, "Polling": "the run ends there — no plugin
/// is called").
#[test]
fn polling_applies_a_commit_without_a_webhook() {
    let ws = Workspace::new();
    ws.repo
        .write("dns.toml", &zone("example.net.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "the first commit applied", || {
        ws.pdns.dig("www.example.net", "A") == ["192.0.2.1"]
    });
    ws.repo
        .write("dns.toml", &zone("example.net.", "192.0.2.7"));
    ws.repo.commit("second", AUTHOR);
    wait_until(Duration::from_secs(10), "the polled commit applied", || {
        ws.pdns.dig("www.example.net", "A") == ["192.0.2.7"]
    });

    // An idle poll after the apply means the applying run is over (a
    // tenant's runs follow one another).
    let checks = || daemon.metric_sum(CHECKS);
    let applied = checks();
    wait_until(
        Duration::from_secs(15),
        "an idle poll after the apply",
        || checks() > applied,
    );
    let calls = daemon.metric_sum(PLUGIN_CALLS);
    assert!(calls > 0.0, "the applies' plugin calls are not counted");
    // Two more polls that find nothing to do call no plugin.
    let idle = checks();
    wait_until(Duration::from_secs(15), "two more idle polls", || {
        checks() >= idle + 2.0
    });
    assert_eq!(
        daemon.metric_sum(PLUGIN_CALLS),
        calls,
        "an idle poll called a plugin"
    );
    // And record nothing.
    let runs = ws.history();
    let kinds: Vec<&str> = runs.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reconcile", "reconcile"], "{runs:#?}");
    drop(daemon);
}

/// Drift is alerted once and repaired with `self_heal = true`; without it,
/// drift is reported at every drift check and never repaired (README,
/// "Drift": "repaired only when the tenant has `self_heal = true`").
#[test]
fn drift_is_alerted_and_healed_only_when_allowed() {
    let ws = Workspace::new();
    let receiver = AlertReceiver::start();
    ws.repo
        .write("dns.toml", &zone("example.com.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    let settings = |self_heal: bool| ConfigOptions {
        tenant_settings: format!(
            "interval = \"1s\"\ndrift_interval = \"1s\"\nself_heal = {self_heal}"
        ),
        top_settings: receiver.table(),
        ..ConfigOptions::default()
    };
    ws.configure(&settings(true));
    let mut daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "the commit applied", || {
        ws.pdns.dig("www.example.com", "A") == ["192.0.2.1"]
    });
    daemon.wait_applied_run("default", None);

    // Someone edits the record by hand: reported, then repaired.
    ws.pdns.put_rrset(
        "example.com.",
        "www.example.com.",
        "A",
        60,
        &["203.0.113.5"],
    );
    let address = "dns/record/www.example.com./A";
    // A drift alert that never comes says what the daemon did instead.
    wait_until_explained(
        Duration::from_secs(15),
        "the drift alert",
        || !receiver.of("drift", Some(address)).is_empty(),
        || {
            format!(
                "the history: {:#?}\nthe daemon's log:\n{}",
                ws.history(),
                daemon.log()
            )
        },
    );
    wait_until(Duration::from_secs(15), "the repair", || {
        ws.pdns.dig("www.example.com", "A") == ["192.0.2.1"]
    });
    wait_until(Duration::from_secs(15), "the recovery alert", || {
        !receiver.of("recovered", Some(address)).is_empty()
    });
    let drift = &receiver.of("drift", Some(address))[0];
    assert_eq!(drift["tenant"], "default");
    assert!(
        drift["message"]
            .as_str()
            .unwrap()
            .contains("changed outside Cairn"),
        "{drift}"
    );
    assert!(
        drift["commit"].is_string() && drift["time"].is_string(),
        "{drift}"
    );
    assert_eq!(
        receiver.of("drift", Some(address)).len(),
        1,
        "drift alerts once"
    );

    // Deleted by hand: vanished, recreated.
    ws.pdns
        .request(
            "PATCH",
            "/api/v1/servers/localhost/zones/example.com.",
            Some(&serde_json::json!({"rrsets": [{"name": "www.example.com.", "type": "A", "changetype": "DELETE"}]})),
        )
        .unwrap();
    wait_until(
        Duration::from_secs(15),
        "the vanished record recreated",
        || ws.pdns.dig("www.example.com", "A") == ["192.0.2.1"],
    );

    // Without self-heal, drift is reported and left alone.
    daemon.stop();
    ws.configure(&settings(false));
    daemon.restart();
    ws.pdns.put_rrset(
        "example.com.",
        "www.example.com.",
        "A",
        60,
        &["203.0.113.6"],
    );
    wait_until(Duration::from_secs(15), "the drift reported", || {
        daemon.tenant("default")["drifted"] == serde_json::json!([address])
    });
    // Two more drift checks see it (each counts a run with outcome
    // `drifted`) and change nothing.
    let changes = daemon.metric_sum("cairn_changes_applied_total");
    wait_until(Duration::from_secs(15), "the drift check counted", || {
        runs_with_outcome(&daemon, "drifted") >= 1.0
    });
    let checked = runs_with_outcome(&daemon, "drifted");
    wait_until(Duration::from_secs(15), "two more drift checks", || {
        runs_with_outcome(&daemon, "drifted") >= checked + 2.0
    });
    assert_eq!(
        ws.pdns.dig("www.example.com", "A"),
        ["203.0.113.6"],
        "drift was repaired with self_heal off"
    );
    assert_eq!(
        daemon.metric_sum("cairn_changes_applied_total"),
        changes,
        "a change was made with self_heal off"
    );
    let status = daemon.tenant("default");
    let resource = status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == address)
        .unwrap()
        .clone();
    assert_eq!(resource["status"], "drifted");
    let history = ws.cairn(&["history", "--json"]).json();
    let detections: Vec<&serde_json::Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "drift")
        .flat_map(|r| r["actions"].as_array().unwrap())
        .collect();
    assert!(
        detections
            .iter()
            .all(|a| a["action"] == "drift" && a["result"] == "detected")
    );
    assert!(
        detections.len() >= 3,
        "every drift is in the audit log: {detections:#?}"
    );
}

/// A tenant whose plugin fails as a whole (its server is down) backs off
/// on the documented schedule — about 1 s, doubling, capped at 4 s here —
/// while another tenant goes on; it recovers when the server is back, and
/// the success resets the backoff (README, "Retries": "A tenant whose
/// repository or plugin fails as a whole backs off the same way").
#[test]
fn a_failing_tenant_backs_off_while_others_go_on_and_recovers() {
    let mut a = Workspace::new();
    let b = Workspace::new();
    let receiver = AlertReceiver::start();
    a.repo.write("dns.toml", &zone("a.example.", "192.0.2.1"));
    a.repo.commit("a", AUTHOR);
    b.repo.write("dns.toml", &zone("b.example.", "192.0.2.1"));
    b.repo.commit("b", AUTHOR);
    let options = ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        ..ConfigOptions::default()
    };
    let config = format!(
        "{}\n{}{}{}",
        config_header(),
        receiver.table(),
        a.tenant_block("a", &options),
        b.tenant_block("b", &options)
    );
    std::fs::write(a.config_path(), config).unwrap();
    // At debug, the host logs each plugin HTTP request with its URL and the
    // daemon's own timestamp: each failed attempt of tenant a is a request
    // to a's server.
    let daemon = Daemon::start_logging(&a.config_path(), "info,cairn=debug");
    wait_until(Duration::from_secs(20), "both tenants applied", || {
        a.pdns.dig("www.a.example", "A") == ["192.0.2.1"]
            && b.pdns.dig("www.b.example", "A") == ["192.0.2.1"]
    });
    wait_until(Duration::from_secs(10), "tenant a's first run over", || {
        daemon.tenant("a")["last_run"]["outcome"] == "applied"
    });
    let a_url = a.pdns.url();
    let outage = daemon.log().len();

    a.pdns.stop();
    a.repo.write("dns.toml", &zone("a.example.", "192.0.2.2"));
    a.repo.commit("a2", AUTHOR);
    wait_until(
        Duration::from_secs(15),
        "tenant a's failure alerted",
        || {
            receiver
                .alerts()
                .iter()
                .any(|e| e["tenant"] == "a" && e["event"] == "plugin-failed")
        },
    );
    // Tenant b is not held up.
    b.repo.write("dns.toml", &zone("b.example.", "192.0.2.2"));
    b.repo.commit("b2", AUTHOR);
    wait_until(Duration::from_secs(10), "tenant b applied", || {
        b.pdns.dig("www.b.example", "A") == ["192.0.2.2"]
    });
    let status = daemon.tenant("a");
    assert_eq!(status["last_run"]["outcome"], "error");
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{status:#}"
    );

    // Five failed attempts (1 + 2 + 4 + 4 s of waiting, about 11 s) are
    // spaced as documented.
    wait_until(
        Duration::from_secs(45),
        "five failed attempts of tenant a",
        || attempts_at(since(&daemon.log(), outage), &a_url).len() >= 5,
    );
    let attempts = attempts_at(since(&daemon.log(), outage), &a_url);
    assert_backs_off(&gaps(&attempts[..5], 1e6), "tenant a");

    a.pdns.restart();
    wait_until(Duration::from_secs(20), "tenant a recovered", || {
        a.pdns.dig("www.a.example", "A") == ["192.0.2.2"]
    });
    wait_until(Duration::from_secs(10), "the recovery alert", || {
        receiver
            .alerts()
            .iter()
            .any(|e| e["tenant"] == "a" && e["event"] == "recovered")
    });
    let failures = receiver
        .alerts()
        .iter()
        .filter(|e| e["tenant"] == "a" && e["event"] == "plugin-failed")
        .count();
    assert_eq!(failures, 1, "a lasting failure alerts once");

    // The success reset the backoff: a new outage starts again at about
    // 1 s, not at the 4 s cap where the last one had reached.
    wait_until(Duration::from_secs(10), "tenant a's recovery over", || {
        let status = daemon.tenant("a");
        status["last_run"]["outcome"] == "applied" && status["last_error"].is_null()
    });
    let second_outage = daemon.log().len();
    a.pdns.stop();
    a.repo.write("dns.toml", &zone("a.example.", "192.0.2.3"));
    a.repo.commit("a3", AUTHOR);
    wait_until(
        Duration::from_secs(20),
        "two failed attempts in the new outage",
        || attempts_at(since(&daemon.log(), second_outage), &a_url).len() >= 2,
    );
    let attempts = attempts_at(since(&daemon.log(), second_outage), &a_url);
    assert_backoff_was_reset(gaps(&attempts[..2], 1e6)[0], "tenant a");
    a.pdns.restart();
    wait_until(Duration::from_secs(20), "tenant a recovered again", || {
        a.pdns.dig("www.a.example", "A") == ["192.0.2.3"]
    });
}

/// Each tenant loads on its own (README, "Loading and readiness"): beside
/// a good tenant, one whose plugin file is refused (its sha256 pin names
/// another file) and one whose plugin loops in `describe` (a component in
/// text form, `tests/plugins/describe_loop.wat`). The good tenant applies
/// while the looping one is still loading; the daemon is ready once every
/// tenant has made its first attempt, loaded or not; the two broken ones
/// are reported in their status, alerted and counted, and named by
/// `/readyz` only to a token that may see them; they are tried again with
/// backoff, so the refused one runs once its file is replaced by the
/// pinned one — while the good one goes on applying.
#[test]
fn a_tenant_whose_plugin_fails_to_load_is_reported_while_the_others_run() {
    const OPERATOR: &str = "operator-token-5e0a";
    let ws = Workspace::new();
    let receiver = AlertReceiver::start();
    for (tenant, address) in [
        ("good", "192.0.2.1"),
        ("refused", "192.0.2.2"),
        ("spinning", "192.0.2.3"),
    ] {
        ws.repo.write(
            &format!("{tenant}/dns.toml"),
            &zone(&format!("{tenant}.example."), address),
        );
        std::fs::write(
            ws.path().join(format!("{tenant}.token")),
            format!("{tenant}-token-0c41\n"),
        )
        .unwrap();
    }
    std::fs::write(ws.path().join("operator.token"), OPERATOR).unwrap();
    ws.repo.commit("three tenants", AUTHOR);
    let dns = cairn_tests::plugin_path("dns_powerdns");
    let dns_sha256 = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&dns).unwrap()))
    };
    // Another valid plugin where the pinned one should be.
    let refused_file = ws.path().join("refused.wasm");
    std::fs::copy(cairn_tests::plugin_path("hostile_provider"), &refused_file).unwrap();
    let spinning_file = cairn_tests::repo_root().join("tests/plugins/describe_loop.wat");
    let block = |tenant: &str, plugin: &std::path::Path, sha256: Option<&str>| {
        ws.tenant_block(
            tenant,
            &ConfigOptions {
                path: tenant.into(),
                sha256: sha256.map(str::to_string),
                tenant_settings: format!(
                    "interval = \"1s\"\napi_token = {{ file = \"{tenant}.token\" }}"
                ),
                ..ConfigOptions::default()
            },
        )
        .replace(
            &format!("{:?}", dns.display().to_string()),
            &format!("{:?}", plugin.display().to_string()),
        )
    };
    let config = format!(
        "{}\n[daemon]\napi_token = {{ file = \"operator.token\" }}\n\n{}{}{}{}",
        config_header(),
        receiver.table(),
        block("good", &dns, None),
        block("refused", &refused_file, Some(&dns_sha256)),
        block("spinning", &spinning_file, None),
    );
    std::fs::write(ws.config_path(), config).unwrap();

    let started = std::time::Instant::now();
    let daemon = Daemon::spawned(&ws.config_path(), "info");
    let token_of = |tenant: &str| format!("{tenant}-token-0c41");
    let get = |path: &str, token: Option<&str>| {
        let bearer = token.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|value| vec![("Authorization", value)])
            .unwrap_or_default();
        daemon.get_with(path, &headers).expect("the daemon answers")
    };
    let status = |tenant: &str| -> serde_json::Value {
        let (code, body) = get(&format!("/api/v1/tenants/{tenant}"), Some(OPERATOR));
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };

    // The good tenant does not wait for the one looping in `describe`
    // (whose deadline is 10 s).
    wait_until(Duration::from_secs(30), "the good tenant applied", || {
        ws.pdns.dig("www.good.example", "A") == ["192.0.2.1"]
    });
    let applied = started.elapsed();
    let (code, anonymous) = get("/readyz", None);
    let (_, operator) = get("/readyz", Some(OPERATOR));
    let spinning = status("spinning");
    eprintln!("the good tenant applied {applied:?} after the daemon started");
    assert!(
        applied < Duration::from_secs(8),
        "the good tenant waited {applied:?}:\n{}",
        daemon.log()
    );
    assert_eq!(spinning["loaded"], false, "{spinning:#}");
    assert!(
        spinning["load_error"].is_null(),
        "still loading: {spinning:#}"
    );
    assert_eq!(code, 503, "{anonymous}");
    assert_eq!(anonymous, "not ready: tenants are loading their plugins\n");
    assert!(operator.contains("spinning: loading\n"), "{operator}");

    // Ready once every tenant has made its first attempt.
    wait_until(Duration::from_secs(30), "ready", || {
        get("/readyz", None).0 == 200
    });
    eprintln!("ready {:?} after the daemon started", started.elapsed());
    assert_eq!(get("/readyz", None), (200, "ready\n".to_string()));
    assert_eq!(
        get("/readyz", Some("a guess")),
        (200, "ready\n".to_string()),
        "a wrong token is anyone"
    );
    let (_, operator) = get("/readyz", Some(OPERATOR));
    let refusal = "but cairn.toml pins";
    let deadline = "did not finish `describe` within 10s";
    for expected in [
        "tenants not loaded:\n",
        "refused: provider `dns` of tenant `refused`: plugin ",
        refusal,
        "spinning: ",
        deadline,
    ] {
        assert!(operator.contains(expected), "{expected:?} in {operator}");
    }
    assert!(!operator.contains("good:"), "{operator}");
    assert_eq!(
        get("/readyz", Some(&token_of("good"))),
        (200, "ready\n".to_string()),
        "the good tenant's token sees only its own tenant"
    );
    let (_, own) = get("/readyz", Some(&token_of("refused")));
    assert!(own.contains("refused: ") && own.contains(refusal), "{own}");
    assert!(!own.contains("spinning"), "{own}");

    // Reported: status, alert, metrics.
    let refused = status("refused");
    assert_eq!(refused["loaded"], false);
    assert!(
        refused["load_error"].as_str().unwrap().contains(refusal),
        "{refused:#}"
    );
    assert!(
        status("spinning")["load_error"]
            .as_str()
            .unwrap()
            .contains(deadline),
        "{:#}",
        status("spinning")
    );
    wait_until(Duration::from_secs(10), "both alerted", || {
        let failed = receiver.of("plugin-failed", None);
        ["refused", "spinning"]
            .iter()
            .all(|tenant| failed.iter().any(|alert| alert["tenant"] == *tenant))
    });
    let metrics = || {
        let (code, text) = get("/metrics", Some(OPERATOR));
        assert_eq!(code, 200, "{text}");
        text
    };
    let text = metrics();
    assert_eq!(metric_sum_with(&text, "cairn_ready", &[]), 1.0);
    for (tenant, loaded) in [("good", 1.0), ("refused", 0.0), ("spinning", 0.0)] {
        assert_eq!(
            metric_sum_with(&text, "cairn_tenant_loaded", &[("tenant", tenant)]),
            loaded,
            "{tenant}"
        );
    }
    // Tried again with backoff.
    wait_until(
        Duration::from_secs(20),
        "the refused plugin tried again",
        || {
            metric_sum_with(
                &metrics(),
                "cairn_errors_total",
                &[("tenant", "refused"), ("kind", "load")],
            ) >= 2.0
        },
    );

    // The pinned file put in place is picked up; the good tenant goes on.
    let replacement = ws.path().join("refused.wasm.new");
    std::fs::copy(&dns, &replacement).unwrap();
    std::fs::rename(&replacement, &refused_file).unwrap();
    ws.repo
        .write("good/dns.toml", &zone("good.example.", "192.0.2.11"));
    ws.repo.commit("good moves", AUTHOR);
    wait_until(
        Duration::from_secs(20),
        "the good tenant applied again",
        || ws.pdns.dig("www.good.example", "A") == ["192.0.2.11"],
    );
    wait_until(Duration::from_secs(60), "the mended tenant applied", || {
        ws.pdns.dig("www.refused.example", "A") == ["192.0.2.2"]
    });
    let refused = status("refused");
    assert_eq!(refused["loaded"], true, "{refused:#}");
    assert!(refused["load_error"].is_null(), "{refused:#}");
    wait_until(Duration::from_secs(10), "the recovery alerted", || {
        receiver
            .of("recovered", None)
            .iter()
            .any(|alert| alert["tenant"] == "refused" && alert["cleared"] == "plugin-failed")
    });
    assert_eq!(
        metric_sum_with(&metrics(), "cairn_tenant_loaded", &[("tenant", "refused")]),
        1.0
    );
    let (_, operator) = get("/readyz", Some(OPERATOR));
    assert!(!operator.contains("refused:"), "{operator}");
    assert!(operator.contains("spinning: "), "{operator}");
    assert!(
        ws.pdns.dig("www.spinning.example", "A").is_empty(),
        "nothing of the looping tenant is applied"
    );
}

/// A plan that deletes more than `max_delete_percent` is not applied, is
/// alerted, and is refused again at every poll until `cairn apply
/// --force` (README, "Safety").
#[test]
fn a_mass_delete_is_blocked_until_forced() {
    let ws = Workspace::new();
    let receiver = AlertReceiver::start();
    let mut text = String::from("[[dns.zone]]\nname = \"example.edu.\"\n\n");
    for index in 0..12 {
        text.push_str(&format!("[[dns.record]]\nname = \"r{index}.example.edu.\"\ntype = \"A\"\nrecords = [\"192.0.2.{index}\"]\n\n"));
    }
    ws.repo.write("dns.toml", &text);
    ws.repo.commit("twelve", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        top_settings: receiver.table(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "applied", || {
        ws.pdns.dig("r11.example.edu", "A") == ["192.0.2.11"]
    });

    ws.repo
        .write("dns.toml", "[[dns.zone]]\nname = \"example.edu.\"\n");
    ws.repo.commit("delete everything", AUTHOR);
    wait_until(Duration::from_secs(15), "the blocked alert", || {
        !receiver.of("blocked", None).is_empty()
    });
    let alert = &receiver.of("blocked", None)[0];
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("more than max_delete_percent = 30"),
        "{alert}"
    );
    assert!(
        !daemon.tenant("default")["blocked"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The following polls plan again and are refused again (each counts a
    // run with outcome `blocked`); none deletes anything.
    let refusals = runs_with_outcome(&daemon, "blocked");
    wait_until(Duration::from_secs(15), "two more refusals", || {
        runs_with_outcome(&daemon, "blocked") >= refusals + 2.0
    });
    assert_eq!(
        ws.pdns.dig("r0.example.edu", "A"),
        ["192.0.2.0"],
        "a blocked plan was applied"
    );
    assert_eq!(
        metric(
            &daemon,
            "cairn_changes_applied_total",
            &[("tenant", "default"), ("action", "delete")]
        ),
        0.0,
        "a blocked plan deleted something"
    );
    assert_eq!(
        receiver.of("blocked", None).len(),
        1,
        "a block is alerted once per plan, not at every poll"
    );

    let output: Output = ws.cairn(&["apply", "--yes", "--force"]);
    output.expect_code(0);
    assert!(ws.pdns.dig("r0.example.edu", "A").is_empty());
    wait_until(Duration::from_secs(15), "the block cleared", || {
        daemon.tenant("default")["blocked"]
            .as_array()
            .unwrap()
            .is_empty()
    });
}

/// `cairn rollback` holds the tenant at the previous good commit: polls
/// leave it there until `cairn resume` or a new commit; `cairn suspend`
/// stops automatic applies (a suspended tenant's new commit is planned, not
/// applied) until `cairn resume` (README, "Rollback and suspension").
#[test]
fn rollback_holds_the_tenant_until_resume_or_a_new_commit() {
    let ws = Workspace::new();
    ws.repo
        .write("dns.toml", &zone("example.dev.", "192.0.2.1"));
    let good = ws.repo.commit("good", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    let www = || ws.pdns.dig("www.example.dev", "A");
    wait_until(Duration::from_secs(20), "good applied", || {
        www() == ["192.0.2.1"]
    });
    ws.repo
        .write("dns.toml", &zone("example.dev.", "192.0.2.66"));
    ws.repo.commit("bad", AUTHOR);
    wait_until(Duration::from_secs(10), "bad applied", || {
        www() == ["192.0.2.66"]
    });

    ws.cairn(&["rollback"])
        .expect_code(0)
        .expect_contains(&format!("held at commit {}", &good[..12]));
    assert_eq!(www(), ["192.0.2.1"]);
    // The daemon's next poll sees the hold (one run, which finds the world
    // at the held commit); the polls after it find nothing to do. Two idle
    // polls after the rollback mean it has looked and let the hold be.
    let checks = || daemon.metric_sum(CHECKS);
    let rolled_back = checks();
    wait_until(
        Duration::from_secs(15),
        "two idle polls after the rollback",
        || checks() >= rolled_back + 2.0,
    );
    assert_eq!(www(), ["192.0.2.1"], "the daemon undid the rollback");
    assert_eq!(daemon.tenant("default")["control"]["held_commit"], good);
    ws.cairn(&["status"])
        .expect_code(0)
        .expect_contains("held at commit");

    ws.cairn(&["resume"]).expect_code(0);
    wait_until(Duration::from_secs(10), "the ref followed again", || {
        www() == ["192.0.2.66"]
    });

    ws.cairn(&["rollback", "--to", &good]).expect_code(0);
    assert_eq!(www(), ["192.0.2.1"]);
    ws.repo
        .write("dns.toml", &zone("example.dev.", "192.0.2.3"));
    ws.repo.commit("fixed", AUTHOR);
    wait_until(
        Duration::from_secs(10),
        "a new commit ends the hold",
        || www() == ["192.0.2.3"],
    );

    ws.cairn(&["suspend"]).expect_code(0);
    ws.repo
        .write("dns.toml", &zone("example.dev.", "192.0.2.4"));
    let suspended = ws.repo.commit("while suspended", AUTHOR);
    // A suspended tenant still plans a new commit and records the plan: once
    // that plan is in the history, the daemon has seen the commit.
    wait_until(
        Duration::from_secs(15),
        "the suspended tenant's plan of the new commit",
        || {
            ws.history()
                .iter()
                .any(|run| run["kind"] == "plan" && run["commit_id"] == suspended)
        },
    );
    assert_eq!(www(), ["192.0.2.3"], "a suspended tenant was applied");
    ws.cairn(&["resume"]).expect_code(0);
    wait_until(Duration::from_secs(10), "resumed", || {
        www() == ["192.0.2.4"]
    });

    let kinds: Vec<String> = ws
        .history()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    for kind in ["rollback", "resume", "suspend", "release-hold"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} in the history: {kinds:?}"
        );
    }
}

/// `/metrics` is Prometheus text that the Prometheus project's own parser
/// reads, with the documented families and counts, and SIGTERM stops an
/// idle daemon with exit code 0 (README, "Metrics" and "Shutdown").
#[test]
fn metrics_parse_as_prometheus_text_and_sigterm_stops_cleanly() {
    let ws = Workspace::new();
    ws.repo
        .write("dns.toml", &zone("example.biz.", "192.0.2.1"));
    ws.repo.commit("first", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"".into(),
        ..ConfigOptions::default()
    });
    let mut daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "applied", || {
        ws.pdns.dig("www.example.biz", "A") == ["192.0.2.1"]
    });
    // The record is served before the run that made it ends and counts
    // itself.
    wait_until(Duration::from_secs(20), "the run counted", || {
        daemon.metric_sum("cairn_reconcile_runs_total") >= 1.0
    });
    assert_eq!(daemon.get("/healthz").unwrap(), (200, "ok\n".into()));
    let (status, text) = daemon.get("/metrics").unwrap();
    assert_eq!(status, 200);
    // The reference parser of the Prometheus project's Python client.
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
names = {family.name for family in text_string_to_metric_families(sys.stdin.read())}
print(" ".join(sorted(names)))
"#;
    let mut python = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    use std::io::Write;
    python
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = python.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the metrics do not parse: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names = String::from_utf8(output.stdout).unwrap();
    for name in [
        "cairn_reconcile_runs",
        "cairn_reconcile_duration_seconds",
        "cairn_changes_applied",
        "cairn_plugin_call_duration_seconds",
        "cairn_last_success_timestamp_seconds",
        "cairn_ready",
    ] {
        assert!(
            names.split_whitespace().any(|n| n == name),
            "{name} is missing from {names}"
        );
    }
    assert!(
        text.contains("cairn_changes_applied_total{tenant=\"default\",action=\"create\"} 2"),
        "{text}"
    );
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
}

/// A failing resource is retried on the documented schedule — about 1 s,
/// doubling, capped at 4 s here — without holding up independent resources
/// or later commits; it alerts once, recovers when it can, and the success
/// resets its backoff (README, "Retries"). The failure is one no plan can
/// foresee: the server refuses the writes of one zone that it has.
#[test]
fn a_failing_resource_backs_off_without_blocking_the_others() {
    let ws = Workspace::new();
    let receiver = AlertReceiver::start();
    let proxy = RecordingProxy::start(&ws.pdns.url());
    ws.pdns
        .request(
            "POST",
            "/api/v1/servers/localhost/zones",
            Some(
                &serde_json::json!({"name": "flaky.example.", "kind": "Native", "nameservers": []}),
            ),
        )
        .expect("a zone made by hand");
    let refuse_flaky = || {
        proxy
            .refuse(|method, path, _| method == "PATCH" && path.ends_with("/zones/flaky.example."));
    };
    refuse_flaky();
    let text = format!(
        "{}\n[[dns.record]]\nname = \"www.flaky.example.\"\ntype = \"A\"\nrecords = [\"192.0.2.9\"]\n",
        zone("example.app.", "192.0.2.1")
    );
    ws.repo.write("dns.toml", &text);
    ws.repo
        .commit("one good zone, one record the server refuses", AUTHOR);
    ws.configure(&ConfigOptions {
        url: Some(proxy.url.clone()),
        tenant_settings: "interval = \"1s\"".into(),
        top_settings: receiver.table(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    let bad = "dns/record/www.flaky.example./A";
    wait_until(
        Duration::from_secs(20),
        "the good resources applied",
        || ws.pdns.dig("www.example.app", "A") == ["192.0.2.1"],
    );
    wait_until(Duration::from_secs(10), "the failure alerted", || {
        !receiver.of("apply-failed", Some(bad)).is_empty()
    });
    let status = daemon.tenant("default");
    assert_eq!(status["retrying"], serde_json::json!([bad]), "{status:#}");
    let failure = &receiver.of("apply-failed", Some(bad))[0];
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("the proxy refused PATCH /api/v1/servers/localhost/zones/flaky.example."),
        "{failure}"
    );

    // A later commit of an independent resource is not held up.
    let moved = text.replace("192.0.2.1", "192.0.2.2");
    ws.repo.write("dns.toml", &moved);
    ws.repo.commit("move www", AUTHOR);
    wait_until(Duration::from_secs(10), "the next commit applied", || {
        ws.pdns.dig("www.example.app", "A") == ["192.0.2.2"]
    });

    // Every attempt is in the audit log with its time: five failed ones
    // (1 + 2 + 4 + 4 s of waiting, about 11 s) are spaced as documented.
    wait_until(
        Duration::from_secs(45),
        "five failed attempts of the refused record",
        || failed_attempts(&ws, bad, None).len() >= 5,
    );
    let attempts = failed_attempts(&ws, bad, None);
    assert_backs_off(&gaps(&attempts[..5], 1e3), bad);

    // The server takes the writes again: the retry succeeds, the failure
    // clears.
    proxy.stop_refusing();
    wait_until(
        Duration::from_secs(20),
        "the retried resource applied",
        || ws.pdns.dig("www.flaky.example", "A") == ["192.0.2.9"],
    );
    wait_until(Duration::from_secs(10), "the recovery alert", || {
        !receiver.of("recovered", Some(bad)).is_empty()
    });
    let failures = receiver.of("apply-failed", Some(bad)).len();
    assert_eq!(
        failures, 1,
        "a failing resource alerts once, not at every retry"
    );
    assert_eq!(daemon.tenant("default")["retrying"], serde_json::json!([]));

    // The success reset its backoff: when it fails again (the server
    // refuses once more, a new address in Git), the first retry comes
    // after about 1 s again, not at the 4 s cap its earlier failures had
    // reached.
    refuse_flaky();
    ws.repo
        .write("dns.toml", &moved.replace("192.0.2.9", "192.0.2.19"));
    let again = ws.repo.commit("move the refused record", AUTHOR);
    wait_until(
        Duration::from_secs(20),
        "two failed attempts of the new address",
        || failed_attempts(&ws, bad, Some(again.as_str())).len() >= 2,
    );
    let attempts = failed_attempts(&ws, bad, Some(again.as_str()));
    assert_backoff_was_reset(gaps(&attempts[..2], 1e3)[0], bad);
}

/// A plan-only tenant plans and records the plan once per commit and never
/// applies, however often it polls (README, `mode = "plan-only"`).
#[test]
fn a_plan_only_tenant_plans_and_reports_but_never_applies() {
    let ws = Workspace::new();
    ws.repo
        .write("dns.toml", &zone("example.shop.", "192.0.2.1"));
    let commit = ws.repo.commit("first", AUTHOR);
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1s\"\nmode = \"plan-only\"".into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(20), "the plan recorded", || {
        daemon.tenant("default")["last_run"]["outcome"] == "planned"
    });
    // Two polls after the plan find nothing new; neither applies.
    let checks = || daemon.metric_sum(CHECKS);
    let planned = checks();
    wait_until(
        Duration::from_secs(15),
        "two idle polls after the plan",
        || checks() >= planned + 2.0,
    );
    assert!(
        ws.pdns.zones().is_empty(),
        "a plan-only tenant changed the server"
    );
    assert_eq!(
        daemon.metric_sum("cairn_changes_applied_total"),
        0.0,
        "a plan-only tenant applied a change"
    );
    let history = ws.cairn(&["history", "--json"]).json();
    let runs = history.as_array().unwrap();
    assert_eq!(runs.len(), 1, "one plan for one commit: {history:#}");
    assert_eq!(runs[0]["kind"], "plan");
    assert_eq!(runs[0]["commit_id"], commit);
    assert_eq!(runs[0]["changes"], 2);
}

/// Records of a zone large enough that the daemon's worker keeps the
/// tenant's inventory in memory (1,000 objects and more), each `r{n}`
/// pointing at 192.0.2.1, and `kept` with `lifecycle` (TOML lines).
fn large_zone(zone: &str, lifecycle: &str) -> String {
    let mut text = format!("[[dns.zone]]\nname = \"{zone}\"\n");
    for n in 0..1_000 {
        text.push_str(&format!(
            "\n[[dns.record]]\nname = \"r{n}.{zone}\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\n"
        ));
    }
    text.push_str(&format!(
        "\n[[dns.record]]\nname = \"kept.{zone}\"\ntype = \"A\"\nrecords = [\"192.0.2.9\"]\n{lifecycle}"
    ));
    text
}

/// The worker keeps its tenant's inventory in memory, and a write by
/// anyone else makes it read again (docs/how-it-works.md, "Plan"): the CLI
/// orphans an object while the daemon holds the tenant, and the daemon,
/// pushed the same commit, leaves the object alone. Were the worker's copy
/// used after the CLI's writes, the object would still be the tenant's
/// there, and the daemon would delete it when it left Git.
#[test]
fn the_daemons_kept_inventory_sees_what_the_cli_wrote_meanwhile() {
    let ws = Workspace::new();
    let kept = || ws.pdns.dig("kept.big.example.", "A");
    ws.repo.write("dns.toml", &large_zone("big.example.", ""));
    ws.repo.commit("a thousand records", AUTHOR);
    // No polls and no drift checks: the daemon runs at start and when
    // pushed, and writes nothing of the tenant's in between.
    ws.configure(&ConfigOptions {
        tenant_settings:
            "interval = \"1h\"\ndrift_interval = \"1h\"\nwebhook_secret = { env = \"CAIRN_TEST_HOOK\" }"
                .into(),
        ..ConfigOptions::default()
    });
    let daemon = Daemon::start(&ws.config_path());
    let finished = |commit: &str| {
        ws.history().iter().any(|run| {
            run["kind"] == "reconcile" && run["commit_id"] == commit && !run["outcome"].is_null()
        })
    };
    let first = ws.repo.head();
    wait_until(Duration::from_secs(60), "the large zone applied", || {
        finished(&first)
    });
    assert_eq!(kept(), ["192.0.2.9"]);
    // A pushed change: the worker's plan reads the inventory and keeps it,
    // and its apply keeps the copy in step.
    ws.repo.write(
        "dns.toml",
        &large_zone("big.example.", "").replacen("192.0.2.1", "192.0.2.2", 1),
    );
    let second = ws.repo.commit("r0 moves", AUTHOR);
    assert_eq!(daemon.push("default", HOOK_SECRET, "{}"), 202);
    wait_until(Duration::from_secs(30), "the pushed change applied", || {
        finished(&second)
    });

    // Between the daemon's runs, the CLI orphans `kept` and takes it out
    // of Git: the object stays, no longer the tenant's.
    ws.repo.write(
        "dns.toml",
        &large_zone("big.example.", "on_delete = \"orphan\"\n"),
    );
    ws.repo.commit("orphan kept when it leaves", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    let mut text = large_zone("big.example.", "");
    let kept_at = text.find("\n[[dns.record]]\nname = \"kept.").unwrap();
    text.truncate(kept_at + 1);
    ws.repo.write("dns.toml", &text);
    let left = ws.repo.commit("kept leaves Git", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(kept(), ["192.0.2.9"], "the CLI deleted an orphaned object");

    // Pushed, the daemon runs the commit the CLI applied.
    assert_eq!(daemon.push("default", HOOK_SECRET, "{}"), 202);
    wait_until(
        Duration::from_secs(30),
        "the daemon's run of the commit the CLI applied",
        || finished(&left),
    );
    assert_eq!(
        kept(),
        ["192.0.2.9"],
        "the daemon deleted an object the CLI had orphaned: its kept inventory was stale"
    );
}
