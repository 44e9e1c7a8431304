//! Several daemons sharing one state store: thirty tenants on PowerDNS
//! spread over three daemons by leases. Every tenant has one holder; a
//! daemon killed has its tenants taken over within one lease period and
//! their pending changes applied exactly once; a paused daemon cannot
//! write after its tenants were taken; a daemon joining takes its share;
//! PostgreSQL restarted mid-run is recovered from without an operator.
//! The same tests run on SQLite (three daemons on one host) and on
//! PostgreSQL. On PostgreSQL alone: an outage of two lease periods moves
//! no lease, a daemon that died during it is taken over within the bound
//! the README states, and a daemon is ready only once the others can count
//! it.

use cairn::store::StateStore;
use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header_with_state};
use cairn_tests::daemon::{Daemon, HOOK_SECRET, since, wait_until};
use cairn_tests::pdns::rrset_writes;
use cairn_tests::postgres::Postgres;
use cairn_tests::proxy::RecordingProxy;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";
const TENANTS: usize = 30;
const RECORDS: usize = 10;
/// The lease period of the test daemons.
const LEASE: Duration = Duration::from_secs(3);
/// What the test itself adds when it checks that a takeover happened
/// within one lease period: its own polling (every 50 ms) and a read of
/// the store per poll.
const SLACK: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Thirty tenants in one repository (`tNN/dns.toml`), PowerDNS, a state
/// store, and the daemons sharing it. Fields drop in this order: the
/// daemons stop before the servers they write to, and the workspace (its
/// folder holds their logs and the servers' data) goes last, once nothing
/// writes there.
struct Cluster {
    daemons: Vec<Daemon>,
    runtime: tokio::runtime::Runtime,
    /// Between the daemons and PowerDNS: counts the writes that took
    /// effect, and holds answers to kill a daemon between a change and
    /// its record.
    proxy: RecordingProxy,
    _postgres: Option<Postgres>,
    url: String,
    config: std::path::PathBuf,
    ws: Workspace,
}

fn tenant(index: usize) -> String {
    format!("t{index:02}")
}

fn zone(index: usize) -> String {
    format!("t{index:02}.cluster.example.")
}

impl Cluster {
    fn new(backend: Backend) -> Self {
        let ws = Workspace::new();
        let proxy = RecordingProxy::start(&ws.pdns.url());
        let postgres = matches!(backend, Backend::Postgres).then(|| Postgres::start(ws.path()));
        let url = match &postgres {
            Some(server) => server.url(),
            None => format!("sqlite:{}", ws.path().join(".cairn/state.db").display()),
        };
        let mut config = config_header_with_state(&url);
        config.push_str(&format!(
            // Every tenant's inventory kept in memory (from one object):
            // the debug build's daemons compare the copy with the store each
            // time they use it, and fail the run if they differ.
            "\n[daemon]\nlease = \"{}ms\"\nkeep_inventory_from = 1\n",
            LEASE.as_millis()
        ));
        for index in 0..TENANTS {
            let options = ConfigOptions {
                url: Some(proxy.url.clone()),
                path: tenant(index),
                tenant_settings:
                    "interval = \"1h\"\ndrift_interval = \"1h\"\nwebhook_secret = { env = \"CAIRN_TEST_HOOK\" }"
                        .into(),
                ..ConfigOptions::default()
            };
            config.push_str(&ws.tenant_block(&tenant(index), &options));
        }
        let path = ws.path().join("cluster.toml");
        std::fs::write(&path, config).unwrap();
        let cluster = Self {
            ws,
            proxy,
            _postgres: postgres,
            url,
            config: path,
            daemons: Vec::new(),
            runtime: tokio::runtime::Runtime::new().unwrap(),
        };
        cluster.commit_round(0);
        cluster
    }

    /// Commits round `round`: every record of every tenant changes.
    fn commit_round(&self, round: usize) -> String {
        for index in 0..TENANTS {
            let mut text = format!("[[dns.zone]]\nname = \"{}\"\n\n", zone(index));
            for record in 0..RECORDS {
                text.push_str(&format!(
                    "[[dns.record]]\nname = \"r{record}.{zone}\"\ntype = \"A\"\nrecords = [\"10.{round}.{index}.{record}\"]\ndepends_on = [\"dns/zone/{zone}\"]\n\n",
                    zone = zone(index)
                ));
            }
            self.ws
                .repo
                .write(&format!("{}/dns.toml", tenant(index)), &text);
        }
        self.ws.repo.commit(&format!("round {round}"), AUTHOR)
    }

    /// A cluster of `daemons` daemons that applied round 0 and hold an
    /// even share each.
    fn running(backend: Backend, daemons: usize) -> Self {
        let mut cluster = Self::new(backend);
        for _ in 0..daemons {
            cluster.start_daemon();
        }
        cluster.wait_for_round(0, Duration::from_secs(90));
        cluster.wait_for_even_spread(daemons);
        cluster
    }

    /// Waits until `daemons` daemons hold `TENANTS / daemons` tenants each.
    fn wait_for_even_spread(&self, daemons: usize) -> Duration {
        wait_until(LEASE * 4, "an even spread", || {
            let shares = self.shares();
            shares.len() == daemons && shares.values().all(|&n| n == TENANTS / daemons)
        })
    }

    fn start_daemon(&mut self) -> usize {
        self.daemons.push(Daemon::start(&self.config));
        self.daemons.len() - 1
    }

    /// Whether PowerDNS holds exactly round `round` for every tenant.
    fn world_matches(&self, round: usize) -> bool {
        let zones = self.ws.pdns.zones();
        (0..TENANTS).all(|index| {
            if !zones.contains(&zone(index)) {
                return false;
            }
            let mut expected: Vec<String> = (0..RECORDS)
                .map(|r| format!("r{r}.{} A 3600 10.{round}.{index}.{r}", zone(index)))
                .collect();
            expected.sort();
            self.ws.pdns.rrsets(&zone(index)) == expected
        })
    }

    fn wait_for_round(&self, round: usize, timeout: Duration) -> Duration {
        wait_until(timeout, &format!("round {round} applied"), || {
            self.world_matches(round)
        })
    }

    fn store(&self) -> StateStore {
        self.runtime.block_on(StateStore::open(&self.url)).unwrap()
    }

    /// Tenant → (holder, token), live leases only.
    fn holders(&self) -> BTreeMap<String, (String, i64)> {
        let store = self.store();
        self.runtime
            .block_on(store.leases())
            .unwrap()
            .into_iter()
            .filter(|lease| lease.live)
            .map(|lease| (lease.tenant, (lease.holder, lease.token)))
            .collect()
    }

    /// How many tenants each daemon holds, by daemon name.
    fn shares(&self) -> BTreeMap<String, usize> {
        let mut shares = BTreeMap::new();
        for (holder, _) in self.holders().into_values() {
            *shares.entry(holder).or_default() += 1;
        }
        shares
    }

    /// Kills PostgreSQL as a crash would and waits until every daemon
    /// running reports the store unreachable; returns when it was killed.
    fn kill_store(&mut self) -> Instant {
        self._postgres
            .as_mut()
            .expect("a cluster on PostgreSQL")
            .kill();
        let killed = Instant::now();
        for daemon in &self.daemons {
            wait_until(
                Duration::from_secs(20),
                "the store reported unreachable",
                || {
                    matches!(
                        daemon.get("/readyz"),
                        Ok((503, body)) if body.contains("state store is unreachable")
                    )
                },
            );
        }
        killed
    }

    /// Starts PostgreSQL again after [`Cluster::kill_store`]; returns when
    /// it accepts connections (within 100 ms of it doing so, the harness's
    /// polling of its log).
    fn restart_store(&mut self) -> Instant {
        self._postgres
            .as_mut()
            .expect("a cluster on PostgreSQL")
            .restart();
        Instant::now()
    }

    /// Whether some process holds SQLite's write lock on the store.
    fn sqlite_write_locked(&self) -> bool {
        let path = self.url.trim_start_matches("sqlite:").to_string();
        self.runtime.block_on(async {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .busy_timeout(Duration::from_millis(200));
            let Ok(mut connection) = sqlx::ConnectOptions::connect(&options).await else {
                return false;
            };
            let locked = sqlx::Executor::execute(&mut connection, "BEGIN IMMEDIATE")
                .await
                .is_err();
            if !locked {
                let _ = sqlx::Executor::execute(&mut connection, "ROLLBACK").await;
            }
            locked
        })
    }

    /// The name daemon `index` goes by, from its own API.
    fn daemon_id(&self, index: usize) -> String {
        let (status, body) = self.daemons[index].get("/api/v1/cluster").unwrap();
        assert_eq!(status, 200, "{body}");
        let cluster: serde_json::Value = serde_json::from_str(&body).unwrap();
        cluster["daemon"].as_str().unwrap().to_string()
    }

    /// Pushes round `commit` to every tenant through daemon `via`: the
    /// tenants it does not hold get the trigger through the store.
    fn push_all(&self, via: usize, commit: &str) {
        let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{commit}\"}}");
        for index in 0..TENANTS {
            assert_eq!(
                self.daemons[via].push(&tenant(index), HOOK_SECRET, &body),
                202
            );
        }
    }

    /// Per record of round `commit`: what the audit log says became of
    /// its change.
    fn applications(&self, commit: &str) -> BTreeMap<String, Recorded> {
        let store = self.store();
        let mut counts: BTreeMap<String, Recorded> = BTreeMap::new();
        for index in 0..TENANTS {
            let runs = self
                .runtime
                .block_on(store.history(&tenant(index), 1_000))
                .unwrap();
            for run in runs.iter().filter(|run| run.commit_id == commit) {
                for action in &run.actions {
                    let entry = counts.entry(action.address.clone()).or_default();
                    match (action.action.as_str(), action.result.as_str()) {
                        ("update" | "create" | "replace", "ok") => entry.applied += 1,
                        ("update" | "create" | "replace", "failed") => entry.failed += 1,
                        ("adopt", "ok") => entry.adopted += 1,
                        ("refresh", "ok") => entry.refreshed += 1,
                        _ => {}
                    }
                }
            }
        }
        counts
    }

    /// Checks that every record of round `round` (committed as `commit`)
    /// was applied exactly once; returns the number of interrupted changes
    /// the next holder found done.
    ///
    /// Exactly once, at the server: PowerDNS took each record's new
    /// content at most once (never twice), as the proxy counted. In the
    /// audit log: each write it took is recorded once — applied, or found
    /// done (`adopt`) after a holder died between applying and recording;
    /// a change PowerDNS made while answering an error is found already so
    /// after that failure (`refresh`), or from the journal (`adopt`).
    fn assert_exactly_once(&self, round: usize, commit: &str) -> usize {
        // PowerDNS may serve a change before it is recorded: a holder that
        // lost the store between applying and recording records it (as
        // found done) at its next run, after the store is back.
        let mut counts = BTreeMap::new();
        wait_until(Duration::from_secs(60), "every change recorded", || {
            counts = self.applications(commit);
            let store = self.store();
            let in_flight = (0..TENANTS).any(|index| {
                !self
                    .runtime
                    .block_on(store.intents(&tenant(index)))
                    .unwrap()
                    .is_empty()
            });
            !in_flight
                && counts
                    .iter()
                    .filter(|(address, _)| address.starts_with("dns/record/"))
                    .filter(|(_, r)| r.applied + r.adopted + r.refreshed > 0)
                    .count()
                    == TENANTS * RECORDS
        });
        let writes = rrset_writes(&self.proxy.exchanges());
        let mut adopted = 0;
        for index in 0..TENANTS {
            for record in 0..RECORDS {
                let name = format!("r{record}.{}", zone(index));
                let written = writes
                    .get(&format!("{name} A 10.{round}.{index}.{record}"))
                    .copied()
                    .unwrap_or(0);
                let address = format!("dns/record/{name}/A");
                let recorded = counts
                    .get(&address)
                    .unwrap_or_else(|| panic!("{address}: nothing recorded for round {round}"));
                adopted += recorded.adopted;
                assert!(
                    written <= 1,
                    "{address}: PowerDNS took round {round} {written} times"
                );
                if written == 1 {
                    assert_eq!(
                        recorded.applied + recorded.adopted,
                        1,
                        "{address}: written once, recorded as {recorded:?}"
                    );
                } else {
                    // PowerDNS answered an error for the write that made it
                    // (its sqlite backend, busy): the change is found made
                    // once — after the failure, or from the journal when
                    // its holder died before recording the failure.
                    assert!(
                        recorded.applied == 0 && recorded.adopted + recorded.refreshed == 1,
                        "{address}: never taken with success, recorded as {recorded:?}"
                    );
                }
            }
        }
        adopted
    }
}

/// What the audit log holds for one record's change in one round.
#[derive(Debug, Default)]
struct Recorded {
    /// Made with success.
    applied: usize,
    /// Attempted and answered with an error.
    failed: usize,
    /// Found made after its holder died before recording it.
    adopted: usize,
    /// Found already so (after a failed attempt that took effect).
    refreshed: usize,
}

fn spread_failover_and_exactly_once(backend: Backend) {
    // One holder per tenant, an even spread.
    let mut cluster = Cluster::running(backend, 3);
    assert_eq!(cluster.holders().len(), TENANTS);

    // Round 1 is pushed through daemon 0 only (polling is off): two thirds
    // of the triggers reach their holders through the store. Daemon 2 is
    // killed while it applies: once PowerDNS has made one of its changes,
    // before the daemon hears of it.
    let victim = cluster.daemon_id(2);
    let orphans: BTreeSet<String> = cluster
        .holders()
        .into_iter()
        .filter(|(_, (holder, _))| *holder == victim)
        .map(|(tenant, _)| tenant)
        .collect();
    assert_eq!(orphans.len(), TENANTS / 3);
    let victim_zones: Vec<String> = (0..TENANTS)
        .filter(|index| orphans.contains(&tenant(*index)))
        .map(zone)
        .collect();
    cluster.proxy.hold_writes(move |exchange| {
        victim_zones
            .iter()
            .any(|zone| exchange.path.ends_with(&format!("/zones/{zone}")))
    });
    let commit = cluster.commit_round(1);
    cluster.push_all(0, &commit);
    wait_until(
        Duration::from_secs(30),
        "a change of the victim's made",
        || cluster.proxy.held() > 0,
    );
    cluster.daemons[2].kill();
    let killed_at = Instant::now();
    cluster.proxy.release();
    wait_until(
        LEASE + SLACK,
        "the killed daemon's tenants taken over",
        || {
            let holders = cluster.holders();
            orphans
                .iter()
                .all(|t| holders.get(t).is_some_and(|(holder, _)| *holder != victim))
        },
    );
    let failover = killed_at.elapsed();
    eprintln!(
        "{backend:?}: the killed daemon's {} tenants were held again {} ms after SIGKILL (lease {} ms)",
        orphans.len(),
        failover.as_millis(),
        LEASE.as_millis()
    );
    let applied = cluster.wait_for_round(1, Duration::from_secs(60));
    eprintln!(
        "{backend:?}: round 1 applied everywhere {} ms after the kill",
        (killed_at.elapsed()).as_millis().max(applied.as_millis())
    );
    let shares = cluster.shares();
    assert_eq!(shares.len(), 2, "{shares:?}");
    assert!(shares.values().all(|&n| n == TENANTS / 2), "{shares:?}");
    let adopted = cluster.assert_exactly_once(1, &commit);
    eprintln!(
        "{backend:?}: changes the killed daemon made without recording them, found done by the next holder: {adopted}"
    );
    assert!(
        adopted >= RECORDS,
        "the killed daemon's held write ({RECORDS} records) was not found done: {adopted}"
    );

    // Any daemon answers for the whole cluster.
    let (status, body) = cluster.daemons[0].get("/api/v1/tenants").unwrap();
    assert_eq!(status, 200, "{body}");
    let statuses: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(statuses.len(), TENANTS);
    let holders = cluster.holders();
    for status in &statuses {
        let name = status["name"].as_str().unwrap();
        assert_eq!(
            status["holder"].as_str(),
            Some(holders[name].0.as_str()),
            "{status}"
        );
        assert_eq!(
            status["commit"]["id"].as_str(),
            Some(commit.as_str()),
            "{status}"
        );
    }
    let (_, metrics) = cluster.daemons[1].get("/metrics").unwrap();
    assert!(metrics.contains("cairn_cluster_daemons 2"), "{metrics}");
    assert_eq!(
        metrics.matches("cairn_cluster_tenant_holder{").count(),
        TENANTS,
        "{metrics}"
    );
    assert_eq!(metrics.matches("# EOF").count(), 1);
    let status = cluster.ws.cairn_bare(&[
        "status",
        "--config",
        cluster.config.to_str().unwrap(),
        "--tenant",
        "t00",
    ]);
    status
        .expect_code(0)
        .expect_contains(&format!("held by daemon {}", holders["t00"].0));

    // On a shared PostgreSQL store the CLI leaves a held tenant to its
    // daemon (on one host the file lock takes turns instead).
    if matches!(backend, Backend::Postgres) {
        let config = cluster.config.to_str().unwrap().to_string();
        let apply = cluster
            .ws
            .cairn_bare(&["apply", "--yes", "--tenant", "t00", "--config", &config]);
        assert_ne!(apply.code, 0, "{}", apply.all());
        apply.expect_contains("is reconciled by daemon");
        apply.expect_contains("nothing was applied");
    }
}

fn a_paused_daemon_cannot_write(backend: Backend) {
    let cluster = Cluster::running(backend, 3);
    let paused = cluster.daemon_id(1);
    let tokens: BTreeMap<String, i64> = cluster
        .holders()
        .into_iter()
        .filter(|(_, (holder, _))| *holder == paused)
        .map(|(tenant, (_, token))| (tenant, token))
        .collect();

    // On PostgreSQL, daemon 1 gets round 1 for its tenants and is paused as
    // it starts applying: its open transaction is ended by the server. On
    // SQLite a daemon paused inside a write would hold the single write
    // lock (see below), so it is paused between runs.
    let commit = cluster.commit_round(1);
    if matches!(backend, Backend::Postgres) {
        let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{commit}\"}}");
        for tenant in tokens.keys() {
            assert_eq!(cluster.daemons[1].push(tenant, HOOK_SECRET, &body), 202);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = cluster.daemons[1].pid().unwrap().to_string();
    let signal = |name: &str| {
        let sent = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    signal("-STOP");
    let taken_over = || {
        let holders = cluster.holders();
        tokens
            .keys()
            .all(|t| holders.get(t).is_some_and(|(holder, _)| *holder != paused))
    };
    if !eventually(LEASE + SLACK, taken_over) {
        // SQLite has one write lock: a daemon paused in the middle of one of
        // its heartbeats (about one in three hundred pauses) holds everyone
        // up until it resumes — and then keeps its leases, which no one
        // could take. Round 1 must still be applied exactly once.
        assert!(
            matches!(backend, Backend::Sqlite) && cluster.sqlite_write_locked(),
            "the paused daemon's tenants were not taken over within one lease period"
        );
        eprintln!("{backend:?}: paused in the middle of a write; it keeps its tenants");
        signal("-CONT");
        cluster.push_all(0, &commit);
        cluster.wait_for_round(1, Duration::from_secs(60));
        cluster.assert_exactly_once(1, &commit);
        return;
    }
    let store = cluster.store();
    let taken_at: BTreeMap<String, i64> = cluster
        .runtime
        .block_on(store.leases())
        .unwrap()
        .into_iter()
        .filter(|lease| tokens.contains_key(&lease.tenant))
        .map(|lease| {
            assert_eq!(lease.token, tokens[&lease.tenant] + 1);
            (lease.tenant, lease.acquired_at)
        })
        .collect();
    cluster.push_all(0, &commit);
    cluster.wait_for_round(1, Duration::from_secs(60));
    // The new holders move on to round 2 while it sleeps: whatever of
    // round 1 the paused daemon still had in hand is now stale.
    let commit_2 = cluster.commit_round(2);
    cluster.push_all(0, &commit_2);
    cluster.wait_for_round(2, Duration::from_secs(60));

    // It wakes up past its lease: whatever it was doing, it writes nothing
    // under the tokens it lost once they were taken — neither to the store
    // nor to PowerDNS — and it notices, then takes its share anew.
    let resumed_at = Instant::now();
    signal("-CONT");
    wait_until(LEASE * 2, "the resumed daemon notices", || {
        cluster.daemons[1].log().contains("lease was taken over")
    });
    cluster.wait_for_even_spread(3);
    let stale_writes: Vec<String> = cluster
        .proxy
        .exchanges()
        .iter()
        .filter(|exchange| exchange.answered > resumed_at && exchange.took_effect())
        .flat_map(|exchange| rrset_writes(std::slice::from_ref(exchange)).into_keys())
        .filter(|rrset| rrset.contains(" A 10.1."))
        .collect();
    assert!(
        stale_writes.is_empty(),
        "round 1 written again after the paused daemon resumed: {stale_writes:?}"
    );
    assert!(cluster.world_matches(2), "the world left round 2");
    let refused = cluster.daemons[1]
        .log()
        .matches("no longer holds the lease")
        .count();
    eprintln!("{backend:?}: writes the resumed daemon tried and was refused: {refused}");
    for (tenant, token) in &tokens {
        let runs = cluster
            .runtime
            .block_on(store.history(tenant, 1_000))
            .unwrap();
        let stale = runs.iter().filter(|run| {
            run.daemon.as_deref() == Some(paused.as_str()) && run.lease_token == Some(*token)
        });
        for run in stale {
            assert!(
                run.started_at <= taken_at[tenant],
                "the paused daemon started run #{} for {tenant} after losing its lease",
                run.id
            );
            for action in &run.actions {
                assert!(
                    action.time <= taken_at[tenant],
                    "the paused daemon recorded {} {} after losing its lease",
                    action.action,
                    action.address
                );
            }
        }
    }
    cluster.assert_exactly_once(1, &commit);
    cluster.assert_exactly_once(2, &commit_2);
}

/// Polls `check` every 50 ms for up to `timeout`; whether it held.
fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

fn adding_a_daemon_rebalances(backend: Backend) {
    let mut cluster = Cluster::running(backend, 2);
    let before = cluster.holders();

    let joined_at = Instant::now();
    let third = cluster.start_daemon();
    let newcomer = cluster.daemon_id(third);
    let took = cluster.wait_for_even_spread(3);
    eprintln!(
        "{backend:?}: a third daemon had its share {} ms after it was ready ({} ms after its start)",
        took.as_millis(),
        joined_at.elapsed().as_millis()
    );
    // Settled: nothing moves any more, and what moved, moved once.
    std::thread::sleep(LEASE * 2);
    let after = cluster.holders();
    let moved: Vec<&String> = after
        .iter()
        .filter(|(tenant, (holder, _))| before[*tenant].0 != *holder)
        .map(|(tenant, _)| tenant)
        .collect();
    assert_eq!(moved.len(), TENANTS / 3, "{before:?}\n{after:?}");
    for (tenant, (holder, token)) in &after {
        let (old_holder, old_token) = &before[tenant];
        if holder == old_holder {
            assert_eq!(token, old_token, "{tenant} changed hands and came back");
        } else {
            assert_eq!(*holder, newcomer);
            assert_eq!(*token, old_token + 1, "{tenant} moved more than once");
        }
    }
    let commit = cluster.commit_round(1);
    cluster.push_all(2, &commit);
    cluster.wait_for_round(1, Duration::from_secs(60));
    cluster.assert_exactly_once(1, &commit);
}

/// Each scenario as two tests, one per store engine.
macro_rules! on_both_stores {
    ($($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[test]
        fn $sqlite() {
            $scenario(Backend::Sqlite);
        }

        #[test]
        fn $postgres() {
            $scenario(Backend::Postgres);
        }
    )*};
}

on_both_stores! {
    spread_failover_and_exactly_once =>
        sqlite_spread_failover_and_exactly_once, postgres_spread_failover_and_exactly_once;
    a_paused_daemon_cannot_write =>
        sqlite_a_paused_daemon_cannot_write, postgres_a_paused_daemon_cannot_write;
    adding_a_daemon_rebalances =>
        sqlite_adding_a_daemon_rebalances, postgres_adding_a_daemon_rebalances;
}

/// PostgreSQL killed mid-run and started again: the daemons report the
/// store unreachable meanwhile, apply nothing they cannot record, and then
/// carry on by themselves. (SQLite is a file on the daemons' own host: it
/// has no server to lose.)
#[test]
fn postgres_restarted_mid_run_is_recovered_from() {
    let mut cluster = Cluster::running(Backend::Postgres, 3);
    // Killed mid-run: while PowerDNS has made a change and its answer is
    // held back, so the daemon has yet to record it.
    cluster
        .proxy
        .hold_writes(|exchange| exchange.method == "PATCH");
    let commit = cluster.commit_round(1);
    cluster.push_all(0, &commit);
    wait_until(Duration::from_secs(30), "a change made", || {
        cluster.proxy.held() > 0
    });
    let server = cluster._postgres.as_mut().unwrap();
    server.kill();
    cluster.proxy.release();
    wait_until(
        Duration::from_secs(20),
        "the store reported unreachable",
        || {
            matches!(
                cluster.daemons[0].get("/readyz"),
                Ok((503, body)) if body.contains("state store is unreachable")
            )
        },
    );
    std::thread::sleep(Duration::from_secs(1));
    let restarted_at = Instant::now();
    cluster._postgres.as_mut().unwrap().restart();
    for daemon in &cluster.daemons {
        wait_until(Duration::from_secs(30), "ready again", || {
            matches!(daemon.get("/readyz"), Ok((200, _)))
        });
    }
    cluster.wait_for_round(1, Duration::from_secs(90));
    eprintln!(
        "round 1 applied everywhere {} ms after PostgreSQL came back",
        restarted_at.elapsed().as_millis()
    );
    cluster.wait_for_even_spread(3);
    cluster.assert_exactly_once(1, &commit);
}

/// What a daemon logs when its leases move: none of it may appear when
/// the store merely went away and came back.
const LEASE_MOVES: [&str; 3] = [
    "took the tenant's lease",
    "lease was taken over",
    "giving the tenant up",
];

/// PostgreSQL gone for two lease periods: every lease and every heartbeat
/// runs out meanwhile, and the first daemon to reconnect counts itself
/// alone. No lease changes hands (issue 18, where 7 to 10 of 12 did): each
/// daemon renews its own with the same token, nothing is taken or given
/// up, no worker is stopped, no run is refused for want of its lease once
/// the leases are renewed, and the next round is applied by the same
/// holders under the same tokens.
#[test]
fn postgres_an_outage_of_two_lease_periods_moves_no_lease() {
    let mut cluster = Cluster::running(Backend::Postgres, 3);
    let before = cluster.holders();
    assert_eq!(before.len(), TENANTS);
    let offsets: Vec<usize> = cluster.daemons.iter().map(|d| d.log().len()).collect();

    let killed = cluster.kill_store();
    std::thread::sleep((LEASE * 2).saturating_sub(killed.elapsed()));
    let back = cluster.restart_store();
    eprintln!(
        "PostgreSQL was down for {} ms (lease {} ms)",
        (back - killed).as_millis(),
        LEASE.as_millis()
    );
    for daemon in &cluster.daemons {
        wait_until(Duration::from_secs(30), "ready again", || {
            matches!(daemon.get("/readyz"), Ok((200, _)))
        });
    }
    // Past the lease period in which a daemon waits before taking a lease
    // that ran out, and past the bound on it (two periods).
    std::thread::sleep((LEASE * 3).saturating_sub(back.elapsed()));

    let after = cluster.holders();
    let moved: Vec<String> = before
        .iter()
        .filter(|(tenant, held)| after.get(*tenant) != Some(held))
        .map(|(tenant, (holder, token))| {
            format!("{tenant}: {holder} #{token} → {:?}", after.get(tenant))
        })
        .collect();
    assert!(
        moved.is_empty(),
        "{} of {TENANTS} leases changed after the outage:\n{}",
        moved.len(),
        moved.join("\n")
    );
    let mut waited = 0;
    for (index, daemon) in cluster.daemons.iter().enumerate() {
        let log = daemon.log();
        let log = since(&log, offsets[index]);
        for line in log.lines() {
            assert!(
                !LEASE_MOVES.iter().any(|moved| line.contains(moved)),
                "daemon {index} moved a lease after the outage: {line}"
            );
        }
        waited += log.matches("leases ran out: taking them only once").count();
        // Runs that came due during the outage failed (the store, or the
        // lease run out by the daemon's clock, refused them); once its
        // leases are renewed, no run of the daemon's is stopped for want
        // of its lease.
        let (_, renewed) = log
            .split_once("leases renewed after the state store came back")
            .unwrap_or_else(|| panic!("daemon {index} did not renew its leases:\n{log}"));
        assert!(
            !renewed.contains("the tenant's lease is gone"),
            "daemon {index} had a run stopped for want of its lease after renewing it:\n{renewed}"
        );
    }
    eprintln!("daemons that found leases run out and waited instead of taking them: {waited}");

    // Every holder carries on under its token, and says so.
    let (status, body) = cluster.daemons[1].get("/api/v1/tenants").unwrap();
    assert_eq!(status, 200, "{body}");
    let statuses: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    for status in &statuses {
        let name = status["name"].as_str().unwrap();
        assert_eq!(
            status["holder"].as_str(),
            Some(before[name].0.as_str()),
            "{status}"
        );
        assert_eq!(
            status["lease"]["token"].as_i64(),
            Some(before[name].1),
            "{status}"
        );
    }
    let commit = cluster.commit_round(1);
    cluster.push_all(0, &commit);
    cluster.wait_for_round(1, Duration::from_secs(60));
    let store = cluster.store();
    for (tenant, (holder, token)) in &before {
        let runs = cluster
            .runtime
            .block_on(store.history(tenant, 1_000))
            .unwrap();
        let round_1: Vec<_> = runs.iter().filter(|run| run.commit_id == commit).collect();
        assert!(!round_1.is_empty(), "{tenant}: no run of round 1");
        for run in round_1 {
            assert_eq!(
                run.daemon.as_deref(),
                Some(holder.as_str()),
                "{tenant}: run #{}",
                run.id
            );
            assert_eq!(run.lease_token, Some(*token), "{tenant}: run #{}", run.id);
        }
    }
    assert_eq!(cluster.holders(), before);
    cluster.assert_exactly_once(1, &commit);
}

/// A daemon killed while PostgreSQL is down for two lease periods: its
/// tenants are taken over once the store is back — not before the others
/// have seen it answer for a whole lease period, and within two lease
/// periods of its return (the bound the README states) — while the living
/// keep theirs with their tokens.
#[test]
fn postgres_a_daemon_dead_during_an_outage_is_taken_over_after_it() {
    let mut cluster = Cluster::running(Backend::Postgres, 3);
    let before = cluster.holders();
    let victim = cluster.daemon_id(2);
    let orphans: BTreeSet<String> = before
        .iter()
        .filter(|(_, (holder, _))| *holder == victim)
        .map(|(tenant, _)| tenant.clone())
        .collect();
    assert_eq!(orphans.len(), TENANTS / 3);

    let killed = cluster.kill_store();
    cluster.daemons[2].kill();
    std::thread::sleep((LEASE * 2).saturating_sub(killed.elapsed()));
    let back = cluster.restart_store();
    let took = wait_until(
        LEASE * 2 + SLACK,
        "the dead daemon's tenants taken over",
        || {
            let holders = cluster.holders();
            orphans
                .iter()
                .all(|t| holders.get(t).is_some_and(|(holder, _)| *holder != victim))
        },
    );
    eprintln!(
        "the dead daemon's {} tenants were held again {} ms after PostgreSQL came back (lease {} ms, bound {} ms)",
        orphans.len(),
        took.as_millis(),
        LEASE.as_millis(),
        (LEASE * 2).as_millis()
    );
    // Measured from when the harness saw PostgreSQL accept connections,
    // which the daemons may have seen up to its polling (100 ms) earlier.
    assert!(
        took + SLACK >= LEASE,
        "taken over {took:?} after the store came back: before the others had seen it answer for a lease period ({LEASE:?})"
    );
    assert!(back.elapsed() >= took);

    let after = cluster.holders();
    for (tenant, (holder, token)) in &before {
        let (new_holder, new_token) = &after[tenant];
        if orphans.contains(tenant) {
            assert_ne!(new_holder, &victim);
            assert_eq!(*new_token, token + 1, "{tenant} moved more than once");
        } else {
            assert_eq!(
                (new_holder, new_token),
                (holder, token),
                "{tenant} changed hands though its holder lived"
            );
        }
    }
    let shares = cluster.shares();
    assert_eq!(shares.len(), 2, "{shares:?}");
    assert!(shares.values().all(|&n| n == TENANTS / 2), "{shares:?}");
    let commit = cluster.commit_round(1);
    cluster.push_all(0, &commit);
    cluster.wait_for_round(1, Duration::from_secs(60));
    cluster.assert_exactly_once(1, &commit);
}

/// `/readyz` answers 200 only once the daemon is listed among the daemons
/// sharing the store (`/api/v1/cluster`), so that whatever waits for it to
/// be ready waits for the others to count it. Its registration is held up
/// by a lock on the daemons' table, longer than the daemon's lock timeout,
/// while its tenants load from a warm cache.
#[test]
fn postgres_a_daemon_is_ready_only_once_listed() {
    let mut cluster = Cluster::new(Backend::Postgres);
    // Plugins compiled into the cache and the schema made; the first
    // daemon then leaves, giving every tenant up.
    let first = cluster.start_daemon();
    assert_eq!(cluster.daemons[first].stop(), Some(0));

    let mut lock = cluster.runtime.block_on(async {
        use sqlx::{Connection, Executor};
        let mut connection = sqlx::postgres::PgConnection::connect(&cluster.url)
            .await
            .unwrap();
        connection.execute("BEGIN").await.unwrap();
        connection
            .execute("LOCK TABLE daemons IN EXCLUSIVE MODE")
            .await
            .unwrap();
        connection
    });
    let daemon = Daemon::spawned(&cluster.config, "info");
    let listed = |daemon: &Daemon| {
        let (status, body) = daemon.get("/api/v1/cluster").unwrap();
        assert_eq!(status, 200, "{body}");
        let view: serde_json::Value = serde_json::from_str(&body).unwrap();
        let id = view["daemon"].as_str().unwrap().to_string();
        view["daemons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|listed| listed["id"] == id.as_str())
    };
    // Held until the tenants have loaded and past the daemon's lock
    // timeout (2 s), so that its first writes fail and it tries again.
    let locked_at = Instant::now();
    let loaded = || {
        daemon
            .log()
            .contains("first attempt to load its plugins; ready")
    };
    let mut answers = BTreeMap::<u16, usize>::new();
    while !(loaded() && locked_at.elapsed() > Duration::from_secs(3)) {
        assert!(
            locked_at.elapsed() < Duration::from_secs(60),
            "the tenants did not load:\n{}",
            daemon.log()
        );
        let (status, body) = daemon.get("/readyz").unwrap();
        *answers.entry(status).or_default() += 1;
        assert!(
            status != 200 || listed(&daemon),
            "ready while not listed among the daemons: {body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !listed(&daemon),
        "listed although its heartbeat could not be written"
    );
    eprintln!("/readyz while the daemon could not register: {answers:?}");
    let released = Instant::now();
    cluster.runtime.block_on(async {
        use sqlx::Executor;
        lock.execute("ROLLBACK").await.unwrap();
    });
    wait_until(LEASE, "ready once registered", || {
        matches!(daemon.get("/readyz"), Ok((200, _)))
    });
    eprintln!(
        "ready {} ms after its heartbeat could be written",
        released.elapsed().as_millis()
    );
    assert!(listed(&daemon));
    cluster.daemons.push(daemon);
    cluster.wait_for_even_spread(1);
}
