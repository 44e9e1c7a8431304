//! How late a chaos experiment's run ends, against real podman and a real
//! daemon: an experiment pauses one of two replicas for a fixed duration,
//! every few seconds, and the pause of each run is timed from outside —
//! the container's state sampled through the Engine API — against its
//! duration.

use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::podman::Podman;
use cairn_tests::ports::published_ports;
use std::time::{Duration, Instant};

/// Each run's duration.
const DURATION: Duration = Duration::from_secs(1);

/// How often the container's state is sampled: the resolution of the
/// measurement.
const SAMPLE: Duration = Duration::from_millis(10);

/// What the chaos section measured.
pub struct Figures {
    /// Runs timed.
    pub runs: usize,
    /// How much longer than its duration each run held its target paused.
    pub late: Vec<Duration>,
}

/// Times `runs` runs of a pause of `DURATION`, one every three seconds.
pub fn lateness(runs: usize) -> anyhow::Result<Figures> {
    let ws = Workspace::new();
    let podman = Podman::start(&ws.path().join("podman"));
    let port = published_ports(2);
    let options = ConfigOptions {
        // The commit is picked up within a second; no drift check comes
        // between the runs.
        tenant_settings: "chaos = true\ninterval = \"1s\"\ndrift_interval = \"1m\"".into(),
        ..ConfigOptions::default()
    };
    let text = format!(
        "{}\n{}{}{}",
        config_header(),
        ws.tenant_block("default", &options),
        podman.provider_table("default", &[], ""),
        podman.chaos_table("default", "default", &[], ""),
    );
    std::fs::write(ws.config_path(), text)?;
    ws.repo.write(
        "apps.toml",
        &format!(
            "[[apps.app]]\nname = \"web\"\nimage = \"cairn-test/web:1\"\nports = [\"{port}:8080\"]\nreplicas = 2\nrestart = \"no\"\nstop_grace = \"1s\"\n"
        ),
    );
    ws.repo.commit("web", "Bench <bench@example.org>");
    let daemon = Daemon::start(&ws.config_path());
    wait_until(Duration::from_secs(60), "both replicas answering", || {
        Podman::http(port).is_some() && Podman::http(port + 1).is_some()
    });
    ws.repo.write(
        "experiments.toml",
        &format!(
            "[[chaos.experiment]]\nname = \"bench\"\ntarget = {{ app = \"web\" }}\naction = \"pause\"\nduration = \"{}ms\"\nschedule = {{ cron = \"*/3 * * * * *\", max_runs = {runs} }}\n",
            DURATION.as_millis()
        ),
    );
    ws.repo.commit(
        "pause a replica every three seconds",
        "Bench <bench@example.org>",
    );
    let ids: Vec<String> = podman
        .app_containers("web")
        .iter()
        .filter_map(|c| c["Id"].as_str().map(str::to_string))
        .collect();
    let mut late = Vec::new();
    let mut paused_since: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(3 * runs as u64 + 30);
    while late.len() < runs && Instant::now() < deadline {
        let paused = ids.iter().any(|id| podman.state(id) == "paused");
        match (paused, paused_since) {
            (true, None) => paused_since = Some(Instant::now()),
            (false, Some(since)) => {
                late.push(since.elapsed().saturating_sub(DURATION));
                paused_since = None;
            }
            _ => {}
        }
        std::thread::sleep(SAMPLE);
    }
    drop(daemon);
    anyhow::ensure!(
        late.len() == runs,
        "{} of {runs} runs were seen within the time",
        late.len()
    );
    Ok(Figures { runs, late })
}
