//! `cairn suspend`, `cairn resume` and `cairn rollback`: an operator's
//! control over a tenant, each recorded in the history.

use super::session::Session;
use super::{EXIT_ERROR, EXIT_OK, Target, render};
use anstream::println;
use cairn::config::Config;
use cairn::plan::{self, ApplyOptions, PlanScope};
use cairn::reconcile::{self, ReconcileError};
use cairn::store::{RunKind, StateStore};
use clap::Args;

/// Arguments of `cairn rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    target: Target,
    /// The commit to return to, one applied with success before (default:
    /// one further back than the current one, in the order commits were
    /// first applied).
    #[arg(long, value_name = "COMMIT")]
    to: Option<String>,
    /// Apply even when the rollback deletes or replaces more than
    /// `max_delete_percent` of a provider's objects.
    #[arg(long)]
    force: bool,
}

/// `cairn suspend`: stop automatic applies (drift is still reported).
pub async fn suspend(target: &Target) -> anyhow::Result<u8> {
    let (store, tenant) = open_store(target).await?;
    cairn::control::suspend(&store, &tenant, &super::operator_name()).await?;
    println!(
        "Tenant {tenant} is suspended: the daemon plans and reports, but applies nothing until `cairn resume`."
    );
    Ok(EXIT_OK)
}

/// `cairn resume`: restart automatic applies and end a rollback hold.
pub async fn resume(target: &Target) -> anyhow::Result<u8> {
    let (store, tenant) = open_store(target).await?;
    cairn::control::resume(&store, &tenant, &super::operator_name()).await?;
    println!("Tenant {tenant} is resumed: the daemon follows its ref and applies again.");
    Ok(EXIT_OK)
}

/// `cairn rollback`: apply an earlier commit applied with success and hold
/// the tenant there. Which commit is [`cairn::rollback`]'s choice: one
/// further back each time, in the order the commits were first applied.
pub async fn rollback(args: &RollbackArgs) -> anyhow::Result<u8> {
    let session = Session::open(&args.target).await?;
    let _lock = session.lock().await?;
    let tenant = &session.tenant;
    let store = &session.store;
    let state = store.tenant_state(&tenant.name).await?;
    let applied = store.applied_commits(&tenant.name).await?;
    let target = match &args.to {
        Some(commit) => {
            let chosen = tenant
                .source
                .commit_at(commit)
                .await
                .map_err(ReconcileError::from)?;
            cairn::rollback::check_chosen(&tenant.name, &applied, &chosen.id)?;
            chosen.id
        }
        None => cairn::rollback::previous(&tenant.name, &applied, &state)?
            .id
            .clone(),
    };
    render::progress("reading the repository");
    let head = tenant.source.head().await.map_err(ReconcileError::from)?;
    let planned = async {
        let desired = reconcile::load(tenant, Some(&target)).await?;
        let plan = reconcile::plan(tenant, store, &desired, PlanScope::Full).await?;
        Ok::<_, ReconcileError>(plan)
    }
    .await;
    let plan = match planned {
        Err(ReconcileError::Refused(refusal)) => {
            reconcile::record_refusal(store, &tenant.name, RunKind::Rollback, &refusal).await?;
            return Err(ReconcileError::Refused(refusal).into());
        }
        other => other?,
    };
    println!(
        "Rolling tenant {} back to commit {}.",
        tenant.name,
        plan.commit.short_id()
    );
    render::plan(&plan);
    let options = ApplyOptions {
        kind: RunKind::Rollback,
        force: args.force,
        ..Default::default()
    };
    let report = plan::apply(tenant, &plan, store, options, &render::actions).await?;
    if !report.succeeded() {
        println!(
            "\nRollback {}: see `cairn history`. The tenant is not held.",
            report.outcome
        );
        return Ok(EXIT_ERROR);
    }
    store
        .set_hold(&tenant.name, Some((&plan.commit.id, &head.id)))
        .await?;
    println!(
        "\nTenant {} is held at commit {} until `cairn resume` or a new commit on {}.",
        tenant.name,
        plan.commit.short_id(),
        tenant.config.reference
    );
    Ok(EXIT_OK)
}

async fn open_store(target: &Target) -> anyhow::Result<(StateStore, String)> {
    let config = Config::load(&target.config)?;
    let tenant = config.tenant(target.tenant.as_deref())?.name.clone();
    let store = StateStore::open(&config.state).await?;
    Ok((store, tenant))
}
