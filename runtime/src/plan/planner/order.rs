//! Ordering the decided changes into a plan: deletes that would take a
//! kept object's dependency with them are dropped, each delete waits for
//! the deletes of what depended on it, deletes come after every other
//! change and forgets last; then the quota, the checksum and the safety
//! threshold.

use super::gather::Gathered;
use super::{Draft, PlanError};
use crate::model::Address;
use crate::plan::{PLAN_FORMAT, Plan, PlanSettings, PlannedChange, Safety, checksum};
use crate::quota::QuotaExceeded;
use crate::source::CommitInfo;
use crate::store::OwnedResource;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// The plan of `draft`'s changes, in the order they are applied.
pub(super) fn order(
    settings: &PlanSettings,
    commit: &CommitInfo,
    gathered: Gathered,
    draft: Draft,
) -> Result<Plan, PlanError> {
    let owned = &gathered.inventory.owned;
    let Draft {
        mut changes,
        mut deletes,
        mut forgets,
        mut notes,
        diverged,
        unchanged,
        recheck_after,
    } = draft;
    keep_dependencies_of_kept(owned, &gathered.observed, &mut deletes, &mut notes);
    order_deletes(owned, &mut deletes);
    changes.append(&mut deletes);
    changes.append(&mut forgets);

    let mut safety = Safety {
        owned: BTreeMap::new(),
        max_delete_percent: settings.max_delete_percent,
    };
    for resource in owned.values().filter(|o| !o.pending) {
        *safety
            .owned
            .entry(resource.address.provider.clone())
            .or_default() += 1;
    }

    QuotaExceeded::check(
        "plan_changes",
        "the number of changes in the plan",
        changes.len() as u64,
        settings.max_changes as u64,
    )?;
    let checksum = checksum(&settings.tenant, commit, &changes);
    let mut plan = Plan {
        format: PLAN_FORMAT,
        tenant: settings.tenant.clone(),
        commit: commit.clone(),
        changes,
        unchanged,
        notes,
        diverged,
        blocked: Vec::new(),
        findings: Vec::new(),
        safety,
        checksum,
        unexamined: gathered.unexamined,
        recheck_after: recheck_after.map(|seconds| Duration::from_secs(seconds.into())),
    };
    plan.blocked = plan.safety_check();
    Ok(plan)
}

/// An object that stays (protected, orphaned, or not deleted for any other
/// reason) keeps what it depends on: deleting a zone would take a kept
/// record with it. Such deletes are dropped, each with a note.
fn keep_dependencies_of_kept(
    owned: &HashMap<Address, OwnedResource>,
    observed: &HashMap<Address, Value>,
    deletes: &mut Vec<PlannedChange>,
    notes: &mut Vec<String>,
) {
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
}

/// A delete waits for the deletes of what depended on it (by the
/// dependencies the inventory recorded: Git no longer declares them).
fn order_deletes(owned: &HashMap<Address, OwnedResource>, deletes: &mut [PlannedChange]) {
    let mut dependents: HashMap<&Address, Vec<Address>> = HashMap::new();
    for delete in deletes.iter() {
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
    for delete in deletes {
        delete.depends_on = dependents.get(&delete.address).cloned().unwrap_or_default();
    }
}
