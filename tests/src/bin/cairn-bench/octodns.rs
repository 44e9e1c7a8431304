//! octoDNS on the same PowerDNS, for the side-by-side rows: its YAML zone
//! and configuration written for the same records, `octodns-sync` timed as
//! a whole process. The binary comes from `OCTODNS_SYNC` (scripts/bench.sh
//! installs octoDNS 1.22 and octodns-powerdns 1.2 into a private virtual
//! environment). Its no-change plans are checked to have planned nothing.

use anyhow::Context;
use cairn_tests::pdns::Pdns;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// octoDNS set up for one zone of one server.
pub struct OctoDns {
    sync: PathBuf,
    config: PathBuf,
}

impl OctoDns {
    /// octoDNS managing `zone` with `size` A records on `pdns`, configured
    /// in `dir`; `None` when `OCTODNS_SYNC` is not set.
    pub fn new(dir: &Path, pdns: &Pdns, zone: &str, size: usize) -> anyhow::Result<Option<Self>> {
        let Some(sync) = std::env::var_os("OCTODNS_SYNC").map(PathBuf::from) else {
            return Ok(None);
        };
        let records = dir.join("octodns-zones");
        std::fs::create_dir_all(&records)?;
        let mut text = String::from("---\n");
        for index in 0..size {
            text.push_str(&format!(
                "r{index}:\n  type: A\n  value: {}\n",
                super::record_address(index)
            ));
        }
        std::fs::write(records.join(format!("{zone}yaml")), text)?;
        let config = dir.join("octodns.yaml");
        std::fs::write(
            &config,
            format!(
                "providers:\n  config:\n    class: octodns.provider.yaml.YamlProvider\n    directory: {}\n    enforce_order: false\n  powerdns:\n    class: octodns_powerdns.PowerDnsProvider\n    host: 127.0.0.1\n    port: {}\n    api_key: env/PDNS_API_KEY\n    scheme: http\nzones:\n  {zone}:\n    sources:\n      - config\n    targets:\n      - powerdns\n",
                records.display(),
                pdns.api_port
            ),
        )?;
        Ok(Some(Self { sync, config }))
    }

    /// Times one `octodns-sync --doit`: the zone's records applied (the
    /// caller checks, on PowerDNS, that they all are).
    pub fn apply(&self) -> anyhow::Result<Duration> {
        Ok(self.timed_sync(true)?.0)
    }

    /// Times one `octodns-sync` without `--doit`, a plan; an error unless
    /// it planned no change, so that the time is a no-change plan's.
    pub fn no_change_plan(&self) -> anyhow::Result<Duration> {
        let (elapsed, printed) = self.timed_sync(false)?;
        anyhow::ensure!(
            printed.contains(NO_CHANGES),
            "octoDNS's no-change plan planned changes; the end of what it printed:\n{}",
            last_lines(&printed, 40)
        );
        Ok(elapsed)
    }

    /// Times one `octodns-sync` (with `--doit` to apply); also returns what
    /// it printed, both streams.
    fn timed_sync(&self, doit: bool) -> anyhow::Result<(Duration, String)> {
        let mut command = Command::new(&self.sync);
        command
            .arg("--config-file")
            .arg(&self.config)
            .env("PDNS_API_KEY", cairn_tests::pdns::API_KEY);
        if doit {
            command.arg("--doit");
        }
        let started = Instant::now();
        let output = command
            .output()
            .with_context(|| format!("cannot run {}", self.sync.display()))?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            output.status.success(),
            "octodns-sync failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok((elapsed, printed))
    }
}

/// What octoDNS's default plan output (its `PlanLogger`, logged at INFO to
/// standard error) says when no zone has a change; otherwise it prints a
/// table of the changes per zone, ending in `Summary: …`.
const NO_CHANGES: &str = "No changes were planned";

/// The last `count` lines of `text` (a plan of thousands of changes is too
/// long for an error message).
fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}
