//! `cairn daemon`: run the agent.

use super::EXIT_OK;
use cairn::config::Config;
use cairn::daemon::{self, DaemonOptions};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Arguments of `cairn daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The operator's configuration file: the global `--config`.
    #[arg(from_global)]
    config: PathBuf,
    /// The address of the HTTP API, metrics and webhooks (overrides
    /// `[daemon] listen`; the default is 127.0.0.1:8420).
    #[arg(long)]
    listen: Option<String>,
    /// How logs are written to stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(args: &DaemonArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config)?;
    daemon::run(
        config,
        DaemonOptions {
            listen: args.listen.clone(),
        },
    )
    .await?;
    Ok(EXIT_OK)
}
