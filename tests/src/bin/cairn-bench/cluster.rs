//! Several daemons on one PostgreSQL: how push-to-applied latency grows
//! with the tenants each daemon holds, and how long a daemon killed with
//! SIGKILL leaves its tenants unheld.

use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header_with_state};
use cairn_tests::daemon::{Daemon, HOOK_SECRET, wait_until};
use cairn_tests::postgres::Postgres;
use sqlx::Row;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Records per tenant, besides its zone.
pub const RECORDS: usize = 4;
/// How long one round may take to be applied everywhere.
const ROUND_TIMEOUT: Duration = Duration::from_secs(600);

/// The latency of one round at one size.
pub struct Step {
    /// Tenants each daemon holds.
    pub per_daemon: usize,
    /// Push-to-applied latency per tenant, sorted.
    pub latencies: Vec<Duration>,
    /// From the first push to the last tenant applied.
    pub all_applied: Duration,
    /// Changes of the round that failed at least once and were retried
    /// (PowerDNS's sqlite backend answers 500 when many writes meet): each
    /// counted once, however many times it failed.
    pub retried_changes: i64,
    /// Failed attempts of the round's changes: a change that failed three
    /// times before it was applied counts three.
    pub failed_attempts: i64,
}

impl Step {
    /// The `q`-quantile of the latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        let index = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
        self.latencies[index]
    }
}

/// `daemons` daemons sharing `daemons × per_daemon` tenants on PowerDNS
/// and a fresh PostgreSQL.
struct Setup {
    ws: Workspace,
    _postgres: Postgres,
    url: String,
    daemons: Vec<Daemon>,
    tenants: usize,
    runtime: tokio::runtime::Runtime,
}

impl Setup {
    fn new(daemons: usize, tenants: usize, lease: &str) -> anyhow::Result<Self> {
        let ws = Workspace::new();
        let postgres = Postgres::start(ws.path());
        let url = postgres.url();
        let mut config = config_header_with_state(&url);
        config.push_str(&format!("\n[daemon]\nlease = \"{lease}\"\n"));
        for tenant in 0..tenants {
            let options = ConfigOptions {
                path: format!("c{tenant}"),
                tenant_settings: "interval = \"1h\"\ndrift_interval = \"1h\"\nwebhook_secret = { env = \"CAIRN_TEST_HOOK\" }".into(),
                ..ConfigOptions::default()
            };
            config.push_str(&ws.tenant_block(&format!("c{tenant}"), &options));
        }
        let path = ws.path().join("cluster.toml");
        std::fs::write(&path, config)?;
        let mut setup = Self {
            ws,
            _postgres: postgres,
            url,
            daemons: Vec::new(),
            tenants,
            runtime: tokio::runtime::Runtime::new()?,
        };
        let first = setup.commit_round(0);
        for _ in 0..daemons {
            setup.daemons.push(Daemon::start(&path));
        }
        setup.wait_applied(&first)?;
        let share = tenants.div_ceil(daemons);
        wait_until(Duration::from_secs(120), "an even spread", || {
            setup
                .holders()
                .is_ok_and(|h| h.len() == daemons && h.values().all(|&n| n == share))
        });
        Ok(setup)
    }

    fn commit_round(&self, round: usize) -> String {
        for tenant in 0..self.tenants {
            let zone = format!("c{tenant}.scale.example.");
            let mut text = format!("[[dns.zone]]\nname = \"{zone}\"\n\n");
            for record in 0..RECORDS {
                text.push_str(&format!(
                    "[[dns.record]]\nname = \"r{record}.{zone}\"\ntype = \"A\"\nrecords = [\"10.{}.{}.{record}\"]\n\n",
                    round % 250,
                    tenant % 250
                ));
            }
            self.ws.repo.write(&format!("c{tenant}/dns.toml"), &text);
        }
        self.ws
            .repo
            .commit(&format!("round {round}"), "Bench <bench@cairn.invalid>")
    }

    fn query<T>(
        &self,
        work: impl AsyncFnOnce(&mut sqlx::AnyConnection) -> Result<T, sqlx::Error>,
    ) -> anyhow::Result<T> {
        self.runtime.block_on(async {
            sqlx::any::install_default_drivers();
            let mut connection =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&self.url).await?;
            Ok(work(&mut connection).await?)
        })
    }

    /// Tenants applied at `commit`, with when (ms since the epoch).
    fn applied(&self, commit: &str) -> anyhow::Result<BTreeMap<String, i64>> {
        let commit = commit.to_string();
        self.query(async move |connection| {
            let rows = sqlx::query(
                "SELECT tenant, last_applied_at FROM tenants WHERE last_applied_commit = $1",
            )
            .bind(commit)
            .fetch_all(&mut *connection)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                .collect()
        })
    }

    /// Changes of `commit` that failed at least once, and their failed
    /// attempts: the audit log has a row per attempt, so the changes are
    /// its distinct resource addresses (per tenant).
    fn failures(&self, commit: &str) -> anyhow::Result<(i64, i64)> {
        let commit = commit.to_string();
        self.query(async move |connection| {
            // SUM of BIGINT is NUMERIC in PostgreSQL: cast back for i64.
            let row = sqlx::query(
                "SELECT COUNT(*), CAST(COALESCE(SUM(attempts), 0) AS BIGINT)
                 FROM (SELECT COUNT(*) AS attempts FROM audit
                       WHERE commit_id = $1 AND result = 'failed'
                       GROUP BY tenant, address) AS failed_changes",
            )
            .bind(commit)
            .fetch_one(&mut *connection)
            .await?;
            Ok((row.try_get(0)?, row.try_get(1)?))
        })
    }

    /// Tenants held per daemon.
    fn holders(&self) -> anyhow::Result<BTreeMap<String, usize>> {
        self.query(async |connection| {
            let rows = sqlx::query(
                "SELECT holder, COUNT(*) FROM leases
                 WHERE expires_at > CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)
                 GROUP BY holder",
            )
            .fetch_all(&mut *connection)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get::<i64, _>(1)? as usize)))
                .collect()
        })
    }

    fn wait_applied(&self, commit: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + ROUND_TIMEOUT;
        while self.applied(commit)?.len() < self.tenants {
            anyhow::ensure!(Instant::now() < deadline, "a round was not applied in time");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

/// Push-to-applied latency of one commit that changes every tenant, each
/// pushed by webhook (to the daemons in turn: most pushes reach a daemon
/// that does not hold the tenant and travel through the store).
pub fn latency(daemons: usize, per_daemon: usize) -> anyhow::Result<Step> {
    let setup = Setup::new(daemons, daemons * per_daemon, "10s")?;
    let commit = setup.commit_round(1);
    let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{commit}\"}}");
    let mut pushed = BTreeMap::new();
    let first = cairn::store::now_ms();
    for tenant in 0..setup.tenants {
        let name = format!("c{tenant}");
        pushed.insert(name.clone(), cairn::store::now_ms());
        let status = setup.daemons[tenant % daemons].push(&name, HOOK_SECRET, &body);
        anyhow::ensure!(status == 202, "a push was answered {status}");
    }
    setup.wait_applied(&commit)?;
    let applied = setup.applied(&commit)?;
    let mut latencies: Vec<Duration> = applied
        .iter()
        .map(|(tenant, at)| Duration::from_millis((at - pushed[tenant]).max(0) as u64))
        .collect();
    latencies.sort();
    let last = applied.values().max().copied().unwrap_or(first);
    let (retried_changes, failed_attempts) = setup.failures(&commit)?;
    Ok(Step {
        per_daemon,
        latencies,
        all_applied: Duration::from_millis((last - first).max(0) as u64),
        retried_changes,
        failed_attempts,
    })
}

/// SIGKILL one of three daemons `kills` times (restarting it in between)
/// with the default lease: how long until its tenants are held again.
pub fn failover(tenants: usize, kills: usize) -> anyhow::Result<Vec<Duration>> {
    let mut setup = Setup::new(3, tenants, "10s")?;
    let mut times = Vec::new();
    for _ in 0..kills {
        let before = setup.holders()?;
        setup.daemons[2].kill();
        let killed = Instant::now();
        wait_until(Duration::from_secs(60), "the tenants held again", || {
            setup
                .holders()
                .is_ok_and(|h| h.len() == 2 && h.values().sum::<usize>() == tenants && h != before)
        });
        times.push(killed.elapsed());
        setup.daemons[2].restart();
        let share = tenants.div_ceil(3);
        wait_until(Duration::from_secs(120), "an even spread again", || {
            setup
                .holders()
                .is_ok_and(|h| h.len() == 3 && h.values().all(|&n| n == share))
        });
    }
    Ok(times)
}
