//! The apps provider against real podman: apps from Git run and answer,
//! new images roll out, replicas scale, removed apps go, a container run by
//! hand is untouched, a missing image leaves the old version running, a
//! secret reaches the container and nothing Cairn wrote or printed (as is,
//! in base64 or in hex), and a container killed by hand is restarted by the
//! agent.

use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::podman::Podman;
use cairn_tests::{Workspace, ports::published_ports};
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// A secret value no other test uses.
const TOKEN: &str = "tok-5b0e6a1f-apps-test";

/// Writes `cairn.toml`: the workspace's DNS tenant plus the apps provider.
fn configure(ws: &Workspace, podman: &Podman, tenant_settings: &str) {
    let token = ws.path().join("token.secret");
    std::fs::write(&token, TOKEN).expect("write the secret");
    let options = ConfigOptions {
        tenant_settings: tenant_settings.to_string(),
        ..ConfigOptions::default()
    };
    let text = format!(
        "{}\n{}{}",
        config_header(),
        ws.tenant_block("default", &options),
        podman.provider_table("default", &[("token", token)], "")
    );
    std::fs::write(ws.config_path(), text).expect("write cairn.toml");
}

fn web(port: u16, image: &str) -> String {
    format!(
        r#"
[[apps.app]]
name = "web"
image = "{image}"
ports = ["{port}:8080"]
restart = "no"
stop_grace = "1s"
env = {{ MODE = "test", TOKEN = {{ secret = "token" }} }}
healthcheck = {{ command = "wget -q -O- http://127.0.0.1:8080/ || exit 1", interval = "1s", timeout = "1s" }}
"#
    )
}

fn worker(replicas: u32, image: &str) -> String {
    format!(
        r#"
[[apps.app]]
name = "worker"
image = "{image}"
replicas = {replicas}
restart = "no"
stop_grace = "1s"
"#
    )
}

fn images(podman: &Podman, app: &str) -> Vec<String> {
    let mut images: Vec<String> = podman
        .app_containers(app)
        .iter()
        .filter(|c| c["State"] == "running")
        .map(|c| c["Image"].as_str().unwrap_or_default().to_string())
        .collect();
    images.sort();
    images
}

#[test]
fn apps_from_git_run_roll_out_scale_and_go() {
    let ws = Workspace::new();
    let podman = Podman::start_in_scratch();
    configure(&ws, &podman, "");
    let bystander = podman.run_by_hand("bystander");
    let port = published_ports(1);
    let mut outputs = Vec::new();

    ws.repo.write(
        "apps.toml",
        &(web(port, "cairn-test/web:1") + &worker(2, "cairn-test/web:1")),
    );
    ws.repo.commit("web and worker", AUTHOR);
    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(0).expect_contains("run 2 replica(s)");
    outputs.push(apply.all());
    assert_eq!(Podman::http(port).as_deref(), Some("version 1"));
    assert_eq!(images(&podman, "worker").len(), 2);
    // The secret reaches the container and nothing else.
    let web_id = podman.app_containers("web")[0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let inspect = podman.inspect(&web_id);
    let env: Vec<&str> = inspect["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(env.contains(&format!("TOKEN={TOKEN}").as_str()), "{env:?}");
    assert!(!inspect["Config"]["Labels"].to_string().contains(TOKEN));
    let again = ws.cairn(&["plan"]);
    again.expect_code(0).expect_contains("No changes");
    outputs.push(again.all());

    // A new image and more replicas: rolled out, and the plan says how.
    ws.repo.write(
        "apps.toml",
        &(web(port, "cairn-test/web:2") + &worker(3, "cairn-test/web:2")),
    );
    ws.repo.commit("version 2", AUTHOR);
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains("stop-then-start per replica")
        .expect_contains("rolling: each new replica starts and is ready before its old one stops");
    outputs.push(plan.all());
    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(0);
    outputs.push(apply.all());
    assert_eq!(Podman::http(port).as_deref(), Some("version 2"));
    assert_eq!(
        images(&podman, "worker"),
        vec!["localhost/cairn-test/web:2"; 3]
    );
    assert_eq!(podman.app_containers("worker").len(), 3, "old ones removed");

    // Scaled down.
    ws.repo.write(
        "apps.toml",
        &(web(port, "cairn-test/web:2") + &worker(1, "cairn-test/web:2")),
    );
    ws.repo.commit("one worker", AUTHOR);
    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(0).expect_contains("scale down 3 → 1");
    outputs.push(apply.all());
    assert_eq!(podman.app_containers("worker").len(), 1);

    // An image that is not there: a clear error when planning, nothing is
    // applied, the old version runs on.
    ws.repo.write(
        "apps.toml",
        &(web(port, "cairn-test/web:9") + &worker(1, "cairn-test/web:2")),
    );
    ws.repo.commit("a missing image", AUTHOR);
    let failed = ws.cairn(&["apply", "--yes"]);
    failed
        .expect_code(1)
        .expect_contains("the image `cairn-test/web:9` is not on the engine");
    outputs.push(failed.all());
    assert_eq!(Podman::http(port).as_deref(), Some("version 2"));

    // The worker leaves Git: its containers go; the bystander stays.
    ws.repo.write("apps.toml", &web(port, "cairn-test/web:2"));
    ws.repo.commit("no more worker", AUTHOR);
    let apply = ws.cairn(&["apply", "--yes"]);
    apply.expect_code(0);
    outputs.push(apply.all());
    assert!(podman.app_containers("worker").is_empty());
    assert_eq!(podman.inspect(&bystander)["State"]["Running"], true);
    assert_eq!(Podman::http(port).as_deref(), Some("version 2"));

    // The secret's value is nowhere Cairn wrote or printed: not in the
    // state store, the model cache or any other file, in no encoding.
    outputs.push(ws.cairn(&["history", "--json"]).all());
    ws.assert_never_written_encoded(&outputs, TOKEN);
}

#[test]
fn a_container_killed_by_hand_is_restarted_by_the_agent() {
    let ws = Workspace::new();
    let podman = Podman::start(&ws.path().join("podman"));
    let port = published_ports(1);
    ws.repo.write("apps.toml", &web(port, "cairn-test/web:1"));
    ws.repo.commit("web", AUTHOR);
    configure(
        &ws,
        &podman,
        "interval = \"1s\"\ndrift_interval = \"1s\"\nself_heal = true",
    );
    let mut daemon = Daemon::start(&ws.config_path());
    let in_sync = |daemon: &Daemon| {
        daemon.tenant("default")["resources"]
            .as_array()
            .is_some_and(|resources| {
                resources
                    .iter()
                    .any(|r| r["address"] == "apps/app/web" && r["status"] == "in-sync")
            })
    };
    wait_until(
        Duration::from_secs(60),
        "the app applied and answering",
        || in_sync(&daemon) && Podman::http(port).as_deref() == Some("version 1"),
    );
    let id = podman.app_containers("web")[0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    podman.kill(&id);
    assert_eq!(Podman::http(port), None, "the app is down");
    wait_until(
        Duration::from_secs(60),
        "the app restarted and in sync",
        || Podman::http(port).as_deref() == Some("version 1") && in_sync(&daemon),
    );
    daemon.stop();
    let history = ws.cairn(&["history", "--json"]).json();
    let healed = history
        .as_array()
        .expect("runs")
        .iter()
        .flat_map(|run| run["actions"].as_array().cloned().unwrap_or_default())
        .any(|action| action["action"] == "drift" && action["address"] == "apps/app/web");
    assert!(healed, "the restart is recorded as drift: {history}");
}

#[test]
fn volumes_and_networks_come_and_go_with_their_apps() {
    let ws = Workspace::new();
    let podman = Podman::start(&ws.path().join("podman"));
    configure(&ws, &podman, "");
    let port = published_ports(1);
    // A network name of this test's own: podman's bridges are the host's.
    let network = format!("cairn-test-{port}");
    ws.repo.write(
        "site.toml",
        &format!(
            r#"
[[apps.volume]]
name = "site"

[[apps.network]]
name = "{network}"

[[apps.app]]
name = "site"
image = "cairn-test/web:1"
ports = ["{port}:8080"]
volumes = ["site:/www"]
network = "{network}"
restart = "no"
stop_grace = "1s"
depends_on = ["apps/volume/site", "apps/network/{network}"]
"#
        ),
    );
    ws.repo.commit("a site on its volume and network", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    let volumes = podman.request("GET", "/volumes", None).unwrap();
    let volume = volumes["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["Name"] == "site")
        .expect("the volume exists")
        .clone();
    assert_eq!(volume["Labels"]["cairn.owner"], "default");
    let networks = podman.request("GET", "/networks", None).unwrap();
    assert!(
        networks
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["Name"] == network.as_str() && n["Labels"]["cairn.owner"] == "default"),
        "{networks}"
    );
    // What the volume holds is what the app serves.
    let mountpoint = volume["Mountpoint"].as_str().unwrap();
    std::fs::write(format!("{mountpoint}/index.html"), "from the volume\n").unwrap();
    assert_eq!(Podman::http(port).as_deref(), Some("from the volume"));
    let again = ws.cairn(&["plan"]);
    again.expect_code(0);

    // The state store is lost. Everything bears this provider instance's
    // owner mark, so the provider vouches for it, and the next plan
    // records the tenant's objects again instead of refusing them as
    // conflicts; nothing is touched, and the site still serves.
    let mark = volume["Labels"]["cairn.made-by"]
        .as_str()
        .unwrap_or_default();
    assert!(mark.starts_with("cairn-") && mark.len() == 30, "{volume}");
    for file in ["state.db", "state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(ws.path().join(".cairn").join(file));
    }
    let relearned = ws.cairn(&["apply", "--yes"]);
    relearned.expect_code(0);
    for address in [
        "apps/volume/site".to_string(),
        format!("apps/network/{network}"),
        "apps/app/site".to_string(),
    ] {
        relearned.expect_contains(&address);
    }
    relearned.expect_contains("its provider vouches that it made it for this tenant");
    assert_eq!(Podman::http(port).as_deref(), Some("from the volume"));
    ws.cairn(&["plan"]).expect_code(0);

    // Gone from Git: the app first, then its volume and network.
    ws.repo.remove("site.toml");
    ws.repo.commit("no site", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert!(podman.app_containers("site").is_empty());
    let volumes = podman.request("GET", "/volumes", None).unwrap();
    assert!(
        volumes["Volumes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["Name"] != "site")
    );
    let networks = podman.request("GET", "/networks", None).unwrap();
    assert!(
        networks
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["Name"] != network.as_str())
    );

    // A volume someone made by hand is not Cairn's to claim.
    podman
        .request(
            "POST",
            "/volumes/create",
            Some(&serde_json::json!({"Name": "handmade"})),
        )
        .expect("a volume made by hand");
    ws.repo
        .write("handmade.toml", "[[apps.volume]]\nname = \"handmade\"\n");
    ws.repo.commit("claim a volume", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("a volume named `handmade` exists and Cairn did not create it");
}

/// What an app refers to resolves when planning: a volume Git does not
/// declare stops the plan at the app's place in Git, and nothing reaches
/// the engine (podman would otherwise make the volume silently, with no
/// owner label, and Cairn would never clean it up). A volume the engine
/// has, marked `external`, is used and left alone.
#[test]
fn an_undeclared_volume_stops_the_plan_and_an_external_one_is_used() {
    let ws = Workspace::new();
    let podman = Podman::start(&ws.path().join("podman"));
    configure(&ws, &podman, "");
    let port = published_ports(1);
    let app = |volumes: &str| {
        format!(
            "[[apps.app]]\nname = \"site\"\nimage = \"cairn-test/web:1\"\nports = [\"{port}:8080\"]\nvolumes = [{volumes}]\nrestart = \"no\"\nstop_grace = \"1s\"\n"
        )
    };
    let volume_names = |podman: &Podman| -> Vec<String> {
        let volumes = podman.request("GET", "/volumes", None).unwrap();
        volumes["Volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["Name"].as_str().unwrap().to_string())
            .collect()
    };

    ws.repo.write("site.toml", &app("\"ghost-vol:/www\""));
    ws.repo.commit("a site on a volume nobody declares", AUTHOR);
    let expected = "site.toml:1:1: apps/app/site `volumes`: the volume `ghost-vol` is not declared in this commit";
    ws.cairn(&["plan"]).expect_code(1).expect_contains(expected);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains(expected)
        .expect_contains("external = true");
    assert!(podman.app_containers("site").is_empty());
    assert!(!volume_names(&podman).contains(&"ghost-vol".to_string()));

    // Marked external, but the engine has no such volume either.
    let external = "{ volume = \"shared\", path = \"/www\", external = true }";
    ws.repo.write("site.toml", &app(external));
    ws.repo.commit("an external volume", AUTHOR);
    ws.cairn(&["plan"])
        .expect_code(1)
        .expect_contains("the external volume `shared` is not on the engine");

    // Once the engine has it, it is used, shown in the plan, and left alone.
    podman
        .request(
            "POST",
            "/volumes/create",
            Some(&serde_json::json!({"Name": "shared"})),
        )
        .expect("a volume made by hand");
    ws.cairn(&["plan"])
        .expect_code(2)
        .expect_contains("uses external volume shared");
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(podman.app_containers("site").len(), 1);
    ws.cairn(&["plan"]).expect_code(0);
    ws.repo.remove("site.toml");
    ws.repo.commit("no site", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert!(podman.app_containers("site").is_empty());
    assert!(volume_names(&podman).contains(&"shared".to_string()));
}
