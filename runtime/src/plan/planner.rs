//! Computing a plan: observe with `list`, compare with `diff` (one batched
//! call per provider, providers in parallel), and decide what the host
//! does about ownership, pruning, `protect`, `on_delete`, `adopt` and
//! `ignore_changes`.

use super::{
    PLAN_FORMAT, Plan, PlanAction, PlanScope, PlannedChange, Safety, checksum, digest,
    redact_fields,
};
use crate::host::{ContractViolation, PluginError, ProviderInstance};
use crate::model::{Address, DesiredResource, DesiredState, OnDelete};
use crate::store::{OwnedResource, StateStore, StoreError};
use crate::tenant::Tenant;
use cairn_contract::{DiffInput, Observed};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A provider failed to observe or compare.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// Desired resources collide with objects Cairn did not create.
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Address>),
    /// Resources say `adopt = true`, and the operator does not let this
    /// tenant adopt.
    #[error("{} resource(s) say `adopt = true`, but this tenant may not take over objects Cairn did not create for it (the operator's `allow_adopt`); nothing was applied:\n{}", .0.len(), .0.iter().map(|a| format!("  {a}")).collect::<Vec<_>>().join("\n"))]
    AdoptNotAllowed(Vec<Address>),
    /// The plan holds more changes than the tenant's quota.
    #[error(transparent)]
    Quota(#[from] crate::quota::QuotaExceeded),
    /// Owned objects belong to a provider the operator no longer configures.
    #[error("Cairn owns {} object(s) of provider `{provider}`, which cairn.toml no longer configures (such as {example}); configure it again so they can be deleted or kept", .count)]
    ProviderGone {
        /// The provider instance.
        provider: String,
        /// How many objects.
        count: usize,
        /// One of them.
        example: Address,
    },
}

fn conflicts_message(addresses: &[Address]) -> String {
    let list: Vec<String> = addresses.iter().map(|a| format!("  {a}")).collect();
    format!(
        "{} resource(s) of the repository already exist, and Cairn did not create them; nothing was applied:\n{}\nTo take such an object over, add `adopt = true` to its resource; otherwise remove the resource from Git or the object from the server",
        addresses.len(),
        list.join("\n")
    )
}

/// What one diff input stands for.
enum Subject<'a> {
    Desired(&'a DesiredResource),
    Removed(&'a OwnedResource),
}

/// One provider's share of the plan.
struct ProviderWork<'a> {
    provider: Arc<ProviderInstance>,
    subjects: Vec<Subject<'a>>,
    inputs: Vec<DiffInput>,
}

/// Plans the changes that take the real world to `desired`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn plan(
    tenant: &Tenant,
    desired: &DesiredState,
    store: &StateStore,
    scope: PlanScope,
) -> Result<Plan, PlanError> {
    let owned: HashMap<Address, OwnedResource> = store
        .owned(&tenant.name)
        .await?
        .into_iter()
        .map(|resource| (resource.address.clone(), resource))
        .collect();
    if let Some(stray) = owned
        .keys()
        .find(|a| !tenant.providers.contains_key(&a.provider))
    {
        let count = owned
            .keys()
            .filter(|a| a.provider == stray.provider)
            .count();
        return Err(PlanError::ProviderGone {
            provider: stray.provider.clone(),
            count,
            example: stray.clone(),
        });
    }

    // Changes a crash interrupted: their outcome is found out below.
    let interrupted: HashMap<Address, i64> = store
        .intents(&tenant.name)
        .await?
        .into_iter()
        .map(|intent| (intent.address, intent.run_id))
        .collect();

    // Resources Git did not move since they were last applied: their
    // spec, lifecycle and dependencies are what the inventory holds.
    let desired_digests: Vec<String> = desired.resources.iter().map(|r| digest(&r.spec)).collect();
    let settled_in_git: Vec<bool> = desired
        .resources
        .iter()
        .zip(&desired_digests)
        .map(|(resource, spec_digest)| {
            owned.get(&resource.address).is_some_and(|o| {
                !o.pending
                    && !interrupted.contains_key(&resource.address)
                    && o.spec_digest == *spec_digest
                    && o.lifecycle == resource.lifecycle
                    && o.depends_on == resource.depends_on
            })
        })
        .collect();
    let unexamined = match scope {
        PlanScope::Full => HashSet::new(),
        PlanScope::Changed => unmoved(desired, &settled_in_git),
    };

    // Observe: each provider lists what is there, for every id of interest.
    let observed = observe(tenant, desired, &owned, &unexamined).await?;

    let mut notes = Vec::new();
    let mut conflicts = Vec::new();
    let mut refused_adoptions = Vec::new();
    let mut forgets: Vec<PlannedChange> = Vec::new();
    let mut work: BTreeMap<&str, ProviderWork> = BTreeMap::new();
    let desired_addresses: HashSet<&Address> =
        desired.resources.iter().map(|r| &r.address).collect();

    let mut unchanged = unexamined.len();
    for (index, resource) in desired.resources.iter().enumerate() {
        let address = &resource.address;
        if unexamined.contains(address) {
            continue;
        }
        let seen = observed.get(address);
        let ours = owned.get(address);
        // The world is exactly as the last apply left it, and Git did not
        // move: nothing for the provider to compare.
        if settled_in_git[index] && seen.is_some() && seen == ours.and_then(|o| o.state.as_ref()) {
            unchanged += 1;
            continue;
        }
        if seen.is_some() && ours.is_none() && !resource.lifecycle.adopt {
            conflicts.push(address.clone());
            continue;
        }
        if seen.is_some() && ours.is_none() && !tenant.config.allow_adopt {
            refused_adoptions.push(address.clone());
            continue;
        }
        let spec = match seen {
            Some(state) => {
                with_ignored_fields(&resource.spec, state, &resource.lifecycle.ignore_changes)
            }
            None => resource.spec.clone(),
        };
        let entry = work_for(&mut work, tenant, &address.provider);
        entry.subjects.push(Subject::Desired(resource));
        entry.inputs.push(DiffInput {
            type_name: address.type_name.clone(),
            id: address.id.clone(),
            desired: Some(spec),
            observed: seen.cloned(),
            prior: ours.and_then(|o| o.state.clone()),
        });
    }
    if !conflicts.is_empty() {
        return Err(PlanError::Conflicts(conflicts));
    }
    if !refused_adoptions.is_empty() {
        return Err(PlanError::AdoptNotAllowed(refused_adoptions));
    }

    let mut removed: Vec<&OwnedResource> = owned
        .values()
        .filter(|o| !desired_addresses.contains(&o.address))
        .collect();
    removed.sort_by(|a, b| a.address.cmp(&b.address));
    for resource in removed {
        let address = &resource.address;
        let seen = observed.get(address);
        let forget = |summary: &str| PlannedChange {
            address: address.clone(),
            action: PlanAction::Forget,
            summary: summary.to_string(),
            fields: Vec::new(),
            depends_on: Vec::new(),
            drift: false,
            observed_digest: seen.map(digest),
            desired_digest: None,
            change: None,
            lifecycle: resource.lifecycle.clone(),
            sensitive: Vec::new(),
        };
        if resource.lifecycle.protect {
            notes.push(format!(
                "{address} left Git but is protected: it is kept (remove `protect = true` and apply before removing it, to delete it)"
            ));
        } else if seen.is_none() {
            forgets.push(forget("already gone from the real world; stop tracking it"));
        } else if resource.lifecycle.on_delete == OnDelete::Orphan {
            forgets.push(forget(
                "left Git; on_delete = \"orphan\" leaves the object in place",
            ));
        } else {
            let entry = work_for(&mut work, tenant, &address.provider);
            entry.subjects.push(Subject::Removed(resource));
            entry.inputs.push(DiffInput {
                type_name: address.type_name.clone(),
                id: address.id.clone(),
                desired: None,
                observed: seen.cloned(),
                prior: resource.state.clone(),
            });
        }
    }

    // Compare: one batched diff per provider, providers in parallel.
    let diffs = futures::future::join_all(
        work.values()
            .map(|w| async { w.provider.diff(&w.inputs).await }),
    )
    .await;

    let mut changes = Vec::new();
    let mut deletes = Vec::new();
    for (share, diff) in work.values().zip(diffs) {
        let info = share.provider.info();
        for ((subject, input), change) in share.subjects.iter().zip(&share.inputs).zip(diff?) {
            let sensitive = info
                .resource_type(&change.type_name)
                .map(|t| t.sensitive.clone())
                .unwrap_or_default();
            let mut fields = change.fields.clone();
            for field in &mut fields {
                let top = field.path.split('/').next().unwrap_or_default();
                field.sensitive |= sensitive.iter().any(|s| s == top);
            }
            redact_fields(&mut fields);
            let (address, lifecycle, depends_on, ours) = match subject {
                Subject::Desired(r) => (
                    &r.address,
                    r.lifecycle.clone(),
                    r.depends_on.clone(),
                    owned.get(&r.address),
                ),
                Subject::Removed(o) => (&o.address, o.lifecycle.clone(), Vec::new(), Some(*o)),
            };
            let unconfirmed = ours.is_none_or(|o| o.pending) || interrupted.contains_key(address);
            // The inventory must follow Git even when the world needs no
            // change: otherwise a new `protect` or an edited ignored field
            // would be forgotten.
            let stale_record = match (subject, ours) {
                (Subject::Desired(r), Some(o)) => {
                    o.spec_digest != digest(&r.spec)
                        || o.lifecycle != r.lifecycle
                        || o.depends_on != r.depends_on
                }
                _ => false,
            };
            let action = match PlanAction::from_provider(change.action) {
                Some(action) => action,
                None if unconfirmed && input.observed.is_some() => PlanAction::Adopt,
                None if stale_record && input.observed.is_some() => PlanAction::Refresh,
                None => {
                    unchanged += 1;
                    continue;
                }
            };
            if lifecycle.protect && matches!(action, PlanAction::Replace | PlanAction::Delete) {
                notes.push(format!(
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
                (PlanAction::Adopt, None) => {
                    "take over the existing object, which already matches".to_string()
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
                Subject::Desired(r) => Some(digest(&r.spec)),
                Subject::Removed(_) => None,
            };
            let drift = matches!(
                action,
                PlanAction::Create | PlanAction::Update | PlanAction::Replace
            ) && ours
                .is_some_and(|o| !o.pending && Some(&o.spec_digest) == desired_digest.as_ref());
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
                deletes.push(planned);
            } else {
                changes.push(planned);
            }
        }
    }

    // An object that stays (protected, orphaned) keeps what it depends on:
    // deleting a zone would take a kept record with it.
    let deleting: HashSet<Address> = deletes.iter().map(|d| d.address.clone()).collect();
    let mut needed_by: HashMap<Address, Address> = HashMap::new();
    let mut staying: Vec<&OwnedResource> = owned
        .values()
        .filter(|o| !deleting.contains(&o.address) && observed.contains_key(&o.address))
        .collect();
    while let Some(resource) = staying.pop() {
        for dependency in &resource.depends_on {
            if deleting.contains(dependency) && !needed_by.contains_key(dependency) {
                needed_by.insert(dependency.clone(), resource.address.clone());
                if let Some(kept) = owned.get(dependency) {
                    staying.push(kept);
                }
            }
        }
    }
    deletes.retain(|delete| match needed_by.get(&delete.address) {
        Some(child) => {
            notes.push(format!(
                "{} left Git but is kept: {child}, which stays, depends on it",
                delete.address
            ));
            false
        }
        None => true,
    });

    // A delete waits for the deletes of what depended on it.
    let mut dependents: HashMap<&Address, Vec<Address>> = HashMap::new();
    for delete in &deletes {
        for dependency in owned
            .get(&delete.address)
            .map_or(&[][..], |o| &o.depends_on[..])
        {
            dependents
                .entry(dependency)
                .or_default()
                .push(delete.address.clone());
        }
    }
    let dependents: HashMap<Address, Vec<Address>> = dependents
        .into_iter()
        .map(|(address, list)| (address.clone(), list))
        .collect();
    for delete in &mut deletes {
        delete.depends_on = dependents.get(&delete.address).cloned().unwrap_or_default();
    }
    changes.append(&mut deletes);
    changes.append(&mut forgets);
    let mut safety = Safety {
        owned: BTreeMap::new(),
        max_delete_percent: tenant.config.max_delete_percent,
    };
    for resource in owned.values().filter(|o| !o.pending) {
        *safety
            .owned
            .entry(resource.address.provider.clone())
            .or_default() += 1;
    }

    crate::quota::QuotaExceeded::check(
        "plan_changes",
        "the number of changes in the plan",
        changes.len() as u64,
        tenant.config.quotas.plan_changes as u64,
    )?;
    let checksum = checksum(&tenant.name, &desired.commit, &changes);
    let mut plan = Plan {
        format: PLAN_FORMAT,
        tenant: tenant.name.clone(),
        commit: desired.commit.clone(),
        changes,
        unchanged,
        notes,
        blocked: Vec::new(),
        safety,
        checksum,
        unexamined,
    };
    plan.blocked = plan.safety_check();
    Ok(plan)
}

fn work_for<'w, 'a>(
    work: &'w mut BTreeMap<&'a str, ProviderWork<'a>>,
    tenant: &'a Tenant,
    provider: &'a str,
) -> &'w mut ProviderWork<'a> {
    work.entry(provider).or_insert_with(|| ProviderWork {
        provider: tenant.providers[provider].clone(),
        subjects: Vec::new(),
        inputs: Vec::new(),
    })
}

/// Lists, per provider and in parallel, every object of interest: the
/// desired ones and the owned ones.
#[tracing::instrument(level = "debug", skip_all)]
async fn observe(
    tenant: &Tenant,
    desired: &DesiredState,
    owned: &HashMap<Address, OwnedResource>,
    unexamined: &HashSet<Address>,
) -> Result<HashMap<Address, Value>, PluginError> {
    let mut ids: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for address in desired
        .resources
        .iter()
        .map(|r| &r.address)
        .chain(owned.keys())
        .filter(|address| !unexamined.contains(*address))
    {
        ids.entry(address.provider.as_str())
            .or_default()
            .push(address.id.clone());
    }
    let calls = ids.into_iter().map(|(name, mut ids)| {
        ids.sort();
        ids.dedup();
        let provider = tenant.providers[name].clone();
        let types = provider
            .info()
            .resource_types
            .iter()
            .map(|t| t.name.clone())
            .collect();
        async move {
            let observed: Vec<Observed> = provider.list(types, ids).await?;
            Ok::<_, PluginError>((name, observed))
        }
    });
    let mut seen = HashMap::new();
    for result in futures::future::join_all(calls).await {
        let (provider, observed) = result?;
        for object in observed {
            seen.insert(
                Address {
                    provider: provider.to_string(),
                    type_name: object.type_name,
                    id: object.id,
                },
                object.state,
            );
        }
    }
    Ok(seen)
}

/// The resources a [`PlanScope::Changed`] plan leaves alone: settled in
/// Git (`settled_in_git`, by index), and depending on nothing that moved.
fn unmoved(desired: &DesiredState, settled_in_git: &[bool]) -> HashSet<Address> {
    let index_of: HashMap<&Address, usize> = desired
        .resources
        .iter()
        .enumerate()
        .map(|(index, resource)| (&resource.address, index))
        .collect();
    let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
    for (index, resource) in desired.resources.iter().enumerate() {
        for dependency in &resource.depends_on {
            if let Some(&target) = index_of.get(dependency) {
                dependents.entry(target).or_default().push(index);
            }
        }
    }
    // What moved, and everything that depends on it, directly or not.
    let mut moved: Vec<bool> = settled_in_git.iter().map(|settled| !settled).collect();
    let mut queue: Vec<usize> = (0..moved.len()).filter(|&i| moved[i]).collect();
    while let Some(index) = queue.pop() {
        for &dependent in dependents.get(&index).map_or(&[][..], Vec::as_slice) {
            if !moved[dependent] {
                moved[dependent] = true;
                queue.push(dependent);
            }
        }
    }
    desired
        .resources
        .iter()
        .zip(moved)
        .filter(|(_, moved)| !moved)
        .map(|(resource, _)| resource.address.clone())
        .collect()
}

/// The desired spec with the `ignore_changes` fields taken from the observed
/// state, so that they never show as changes.
fn with_ignored_fields(spec: &Value, observed: &Value, ignored: &[String]) -> Value {
    let mut spec = spec.clone();
    if let (Value::Object(spec_map), Value::Object(observed_map)) = (&mut spec, observed) {
        for field in ignored {
            match observed_map.get(field) {
                Some(value) => {
                    spec_map.insert(field.clone(), value.clone());
                }
                None => {
                    spec_map.remove(field);
                }
            }
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ignored_fields_take_the_observed_value() {
        let spec = json!({"ttl": 300, "records": ["a"]});
        let observed = json!({"ttl": 60, "records": ["b"]});
        let result = with_ignored_fields(&spec, &observed, &["ttl".to_string()]);
        assert_eq!(result, json!({"ttl": 60, "records": ["a"]}));
    }
}
