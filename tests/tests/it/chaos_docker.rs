//! The chaos provider against real podman, driven by `cairn apply` step by
//! step: a run pauses one of two replicas while a probe on the other
//! passes, the app it holds is left alone meanwhile, and the apply after
//! its duration restores it; a run that kills the only replica is aborted
//! by its probe and restored; an experiment on containers of another owner
//! is refused at plan time; an experiment that leaves Git mid-run is
//! restored; a tenant without `chaos = true` does not load the provider;
//! two experiments never hold one container at once.

use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::podman::Podman;
use cairn_tests::ports::published_ports;
use std::time::{Duration, Instant};

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// A workspace whose one tenant runs the apps and the chaos providers on
/// a podman of its own; probes may reach two ports from `port`, those of
/// web's replicas.
pub(crate) struct Stand {
    pub ws: Workspace,
    pub podman: Podman,
    pub port: u16,
}

impl Stand {
    /// Chaos turned on, `max_share` its chaos config.
    fn new(max_share: u32) -> Self {
        Self::with(&format!(", max_share = {max_share}"), "chaos = true", "")
    }

    /// [`configure`]'s settings.
    pub(crate) fn with(chaos_config: &str, tenant_settings: &str, top_settings: &str) -> Self {
        let ws = Workspace::new();
        let podman = Podman::start_in_scratch();
        let port = published_ports(2);
        configure(
            &ws,
            &podman,
            port,
            chaos_config,
            tenant_settings,
            top_settings,
        );
        Self { ws, podman, port }
    }

    /// [`Stand::new`], with `replicas` replicas of web committed and
    /// applied.
    fn applied(replicas: u32, max_share: u32) -> Self {
        let stand = Self::new(max_share);
        stand.ws.repo.write("apps.toml", &web(stand.port, replicas));
        stand.ws.repo.commit("web", AUTHOR);
        stand.ws.cairn(&["apply", "--yes"]).expect_code(0);
        stand
    }
}

/// One tenant with the apps and the chaos provider: `chaos_config` more
/// chaos config keys (`, max_share = 100`), the tenant's settings and the
/// file's top-level settings (alert sinks); probes may reach the app's two
/// replicas' ports from `probe_port`.
fn configure(
    ws: &Workspace,
    podman: &Podman,
    probe_port: u16,
    chaos_config: &str,
    tenant_settings: &str,
    top_settings: &str,
) {
    let options = ConfigOptions {
        tenant_settings: tenant_settings.to_string(),
        top_settings: top_settings.to_string(),
        ..ConfigOptions::default()
    };
    let text = format!(
        "{}\n{}\n{}{}{}",
        config_header(),
        top_settings,
        ws.tenant_block("default", &options),
        podman.provider_table("default", &[], ""),
        podman.chaos_table(
            "default",
            "default",
            &[&format!("http://127.0.0.1:{probe_port}-{}", probe_port + 1)],
            chaos_config
        ),
    );
    std::fs::write(ws.config_path(), text).expect("write cairn.toml");
}

pub(crate) fn web(port: u16, replicas: u32) -> String {
    format!(
        r#"
[[apps.app]]
name = "web"
image = "cairn-test/web:1"
ports = ["{port}:8080"]
replicas = {replicas}
restart = "no"
stop_grace = "1s"
"#
    )
}

/// The container a plan line names: `start run 1: … (web-…-1)`.
pub(crate) fn chosen(plan: &str) -> String {
    let line = plan
        .lines()
        .find(|line| line.contains("start run"))
        .unwrap_or_else(|| panic!("no run in the plan:\n{plan}"));
    let open = line.rfind('(').expect("the targets in brackets");
    line[open + 1..line.rfind(')').expect("closed")].to_string()
}

pub(crate) fn container_id(podman: &Podman, name: &str) -> String {
    podman
        .app_containers("web")
        .into_iter()
        .find(|c| c["Names"][0].as_str().map(|n| n.trim_start_matches('/')) == Some(name))
        .and_then(|c| c["Id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// Runs `cairn apply --yes` until its output holds `text`, for at most
/// `within`.
fn apply_until(ws: &Workspace, text: &str, within: Duration) -> String {
    let started = Instant::now();
    loop {
        let apply = ws.cairn(&["apply", "--yes"]);
        let output = apply.all();
        if output.contains(text) {
            return output;
        }
        assert!(
            started.elapsed() < within,
            "no `{text}` within {within:?}; last apply:\n{output}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_run_pauses_one_replica_while_the_other_answers_and_is_restored_after_its_duration() {
    let Stand { ws, podman, port } = Stand::applied(2, 50);

    // Which replica a run takes is drawn from the experiment and the run:
    // the plan names it, and the probe then asks the other one.
    let experiment = |probe_port: Option<u16>| {
        let probe = probe_port.map_or_else(String::new, |p| {
            format!(
                "probes = [{{ name = \"other\", url = \"http://127.0.0.1:{p}/\", body = \"version 1\", latency = \"2s\" }}]\n"
            )
        });
        format!(
            "[[chaos.experiment]]\nname = \"web-pause\"\ntarget = {{ app = \"web\" }}\naction = \"pause\"\ncount = 1\nduration = \"5s\"\nrecovery = \"10s\"\n{probe}"
        )
    };
    ws.repo.write("experiments.toml", &experiment(None));
    ws.repo.commit("an experiment", AUTHOR);
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains("arm the experiment; start run 1: pause 1 of 2 web for 5s");
    let paused_name = chosen(&plan.all());
    let replica: u16 = paused_name
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a replica number");
    let other_port = port + 1 - replica;
    ws.repo
        .write("experiments.toml", &experiment(Some(other_port)));
    ws.repo.commit("the probe asks the other replica", AUTHOR);

    let started = Instant::now();
    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(0).expect_contains(&format!(
        "start run 1: pause 1 of 2 web for 5s ({paused_name})"
    ));
    let paused = container_id(&podman, &paused_name);
    assert_eq!(podman.state(&paused), "paused");
    assert_eq!(Podman::http(other_port).as_deref(), Some("version 1"));

    // Within its duration the run goes on, and the app it holds is left
    // alone: its paused replica is the experiment's doing, not drift.
    let plan = ws.cairn(&["plan"]);
    if started.elapsed() < Duration::from_secs(4) {
        plan.expect_code(0)
            .expect_contains("Held on purpose")
            .expect_contains("apps/app/web by chaos/experiment/web-pause for");
    }
    assert_eq!(podman.state(&paused), "paused");
    assert_eq!(podman.app_containers("web").len(), 2, "no replica added");

    let restored = apply_until(&ws, "lasted its 5s", Duration::from_secs(20));
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "restored before its duration:\n{restored}"
    );
    assert_eq!(podman.state(&paused), "running");
    assert_eq!(Podman::http(port).as_deref(), Some("version 1"));
    assert_eq!(Podman::http(port + 1).as_deref(), Some("version 1"));
    // The probe passed right after the restore: the run is over. Its
    // provider no longer asks to be looked at again (no more runs are
    // due), which one more apply records; then nothing is left to do.
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains(
            "record that its provider asks to compare it again over time, or no longer does",
        );
    ws.cairn(&["plan"]).expect_code(0);
}

#[test]
fn killing_the_only_replica_fails_the_probe_and_the_run_is_aborted_and_restored() {
    let Stand { ws, podman, port } = Stand::new(100);
    ws.repo.write("apps.toml", &web(port, 1));
    ws.repo.write(
        "experiments.toml",
        &format!(
            r#"
[[chaos.experiment]]
name = "web-kill"
target = {{ app = "web" }}
action = "kill"
duration = "30s"
recovery = "20s"
probes = [{{ name = "web", url = "http://127.0.0.1:{port}/", latency = "1s" }}]
"#
        ),
    );
    ws.repo
        .commit("the only replica, and an experiment on it", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    let id = podman.app_containers("web")[0]["Id"]
        .as_str()
        .expect("an id")
        .to_string();

    let started = Instant::now();
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains("start run 1: kill with SIGKILL 1 of 1 web for 30s");
    assert_ne!(podman.state(&id), "running");
    let aborted = apply_until(&ws, "abort run 1 (probe `web`:", Duration::from_secs(15));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "aborted only after its duration:\n{aborted}"
    );
    assert_eq!(podman.state(&id), "running");
    let answered = Instant::now();
    while Podman::http(port).is_none() {
        assert!(
            answered.elapsed() < Duration::from_secs(20),
            "web never answered again"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Restored and answering, the run ends as aborted (at the restore
    // when the probe passes at once, or at a later look), recorded in the
    // history with the probe's answer; then nothing is left to do.
    let settled = Instant::now();
    while ws.cairn(&["apply", "--yes"]).all().contains("Applying") {
        assert!(
            settled.elapsed() < Duration::from_secs(20),
            "the run never settled"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let summaries: Vec<String> = ws
        .history()
        .iter()
        .flat_map(|run| run["actions"].as_array().cloned().unwrap_or_default())
        .filter_map(|action| action["summary"].as_str().map(str::to_string))
        .collect();
    assert!(
        summaries
            .iter()
            .any(|s| s.starts_with("abort run 1 (probe `web`:")),
        "{summaries:#?}"
    );
    ws.cairn(&["plan"]).expect_code(0);
}

#[test]
fn an_experiment_on_another_owners_app_is_refused_at_plan_time_and_one_leaving_git_is_restored() {
    let Stand { ws, podman, port } = Stand::applied(2, 50);
    let bystander = podman.run_by_hand("bystander");

    // Without `chaos = true` the tenant does not load the chaos provider.
    configure(&ws, &podman, port, ", max_share = 50", "chaos = false", "");
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("is a chaos provider")
        .expect_contains("chaos experiments are off for tenant `default`");
    configure(&ws, &podman, port, ", max_share = 50", "chaos = true", "");

    // `db` runs under another owner (the bystander has no owner label; an
    // app of another tenant has another): not this experiment's to touch.
    let other = podman
        .request(
            "POST",
            "/containers/create?name=db-by-another",
            Some(&serde_json::json!({
                "Image": "cairn-test/web:1",
                "Labels": {"cairn.owner": "someone-else", "cairn.app": "db"},
                "HostConfig": {"Ulimits": [
                    {"Name": "nofile", "Soft": 1024, "Hard": 20000},
                    {"Name": "nproc", "Soft": 1024, "Hard": 1024}
                ]}
            })),
        )
        .expect("create another owner's container");
    let other = other["Id"].as_str().expect("an id").to_string();
    podman
        .request("POST", &format!("/containers/{other}/start"), None)
        .expect("start it");
    ws.repo.write(
        "experiments.toml",
        "[[chaos.experiment]]\nname = \"db-stop\"\ntarget = { app = \"db\" }\naction = \"stop\"\nduration = \"5s\"\n",
    );
    ws.repo
        .commit("an experiment on someone else's app", AUTHOR);
    let refused = ws.cairn(&["apply", "--yes"]);
    refused
        .expect_code(1)
        .expect_contains("experiments.toml")
        .expect_contains(
            "db are not this tenant's: an experiment acts only on the containers of its own owner",
        );
    assert_eq!(podman.state(&other), "running");
    assert_eq!(podman.state(&bystander), "running");

    // A long run, then the experiment leaves Git mid-run: restored at once.
    ws.repo.write(
        "experiments.toml",
        "[[chaos.experiment]]\nname = \"web-stop\"\ntarget = { app = \"web\" }\naction = \"stop\"\nduration = \"5m\"\n",
    );
    ws.repo.commit("a long experiment", AUTHOR);
    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(0);
    let stopped = container_id(&podman, &chosen(&apply.all()));
    assert_eq!(podman.state(&stopped), "exited");
    ws.repo.remove("experiments.toml");
    ws.repo.commit("no more experiments", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains("now and remove the experiment (run 1 cut short)");
    assert_eq!(podman.state(&stopped), "running");
    let volumes = podman
        .request("GET", "/volumes", None)
        .expect("list volumes")
        .to_string();
    assert!(
        !volumes.contains("cairn.chaos"),
        "a record is left: {volumes}"
    );
    assert_eq!(podman.state(&bystander), "running");
}

#[test]
fn two_experiments_never_hold_one_container_at_once_and_none_is_kept_when_it_leaves_git() {
    let Stand { ws, podman, .. } = Stand::applied(1, 100);
    let id = podman.app_containers("web")[0]["Id"]
        .as_str()
        .expect("an id")
        .to_string();
    let pause = |name: &str| {
        format!(
            "[[chaos.experiment]]\nname = \"{name}\"\ntarget = {{ app = \"web\" }}\naction = \"pause\"\nduration = \"1m\"\n"
        )
    };
    ws.repo
        .write("experiments.toml", &(pause("first") + &pause("second")));
    ws.repo.commit("two experiments on one container", AUTHOR);
    // Compared in one plan, the second finds the container the first's.
    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(0);
    let output = apply.all();
    assert_eq!(
        output.matches("start run 1: pause 1 of 1 web").count(),
        1,
        "{output}"
    );
    assert!(
        output.contains("skip run 1: 0 of 1 web free to act on, and the run takes 1"),
        "{output}"
    );
    assert_eq!(podman.state(&id), "paused");
    ws.repo.remove("experiments.toml");
    ws.repo.commit("no experiments", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(podman.state(&id), "running");

    // An experiment kept when it leaves Git would never end its run: the
    // commit is refused where it says so.
    for kept in ["protect = true", "on_delete = \"orphan\""] {
        ws.repo
            .write("experiments.toml", &format!("{}{kept}\n", pause("kept")));
        ws.repo.commit("a kept experiment", AUTHOR);
        for command in [&["validate"][..], &["apply", "--yes"]] {
            ws.cairn(command)
                .expect_code(1)
                .expect_contains("experiments.toml:1:1")
                .expect_contains(&format!(
                    "a chaos experiment cannot be kept when it leaves Git ({kept})"
                ));
        }
        assert_eq!(podman.state(&id), "running");
    }
}
