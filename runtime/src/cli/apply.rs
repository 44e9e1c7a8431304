//! `cairn apply`: make the changes of a fresh plan (after review or with
//! `--yes`), or exactly those of a saved plan.

use super::session::Session;
use super::{EXIT_ERROR, EXIT_OK, Target, render};
use anstream::println;
use anyhow::{Context, bail};
use cairn::plan::{self, PLAN_FORMAT, Plan};
use cairn::reconcile;
use cairn::store::RunKind;
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `cairn apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    target: Target,
    /// Apply without asking for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Print the plan and the outcome as JSON.
    #[arg(long)]
    json: bool,
    /// Apply even when the plan deletes or replaces more than the tenant's
    /// `max_delete_percent` of a provider's objects.
    #[arg(long)]
    force: bool,
    /// Apply although this soft-mandatory policy blocks the plan (repeat
    /// it for several); needs --reason. The history records the override
    /// with who gave it and why. A mandatory policy cannot be overridden.
    #[arg(long, value_name = "ID")]
    override_policy: Vec<String>,
    /// Why the policies named by --override-policy are overridden.
    #[arg(long, value_name = "WHY", requires = "override_policy")]
    reason: Option<String>,
    /// A plan saved by `cairn plan --out`: apply exactly it, or refuse if the
    /// commit or the observed state moved since.
    plan: Option<PathBuf>,
}

/// Runs the command.
pub async fn run(args: &ApplyArgs) -> anyhow::Result<u8> {
    let saved = args.plan.as_ref().map(read_plan).transpose()?;
    let session = Session::open(&args.target).await?;
    let _lock = session.lock().await?;
    render::progress("reading the repository and observing the real world");
    let (_, fresh) =
        reconcile::plan_tenant(&session.tenant, &session.store, RunKind::Apply).await?;

    if let Some((path, saved)) = &saved {
        check_saved(path, saved, &fresh)?;
    }
    if !args.json {
        render::plan(&fresh);
    }
    if !fresh.has_changes() {
        if args.json {
            println!("{}", serde_json::json!({ "plan": fresh, "report": null }));
        }
        return Ok(EXIT_OK);
    }
    // A plan a policy blocks is refused (and recorded) without asking.
    let blocked = !fresh.blocking_policies(&args.override_policy).is_empty();
    if saved.is_none() && !args.yes && !blocked && !confirm()? {
        println!("Nothing was applied.");
        return Ok(EXIT_ERROR);
    }
    if !args.json {
        println!("\nApplying {} change(s):", fresh.changes.len());
    }
    let show = |reports: &[plan::ActionReport]| {
        if !args.json {
            render::actions(reports);
        }
    };
    let policy_override = (!args.override_policy.is_empty()).then(|| plan::PolicyOverride {
        policies: args.override_policy.clone(),
        by: super::operator_name(),
        reason: args.reason.clone().unwrap_or_default(),
    });
    let options = plan::ApplyOptions {
        force: args.force,
        policy_override,
        ..Default::default()
    };
    let report = plan::apply(&session.tenant, &fresh, &session.store, options, &show).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "plan": fresh, "report": report }))?
        );
    } else {
        let not_converged = report.actions.iter().filter(|a| a.not_converged).count();
        let failed = report.actions.iter().filter(|a| a.error.is_some()).count() - not_converged;
        println!(
            "\nApply {}: {} change(s), {} not made. Recorded as run #{} (see `cairn history`).",
            report.outcome,
            report.actions.len(),
            failed,
            report.run_id
        );
        if not_converged > 0 {
            println!(
                "{not_converged} change(s) were made, but their provider did not converge: what it observes still differs from what it applied. Cairn holds them: they are not applied again until their spec in Git or the provider's plugin changes."
            );
        }
    }
    // Applying the ref's commit by hand ends a rollback hold: the operator
    // chose the ref again.
    let store = &session.store;
    let tenant = &session.tenant.name;
    if report.succeeded() && store.tenant_state(tenant).await?.held_commit.is_some() {
        store.set_hold(tenant, None).await?;
        store
            .record_event(tenant, cairn::store::EventKind::ReleaseHold, &fresh.commit)
            .await?;
        if !args.json {
            println!("The rollback hold of tenant {tenant} is released: it follows its ref again.");
        }
    }
    Ok(if report.succeeded() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

fn read_plan(path: &PathBuf) -> anyhow::Result<(PathBuf, Plan)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the saved plan {}", path.display()))?;
    let plan: Plan = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a plan saved by `cairn plan --out`",
            path.display()
        )
    })?;
    if plan.format != PLAN_FORMAT {
        bail!(
            "{} is a plan of format {}, but this cairn reads format {PLAN_FORMAT}: make the plan again",
            path.display(),
            plan.format
        );
    }
    Ok((path.clone(), plan))
}

/// A saved plan is applied only if nothing moved since it was made.
fn check_saved(path: &std::path::Path, saved: &Plan, fresh: &Plan) -> anyhow::Result<()> {
    if saved.tenant != fresh.tenant {
        bail!(
            "the plan {} is for tenant `{}`, not `{}`: nothing was applied",
            path.display(),
            saved.tenant,
            fresh.tenant
        );
    }
    if saved.commit.id != fresh.commit.id {
        bail!(
            "the plan {} was made at commit {}, but the repository is now at {}: nothing was applied. Run `cairn plan --out {}` again and review it",
            path.display(),
            saved.commit.short_id(),
            fresh.commit.short_id(),
            path.display()
        );
    }
    if saved.checksum != fresh.checksum {
        bail!(
            "the plan {} no longer matches the real world (checksum {} now {}): something changed outside Cairn since it was made. Nothing was applied; run `cairn plan --out {}` again and review it",
            path.display(),
            saved.checksum.get(..12).unwrap_or(&saved.checksum),
            fresh.checksum.get(..12).unwrap_or(&fresh.checksum),
            path.display()
        );
    }
    Ok(())
}

/// Asks on the terminal; without one, refuses.
fn confirm() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to apply without confirmation: pass --yes, or apply a saved plan (`cairn plan --out PLAN`, then `cairn apply PLAN`). Nothing was applied"
        );
    }
    print!("\nApply these changes? Only `yes` is accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
