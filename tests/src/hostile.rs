//! The hostile tenants of the hostile-plugin suite and of the fairness
//! benchmark: each runs the hostile test plugin in one of its modes, beside
//! a well-behaved tenant whose push-to-applied latency is measured.

use crate::daemon::{Daemon, wait_until};
use crate::{GitRepo, Workspace};
use std::time::{Duration, Instant};

/// The author of the attackers' and the calm tenant's commits.
pub const AUTHOR: &str = "Mallory <mallory@example.org>";

/// The well-behaved tenant's webhook secret.
pub const HOOK_SECRET: &str = "calm-hook-secret-3e1f";

/// One attack: the hostile plugin's `mode`, its network grants, and what
/// the attacking tenant's own evidence (its recorded error, its alerts or
/// the log lines naming it) must say. No two attacks expect the same text,
/// so that one attacker's refusal never stands in for another's.
pub struct Attack {
    /// The hostile plugin's `mode` (see its crate's documentation).
    pub mode: &'static str,
    /// The URL the mode sends to, when it sends.
    pub target: String,
    /// The provider instance's network grants.
    pub grants: Vec<String>,
    /// What the tenant's evidence must contain.
    pub expect: String,
    /// Provider instances of the plugin the tenant runs; a plan calls
    /// them in parallel, so four take all of the tenant's call slots.
    pub instances: usize,
    /// Each call's deadline.
    pub timeout: &'static str,
    /// The attacking plugin: the Rust attacker (`tests/plugins/hostile`)
    /// when `None`, otherwise one built from another language.
    pub plugin: Option<std::path::PathBuf>,
    /// The mode of a hostile policy (`tests/plugins/hostile-policy`) the
    /// tenant's plans are checked by, mandatory, when the attack is the
    /// policy's: the provider then behaves.
    pub policy: Option<&'static str>,
}

impl Attack {
    /// An attack in `mode` on `target`, with `grants`, whose tenant's
    /// evidence must contain `expect`: one provider instance, with a
    /// deadline that leaves room to reach the limit it is after beside
    /// spinning tenants (which get their fair share of the cores, not all).
    pub fn new(mode: &'static str, target: &str, grants: &[&str], expect: &str) -> Self {
        Self {
            mode,
            target: target.to_string(),
            grants: grants.iter().map(|g| g.to_string()).collect(),
            expect: expect.to_string(),
            instances: 1,
            timeout: "10s",
            plugin: None,
            policy: None,
        }
    }

    /// An attack by a policy in `mode` (on `target`), whose tenant's
    /// evidence must contain `expect`; each evaluation's deadline is
    /// `timeout`.
    pub fn by_policy(
        mode: &'static str,
        target: &str,
        timeout: &'static str,
        expect: &str,
    ) -> Self {
        Self {
            policy: Some(mode),
            timeout,
            ..Self::new("behave", target, &[], expect)
        }
    }

    /// The same attack by the attacker `recipe` builds (in JavaScript or
    /// Python), which takes the Rust attacker's `mode` names.
    pub fn by(self, recipe: &crate::components::Recipe) -> Self {
        Self {
            plugin: Some(crate::components::built(recipe)),
            ..self
        }
    }

    /// A tenant spinning in `diff` with every one of its four call slots
    /// until `timeout`.
    pub fn spinner(timeout: &'static str) -> Self {
        Self {
            instances: 4,
            timeout,
            ..Self::new(
                "spin-diff",
                "",
                &[],
                &format!("did not finish `diff` within {timeout}"),
            )
        }
    }
}

/// The attackers that contend for what the calm tenant needs at once: two
/// tenants spinning at their full slot count (`spin_timeout` each call),
/// one holding header sets, one flooding its log with large fields.
pub fn contenders(spin_timeout: [&'static str; 2]) -> Vec<Attack> {
    vec![
        Attack::spinner(spin_timeout[0]),
        Attack::spinner(spin_timeout[1]),
        Attack::new(
            "hold-headers",
            "",
            &[],
            "held more than 1024 host resources",
        ),
        Attack::new(
            "log-fields-flood",
            "",
            &[],
            "log records dropped: a call may write at most 1024 KiB of log",
        ),
    ]
}

/// The name of an attack's `index`th provider instance.
pub fn instance_name(index: usize) -> String {
    match index {
        0 => "hostile".to_string(),
        _ => format!("hostile{}", index + 1),
    }
}

/// The resources of an attacker's repository: one bait per instance.
pub fn attacker_resources(attack: &Attack) -> String {
    (0..attack.instances)
        .map(|index| format!("[[{}.thing]]\nname = \"bait\"\n", instance_name(index)))
        .collect()
}

/// The `cairn.toml` tenant tables of an attack.
pub fn attacker_block(name: &str, repo: &GitRepo, attack: &Attack) -> String {
    let mut block = provider_tables(name, repo, attack);
    if let Some(mode) = attack.policy {
        block.push_str(&crate::policies::policy_table(
            &format!("[[tenants.{name}.policies]]"),
            "hostile-policy",
            &crate::plugin_path("hostile_policy"),
            "mandatory",
            &[],
            &format!(
                "config = {{ mode = {mode:?}, target = {:?} }}\ntimeout = {:?}\nmemory = \"32MiB\"",
                attack.target, attack.timeout
            ),
        ));
    }
    block
}

/// The tenant and provider tables of an attack.
fn provider_tables(name: &str, repo: &GitRepo, attack: &Attack) -> String {
    let grants: Vec<String> = attack.grants.iter().map(|g| format!("{g:?}")).collect();
    let memory_mib: usize = match attack.mode {
        // Room to hold an answer larger than the gate lets through.
        "big-response" => 256,
        // Room to build a result larger than the host accepts.
        "huge-return" => 512,
        _ => 32,
    };
    let memory = format!("{memory_mib}MiB");
    let mut block = format!(
        r#"
[tenants.{name}]
repo = {repo:?}
path = "."
interval = "1s"
drift_interval = "1s"

[tenants.{name}.quotas]
plugin_memory = {quota:?}
"#,
        repo = repo.path().display().to_string(),
        quota = format!("{}MiB", memory_mib * attack.instances),
    );
    for index in 0..attack.instances {
        block.push_str(&format!(
            r#"
[tenants.{name}.providers.{instance}]
plugin = {plugin:?}
allow = [{grants}]
memory = {memory:?}
timeout = {timeout:?}
config = {{ mode = {mode:?}, target = {target:?} }}
"#,
            instance = instance_name(index),
            plugin = attack
                .plugin
                .clone()
                .unwrap_or_else(|| crate::plugin_path("hostile_provider"))
                .display()
                .to_string(),
            grants = grants.join(", "),
            timeout = attack.timeout,
            mode = attack.mode,
            target = attack.target,
        ));
    }
    block
}

/// The well-behaved tenant's zone with `www` at `address`.
pub fn calm_zone(address: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"calm.example.\"\n\n[[dns.record]]\nname = \"www.calm.example.\"\ntype = \"A\"\nrecords = [\"{address}\"]\ndepends_on = [\"dns/zone/calm.example.\"]\n"
    )
}

/// Commits a new address to the calm tenant, pushes its webhook, and
/// returns how long it took to be served by PowerDNS. `push` numbers the
/// pushes of the test, so that each address differs from the one before.
pub fn measure_one(ws: &Workspace, daemon: &Daemon, push: usize) -> Duration {
    let address = format!("198.51.100.{}", push % 250 + 1);
    ws.repo.write("calm.toml", &calm_zone(&address));
    ws.repo.commit(&format!("calm {address}"), AUTHOR);
    let started = Instant::now();
    let status = daemon.push("calm", HOOK_SECRET, "{}");
    assert!(status < 300, "the webhook answered {status}");
    wait_until(Duration::from_secs(30), "the calm tenant applied", || {
        ws.pdns.dig("www.calm.example.", "A") == [address.clone()]
    });
    started.elapsed()
}

/// The `q` quantile of `samples` (nearest rank).
pub fn quantile(mut samples: Vec<Duration>, q: f64) -> Duration {
    samples.sort();
    let rank = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

/// The configuration of attackers `attacks`, each in its own tenant named
/// `attacker0`, `attacker1`…, with a repository of its own under `ws`.
pub fn attackers_config(ws: &Workspace, attacks: &[Attack]) -> (String, Vec<GitRepo>) {
    let mut config = String::new();
    let mut repos = Vec::new();
    for (index, attack) in attacks.iter().enumerate() {
        let repo = GitRepo::init(&ws.path().join(format!("attacker-{index}")));
        repo.write("thing.toml", &attacker_resources(attack));
        repo.commit("bait", AUTHOR);
        config.push_str(&attacker_block(&format!("attacker{index}"), &repo, attack));
        repos.push(repo);
    }
    (config, repos)
}

/// The calm tenant's tables: polled hourly, so that only its webhook
/// makes it run; its secret is written under `ws`; its DNS provider talks
/// to `url` (PowerDNS, or a proxy in front of it).
pub fn calm_block(ws: &Workspace, url: &str) -> String {
    let secret = ws.path().join("hook.secret");
    std::fs::write(&secret, HOOK_SECRET).expect("write the hook secret");
    ws.tenant_block(
        "calm",
        &crate::cairn::ConfigOptions {
            tenant_settings: format!(
                "interval = \"1h\"\ndrift_interval = \"1h\"\nwebhook_secret = {{ file = {:?} }}",
                secret.display().to_string()
            ),
            url: Some(url.to_string()),
            ..crate::cairn::ConfigOptions::default()
        },
    )
}
