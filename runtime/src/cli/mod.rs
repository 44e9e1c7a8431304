//! The command line: arguments, exit codes and error reporting. Each
//! command lives in its own module. The `cairn` binary is [`main`] alone,
//! and so is the build of it that the end-to-end tests drive.

mod apply;
mod author_cache;
mod call;
mod control;
mod daemon;
mod history;
mod inspect;
mod inspect_check;
mod plan;
mod plugin_docs;
mod plugin_new;
mod plugin_test;
mod preview;
mod push;
mod reference;
mod render;
mod session;
mod status;
mod validate;

use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code: success, and for `plan`, no changes.
pub const EXIT_OK: u8 = 0;
/// Exit code: an error; nothing was applied unless the output says so.
pub const EXIT_ERROR: u8 = 1;
/// Exit code of `plan`: there are changes.
pub const EXIT_CHANGES: u8 = 2;

/// Who runs a command that the history attributes to a person (an
/// override, a suspension): the login name, or `operator`.
pub fn operator_name() -> String {
    std::env::var("USER").unwrap_or_else(|_| "operator".into())
}

/// Cairn reconciles the desired state in a Git repository with the real
/// world, through sandboxed WebAssembly provider plugins.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, long_about = None)]
struct Cli {
    /// The operator's configuration file, which every command but `plugin
    /// inspect` reads.
    #[arg(
        long,
        short = 'c',
        global = true,
        default_value = "cairn.toml",
        env = "CAIRN_CONFIG"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// Options every tenant command takes.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The operator's configuration file: `--config`, which every command
    /// takes before or after its name.
    #[arg(from_global)]
    pub config: PathBuf,
    /// The tenant to work on (needed when the file declares several).
    #[arg(long, short = 't')]
    pub tenant: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and validate the desired state at the configured ref, and have the tenant's policies check it. Exit code 1 when one would block a plan of it.
    Validate {
        #[command(flatten)]
        target: Target,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what would change. Exit code 0: no changes, 2: changes, 1: error.
    #[command(visible_alias = "diff")]
    Plan(plan::PlanArgs),
    /// Apply the changes: all of a fresh plan (with --yes), or exactly a saved plan.
    Apply(apply::ApplyArgs),
    /// Plan a branch, tag or commit against the live world, with the policies' findings, and apply nothing. Exit code 0: no changes, 2: changes, 1: blocked or error.
    Preview(preview::PreviewArgs),
    /// Pack a folder of resource files as an OCI artifact and push it to a registry under a tag, for tenants that read `oci://` sources.
    Push(push::PushArgs),
    /// Show the record of plans and applies: who changed what, from which commit, with what result.
    History(history::HistoryArgs),
    /// Run the agent: reconcile every tenant continuously, serve status, metrics and webhooks.
    Daemon(daemon::DaemonArgs),
    /// Show each tenant's commit, control state and the status of every owned resource.
    Status(status::StatusArgs),
    /// Return a tenant one commit further back among those it applied with success, and hold it there.
    Rollback(control::RollbackArgs),
    /// Stop automatic applies for a tenant (drift is still reported).
    Suspend {
        #[command(flatten)]
        target: Target,
    },
    /// Restart automatic applies for a tenant and end a rollback hold.
    Resume {
        #[command(flatten)]
        target: Target,
    },
    /// Tools for plugin authors.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Load a plugin and show what it declares and imports.
    Inspect(inspect::InspectArgs),
    /// Run one call of a plugin in the sandbox, with the configuration,
    /// secrets and grants given here, and print its answer as JSON; the
    /// plugin's log goes to standard error.
    Call(call::CallArgs),
    /// Print a Markdown reference of a plugin's configuration and resource
    /// types, made from its own description.
    Docs(plugin_docs::DocsArgs),
    /// Write a new provider that builds, follows every rule of the
    /// contract and passes `cairn plugin test` against the fake server it
    /// comes with; or, with `--kind policy`, a policy with its cases.
    New(plugin_new::NewArgs),
    /// Check a plugin against the contract's rules on a real server, as a
    /// conformance file next to it describes: pass, fail or skip for each
    /// rule, with a hint for each failure. A policy's file (one with
    /// `[policy]`) runs its cases instead.
    Test(plugin_test::TestArgs),
}

/// The command-line reference as Markdown (`docs/cli.md`): every command,
/// argument, default and help text of the definition `cairn` parses.
pub fn reference_markdown() -> String {
    reference::render(&Cli::command())
}

pub use plugin_test::check_conformance_text;
pub use reference::REGENERATE as REGENERATE_REFERENCE;

/// The glibc malloc arenas the process may use. glibc's default (eight per
/// core) lets every thread that ever ran a reconcile keep a heap of freed
/// memory of its own: a daemon of 200 idle tenants held 313 MiB that way,
/// and 87 MiB with two arenas, with no measurable cost to the benchmarks.
/// `MALLOC_ARENA_MAX` in the environment still decides when it is set.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 2;

/// Runs the command line and returns the process's exit code. A program's
/// `main` calls it first, before any other thread exists.
pub fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called before any other thread exists; mallopt only
        // changes the allocator's settings.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) };
    }
    let cli = Cli::parse();
    let json_logs =
        matches!(&cli.command, Command::Daemon(args) if args.log_format == daemon::LogFormat::Json);
    let default_filter = match &cli.command {
        Command::Daemon(_) => "info".to_string(),
        // What the plugin logs is half of what its author calls it for.
        Command::Plugin(PluginCommand::Call(_)) => plugin_log_filter(),
        _ => "warn".to_string(),
    };
    // `plugin test` keeps the plugin's log for its hygiene rule.
    let captured = match &cli.command {
        Command::Plugin(PluginCommand::Test(args)) => Some(plugin_test::init_logging(args)),
        _ => {
            init_logging(json_logs, &default_filter);
            None
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Validate { target, json } => validate::run(&target, json).await,
            Command::Plan(args) => plan::run(&args).await,
            Command::Apply(args) => apply::run(&args).await,
            Command::Preview(args) => preview::run(&args).await,
            Command::History(args) => history::run(&args).await,
            Command::Push(args) => push::run(&args).await,
            Command::Daemon(args) => daemon::run(&args).await,
            Command::Status(args) => status::run(&args).await,
            Command::Rollback(args) => control::rollback(&args).await,
            Command::Suspend { target } => control::suspend(&target).await,
            Command::Resume { target } => control::resume(&target).await,
            Command::Plugin(PluginCommand::Inspect(args)) => inspect::run(&args).await,
            Command::Plugin(PluginCommand::Call(args)) => call::run(&args).await,
            Command::Plugin(PluginCommand::Docs(args)) => plugin_docs::run(&args).await,
            Command::Plugin(PluginCommand::New(args)) => plugin_new::run(&args).await,
            Command::Plugin(PluginCommand::Test(args)) => {
                plugin_test::run(&args, captured.unwrap_or_default()).await
            }
        }
    });
    // A blocking task stuck on a stalled remote must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            render::error(&error);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The crates of the WebAssembly engine, whose debug and trace output is
/// gigabytes per plugin compile: kept at `info` unless `CAIRN_LOG` names
/// them itself (`CAIRN_LOG=trace,cranelift=trace`).
const ENGINE_CRATES: [&str; 3] = ["wasmtime", "cranelift", "regalloc2"];

/// `directives` with the engine's crates held at `info`, unless they name
/// one of them.
fn with_quiet_engine(directives: &str) -> String {
    let mut all = directives.to_string();
    for engine in ENGINE_CRATES {
        if !directives.contains(engine) {
            all.push_str(&format!(",{engine}=info"));
        }
    }
    all
}

/// The log filter of `cairn plugin call` unless `CAIRN_LOG` says
/// otherwise: Cairn's warnings, and every record the plugin logs.
fn plugin_log_filter() -> String {
    format!("warn,{}=trace", cairn::host::PLUGIN_LOG_TARGET)
}

/// Logs go to stderr; `CAIRN_LOG` sets the filter (`default` otherwise:
/// warnings for commands, info for the daemon). JSON, one object per line,
/// on request.
fn init_logging(json: bool, default: &str) {
    let filter = match std::env::var("CAIRN_LOG") {
        Ok(directives) => tracing_subscriber::EnvFilter::new(with_quiet_engine(&directives)),
        Err(_) => tracing_subscriber::EnvFilter::new(default),
    };
    // At `debug`, each phase (read, validate, observe, diff, each plugin
    // call) logs its duration when it ends.
    let timings = if filter
        .max_level_hint()
        .is_some_and(|level| level >= tracing::level_filters::LevelFilter::DEBUG)
    {
        tracing_subscriber::fmt::format::FmtSpan::CLOSE
    } else {
        tracing_subscriber::fmt::format::FmtSpan::NONE
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(timings)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        builder.json().with_current_span(true).init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

#[cfg(test)]
mod tests {
    use super::with_quiet_engine;

    #[test]
    fn the_engine_stays_at_info_unless_named() {
        assert_eq!(
            with_quiet_engine("trace"),
            "trace,wasmtime=info,cranelift=info,regalloc2=info"
        );
        assert_eq!(
            with_quiet_engine("cairn=debug,cranelift=trace"),
            "cairn=debug,cranelift=trace,wasmtime=info,regalloc2=info"
        );
    }
}
