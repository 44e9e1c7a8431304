//! Applying a plan: changes in waves of the dependency graph, each wave one
//! batched `apply` per provider with providers in parallel; what depends on
//! a failed change is skipped; every outcome is recorded with its effect on
//! the inventory.

use super::{Plan, PlanAction, PlannedChange, digest, without_sensitive};
use crate::host::types::{Change, Outcome};
use crate::model::{Address, graph};
use crate::store::{ActionRecord, ActionResult, InventoryChange, StateStore, StoreError};
use crate::tenant::Tenant;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// What happened to one change.
#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    /// The resource.
    pub address: Address,
    /// The action.
    pub action: PlanAction,
    /// How it ended.
    pub result: ActionResult,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// How long its batch took, in milliseconds.
    pub duration_ms: u64,
}

/// What happened to a whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// The run's number in the history.
    pub run_id: i64,
    /// `succeeded`, `failed` or `partial`.
    pub outcome: String,
    /// Every change, in the order they finished.
    pub actions: Vec<ActionReport>,
}

impl ApplyReport {
    /// Whether every change was made.
    pub fn succeeded(&self) -> bool {
        self.outcome == "succeeded"
    }
}

/// Applies `plan`, calling `progress` after each change.
pub async fn apply(
    tenant: &Tenant,
    plan: &Plan,
    store: &StateStore,
    progress: &(dyn Fn(&ActionReport) + Sync),
) -> Result<ApplyReport, StoreError> {
    let run_id = store
        .begin_run(&tenant.name, "apply", &plan.commit, &plan.checksum)
        .await?;
    let creates: Vec<(&Address, &crate::model::Lifecycle, &[Address])> = plan
        .changes
        .iter()
        .filter(|c| c.action == PlanAction::Create)
        .map(|c| (&c.address, &c.lifecycle, c.depends_on.as_slice()))
        .collect();
    store
        .mark_pending(&tenant.name, &plan.commit, &creates)
        .await?;

    let index: HashMap<&Address, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    let mut edges: Vec<Vec<usize>> = plan
        .changes
        .iter()
        .map(|c| {
            c.depends_on
                .iter()
                .filter_map(|d| index.get(d).copied())
                .collect()
        })
        .collect();
    if graph::find_cycle(&edges).is_some() {
        // Only stale ownership records can produce this; order is then lost,
        // but every change is still made.
        tracing::warn!(tenant = %tenant.name, "the plan's dependencies form a cycle; applying without order");
        edges.iter_mut().for_each(Vec::clear);
    }

    let mut failed: HashMap<usize, String> = HashMap::new();
    let mut reports = Vec::new();
    for wave in graph::waves(&edges) {
        let mut batches: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        let mut host_only = Vec::new();
        for &i in &wave {
            let change = &plan.changes[i];
            if let Some(blocker) = edges[i].iter().find(|d| failed.contains_key(d)) {
                let reason = format!(
                    "not attempted: {} did not succeed",
                    plan.changes[*blocker].address
                );
                failed.insert(i, reason.clone());
                let skipped = Err((ActionResult::Skipped, reason));
                host_only.push(finish(tenant, plan, run_id, i, skipped, Duration::ZERO));
            } else if change.action.calls_provider() {
                batches
                    .entry(change.address.provider.as_str())
                    .or_default()
                    .push(i);
            } else {
                host_only.push(finish(tenant, plan, run_id, i, Ok(None), Duration::ZERO));
            }
        }
        record(store, progress, &mut reports, host_only).await?;

        let calls = batches.into_iter().map(|(provider, members)| async move {
            let provider = &tenant.providers[provider];
            let changes: Vec<Change> = members
                .iter()
                .map(|&i| {
                    plan.changes[i]
                        .change
                        .clone()
                        .expect("provider changes carry the provider's change")
                })
                .collect();
            let started = Instant::now();
            let outcomes = provider.apply(&changes).await;
            (members, outcomes, started.elapsed())
        });
        for (members, outcomes, elapsed) in futures::future::join_all(calls).await {
            let outcomes: Vec<ChangeOutcome> = match outcomes {
                Ok(outcomes) => outcomes
                    .into_iter()
                    .map(|outcome| match outcome {
                        Outcome::Applied(state) => Ok(state),
                        Outcome::Failed(error) => Err((ActionResult::Failed, error.to_string())),
                        Outcome::Skipped(reason) => Err((ActionResult::Skipped, reason)),
                    })
                    .collect(),
                Err(error) => members
                    .iter()
                    .map(|_| Err((ActionResult::Failed, error.to_string())))
                    .collect(),
            };
            let mut batch = Vec::with_capacity(members.len());
            for (i, outcome) in members.into_iter().zip(outcomes) {
                if let Err((_, reason)) = &outcome {
                    failed.insert(i, reason.clone());
                }
                batch.push(finish(tenant, plan, run_id, i, outcome, elapsed));
            }
            // One transaction per provider batch: its outcomes are recorded
            // together or not at all.
            record(store, progress, &mut reports, batch).await?;
        }
    }

    let failures = reports
        .iter()
        .filter(|r| r.result != ActionResult::Ok)
        .count();
    let outcome = match failures {
        0 => "succeeded",
        n if n == reports.len() => "failed",
        _ => "partial",
    };
    store
        .finish_run(run_id, outcome, reports.len(), failures)
        .await?;
    Ok(ApplyReport {
        run_id,
        outcome: outcome.to_string(),
        actions: reports,
    })
}

/// A change's new state, or how it ended without one and why.
type ChangeOutcome = Result<Option<serde_json::Value>, (ActionResult, String)>;

/// One change's outcome, ready to be recorded.
struct Finished<'a> {
    record: ActionRecord<'a>,
    inventory: InventoryChange,
    report: ActionReport,
}

/// Records finished changes in one transaction, then reports them.
async fn record(
    store: &StateStore,
    progress: &(dyn Fn(&ActionReport) + Sync),
    reports: &mut Vec<ActionReport>,
    finished: Vec<Finished<'_>>,
) -> Result<(), StoreError> {
    if finished.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = finished
        .iter()
        .map(|f| (f.record.clone(), f.inventory.clone()))
        .collect();
    store.record_all(&rows).await?;
    for f in finished {
        progress(&f.report);
        reports.push(f.report);
    }
    Ok(())
}

/// What one change's outcome means for the audit log and the inventory.
fn finish<'a>(
    tenant: &'a Tenant,
    plan: &'a Plan,
    run_id: i64,
    index: usize,
    outcome: ChangeOutcome,
    elapsed: Duration,
) -> Finished<'a> {
    let change: &PlannedChange = &plan.changes[index];
    let (result, error, after_digest, inventory) = match outcome {
        Ok(state) => {
            let state = state.map(|s| without_sensitive(&s, &change.sensitive));
            let after = state.as_ref().map(digest);
            let inventory = match change.action {
                PlanAction::Delete | PlanAction::Forget => InventoryChange::Forget,
                PlanAction::Create
                | PlanAction::Update
                | PlanAction::Replace
                | PlanAction::Adopt => {
                    // Without a state from the provider, keep what was observed.
                    let state =
                        state.or_else(|| change.change.as_ref().and_then(|c| c.observed.clone()));
                    InventoryChange::Own {
                        spec_digest: change.desired_digest.clone().unwrap_or_default(),
                        state,
                        lifecycle: change.lifecycle.clone(),
                        depends_on: change.depends_on.clone(),
                        pending: false,
                    }
                }
            };
            (ActionResult::Ok, None, after, inventory)
        }
        Err((result, reason)) => (result, Some(reason), None, InventoryChange::Keep),
    };
    Finished {
        record: ActionRecord {
            run_id,
            tenant: &tenant.name,
            commit: &plan.commit,
            address: &change.address,
            action: change.action.as_str(),
            before_digest: change.observed_digest.clone(),
            after_digest,
            result,
            error: error.clone(),
            duration: elapsed,
        },
        inventory,
        report: ActionReport {
            address: change.address.clone(),
            action: change.action,
            result,
            error,
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        },
    }
}
