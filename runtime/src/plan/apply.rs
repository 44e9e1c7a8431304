//! Applying a plan: changes in waves of the dependency graph, each wave one
//! batched `apply` per provider with providers in parallel, then the
//! check that the provider converged (`plan/converge.rs`); what depends on
//! a failed change is skipped; every outcome is recorded with its effect on
//! the inventory.
//!
//! # What a failed create leaves
//!
//! A create is recorded as started (pending) before it is sent. When it
//! fails, the record stays — as a crash would leave it — unless the
//! failure says that nothing was made: the change was not attempted
//! (skipped), or the provider refused it as a `conflict` with an object
//! that is not Cairn's. Any other failure may have made part of the
//! object (some objects of a manifest set, a user without its groups), and
//! the next plan finds out what exists: it updates or records it instead
//! of calling it a conflict with an object Cairn did not create. A foreign
//! object still meets a `conflict`, and is left alone.

use super::converge::{self, Made};
use super::findings::{self, OverrideError, PolicyOverride};
use super::{Plan, PlanAction, PlannedChange, Provider, digest, without_sensitive_owned};
use crate::model::{Address, graph};
use crate::store::{
    ActionRecord, ActionResult, Divergence, InventoryChange, RunCounts, RunKind, RunOutcome,
    RunRecorder, StateStore, StoreError,
};
use crate::tenant::Tenant;
use cairn_contract::{Change, ErrorKind, Outcome};
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
    /// Why it failed or was skipped, or how its provider did not
    /// converge.
    pub error: Option<String>,
    /// The change was made, but its provider did not converge (`error`
    /// says on what): the resource is held until its spec in Git or its
    /// provider's plugin changes.
    pub not_converged: bool,
    /// How long its batch took, in milliseconds.
    pub duration_ms: u64,
}

/// What happened to a whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// The run's number in the history.
    pub run_id: i64,
    /// Succeeded, failed, partial or interrupted.
    pub outcome: RunOutcome,
    /// Every change, in the order they finished.
    pub actions: Vec<ActionReport>,
}

impl ApplyReport {
    /// Whether every change was made.
    pub fn succeeded(&self) -> bool {
        self.outcome == RunOutcome::Succeeded
    }
}

/// How a plan is applied.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The kind of run recorded in the history: apply, rollback or
    /// reconcile.
    pub kind: RunKind,
    /// Apply even when the safety threshold blocks the plan.
    pub force: bool,
    /// Changes of the full plan left out of this one (drift not to be
    /// repaired, resources waiting for a retry): the run is then `partial`
    /// even when everything it tried succeeded, and the commit does not
    /// count as applied.
    pub held_back: usize,
    /// The operator's override of soft-mandatory policies that block the
    /// plan: checked against the plan's findings, and recorded.
    pub policy_override: Option<PolicyOverride>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            kind: RunKind::Apply,
            force: false,
            held_back: 0,
            policy_override: None,
        }
    }
}

/// Why a plan was not applied, or not recorded in full.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The safety threshold blocks the plan; nothing was applied.
    #[error("the plan is blocked: {}. Nothing was applied; apply with --force if it is intended, or raise max_delete_percent", .0.join("; "))]
    Blocked(Vec<String>),
    /// The tenant's policies block the plan; nothing was applied.
    #[error(
        "the plan is blocked by {} {}: {} finding(s) that must be fixed first (shown under the plan). Nothing was applied; change the commit so that it passes, or override a soft-mandatory policy with --override-policy ID --reason WHY",
        if .policies.len() == 1 { "policy" } else { "policies" },
        .policies.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "),
        .findings
    )]
    PolicyBlocked {
        /// The policies whose findings block it.
        policies: Vec<String>,
        /// How many findings block it.
        findings: usize,
    },
    /// The operator's override cannot be used; nothing was applied.
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// The state store failed; what was applied before is recorded.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies `plan`, calling `progress` with each batch of changes recorded
/// together, as soon as it is recorded. A plan the safety
/// threshold blocks is refused unless `options.force`; one the tenant's
/// policies block, unless `options.policy_override` overrides every
/// soft-mandatory policy that blocks it and no mandatory one does. Either
/// refusal is recorded in the history, with the findings.
pub async fn apply(
    tenant: &Tenant,
    plan: &Plan,
    store: &StateStore,
    options: ApplyOptions,
    progress: &(dyn Fn(&[ActionReport]) + Sync),
) -> Result<ApplyReport, ApplyError> {
    let overridden = match &options.policy_override {
        Some(given) => {
            findings::check_override(&plan.findings, &given.policies, &given.reason)?;
            given.policies.clone()
        }
        None => Vec::new(),
    };
    let run = store
        .begin_run(&tenant.name, options.kind, &plan.commit, &plan.checksum)
        .await?;
    run.note_policies(&plan.findings, options.policy_override.as_ref())
        .await?;
    let blocking = findings::blocking(&plan.findings, &overridden);
    if !blocking.is_empty() {
        run.finish(RunOutcome::Blocked, RunCounts::changes(plan.changes.len()))
            .await?;
        return Err(ApplyError::PolicyBlocked {
            policies: findings::blocking_policies(&plan.findings, &overridden),
            findings: blocking.len(),
        });
    }
    if !plan.blocked.is_empty() && !options.force {
        run.finish(RunOutcome::Blocked, RunCounts::changes(plan.changes.len()))
            .await?;
        return Err(ApplyError::Blocked(plan.blocked.clone()));
    }
    let creates: Vec<(&Address, &crate::model::Lifecycle, &[Address])> = plan
        .changes
        .iter()
        .filter(|c| c.action == PlanAction::Create)
        .map(|c| (&c.address, &c.lifecycle, c.depends_on.as_slice()))
        .collect();
    run.mark_pending(&creates).await?;

    let mut reports = Vec::new();
    let result = apply_waves(tenant, plan, store, &run, progress, &mut reports).await;

    let failures = reports
        .iter()
        .filter(|r| r.result != ActionResult::Ok)
        .count();
    let outcome = match (&result, failures) {
        (Err(_), _) => RunOutcome::Interrupted,
        (Ok(()), 0) if options.held_back == 0 => RunOutcome::Succeeded,
        (Ok(()), 0) => RunOutcome::Partial,
        (Ok(()), n) if n == reports.len() => RunOutcome::Failed,
        (Ok(()), _) => RunOutcome::Partial,
    };
    let run_id = run.id();
    let counts = RunCounts {
        changes: reports.len(),
        failures,
    };
    run.finish(outcome, counts).await?;
    result?;
    store.set_last_commit(&tenant.name, &plan.commit.id).await?;
    if outcome == RunOutcome::Succeeded {
        store
            .set_last_applied(&tenant.name, &plan.commit.id)
            .await?;
    }
    Ok(ApplyReport {
        run_id,
        outcome,
        actions: reports,
    })
}

/// The waves of the dependency graph, each recorded as it finishes. Stops
/// at the first store error: nothing is applied that cannot be recorded.
async fn apply_waves(
    tenant: &Tenant,
    plan: &Plan,
    store: &StateStore,
    run: &RunRecorder,
    progress: &(dyn Fn(&[ActionReport]) + Sync),
    reports: &mut Vec<ActionReport>,
) -> Result<(), StoreError> {
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
                let skipped = Err(Failure::nothing_made(ActionResult::Skipped, reason));
                host_only.push(finish(plan, i, skipped, Duration::ZERO));
            } else if change.action.calls_provider() {
                batches
                    .entry(change.address.provider.as_str())
                    .or_default()
                    .push(i);
            } else {
                host_only.push(finish(plan, i, Ok(Applied::default()), Duration::ZERO));
            }
        }
        record(run, progress, reports, host_only).await?;

        // Journal what is about to be sent, so that a crash during the calls
        // leaves a trace to reconcile after the restart.
        let intents: Vec<(&Address, PlanAction, Option<&str>)> = batches
            .values()
            .flatten()
            .map(|&i| {
                let change = &plan.changes[i];
                (
                    &change.address,
                    change.action,
                    change.desired_digest.as_deref(),
                )
            })
            .collect();
        run.journal(&intents).await?;

        let guard = store.send_guard();
        let calls = batches.into_iter().map(|(name, members)| {
            let guard = guard.clone();
            async move {
                let provider = &tenant.providers[name];
                let changes: Vec<&Change> = members
                    .iter()
                    .map(|&i| {
                        plan.changes[i]
                            .change
                            .as_ref()
                            .expect("provider changes carry the provider's change")
                    })
                    .collect();
                let started = Instant::now();
                let outcomes = Provider::apply(&**provider, &changes, guard).await;
                let mut verdicts: Vec<Option<String>> = vec![None; members.len()];
                if let Ok(outcomes) = &outcomes {
                    let (positions, made): (Vec<usize>, Vec<Made>) =
                        made_by(plan, &members, &changes, outcomes)
                            .into_iter()
                            .unzip();
                    let found = converge::check(name, &**provider, &made).await;
                    for (position, verdict) in positions.into_iter().zip(found) {
                        verdicts[position] = verdict;
                    }
                }
                let plugin = provider.plugin().sha256().to_string();
                (members, outcomes, verdicts, plugin, started.elapsed())
            }
        });
        let mut first_error = None;
        for (members, outcomes, verdicts, plugin, elapsed) in futures::future::join_all(calls).await
        {
            let outcomes: Vec<ChangeOutcome> = match outcomes {
                Ok(outcomes) => outcomes
                    .into_iter()
                    .zip(verdicts)
                    .map(|(outcome, verdict)| match outcome {
                        Outcome::Applied(state) => Ok(Applied {
                            state,
                            diverged: verdict.map(|reason| Divergence {
                                plugin: plugin.clone(),
                                reason,
                            }),
                        }),
                        // A conflict: the object is someone else's, and
                        // was left alone.
                        Outcome::Failed(error) if error.kind == ErrorKind::Conflict => Err(
                            Failure::nothing_made(ActionResult::Failed, error.to_string()),
                        ),
                        Outcome::Failed(error) => Err(Failure {
                            result: ActionResult::Failed,
                            reason: error.to_string(),
                            effect: Effect::MayHaveMade,
                        }),
                        Outcome::Skipped(reason) => {
                            Err(Failure::nothing_made(ActionResult::Skipped, reason))
                        }
                    })
                    .collect(),
                // The call itself broke (trap, timeout): whether the server
                // made some of the changes is unknown.
                Err(error) => members
                    .iter()
                    .map(|_| {
                        Err(Failure {
                            result: ActionResult::Failed,
                            reason: error.to_string(),
                            effect: Effect::Unknown,
                        })
                    })
                    .collect(),
            };
            let mut batch = Vec::with_capacity(members.len());
            for (i, outcome) in members.into_iter().zip(outcomes) {
                if let Err(failure) = &outcome {
                    failed.insert(i, failure.reason.clone());
                }
                batch.push(finish(plan, i, outcome, elapsed));
            }
            // One transaction per provider batch: its outcomes are recorded
            // together or not at all. Every batch is tried, so a store
            // failure on one does not lose the others' outcomes.
            if let Err(error) = record(run, progress, reports, batch).await {
                first_error.get_or_insert(error);
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
    }
    Ok(())
}

/// What a failed change may have done to the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Nothing: it was not attempted, or the provider refused it as a
    /// conflict with an object that is not Cairn's.
    NothingMade,
    /// The provider says it failed, and it may have done part of it.
    MayHaveMade,
    /// The call broke (a trap, a timeout): whether the provider made the
    /// change is unknown.
    Unknown,
}

/// Why a change did not take effect.
#[derive(Debug)]
struct Failure {
    result: ActionResult,
    reason: String,
    effect: Effect,
}

impl Failure {
    fn nothing_made(result: ActionResult, reason: String) -> Self {
        Self {
            result,
            reason,
            effect: Effect::NothingMade,
        }
    }
}

/// A change the provider made: the state it returned, and whether it
/// converged.
#[derive(Debug, Default)]
struct Applied {
    state: Option<serde_json::Value>,
    diverged: Option<Divergence>,
}

/// A change's new state, or why it has none.
type ChangeOutcome = Result<Applied, Failure>;

/// What the convergence check looks at of a batch (`members`, their
/// `changes` and the `outcomes` the provider reported): each change it
/// reported made that makes or changes an object, with its position in
/// the batch and the state it returned.
fn made_by<'a>(
    plan: &'a Plan,
    members: &[usize],
    changes: &[&'a Change],
    outcomes: &'a [Outcome],
) -> Vec<(usize, Made<'a>)> {
    members
        .iter()
        .zip(changes.iter().copied())
        .zip(outcomes)
        .enumerate()
        .filter_map(|(position, ((&i, change), outcome))| {
            let Outcome::Applied(returned) = outcome else {
                return None;
            };
            let planned = &plan.changes[i];
            // A resource whose desired state moves with time (a chaos run,
            // which its probes may end at the next look) is compared at
            // the time it asked for, not at once: its own next change is
            // no failure to converge.
            let makes = matches!(
                planned.action,
                PlanAction::Create | PlanAction::Update | PlanAction::Replace
            ) && change.recheck_after_ms.is_none();
            makes.then(|| {
                let made = Made {
                    change,
                    returned: returned.as_ref(),
                    sensitive: &planned.sensitive,
                    ignore_changes: &planned.lifecycle.ignore_changes,
                };
                (position, made)
            })
        })
        .collect()
}

/// The state the inventory records of a change the provider made: the
/// state it returned or, without one, what was observed before; either way
/// without its secrets.
fn recorded_state(
    change: &PlannedChange,
    returned: Option<serde_json::Value>,
) -> Option<serde_json::Value> {
    returned
        .or_else(|| change.change.as_ref().and_then(|c| c.observed.clone()))
        .map(|state| without_sensitive_owned(state, &change.sensitive))
}

/// One change's outcome, ready to be recorded.
struct Finished<'a> {
    record: ActionRecord<'a>,
    inventory: InventoryChange,
    report: ActionReport,
}

/// Records finished changes in one transaction, then reports them.
async fn record(
    run: &RunRecorder,
    progress: &(dyn Fn(&[ActionReport]) + Sync),
    reports: &mut Vec<ActionReport>,
    finished: Vec<Finished<'_>>,
) -> Result<(), StoreError> {
    if finished.is_empty() {
        return Ok(());
    }
    run.record_each(finished.iter().map(|f| (&f.record, &f.inventory)))
        .await?;
    let first = reports.len();
    reports.extend(finished.into_iter().map(|f| f.report));
    progress(&reports[first..]);
    Ok(())
}

/// What one change's outcome means for the audit log and the inventory.
fn finish(plan: &Plan, index: usize, outcome: ChangeOutcome, elapsed: Duration) -> Finished<'_> {
    let change: &PlannedChange = &plan.changes[index];
    let (result, error, after_digest, inventory) = match outcome {
        Ok(Applied { state, diverged }) => {
            let state = recorded_state(change, state);
            let after = state.as_ref().map(digest);
            // A change whose provider did not converge was made: the
            // object is owned, and held, and the change counts as failed.
            let (result, error) = match &diverged {
                Some(divergence) => (ActionResult::Failed, Some(divergence.reason.clone())),
                None => (ActionResult::Ok, None),
            };
            let inventory = match change.action {
                PlanAction::Delete | PlanAction::Forget => InventoryChange::Forget,
                PlanAction::Create
                | PlanAction::Update
                | PlanAction::Replace
                | PlanAction::Adopt
                | PlanAction::Refresh => InventoryChange::Own {
                    spec_digest: change.desired_digest.clone().unwrap_or_default(),
                    state,
                    lifecycle: change.lifecycle.clone(),
                    depends_on: change.depends_on.clone(),
                    pending: false,
                    diverged,
                    recheck: change
                        .change
                        .as_ref()
                        .is_some_and(|c| c.recheck_after_ms.is_some()),
                },
            };
            (result, error, after, inventory)
        }
        // A broken call may have made the change: the journal entry stays,
        // so that the next plan finds out.
        Err(failure) if failure.effect == Effect::Unknown => (
            failure.result,
            Some(failure.reason),
            None,
            InventoryChange::Unknown,
        ),
        // A create that certainly made nothing leaves nothing to own; any
        // other failed create stays pending, to be found out.
        Err(failure)
            if failure.effect == Effect::NothingMade && change.action == PlanAction::Create =>
        {
            (
                failure.result,
                Some(failure.reason),
                None,
                InventoryChange::DropPending,
            )
        }
        Err(failure) => (
            failure.result,
            Some(failure.reason),
            None,
            InventoryChange::Keep,
        ),
    };
    let not_converged = matches!(
        &inventory,
        InventoryChange::Own {
            diverged: Some(_),
            ..
        }
    );
    Finished {
        record: ActionRecord {
            address: &change.address,
            action: change.action,
            before_digest: change.observed_digest.clone(),
            after_digest,
            result,
            error: error.clone(),
            summary: Some(change.summary.clone()),
            duration: elapsed,
        },
        inventory,
        report: ActionReport {
            address: change.address.clone(),
            action: change.action,
            result,
            error,
            not_converged,
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::{change, plan_of};
    use serde_json::json;

    /// The state an applied change records, from `returned` (or, without
    /// one, from what was observed before the apply).
    fn recorded(returned: Option<serde_json::Value>) -> Option<serde_json::Value> {
        let mut planned = change("identity/user/ada", PlanAction::Update);
        planned.sensitive = vec!["password".into()];
        planned.change = Some(Change {
            type_name: "user".into(),
            id: "ada".into(),
            action: cairn_contract::Action::Update,
            summary: String::new(),
            fields: Vec::new(),
            desired: None,
            observed: Some(json!({"name": "Ada", "password": "before"})),
            diagnostics: Vec::new(),
            recheck_after_ms: None,
            holds: Vec::new(),
            notice: None,
        });
        let plan = plan_of(vec![planned]);
        let applied = Ok(Applied {
            state: returned,
            diverged: None,
        });
        match finish(&plan, 0, applied, Duration::ZERO).inventory {
            InventoryChange::Own { state, .. } => state,
            other => panic!("an applied update owns its object, not {other:?}"),
        }
    }

    #[test]
    fn an_applied_state_is_recorded_without_its_sensitive_fields() {
        let returned = json!({"name": "Ada", "password": "after", "mail": "ada@example.org"});
        assert_eq!(
            recorded(Some(returned)),
            Some(json!({"name": "Ada", "mail": "ada@example.org"}))
        );
        assert_eq!(recorded(None), Some(json!({"name": "Ada"})));
    }
}
