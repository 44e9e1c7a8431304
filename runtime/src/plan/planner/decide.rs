//! Comparing and deciding: one batched `diff` per provider (providers in
//! parallel), then what the host makes of each answer — adopt, refresh or
//! nothing for a no-op, protection against a replace or delete, the drift
//! flag, the summary of a change a crash interrupted, the refusal of a
//! provider that would delete a resource Git declares, and the problems
//! providers found comparing (diagnostics on their changes), which stop
//! the plan. A change made only of fields that are `null` or absent on
//! both sides is no change (`plan/converge.rs`).

use super::classify::{Subject, Work};
use super::gather::Gathered;
use super::{Draft, PlanDiagnostic, PlanError};
use crate::host::{ContractViolation, PluginError};
use crate::plan::port::Provider;
use crate::plan::{PlanAction, PlannedChange, Scheduled, converge, digest, provider_diff};
use cairn_contract::{Change, Severity};

/// One answer per provider of `work`, in its order: the calls all finish
/// before any answer is looked at, as the first failure is reported in
/// provider order, after the decisions on the answers before it.
#[tracing::instrument(level = "debug", skip_all)]
pub(super) async fn compare<P: Provider>(
    work: &Work<'_, P>,
) -> Vec<Result<Vec<Change>, PluginError>> {
    futures::future::join_all(
        work.values()
            .map(|w| provider_diff(w.provider, &w.inputs, &w.declared)),
    )
    .await
}

/// Turns the providers' answers into the plan's changes (deletes apart, to
/// be ordered), notes and the unchanged count; or, when a provider found
/// an error in a resource, every such error of every provider.
pub(super) fn decide<P: Provider>(
    gathered: &Gathered,
    mut draft: Draft,
    work: &Work<'_, P>,
    answers: Vec<Result<Vec<Change>, PluginError>>,
) -> Result<Draft, PlanError> {
    let owned = &gathered.inventory.owned;
    let interrupted = &gathered.inventory.interrupted;
    let mut problems = Vec::new();
    for (share, answer) in work.values().zip(answers) {
        let info = share.provider.info();
        for ((subject, input), mut change) in share.subjects.iter().zip(&share.inputs).zip(answer?)
        {
            let origin = match subject {
                Subject::Desired(r) => Some(&r.origin),
                Subject::Removed(_) => None,
            };
            let address = match subject {
                Subject::Desired(r) => &r.address,
                Subject::Removed(o) => &o.address,
            };
            draft.recheck_after = match (draft.recheck_after, change.recheck_after_ms) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for hold in &change.holds {
                draft.holds.push((address.clone(), hold.clone()));
            }
            for diagnostic in std::mem::take(&mut change.diagnostics) {
                let found = PlanDiagnostic::new(address, origin, diagnostic);
                match found.severity {
                    Severity::Error => problems.push(found),
                    Severity::Warning => draft.notes.push(format!("warning: {found}")),
                }
            }
            let sensitive = info
                .resource_type(&change.type_name)
                .map(|t| t.sensitive.clone())
                .unwrap_or_default();
            let fields = converge::shown_fields(info, &change);
            let (lifecycle, depends_on, ours) = match subject {
                Subject::Desired(r) => (
                    r.lifecycle.clone(),
                    r.depends_on.clone(),
                    owned.get(&r.address),
                ),
                Subject::Removed(o) => (o.lifecycle.clone(), Vec::new(), Some(*o)),
            };
            let unconfirmed = ours.is_none_or(|o| o.pending) || interrupted.contains_key(address);
            // The inventory must follow Git even when the world needs no
            // change: otherwise a new `protect` or an edited ignored field
            // would be forgotten.
            let stale_record = match (subject, ours) {
                (Subject::Desired(r), Some(o)) => {
                    o.spec_digest != r.spec.digest()
                        || o.lifecycle != r.lifecycle
                        || o.depends_on != r.depends_on
                }
                _ => false,
            };
            // Whether the provider now asks to compare the object again
            // over time, or stopped asking: recorded, so that later plans
            // compare it (or skip it again while nothing moves).
            let recheck_moved =
                ours.is_some_and(|o| o.recheck != change.recheck_after_ms.is_some());
            // `null` and an absent field are equal: a change made only of
            // such fields is none.
            let proposed = converge::makes_a_difference(&change)
                .then(|| PlanAction::from_provider(change.action))
                .flatten();
            let action = match proposed {
                Some(action) => action,
                None if unconfirmed && input.observed.is_some() => PlanAction::Adopt,
                None if (stale_record || recheck_moved) && input.observed.is_some() => {
                    PlanAction::Refresh
                }
                None => {
                    draft.unchanged += 1;
                    if let Some(after_ms) = change.recheck_after_ms {
                        draft.scheduled.push(Scheduled {
                            address: address.clone(),
                            summary: change.summary.clone(),
                            after_ms,
                        });
                    }
                    continue;
                }
            };
            if lifecycle.protect && matches!(action, PlanAction::Replace | PlanAction::Delete) {
                draft.notes.push(format!(
                    "{address} is protected: the provider would {} it ({}), so it is left as it is",
                    action.as_str(),
                    change.summary
                ));
                continue;
            }
            if matches!(subject, Subject::Desired(_)) && action == PlanAction::Delete {
                return Err(PluginError::Contract {
                    provider: address.provider.clone(),
                    function: "diff",
                    violation: ContractViolation::DeletesDeclared {
                        address: address.to_string(),
                    },
                }
                .into());
            }
            let summary = match (action, interrupted.get(address)) {
                (PlanAction::Adopt, Some(run)) => {
                    format!("the change interrupted in run #{run} took effect: record it")
                }
                (PlanAction::Adopt, None) if ours.is_some_and(|o| o.pending) => {
                    "an earlier create that did not finish made it, and it matches: record it"
                        .to_string()
                }
                (PlanAction::Adopt, None) if gathered.vouched.contains(address) => {
                    "record the existing object, which matches: its provider vouches that it made it for this tenant".to_string()
                }
                (PlanAction::Adopt, None) => {
                    "take over the existing object, which already matches".to_string()
                }
                (PlanAction::Refresh, _) if !stale_record => {
                    "record that its provider asks to compare it again over time, or no longer does; the object is not touched".to_string()
                }
                (PlanAction::Refresh, _) => {
                    "record Git's change (lifecycle, dependencies or ignored fields); the object is not touched".to_string()
                }
                (_, Some(run)) => format!("{} (again: run #{run} was interrupted)", change.summary),
                (_, None) => change.summary.clone(),
            };
            // The digest of the spec as Git says it (before ignore_changes):
            // equal to the one last applied means Git did not move for this
            // resource, so a change is the world drifting away.
            let desired_digest = match subject {
                Subject::Desired(r) => Some(r.spec.digest().to_string()),
                Subject::Removed(_) => None,
            };
            // A resource whose provider did not converge, planned again
            // (its plugin changed), differs because of that provider, not
            // because the world moved; one whose provider asked to compare
            // it again over time differs because time moved (a scheduled
            // run), which is its desired state, not drift.
            let drift = matches!(
                action,
                PlanAction::Create | PlanAction::Update | PlanAction::Replace
            ) && ours.is_some_and(|o| {
                !o.pending
                    && o.diverged.is_none()
                    && !o.recheck
                    && Some(&o.spec_digest) == desired_digest.as_ref()
            });
            let planned = PlannedChange {
                address: address.clone(),
                action,
                summary,
                fields,
                depends_on,
                drift,
                observed_digest: input.observed.as_ref().map(digest),
                desired_digest,
                change: Some(change),
                lifecycle,
                sensitive,
            };
            if action == PlanAction::Delete {
                draft.deletes.push(planned);
            } else {
                draft.changes.push(planned);
            }
        }
    }
    if problems.is_empty() {
        Ok(draft)
    } else {
        Err(PlanError::Diagnostics(problems))
    }
}
