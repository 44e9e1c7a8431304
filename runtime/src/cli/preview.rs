//! `cairn preview`: plan a branch, tag or commit against the live world,
//! with the policies' findings, and apply nothing — as text, JSON, or
//! Markdown for a pull-request comment.

use super::session::Session;
use super::{EXIT_CHANGES, EXIT_ERROR, EXIT_OK, Target, render};
use anstream::println;
use cairn::preview;
use clap::{Args, ValueEnum};

/// Arguments of `cairn preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    #[command(flatten)]
    target: Target,
    /// The branch, tag or commit to preview (fetched from a remote
    /// repository). The tenant's own ref is left where it is.
    #[arg(long = "ref", value_name = "REF")]
    reference: String,
    /// How to print it.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The forms of a preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The plan as `cairn plan` shows it.
    Text,
    /// `{reference, plan, blocked_by}`, the plan in the saved-plan format.
    Json,
    /// A pull-request comment: a summary line, findings first, a
    /// collapsible section per provider.
    Markdown,
}

/// Runs the command. Exit code 0: no changes, 2: changes, 1: blocked by a
/// policy or an error — as `cairn plan`.
pub async fn run(args: &PreviewArgs) -> anyhow::Result<u8> {
    let session = Session::open(&args.target).await?;
    render::progress(&format!(
        "reading {} and observing the real world",
        args.reference
    ));
    let preview = preview::preview(&session.tenant, &session.store, &args.reference).await?;
    match args.format {
        Format::Text => {
            println!("Preview of {} (nothing is applied):", args.reference);
            render::plan(&preview.plan);
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&preview)?),
        Format::Markdown => print!("{}", preview::markdown::render(&preview)),
    }
    Ok(if !preview.blocked_by.is_empty() {
        EXIT_ERROR
    } else if preview.plan.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}
