//! `cairn plan`: show what would change; optionally save the plan.

use super::session::Session;
use super::{EXIT_CHANGES, EXIT_ERROR, EXIT_OK, Target, render};
use anstream::println;
use anyhow::Context;
use cairn::reconcile;
use cairn::store::RunKind;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `cairn plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    target: Target,
    /// Print the plan as JSON (the saved-plan format).
    #[arg(long)]
    json: bool,
    /// Save the plan to this file, for `cairn apply PLAN`.
    #[arg(long, value_name = "PLAN")]
    out: Option<PathBuf>,
    /// Also write the input the tenant's policies are shown (the desired
    /// resources, the plan and the commit) to this file as JSON: a case
    /// for a policy's `cairn plugin test`, or `input` for `opa eval`.
    #[arg(long, value_name = "FILE")]
    policy_input: Option<PathBuf>,
}

/// Runs the command.
pub async fn run(args: &PlanArgs) -> anyhow::Result<u8> {
    let session = Session::open(&args.target).await?;
    render::progress("reading the repository and observing the real world");
    let (desired, plan) =
        reconcile::plan_tenant(&session.tenant, &session.store, RunKind::Plan).await?;
    reconcile::record_plan(&session.store, &plan).await?;
    if let Some(path) = &args.policy_input {
        let mut shown = plan.clone();
        shown.findings.clear();
        let input = cairn::policy::input::of_state(&session.tenant, &desired, Some(&shown));
        std::fs::write(path, serde_json::to_string_pretty(&input)? + "\n")
            .with_context(|| format!("cannot write the policy input to {}", path.display()))?;
    }
    if let Some(path) = &args.out {
        let text = serde_json::to_string_pretty(&plan)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write the plan to {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        for warning in &desired.warnings {
            eprintln!("warning: {warning}");
        }
        render::plan(&plan);
        if let Some(path) = &args.out {
            println!(
                "Saved the plan to {}; apply exactly it with `cairn apply {}`.",
                path.display(),
                path.display()
            );
        }
    }
    Ok(if !plan.blocking_policies(&[]).is_empty() {
        EXIT_ERROR
    } else if plan.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}
