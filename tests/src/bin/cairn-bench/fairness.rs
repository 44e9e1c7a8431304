//! Fairness: the calm tenant's push-to-applied latency alone, and beside
//! tenants that contend at once for the cores and the host's memory (two
//! spinning in `diff` with all four of their call slots, one holding
//! header sets, one flooding its log with large fields).

use cairn_tests::Workspace;
use cairn_tests::cairn::config_header;
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::hostile::{
    AUTHOR, attackers_config, calm_block, calm_zone, contenders, measure_one,
};
use std::time::Duration;

/// Pushes before the timed ones, in each daemon.
const WARM_UP: usize = 3;

/// How long the contenders are given to start spinning before the timed
/// pushes: their first runs load the plugin and reach `diff`.
const CONTENDERS_START: Duration = Duration::from_secs(3);

/// The calm tenant's push-to-applied samples, alone and beside the
/// contenders.
pub struct Figures {
    /// Alone.
    pub alone: Vec<Duration>,
    /// Beside the contenders.
    pub beside: Vec<Duration>,
}

/// Measures `pushes` pushes of the calm tenant in a daemon of its own, then
/// as many in a daemon where the contenders run beside it.
pub fn calm_beside_contenders(pushes: usize) -> anyhow::Result<Figures> {
    let ws = Workspace::new();
    ws.repo.write("calm.toml", &calm_zone("198.51.100.250"));
    ws.repo.commit("calm", AUTHOR);
    let calm = calm_block(&ws, &ws.pdns.url());
    let measured = |config: String| {
        std::fs::write(ws.config_path(), config)?;
        let mut daemon = Daemon::start(&ws.config_path());
        wait_until(Duration::from_secs(60), "the calm tenant's zone", || {
            !ws.pdns.dig("www.calm.example.", "A").is_empty()
        });
        std::thread::sleep(CONTENDERS_START);
        let samples: Vec<Duration> = (0..WARM_UP + pushes)
            .map(|push| measure_one(&ws, &daemon, push))
            .skip(WARM_UP)
            .collect();
        // Stopped, not killed: the next daemon takes the lease at once.
        daemon.stop();
        anyhow::Ok(samples)
    };
    let alone = measured(format!("{}\n{calm}", config_header()))?;
    // Spinning 20 s a call: through the whole window, and within the
    // daemon's 30 s grace for runs in flight when it is stopped.
    let (attackers, _repos) = attackers_config(&ws, &contenders(["20s", "20s"]));
    let beside = measured(format!("{}\n{calm}{attackers}", config_header()))?;
    Ok(Figures { alone, beside })
}
