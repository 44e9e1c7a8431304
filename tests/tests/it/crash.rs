//! A daemon killed with SIGKILL at many instants of its applies loses
//! nothing and applies nothing twice: after a restart the world matches
//! Git, the inventory matches the world, PowerDNS (through a recording
//! proxy) took every change once, and the audit log accounts for each of
//! them once: made, or — when the kill fell between the change and its
//! record — found made from the journal (`adopt`).

use cairn_tests::Workspace;
use cairn_tests::cairn::ConfigOptions;
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::pdns::rrset_writes;
use cairn_tests::proxy::RecordingProxy;
use std::collections::BTreeMap;
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";
const ZONES: usize = 24;
const RECORDS_PER_ZONE: usize = 20;

/// The desired state of round `round`: every record's address changes.
fn desired(round: usize) -> String {
    let mut text = String::new();
    for zone in 0..ZONES {
        text.push_str(&format!(
            "[[dns.zone]]\nname = \"z{zone}.crash.example.\"\n\n"
        ));
        for record in 0..RECORDS_PER_ZONE {
            text.push_str(&format!(
                "[[dns.record]]\nname = \"r{record}.z{zone}.crash.example.\"\ntype = \"A\"\nrecords = [\"10.{round}.{zone}.{record}\"]\ndepends_on = [\"dns/zone/z{zone}.crash.example.\"]\n\n"
            ));
        }
    }
    text
}

/// Whether PowerDNS holds exactly round `round`.
fn world_matches(ws: &Workspace, round: usize) -> bool {
    let zones: Vec<String> = (0..ZONES).map(|z| format!("z{z}.crash.example.")).collect();
    let mut expected_zones = zones.clone();
    expected_zones.sort();
    if ws.pdns.zones() != expected_zones {
        return false;
    }
    zones.iter().enumerate().all(|(zone, name)| {
        let mut expected: Vec<String> = (0..RECORDS_PER_ZONE)
            .map(|r| format!("r{r}.z{zone}.crash.example. A 3600 10.{round}.{zone}.{r}"))
            .collect();
        expected.sort();
        ws.pdns.rrsets(name) == expected
    })
}

/// When a kill lands.
#[derive(Debug)]
enum KillPoint {
    /// This long after the process started.
    AfterStart(u64),
    /// This long after an apply run began.
    IntoApply(u64),
    /// When PowerDNS has made a change and its answer is held back from
    /// the daemon: the change took effect, its outcome is not recorded.
    AfterAWrite,
}

/// Waits until the daemon has begun an apply run (a reconcile run with no
/// end yet), reading its state store directly.
async fn wait_for_an_apply(database: &std::path::Path) {
    let url = format!("sqlite:{}", database.display());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(pool) = sqlx::SqlitePool::connect(&url).await {
            let running: Result<i64, _> = sqlx::query_scalar(
                "SELECT COUNT(*) FROM runs WHERE kind = 'reconcile' AND finished_at IS NULL",
            )
            .fetch_one(&pool)
            .await;
            pool.close().await;
            if running.is_ok_and(|count| count > 0) {
                return;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no apply began");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[test]
fn sigkill_at_many_points_loses_nothing_and_applies_nothing_twice() {
    let ws = Workspace::new();
    let proxy = RecordingProxy::start(&ws.pdns.url());
    ws.configure(&ConfigOptions {
        url: Some(proxy.url.clone()),
        // Drift checks every second plan again within each life of the
        // daemon, from the inventory it keeps in memory (from one object
        // here): the debug build's daemon compares that copy with the store
        // each time it uses it and fails the run if they differ.
        tenant_settings: "interval = \"1s\"\ndrift_interval = \"1s\"\nmax_delete_percent = 100"
            .into(),
        top_settings: "[daemon]\nkeep_inventory_from = 1\n".into(),
        ..ConfigOptions::default()
    });
    let resources = ZONES * (RECORDS_PER_ZONE + 1);
    ws.repo.write("crash.toml", &desired(0));
    ws.repo.commit("round 0", AUTHOR);
    let mut daemon = Daemon::start(&ws.config_path());
    daemon.kill();

    // Kill points: some during start-up and planning, most at spread
    // offsets after an apply began (journal written, PATCHes in flight,
    // outcomes being recorded).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = ws.path().join(".cairn/state.db");
    let kill_points: Vec<KillPoint> = [0, 150, 300]
        .into_iter()
        .map(KillPoint::AfterStart)
        .chain((0..20).map(|step| KillPoint::IntoApply(step * 6)))
        .chain((0..3).map(|_| KillPoint::AfterAWrite))
        .collect();
    let mut commits = Vec::new();
    for (round, point) in kill_points.iter().enumerate() {
        if round > 0 {
            ws.repo.write("crash.toml", &desired(round));
            commits.push(ws.repo.commit(&format!("round {round}"), AUTHOR));
        } else {
            commits.push(ws.repo.head());
        }
        if matches!(point, KillPoint::AfterAWrite) {
            proxy.hold_writes(|exchange| exchange.method == "PATCH");
        }
        let held_before = proxy.held();
        daemon.respawn();
        match point {
            KillPoint::AfterStart(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            KillPoint::IntoApply(ms) => {
                runtime.block_on(wait_for_an_apply(&database));
                std::thread::sleep(Duration::from_millis(*ms));
            }
            KillPoint::AfterAWrite => {
                wait_until(Duration::from_secs(60), "a write held", || {
                    proxy.held() > held_before
                });
            }
        }
        daemon.kill();
        proxy.release();

        daemon.restart();
        wait_until(
            Duration::from_secs(60),
            &format!("round {round} applied after a kill at {point:?}"),
            || world_matches(&ws, round),
        );
        // The restarted daemon finished a run of this round's commit (the
        // world may have matched before it began: the kill can land after
        // every change was made), so what the kill cut off is recorded.
        wait_until(
            Duration::from_secs(60),
            &format!("a run of round {round} after the restart"),
            || {
                let status = daemon.tenant("default");
                status["commit"]["id"] == commits[round].as_str() && !status["last_run"].is_null()
            },
        );
        // The inventory matches the world: every resource owned, in sync.
        wait_until(Duration::from_secs(30), "the inventory in sync", || {
            let status = ws.cairn(&["status", "--json"]).json();
            let resources_status = status[0]["resources"].as_array().unwrap().clone();
            resources_status.len() == resources
                && resources_status.iter().all(|r| r["status"] == "in-sync")
        });
        // One more plan in this life of the daemon, a drift check from the
        // inventory it kept through the recovery and the apply, finds it
        // as the store holds it (debug builds compare the two) and the
        // world in sync.
        let applied_at = daemon.tenant("default")["last_run"]["at"].clone();
        wait_until(
            Duration::from_secs(30),
            "a drift check after the apply",
            || {
                let last_run = &daemon.tenant("default")["last_run"];
                last_run["trigger"] == "drift" && last_run["at"] != applied_at
            },
        );
        let status = daemon.tenant("default");
        assert!(
            status["last_error"].is_null() && status["last_run"]["outcome"] == "in-sync",
            "round {round}: the drift check after a kill at {point:?}: {:#} {:#}",
            status["last_run"],
            status["last_error"]
        );
        daemon.kill();
    }
    // The last kill may itself have cut a poll short: one more start
    // records it, then a graceful stop finishes whatever is running.
    daemon.restart();
    wait_until(Duration::from_secs(30), "runs cut short closed", || {
        let history = ws.cairn(&["history", "--json", "--limit", "10000"]).json();
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|run| !run["outcome"].is_null())
    });
    daemon.stop();

    // Runs the kills cut short are recorded as interrupted on restart.
    let history = ws.cairn(&["history", "--json", "--limit", "10000"]).json();
    let interrupted_runs = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| run["outcome"] == "interrupted")
        .count();
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|run| !run["outcome"].is_null()),
        "a run was left unfinished"
    );

    // Nothing applied twice, counted at the server: each record's content
    // of each round was written once (or, when PowerDNS answered an error
    // for a write it had made, not at all: the world has it all the same).
    let writes = rrset_writes(&proxy.exchanges());
    let twice: Vec<_> = writes.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "written twice at the server: {twice:?}");

    // The audit log accounts for each write once: made (`ok`), or found
    // made after a kill cut it off before it was recorded (`adopt`) —
    // which is exactly the writes whose own run was cut short.
    let mut recorded: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for run in history.as_array().unwrap() {
        for action in run["actions"].as_array().unwrap() {
            let key = (
                action["address"].as_str().unwrap().to_string(),
                run["commit_id"].as_str().unwrap().to_string(),
            );
            match (action["action"].as_str(), action["result"].as_str()) {
                (Some("create" | "update" | "replace"), Some("ok")) => {
                    recorded.entry(key).or_default().0 += 1
                }
                (Some("adopt"), Some("ok")) => recorded.entry(key).or_default().1 += 1,
                _ => {}
            }
        }
    }
    let mut adopted = 0;
    for (round, commit) in commits.iter().enumerate() {
        for zone in 0..ZONES {
            for record in 0..RECORDS_PER_ZONE {
                let name = format!("r{record}.z{zone}.crash.example.");
                let written = writes
                    .get(&format!("{name} A 10.{round}.{zone}.{record}"))
                    .copied()
                    .unwrap_or(0);
                let address = format!("dns/record/{name}/A");
                let (made, found) = recorded
                    .get(&(address.clone(), commit.clone()))
                    .copied()
                    .unwrap_or_default();
                adopted += found;
                if written == 1 {
                    assert_eq!(
                        made + found,
                        1,
                        "{address} at round {round}: written once at the server, recorded as made {made} and found made {found} times"
                    );
                } else {
                    assert_eq!(
                        made, 0,
                        "{address} at round {round}: recorded as made, never written"
                    );
                }
            }
        }
    }
    eprintln!(
        "survived {} SIGKILL points; {interrupted_runs} of them cut a run short; {adopted} changes made before a kill were found from the journal",
        kill_points.len()
    );
    assert!(
        interrupted_runs >= 10,
        "too few kills landed inside a run ({interrupted_runs}) to test recovery"
    );
    assert!(
        adopted >= RECORDS_PER_ZONE,
        "the kills after a write left {adopted} changes to find from the journal: each of them should have left a zone's worth"
    );
}
