//! Each source beside Git: what a poll that finds the revision unchanged
//! costs, and what a one-file change costs from the new revision to the
//! desired state loaded (fetch or pull, listing, reading the changed file,
//! parsing and validating it), in process, on a repository of many files.

use cairn::config::Config;
use cairn::host::PluginHost;
use cairn::store::StateStore;
use cairn::tenant::Tenant;
use cairn_tests::Workspace;
use cairn_tests::cairn::ConfigOptions;
use cairn_tests::git::GitDaemon;
use cairn_tests::hg::{HgRepo, HgServe};
use cairn_tests::registry::Registry;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Polls of an unchanged revision timed per source; the median is
/// reported.
const POLLS: usize = 9;
/// One-file changes timed per source; the median is reported.
const CHANGES: usize = 5;
const AUTHOR: &str = "Bench <bench@cairn.invalid>";

/// One source's medians.
pub struct Figures {
    /// The source, as the table names it.
    pub source: &'static str,
    /// A poll that finds the revision unchanged.
    pub poll: Duration,
    /// From a one-file change to the desired state loaded.
    pub change: Duration,
}

/// The sources measured, each with `files` resource files.
pub fn each_source(files: usize) -> anyhow::Result<Vec<Figures>> {
    let mut all = Vec::new();
    for kind in [
        Kind::Git,
        Kind::GitDaemon,
        Kind::Hg,
        Kind::HgServe,
        Kind::Oci,
        Kind::Folder,
    ] {
        all.push(measure(kind, files)?);
    }
    Ok(all)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Git,
    GitDaemon,
    Hg,
    HgServe,
    Oci,
    Folder,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Git => "Git, local",
            Self::GitDaemon => "Git, git daemon",
            Self::Hg => "Mercurial, local",
            Self::HgServe => "Mercurial, hg serve",
            Self::Oci => "OCI artifact, registry",
            Self::Folder => "plain folder",
        }
    }
}

/// Where the files are written, and how a change is published.
struct Stand {
    ws: Workspace,
    kind: Kind,
    files: PathBuf,
    hg: Option<HgRepo>,
    registry: Option<Registry>,
    _git_daemon: Option<GitDaemon>,
    _hg_serve: Option<HgServe>,
}

impl Stand {
    fn new(kind: Kind, files: usize) -> Self {
        let ws = Workspace::new();
        let mut stand = Self {
            files: ws.repo.path().to_path_buf(),
            ws,
            kind,
            hg: None,
            registry: None,
            _git_daemon: None,
            _hg_serve: None,
        };
        let repo = match kind {
            Kind::Git => None,
            Kind::GitDaemon => {
                let daemon = GitDaemon::start(stand.ws.path());
                let url = daemon.url("zones");
                stand._git_daemon = Some(daemon);
                Some((url, "main"))
            }
            Kind::Hg | Kind::HgServe => {
                let hg = HgRepo::init(&stand.ws.path().join("zones-hg"));
                stand.files = hg.path().to_path_buf();
                let repo = match kind {
                    Kind::Hg => hg.path().display().to_string(),
                    _ => {
                        let served = HgServe::start(hg.path());
                        let url = served.url.clone();
                        stand._hg_serve = Some(served);
                        url
                    }
                };
                stand.hg = Some(hg);
                Some((repo, "default"))
            }
            Kind::Oci => {
                let registry = Registry::start();
                stand.files = stand.ws.path().join("build");
                std::fs::write(
                    stand.ws.path().join("registry-password"),
                    &registry.password,
                )
                .expect("write");
                let repo = registry.address("bench");
                stand.registry = Some(registry);
                Some((repo, "live"))
            }
            Kind::Folder => {
                stand.files = stand.ws.path().join("desired");
                Some((format!("dir:{}", stand.files.display()), "main"))
            }
        };
        if let Some((repo, reference)) = repo {
            let credentials = match kind {
                Kind::Oci => {
                    "registry_credentials = { username = \"cairn\", password = { file = \"registry-password\" } }"
                }
                _ => "",
            };
            stand.ws.configure(&ConfigOptions {
                repo: Some(repo),
                reference: reference.into(),
                tenant_settings: credentials.into(),
                ..ConfigOptions::default()
            });
        }
        cairn_tests::write_file(
            &stand.files,
            "zone.toml",
            "[[dns.zone]]\nname = \"src.bench.example.\"\n",
        );
        for index in 1..files {
            cairn_tests::write_file(
                &stand.files,
                &format!("records/r{index}.toml"),
                &record(index, 1),
            );
        }
        stand.publish("bench");
        stand
    }

    /// Makes what was written the source's next revision.
    fn publish(&self, message: &str) {
        match self.kind {
            Kind::Git | Kind::GitDaemon => {
                self.ws.repo.commit(message, AUTHOR);
            }
            Kind::Hg | Kind::HgServe => {
                self.hg
                    .as_ref()
                    .expect("a repository")
                    .commit(message, AUTHOR);
            }
            Kind::Oci => {
                let registry = self.registry.as_ref().expect("a registry");
                self.ws
                    .cairn_env(
                        &[
                            "push",
                            self.files.to_str().expect("a UTF-8 path"),
                            &format!("{}:live", registry.address("bench")),
                            "--author",
                            AUTHOR,
                            "--message",
                            message,
                        ],
                        &[
                            ("CAIRN_REGISTRY_USERNAME", &registry.username),
                            ("CAIRN_REGISTRY_PASSWORD", &registry.password),
                        ],
                    )
                    .expect_code(0);
            }
            Kind::Folder => {}
        }
    }
}

fn measure(kind: Kind, files: usize) -> anyhow::Result<Figures> {
    let stand = Stand::new(kind, files);
    let config_path = stand.ws.config_path();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let config = Config::load(&config_path)?;
        let tenant_config = config.tenant(None)?;
        let host = PluginHost::new(Some(cairn::tenant::compiled_cache(&config)?))?;
        let store = StateStore::open(&config.state).await?;
        let tenant = Tenant::open(&config, tenant_config, &host, &store).await?;
        // Warm: the revision read and its every file in the model cache.
        tenant.desired_state(None).await?;
        let mut polls = Vec::new();
        for _ in 0..POLLS {
            let started = Instant::now();
            tenant.source.head().await?;
            polls.push(started.elapsed());
        }
        let mut changes = Vec::new();
        for round in 0..CHANGES {
            let index = 1 + round * 7 % (files - 1);
            cairn_tests::write_file(
                &stand.files,
                &format!("records/r{index}.toml"),
                &record(index, 2 + round),
            );
            stand.publish("one file");
            let started = Instant::now();
            let desired = tenant.desired_state(None).await?;
            changes.push(started.elapsed());
            anyhow::ensure!(desired.resources.len() == files, "a resource is missing");
        }
        Ok(Figures {
            source: kind.name(),
            poll: super::median(polls),
            change: super::median(changes),
        })
    })
}

fn record(index: usize, version: usize) -> String {
    format!(
        "[[dns.record]]\nname = \"r{index}.src.bench.example.\"\ntype = \"A\"\nrecords = [\"198.51.100.{}\"]\n",
        version % 250
    )
}
