//! `cairn history`: the record of plans and applies.

use super::{EXIT_OK, Target, render};
use anstream::println;
use cairn::config::Config;
use cairn::store::StateStore;
use clap::Args;

/// Arguments of `cairn history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    target: Target,
    /// Print the history as JSON.
    #[arg(long)]
    json: bool,
    /// How many runs to show, newest first.
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

/// Runs the command; it needs no plugin and no repository.
pub async fn run(args: &HistoryArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.target.config)?;
    let tenant = config.tenant(args.target.tenant.as_deref())?;
    let store = StateStore::open(&config.state).await?;
    let runs = store.history(&tenant.name, args.limit).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else {
        render::history(&runs);
    }
    Ok(EXIT_OK)
}
