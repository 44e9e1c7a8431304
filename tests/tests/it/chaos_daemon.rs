//! Chaos experiments run by the daemon against real podman, the apps
//! tenant with `self_heal = true` and a drift check every second: a run
//! pauses one of two replicas for 5 s while a probe on the other passes,
//! self-heal leaves the held app alone, and the run ends on time; killing
//! the only replica is aborted by the probe, restored, recorded and
//! alerted; a schedule every 10 s runs twice in 25 s and never overlaps;
//! an experiment leaving Git, a commit the tenant cannot load, `cairn
//! suspend`, a daemon stopped by SIGTERM and one killed by SIGKILL all
//! restore the targets.

use super::chaos_docker::{Stand, container_id, web};
use cairn_tests::Workspace;
use cairn_tests::alerts::AlertReceiver;
use cairn_tests::daemon::{Daemon, wait_until, wait_until_explained};
use cairn_tests::podman::Podman;
use std::time::{Duration, Instant};

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// The tenant's settings: a poll and a drift check every second, drift
/// repaired.
const EAGER: &str = "chaos = true\ninterval = \"1s\"\ndrift_interval = \"1s\"\nself_heal = true";

/// How long a stage's replicas may take to answer.
const STAGE_TIMEOUT: Duration = Duration::from_secs(150);

/// A daemon over `replicas` replicas of web, applied and answering.
/// Fields drop in order: the daemon stops before podman removes the
/// containers, so that no repair makes one after.
struct Stage {
    daemon: Daemon,
    podman: Podman,
    ws: Workspace,
    port: u16,
    receiver: AlertReceiver,
}

impl Stage {
    fn new(replicas: u32, chaos_config: &str) -> Self {
        let receiver = AlertReceiver::start();
        let Stand { ws, podman, port } = Stand::with(chaos_config, EAGER, &receiver.table());
        ws.repo.write("apps.toml", &web(port, replicas));
        ws.repo.commit("web", AUTHOR);
        let daemon = Daemon::start(&ws.config_path());
        let stage = Self {
            ws,
            podman,
            daemon,
            port,
            receiver,
        };
        // Seconds alone; beside the whole suite's containers, podman has
        // taken over a minute. A stage that never comes up says why.
        wait_until_explained(
            STAGE_TIMEOUT,
            "every replica answering",
            || (0..replicas as u16).all(|n| Podman::http(stage.port + n).is_some()),
            || {
                format!(
                    "the tenant: {}\nthe daemon's log:\n{}",
                    stage.daemon.tenant("default"),
                    stage.daemon.log()
                )
            },
        );
        stage
    }

    /// Commits `experiments.toml`.
    fn commit(&self, experiments: &str, message: &str) {
        self.ws.repo.write("experiments.toml", experiments);
        self.ws.repo.commit(message, AUTHOR);
    }

    /// The state of every web container, by id.
    fn states(&self) -> Vec<(String, String)> {
        self.podman
            .app_containers("web")
            .iter()
            .map(|c| {
                let id = c["Id"].as_str().unwrap_or_default().to_string();
                (id.clone(), self.podman.state(&id))
            })
            .collect()
    }

    /// The actions of the tenant's history, newest run first: `(summary,
    /// result)`.
    fn history(&self) -> Vec<String> {
        self.ws
            .history()
            .iter()
            .flat_map(|run| run["actions"].as_array().cloned().unwrap_or_default())
            .map(|action| action["summary"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

fn experiment(name: &str, action: &str, duration: &str, more: &str) -> String {
    format!(
        "[[chaos.experiment]]\nname = {name:?}\ntarget = {{ app = \"web\" }}\naction = {action:?}\nduration = {duration:?}\n{more}\n"
    )
}

/// Watches `id` until it is running again after `since`, sampling every
/// 20 ms: how long it was not running, from `since`.
fn wait_running(stage: &Stage, id: &str, within: Duration) -> Duration {
    let since = Instant::now();
    loop {
        if stage.podman.state(id) == "running" {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < within,
            "{id} not running again within {within:?}:\n{}",
            stage.daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_run_holds_its_app_against_self_heal_and_ends_on_time() {
    let stage = Stage::new(2, ", max_share = 50");
    // The plan names the replica a run would take; the probe then asks
    // the other one.
    stage.commit(
        &experiment(
            "web-pause",
            "pause",
            "5s",
            "schedule = { at = \"2099-01-01T00:00:00Z\" }",
        ),
        "an experiment for later",
    );
    let plan = stage.ws.cairn(&["plan"]);
    let scheduled = plan.all();
    assert!(scheduled.contains("pause 1 of 2 web for 5s"), "{scheduled}");
    let paused_name = {
        let line = scheduled
            .lines()
            .find(|line| line.contains("chaos/experiment/web-pause") && line.contains("start in"))
            .unwrap_or_else(|| panic!("no scheduled line:\n{scheduled}"));
        line[line.rfind('(').expect("a target") + 1..line.rfind(')').expect("closed")].to_string()
    };
    let paused = container_id(&stage.podman, &paused_name);
    let replica: u16 = paused_name
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a replica number");
    let other_port = stage.port + 1 - replica;
    stage.commit(
        &experiment(
            "web-pause",
            "pause",
            "5s",
            &format!(
                "probes = [{{ name = \"other\", url = \"http://127.0.0.1:{other_port}/\", body = \"version 1\", latency = \"2s\" }}]"
            ),
        ),
        "the experiment, now",
    );

    wait_until(Duration::from_secs(20), "the pause", || {
        stage.podman.state(&paused) == "paused"
    });
    let paused_at = Instant::now();
    // While it runs: the other replica answers, the status shows the
    // hold, and self-heal — a drift check every second — neither
    // restarts the paused replica nor adds one.
    let mut answered = 0;
    while paused_at.elapsed() < Duration::from_secs(4) {
        assert_eq!(Podman::http(other_port).as_deref(), Some("version 1"));
        answered += 1;
        assert_eq!(stage.podman.state(&paused), "paused", "restored early");
        assert_eq!(stage.states().len(), 2, "self-heal added a replica");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        answered >= 10,
        "the other replica was asked {answered} times"
    );
    let status = stage.daemon.tenant("default");
    let holds = status["holds"].to_string();
    assert!(
        holds.contains("apps/app/web") && holds.contains("chaos/experiment/web-pause"),
        "{status}"
    );
    // Seen from outside, sampled: the duration counts from the plan that
    // starts the run, and the pause goes in a few milliseconds later.
    let paused_for =
        Duration::from_secs(4) + wait_running(&stage, &paused, Duration::from_secs(10));
    assert!(
        paused_for >= Duration::from_millis(4_500) && paused_for <= Duration::from_millis(6_500),
        "paused for {paused_for:?}, the run lasts 5s"
    );
    assert_eq!(Podman::http(stage.port).as_deref(), Some("version 1"));
    assert_eq!(Podman::http(stage.port + 1).as_deref(), Some("version 1"));
    wait_until(Duration::from_secs(10), "the run recorded as ended", || {
        let history = stage.history();
        history
            .iter()
            .any(|a| a.contains("start run 1: pause 1 of 2 web for 5s"))
            && history.iter().any(|a| a.contains("lasted its 5s"))
    });
    // Over: no hold, and self-heal never touched the app.
    wait_until(Duration::from_secs(10), "the hold over", || {
        stage.daemon.tenant("default")["holds"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });
    assert!(
        stage.receiver.of("drift", Some("apps/app/web")).is_empty(),
        "the paused replica was taken for drift: {:?}",
        stage.receiver.alerts()
    );
}

#[test]
fn killing_the_only_replica_is_aborted_by_its_probe_restored_recorded_and_alerted() {
    let stage = Stage::new(1, ", max_share = 100");
    let id = stage.states()[0].0.clone();
    stage.commit(
        &experiment(
            "web-kill",
            "kill",
            "30s",
            &format!(
                "recovery = \"20s\"\nprobes = [{{ name = \"web\", url = \"http://127.0.0.1:{}/\", latency = \"1s\" }}]",
                stage.port
            ),
        ),
        "kill the only replica",
    );
    wait_until(Duration::from_secs(20), "the kill", || {
        stage.podman.state(&id) != "running"
    });
    let down = wait_running(&stage, &id, Duration::from_secs(15));
    assert!(
        down < Duration::from_secs(10),
        "down for {down:?} of its 30s"
    );
    wait_until(Duration::from_secs(10), "the abort alert", || {
        !stage
            .receiver
            .of("chaos-aborted", Some("chaos/experiment/web-kill"))
            .is_empty()
    });
    let alert = &stage
        .receiver
        .of("chaos-aborted", Some("chaos/experiment/web-kill"))[0];
    assert!(
        alert["message"]
            .as_str()
            .unwrap_or_default()
            .contains("probe `web`"),
        "{alert}"
    );
    wait_until(Duration::from_secs(20), "web answering again", || {
        Podman::http(stage.port).is_some()
    });
    wait_until(Duration::from_secs(20), "the abort recorded", || {
        stage
            .history()
            .iter()
            .any(|a| a.starts_with("abort run 1 (probe `web`:"))
    });
}

#[test]
fn a_schedule_every_10s_runs_twice_in_25s_and_never_overlaps() {
    let stage = Stage::new(2, ", max_share = 50");
    stage.commit(
        &experiment(
            "web-stop",
            "stop",
            "3s",
            "schedule = { cron = \"*/10 * * * * *\", max_runs = 2 }",
        ),
        "stop a replica every 10 s, twice",
    );
    // Sampled every 50 ms: the stretches during which a replica is down.
    let started = Instant::now();
    let mut stretches: Vec<(Duration, Duration)> = Vec::new();
    let mut down_since: Option<Duration> = None;
    while started.elapsed() < Duration::from_secs(25) {
        let down = stage
            .states()
            .iter()
            .filter(|(_, state)| state != "running")
            .count();
        assert!(down <= 1, "two runs at once: {:?}", stage.states());
        match (down, down_since) {
            (1, None) => down_since = Some(started.elapsed()),
            (0, Some(since)) => {
                stretches.push((since, started.elapsed()));
                down_since = None;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(stretches.len(), 2, "runs: {stretches:?}");
    for (from, to) in &stretches {
        let length = *to - *from;
        assert!(
            length >= Duration::from_millis(2_500) && length <= Duration::from_secs(5),
            "a 3s run lasted {length:?}"
        );
    }
    assert!(
        stretches[1].0 - stretches[0].0 >= Duration::from_secs(9),
        "the runs are 10 s apart: {stretches:?}"
    );
}

#[test]
fn leaving_git_a_broken_commit_suspend_sigterm_and_sigkill_each_restore_the_targets() {
    let mut stage = Stage::new(2, ", max_share = 50");
    let long = |name: &str| experiment(name, "stop", "5m", "");
    let stopped = |stage: &Stage| -> String {
        let mut id = String::new();
        wait_until(Duration::from_secs(20), "a replica stopped", || match stage
            .states()
            .into_iter()
            .find(|(_, state)| state != "running")
        {
            Some((found, _)) => {
                id = found;
                true
            }
            None => false,
        });
        id
    };

    // Leaving Git: restored at the next poll.
    stage.commit(&long("first"), "a long run");
    let id = stopped(&stage);
    stage.ws.repo.remove("experiments.toml");
    stage.ws.repo.commit("no experiment", AUTHOR);
    let took = wait_running(&stage, &id, Duration::from_secs(10));
    assert!(
        took < Duration::from_secs(5),
        "restored {took:?} after leaving Git"
    );

    // A commit the tenant cannot load: its steady state can no longer be
    // told, and the run ends at once, from the last commit applied.
    stage.commit(&long("broken"), "a long run before a broken commit");
    let id = stopped(&stage);
    stage
        .ws
        .repo
        .write("broken.toml", "[[apps.app]]\nname = \"unclosed\n");
    stage.ws.repo.commit("a broken file", AUTHOR);
    let took = wait_running(&stage, &id, Duration::from_secs(10));
    assert!(
        took < Duration::from_secs(5),
        "restored {took:?} after a broken commit"
    );
    wait_until(Duration::from_secs(10), "the failure reported", || {
        stage.daemon.tenant("default")["last_error"]
            .as_str()
            .is_some_and(|error| error.contains("broken.toml"))
    });
    assert!(
        stage
            .history()
            .iter()
            .any(|a| a.contains("the tenant stopped acting on its own")),
        "{:?}",
        stage.history()
    );
    stage.ws.repo.remove("broken.toml");
    stage.ws.repo.commit("the broken file fixed", AUTHOR);

    // `cairn suspend`: the tenant halts, its run ends at once.
    stage.commit(&long("second"), "another long run");
    let id = stopped(&stage);
    stage
        .ws
        .cairn(&["suspend", "--tenant", "default"])
        .expect_code(0);
    wait_running(&stage, &id, Duration::from_secs(10));
    stage
        .ws
        .cairn(&["resume", "--tenant", "default"])
        .expect_code(0);

    // SIGTERM: the daemon ends the run before it exits.
    stage.commit(&long("third"), "a third long run");
    let id = stopped(&stage);
    assert_eq!(stage.daemon.stop(), Some(0));
    assert_eq!(
        stage.podman.state(&id),
        "running",
        "SIGTERM left it stopped:\n{}",
        stage.daemon.log()
    );

    // SIGKILL mid-run: the next daemon finds the run in its record and
    // restores the targets when it ends.
    stage.commit(&experiment("fourth", "stop", "6s", ""), "a short run");
    stage.daemon.restart();
    let id = stopped(&stage);
    let killed_at = Instant::now();
    stage.daemon.kill();
    std::thread::sleep(Duration::from_secs(1));
    assert_ne!(
        stage.podman.state(&id),
        "running",
        "nobody restores a killed daemon's run"
    );
    stage.daemon.restart();
    wait_running(&stage, &id, Duration::from_secs(20));
    assert!(
        killed_at.elapsed() < Duration::from_secs(20),
        "restored {:?} after the kill",
        killed_at.elapsed()
    );
}
