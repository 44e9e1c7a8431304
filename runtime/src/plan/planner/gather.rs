//! Gathering what a plan is computed from: the inventory of owned objects
//! and the journal of interrupted changes (read from the store), which
//! resources the plan examines, and what the providers observe of them
//! (`list`, providers in parallel).
//!
//! Which resources are examined is settled here, before observing: a
//! [`PlanScope::Changed`] plan lists only what Git moved, a
//! [`PlanScope::Holding`] one only what asked to be compared over time.

use super::PlanError;
use crate::host::PluginError;
use crate::model::{Address, DesiredState};
use crate::plan::PlanScope;
use crate::plan::port::{Provider, Providers};
use crate::store::{Inventory, OwnedResource};
use cairn_contract::Observed;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Everything the later stages decide from; no further reads.
#[derive(Debug)]
pub(super) struct Gathered {
    /// The store's view.
    pub inventory: Arc<Inventory>,
    /// Per desired resource (by index): Git did not move it since it was
    /// last applied, and it was confirmed.
    pub settled_in_git: Vec<bool>,
    /// Resources the plan leaves alone ([`PlanScope::Changed`],
    /// [`PlanScope::Holding`]).
    pub unexamined: HashSet<Address>,
    /// The observed state of every examined object that exists.
    pub observed: HashMap<Address, Value>,
    /// The observed objects their provider vouches it made for this
    /// tenant (they bear its owner mark), owned or not.
    pub vouched: HashSet<Address>,
}

/// Checks the inventory against the configured providers, chooses what to
/// examine, and observes it.
pub(super) async fn gather<P: Provider>(
    providers: &Providers<P>,
    desired: &DesiredState,
    inventory: Arc<Inventory>,
    scope: PlanScope,
) -> Result<Gathered, PlanError> {
    let settled_in_git = settled_in_git(desired, &inventory);
    let unexamined = match scope {
        PlanScope::Full => HashSet::new(),
        PlanScope::Changed => unmoved(desired, &settled_in_git),
        PlanScope::Holding => not_rechecking(desired, &inventory.owned),
    };
    check_providers_configured(&inventory.owned, &unexamined, providers)?;
    let (observed, vouched) = observe(providers, desired, &inventory.owned, &unexamined).await?;
    Ok(Gathered {
        inventory,
        settled_in_git,
        unexamined,
        observed,
        vouched,
    })
}

/// Owned objects of a provider cairn.toml no longer configures can be
/// neither observed nor deleted: the plan stops, naming one.
fn check_providers_configured<P>(
    owned: &HashMap<Address, OwnedResource>,
    unexamined: &HashSet<Address>,
    providers: &Providers<P>,
) -> Result<(), PlanError> {
    let Some(stray) = owned
        .keys()
        .find(|a| !unexamined.contains(*a) && !providers.contains_key(&a.provider))
    else {
        return Ok(());
    };
    let count = owned
        .keys()
        .filter(|a| a.provider == stray.provider)
        .count();
    Err(PlanError::ProviderGone {
        provider: stray.provider.clone(),
        count,
        example: stray.clone(),
    })
}

/// Per desired resource (by index): Git did not move it since it was last
/// applied — its spec, lifecycle and dependencies are what the inventory
/// holds — no create or interrupted change of it waits to be confirmed,
/// and its provider did not ask to compare it again over time.
fn settled_in_git(desired: &DesiredState, inventory: &Inventory) -> Vec<bool> {
    desired
        .resources
        .iter()
        .map(|resource| {
            inventory.owned.get(&resource.address).is_some_and(|o| {
                !o.pending
                    && !o.recheck
                    && !inventory.interrupted.contains_key(&resource.address)
                    && o.spec_digest == resource.spec.digest()
                    && o.lifecycle == resource.lifecycle
                    && o.depends_on == resource.depends_on
            })
        })
        .collect()
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

/// The resources a [`PlanScope::Holding`] plan leaves alone: the desired
/// and the owned ones, less those whose provider asked at their last apply
/// to compare them again over time.
fn not_rechecking(
    desired: &DesiredState,
    owned: &HashMap<Address, OwnedResource>,
) -> HashSet<Address> {
    desired
        .resources
        .iter()
        .map(|resource| &resource.address)
        .chain(owned.keys())
        .filter(|address| !owned.get(*address).is_some_and(|o| o.recheck))
        .cloned()
        .collect()
}

/// Lists, per provider and in parallel, every object of interest: the
/// desired ones and the owned ones, less the unexamined. Returns their
/// states, and which of them their provider vouches for.
#[tracing::instrument(level = "debug", skip_all)]
async fn observe<P: Provider>(
    providers: &Providers<P>,
    desired: &DesiredState,
    owned: &HashMap<Address, OwnedResource>,
    unexamined: &HashSet<Address>,
) -> Result<(HashMap<Address, Value>, HashSet<Address>), PluginError> {
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
        let provider = providers[name].clone();
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
    let mut vouched = HashSet::new();
    for result in futures::future::join_all(calls).await {
        let (provider, observed) = result?;
        for object in observed {
            let address = Address {
                provider: provider.to_string(),
                type_name: object.type_name,
                id: object.id,
            };
            if object.vouched {
                vouched.insert(address.clone());
            }
            seen.insert(address, object.state);
        }
    }
    Ok((seen, vouched))
}
