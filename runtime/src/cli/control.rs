//! `cairn suspend`, `cairn resume` and `cairn rollback`: an operator's
//! control over a tenant, each recorded in the history.

use super::session::Session;
use super::{EXIT_ERROR, EXIT_OK, Target, render};
use anstream::println;
use anyhow::Context;
use cairn::config::Config;
use cairn::plan::{self, ApplyOptions};
use cairn::source::CommitInfo;
use cairn::store::{EventKind, RunKind, StateStore};
use clap::Args;

/// Arguments of `cairn rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    target: Target,
    /// The commit to return to (default: the one applied with success before
    /// the current one).
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
    store.set_suspended(&tenant, true).await?;
    record_operator_event(&store, &tenant, EventKind::Suspend, "suspended").await?;
    println!(
        "Tenant {tenant} is suspended: the daemon plans and reports, but applies nothing until `cairn resume`."
    );
    Ok(EXIT_OK)
}

/// `cairn resume`: restart automatic applies and end a rollback hold.
pub async fn resume(target: &Target) -> anyhow::Result<u8> {
    let (store, tenant) = open_store(target).await?;
    store.set_suspended(&tenant, false).await?;
    store.set_hold(&tenant, None).await?;
    record_operator_event(&store, &tenant, EventKind::Resume, "resumed").await?;
    println!("Tenant {tenant} is resumed: the daemon follows its ref and applies again.");
    Ok(EXIT_OK)
}

/// `cairn rollback`: apply an earlier commit and hold the tenant there.
pub async fn rollback(args: &RollbackArgs) -> anyhow::Result<u8> {
    let session = Session::open(&args.target).await?;
    let _lock = session.lock().await?;
    let tenant = &session.tenant;
    let store = &session.store;
    let state = store.tenant_state(&tenant.name).await?;
    let target = match &args.to {
        Some(commit) => commit.clone(),
        None => {
            // Not the current commit, nor (after an earlier rollback) the
            // one that rollback left: each rollback goes one further back.
            let skip = [state.last_applied_commit.clone(), state.held_head.clone()];
            store
                .applied_commits(&tenant.name)
                .await?
                .into_iter()
                .find(|commit| !skip.contains(&Some(commit.clone())))
                .with_context(|| format!("tenant {} has no earlier commit applied with success to return to; name one with --to COMMIT", tenant.name))?
        }
    };
    render::progress("reading the repository");
    let head = tenant.source.snapshot().await?;
    let snapshot = tenant.source.snapshot_at(&target).await?;
    let desired = cairn::model::load(&snapshot, &tenant.providers, &tenant.config.quotas)
        .await
        .map_err(cairn::reconcile::ReconcileError::from)?;
    let plan = plan::plan(
        &plan::PlanSettings::from(tenant),
        &tenant.providers,
        &desired,
        store,
        plan::PlanScope::Full,
    )
    .await
    .map_err(cairn::reconcile::ReconcileError::from)?;
    println!(
        "Rolling tenant {} back to commit {}.",
        tenant.name,
        snapshot.commit.short_id()
    );
    render::plan(&plan);
    let options = ApplyOptions {
        kind: RunKind::Rollback,
        force: args.force,
        ..Default::default()
    };
    let report = plan::apply(tenant, &plan, store, options, &render::action).await?;
    if !report.succeeded() {
        println!(
            "\nRollback {}: see `cairn history`. The tenant is not held.",
            report.outcome
        );
        return Ok(EXIT_ERROR);
    }
    store
        .set_hold(&tenant.name, Some((&snapshot.commit.id, &head.commit.id)))
        .await?;
    println!(
        "\nTenant {} is held at commit {} until `cairn resume` or a new commit on {}.",
        tenant.name,
        snapshot.commit.short_id(),
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

/// Records an operator's command in the history, at the tenant's last
/// commit, attributed to the operator running it.
async fn record_operator_event(
    store: &StateStore,
    tenant: &str,
    event: EventKind,
    what: &str,
) -> anyhow::Result<()> {
    let state = store.tenant_state(tenant).await?;
    let operator = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let commit = CommitInfo {
        id: state.last_commit.unwrap_or_else(|| "-".into()),
        author: format!("{operator} (cairn {what})"),
        summary: format!("tenant {what} by {operator}"),
        time: cairn::store::now_ms() / 1000,
    };
    store.record_event(tenant, event, &commit).await?;
    Ok(())
}
