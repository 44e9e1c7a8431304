//! `cairn plugin test`: the conformance runner, as Terraform's acceptance
//! tests and csi-sanity check a provider or a driver against the real
//! thing. An author describes, in a file next to the plugin, the resources
//! of each lifecycle step and how to change the real world behind Cairn's
//! back; the runner drives the plugin through the real sandbox against the
//! author's server and reports pass, fail or skip for each rule of the
//! contract, with a hint for each failure, as text, JSON or JUnit XML.

mod file;
mod policy;
mod report;
mod rules;
mod runner;

use super::{EXIT_ERROR, EXIT_OK};
use anstream::println;
use anyhow::Context;
use cairn::host::PluginHost;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The most of the plugin's log kept for the hygiene rule: more than any
/// run of the rules writes, and a bound on what a flooding plugin costs.
const CAPTURED_LOG_BYTES: usize = 16 << 20;

/// Checks the text of a conformance file as `cairn plugin test` reads it,
/// a provider's or a policy's, each `${NAME}` standing for an address (the
/// documentation's examples are checked with it).
pub fn check_conformance_text(text: &str) -> anyhow::Result<()> {
    if policy::is_policy_file(text) {
        return policy::PolicyConformance::parse(std::path::Path::new("cairn-test.toml"), text)
            .map(|_| ());
    }
    file::ConformanceFile::parse_with(text, &|name| {
        Some(format!(
            "http://{}.invalid",
            name.to_lowercase().replace('_', "-")
        ))
    })
    .map(|_| ())
}

/// Arguments of `cairn plugin test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The conformance file (`cairn-test.toml`): the plugin, its
    /// configuration, and the resources of each step.
    #[arg(default_value = "cairn-test.toml")]
    file: PathBuf,
    /// The plugin to test, instead of the one the file names (a build
    /// elsewhere, say).
    #[arg(long, value_name = "PLUGIN.wasm")]
    plugin: Option<PathBuf>,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also print the plugin's log records on standard error.
    #[arg(long)]
    verbose: bool,
}

/// The report's forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One line per rule, with a hint under each failure.
    Text,
    /// A JSON document.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
}

/// What the plugin logged during the run, for the hygiene rule.
#[derive(Clone, Default)]
pub struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("captured log")).into_owned()
    }
}

/// A writer of log records into a [`CapturedLog`], and to standard error
/// when asked.
pub struct CaptureWriter {
    log: CapturedLog,
    echo: bool,
}

impl Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut kept = self.log.0.lock().expect("captured log");
        let room = CAPTURED_LOG_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        drop(kept);
        if self.echo {
            std::io::stderr().write_all(bytes)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The process's log for `cairn plugin test`: every record of the plugin
/// captured, and shown only with `--verbose`.
pub fn init_logging(args: &TestArgs) -> CapturedLog {
    let log = CapturedLog::default();
    let kept = log.clone();
    let echo = args.verbose;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "off,{}=trace",
            cairn::host::PLUGIN_LOG_TARGET
        )))
        .with_ansi(false)
        .with_target(false)
        .with_writer(move || CaptureWriter {
            log: kept.clone(),
            echo,
        })
        .init();
    log
}

/// Runs the command: exit 0 when no rule fails.
pub async fn run(args: &TestArgs, log: CapturedLog) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if policy::is_policy_file(&text) {
        return run_policy(args, &text).await;
    }
    let mut conformance = file::ConformanceFile::read(&args.file)?;
    if let Some(plugin) = &args.plugin {
        conformance.plugin = plugin.clone();
    }
    let host = PluginHost::new(super::author_cache::open())?;
    let plugin = host.load(&conformance.plugin, None).await?;
    let problems =
        cairn::config::schema::problems(&conformance.provider.config, &plugin.info().config_schema);
    if !problems.is_empty() {
        anyhow::bail!(
            "{}: provider.config does not match what the plugin accepts: {}",
            args.file.display(),
            problems.join("; ")
        );
    }
    let checks = runner::Runner::new(&host, plugin, &conformance)?
        .run(|| log.text())
        .await?;
    let name = conformance.plugin.display().to_string();
    Ok(print_report(args, &name, &checks))
}

/// `cairn plugin test` of a policy's conformance file (one with
/// `[policy]`).
async fn run_policy(args: &TestArgs, text: &str) -> anyhow::Result<u8> {
    let mut conformance = policy::PolicyConformance::parse(&args.file, text)?;
    if let Some(plugin) = &args.plugin {
        conformance.plugin = plugin.clone();
    }
    let host = PluginHost::new(super::author_cache::open())?;
    let checks = policy::run(&host, &conformance).await?;
    let name = conformance.plugin.display().to_string();
    Ok(print_report(args, &name, &checks))
}

/// Prints the report in the asked form; the exit code: 0 when no rule
/// failed.
fn print_report(args: &TestArgs, name: &str, checks: &[runner::Check]) -> u8 {
    let report = match args.format {
        Format::Text => report::text(name, checks),
        Format::Json => report::json(name, checks),
        Format::Junit => report::junit(name, checks),
    };
    println!("{report}");
    let (_, failed, _) = report::counts(checks);
    if failed == 0 { EXIT_OK } else { EXIT_ERROR }
}
