//! Ordering the decided changes into a plan: deletes that would take a
//! kept object's dependency with them are dropped, each delete waits for
//! the deletes of what depended on it, deletes come after every other
//! change and forgets last; then the quota, the checksum and the safety
//! threshold.

use super::gather::Gathered;
use super::{Draft, PlanError};
use crate::model::{Address, AddressMap};
use crate::plan::{
    Examined, Held, PLAN_FORMAT, Plan, PlanSettings, PlannedChange, Safety, checksum,
};
use crate::quota::QuotaExceeded;
use crate::source::CommitInfo;
use crate::store::OwnedResource;
use cairn_contract::Hold;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// The plan of `draft`'s changes, in the order they are applied.
pub(super) fn order(
    settings: &PlanSettings,
    commit: &CommitInfo,
    gathered: Gathered,
    examined: Examined,
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
        holds,
        scheduled,
    } = draft;
    let held = withhold(settings, holds, &mut changes, &mut deletes)?;
    keep_dependencies_of_kept(owned, &gathered.observed, &mut deletes, &mut notes);
    order_deletes(owned, &mut deletes);
    changes.append(&mut deletes);
    changes.append(&mut forgets);

    // Counted by the instance's name as the inventory holds it: one
    // name copied per provider, not one per object.
    let mut owned_per_provider: BTreeMap<&str, usize> = BTreeMap::new();
    for resource in owned.values().filter(|o| !o.pending) {
        *owned_per_provider
            .entry(&resource.address.provider)
            .or_default() += 1;
    }
    let safety = Safety {
        owned: owned_per_provider
            .into_iter()
            .map(|(provider, count)| (provider.to_string(), count))
            .collect(),
        max_delete_percent: settings.max_delete_percent,
    };

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
        held,
        scheduled,
        blocked: Vec::new(),
        findings: Vec::new(),
        safety,
        checksum,
        examined,
        recheck_after: recheck_after.map(Duration::from_millis),
    };
    plan.blocked = plan.safety_check();
    gathered.free();
    Ok(plan)
}

/// The longest a hold counts, whatever a provider announces: a chaos run
/// lasts minutes (the chaos provider's `max_duration` is 10 minutes by
/// default), and a provider must not keep a resource from repair for
/// long by announcing more.
pub const MAX_HOLD: Duration = Duration::from_secs(3_600);

/// Resolves the holds of a plan: each held resource gets no change while
/// the hold lasts (its change is withheld, named in the [`Held`]), the
/// longest hold of a resource counting, at most [`MAX_HOLD`]. A resource
/// holding itself holds nothing. Without `chaos = true` for the tenant,
/// any hold stops the plan.
fn withhold(
    settings: &PlanSettings,
    holds: Vec<(Address, Hold)>,
    changes: &mut Vec<PlannedChange>,
    deletes: &mut Vec<PlannedChange>,
) -> Result<Vec<Held>, PlanError> {
    let mut held: BTreeMap<Address, Held> = BTreeMap::new();
    for (holder, hold) in holds {
        let address = Address {
            provider: hold.provider,
            type_name: hold.type_name,
            id: hold.id,
        };
        // A hold of no time holds nothing; one on itself neither.
        if address == holder || hold.until_ms == 0 {
            continue;
        }
        if !settings.chaos {
            return Err(PlanError::ChaosOff(Box::new(super::ChaosOff {
                tenant: settings.tenant.clone(),
                holder,
                held: address,
            })));
        }
        let for_ms = hold.until_ms.min(MAX_HOLD.as_millis() as u64);
        let entry = held.entry(address.clone()).or_insert(Held {
            address,
            by: holder.clone(),
            for_ms,
            withheld: None,
        });
        if for_ms > entry.for_ms {
            entry.for_ms = for_ms;
            entry.by = holder;
        }
    }
    for list in [changes, deletes] {
        list.retain(|change| match held.get_mut(&change.address) {
            Some(entry) => {
                entry.withheld = Some(change.summary.clone());
                false
            }
            None => true,
        });
    }
    Ok(held.into_values().collect())
}

/// An object that stays (protected, orphaned, or not deleted for any other
/// reason) keeps what it depends on: deleting a zone would take a kept
/// record with it. Such deletes are dropped, each with a note.
fn keep_dependencies_of_kept(
    owned: &AddressMap<OwnedResource>,
    observed: &AddressMap<Value>,
    deletes: &mut Vec<PlannedChange>,
    notes: &mut Vec<String>,
) {
    if deletes.is_empty() {
        return;
    }
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
fn order_deletes(owned: &AddressMap<OwnedResource>, deletes: &mut [PlannedChange]) {
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
