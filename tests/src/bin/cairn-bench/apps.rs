//! Apps against real podman: deploying apps from scratch, a no-change
//! plan of them, and a rolling image update of one, whole `cairn`
//! processes.

use crate::{median, timed_apply, timed_no_change_plans};
use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::podman::Podman;
use std::fmt::Write;
use std::time::Duration;

/// Fresh engines, each deployed from scratch once.
const ROUNDS: usize = 3;
/// No-change plans per round.
const PLANS: usize = 3;

/// What the apps section measured.
pub struct Figures {
    /// Apps deployed.
    pub apps: usize,
    /// `cairn apply --yes` of every app into an empty engine, per round.
    pub from_scratch: Vec<Duration>,
    /// `cairn plan` with nothing to change.
    pub no_change: Vec<Duration>,
    /// `cairn apply --yes` of a new image for one app (2 replicas, rolling).
    pub rolling_update: Vec<Duration>,
    /// The floor of `from_scratch`, in each round's engine: podman's own
    /// create and start of as many containers, sent directly.
    pub create_start: Vec<Duration>,
}

fn repository(apps: usize, rolled_image: &str) -> String {
    let mut text = String::new();
    for index in 0..apps {
        let image = if index == 0 {
            rolled_image
        } else {
            "cairn-test/web:1"
        };
        let replicas = if index == 0 { 2 } else { 1 };
        let _ = write!(
            text,
            "[[apps.app]]\nname = \"app{index:02}\"\nimage = \"{image}\"\nreplicas = {replicas}\nrestart = \"no\"\nstop_grace = \"1s\"\n\n"
        );
    }
    text
}

/// Deploys `apps` apps (the first with 2 replicas) into fresh engines.
pub fn deploy(apps: usize) -> anyhow::Result<Figures> {
    let mut figures = Figures {
        apps,
        from_scratch: Vec::new(),
        no_change: Vec::new(),
        rolling_update: Vec::new(),
        create_start: Vec::new(),
    };
    for _ in 0..ROUNDS {
        let ws = Workspace::new();
        let podman = Podman::start(&ws.path().join("podman"));
        let text = format!(
            "{}\n{}{}",
            config_header(),
            ws.tenant_block("default", &ConfigOptions::default()),
            podman.provider_table("default", &[], "")
        );
        std::fs::write(ws.config_path(), text)?;
        ws.repo
            .write("apps.toml", &repository(apps, "cairn-test/web:1"));
        ws.repo.commit("apps", "Bench <bench@example.org>");
        figures.from_scratch.push(timed_apply(&ws, "the deploy")?);
        figures.no_change.extend(timed_no_change_plans(&ws, PLANS)?);
        ws.repo
            .write("apps.toml", &repository(apps, "cairn-test/web:2"));
        ws.repo
            .commit("a new image for app00", "Bench <bench@example.org>");
        figures.rolling_update.push(timed_apply(&ws, "the update")?);
        figures
            .create_start
            .push(create_and_start(&podman, apps + 1)?);
    }
    Ok(figures)
}

/// The time podman takes to create and start `containers` containers of
/// the apps' image, one after the other, through the same Docker Engine
/// API (each request on its own connection, as the provider's are).
fn create_and_start(podman: &Podman, containers: usize) -> anyhow::Result<Duration> {
    let started = std::time::Instant::now();
    for index in 0..containers {
        let created = podman
            .request(
                "POST",
                &format!("/containers/create?name=floor{index:02}"),
                Some(&serde_json::json!({
                    "Image": "cairn-test/web:1",
                    // As the provider sends them here (`podman::ULIMITS`).
                    "HostConfig": {"Ulimits": [
                        {"Name": "nofile", "Soft": 1024, "Hard": 20000},
                        {"Name": "nproc", "Soft": 1024, "Hard": 1024},
                    ]},
                })),
            )
            .map_err(anyhow::Error::msg)?;
        let id = created["Id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("podman made no container: {created}"))?;
        podman
            .request("POST", &format!("/containers/{id}/start"), None)
            .map_err(anyhow::Error::msg)?;
    }
    Ok(started.elapsed())
}

impl Figures {
    /// The median of the floor of `from_scratch`, in seconds.
    pub fn floor(&self) -> f64 {
        median(self.create_start.clone()).as_secs_f64()
    }

    /// The medians, in seconds: from scratch, no change, rolling update.
    pub fn medians(&self) -> (f64, f64, f64) {
        (
            median(self.from_scratch.clone()).as_secs_f64(),
            median(self.no_change.clone()).as_secs_f64(),
            median(self.rolling_update.clone()).as_secs_f64(),
        )
    }
}
