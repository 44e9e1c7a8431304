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
use crate::model::{Address, AddressMap, AddressSet, DesiredResource, DesiredState, FastHash};
use crate::plan::port::{Provider, Providers};
use crate::plan::{Examined, PlanScope};
use crate::store::{Inventory, OwnedResource, StoreError, Verdict};
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
    /// Per desired resource (by index): the plan examines it.
    pub examined_in_git: Vec<bool>,
    /// The owned objects that left Git which the plan examines, in address
    /// order.
    pub left_git: Vec<Address>,
    /// How many resources and objects the plan leaves alone
    /// ([`PlanScope::Changed`], [`PlanScope::Holding`]).
    pub left_alone: usize,
    /// The observed state of every examined object that exists.
    pub observed: AddressMap<Value>,
    /// The observed objects their provider vouches it made for this
    /// tenant (they bear its owner mark), owned or not.
    pub vouched: AddressSet,
}

impl Gathered {
    /// What the plan examined, as the plan tells it.
    pub fn examined(&self, desired: &DesiredState, scope: PlanScope) -> Examined {
        if scope == PlanScope::Full {
            return Examined::Everything;
        }
        let in_git = desired
            .resources
            .iter()
            .zip(&self.examined_in_git)
            .filter(|(_, examined)| **examined)
            .map(|(resource, _)| resource.address.clone());
        Examined::Only(in_git.chain(self.left_git.iter().cloned()).collect())
    }
}

/// What was gathered of this many objects (owned and observed together)
/// is freed on the blocking pool once the plan is made: freeing ten
/// thousand inventory rows and observed states takes milliseconds, the
/// hand-off tens of microseconds.
const FREE_APART_FROM: usize = 1_000;

impl Gathered {
    /// Frees what the plan was computed from, on the blocking pool when it
    /// is large (the plan is returned meanwhile). An inventory another
    /// holder keeps (a daemon's kept copy) is let go of here and now: a
    /// reference left to the pool could still be held when the apply's
    /// first write makes the store's mirror change its copy, which would
    /// then copy it whole.
    pub fn free(self) {
        let Self {
            inventory,
            observed,
            vouched,
            ..
        } = self;
        let inventory = Arc::try_unwrap(inventory).ok();
        let objects = observed.len() + inventory.as_ref().map_or(0, |i| i.owned.len());
        let rest = (inventory, observed, vouched);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if objects >= FREE_APART_FROM => {
                // The task's handle is not awaited: nothing waits for it.
                drop(runtime.spawn_blocking(move || drop(rest)));
            }
            _ => drop(rest),
        }
    }
}

/// Checks the inventory against the configured providers, chooses what to
/// examine, and observes it.
///
/// What a plan of one changed file among thousands does per resource is a
/// lookup of its inventory row and a few comparisons (`settled_in_git`):
/// no set of the others is built, and the owned objects are walked only
/// when some of them left Git.
pub(super) async fn gather<P: Provider>(
    providers: &Providers<P>,
    desired: &DesiredState,
    inventory: Arc<Inventory>,
    scope: PlanScope,
) -> Result<Gathered, PlanError> {
    let scoped = Scoped::of(providers, desired, &inventory, scope)?;
    let seen = observe(
        providers,
        desired,
        &scoped.examined_in_git,
        &scoped.left_git,
    )
    .await?;
    Ok(scoped.gathered(inventory, seen))
}

/// [`gather`] of a full plan while the inventory is still being read
/// (`inventory`): a full plan examines every desired resource whatever the
/// inventory says, so they are listed meanwhile; the owned objects that
/// left Git, which only the inventory names, are listed after it, apart
/// (most plans have none). What is found is what [`gather`] finds.
pub(super) async fn gather_reading<P: Provider>(
    providers: &Providers<P>,
    desired: &DesiredState,
    inventory: impl Future<Output = Result<Arc<Inventory>, StoreError>>,
) -> Result<Gathered, PlanError> {
    let every_one = vec![true; desired.resources.len()];
    let (listed, inventory) = tokio::join!(observe(providers, desired, &every_one, &[]), inventory);
    let inventory = inventory?;
    let scoped = Scoped::of(providers, desired, &inventory, PlanScope::Full)?;
    let (mut observed, mut vouched) = listed?;
    if !scoped.left_git.is_empty() {
        let none_in_git = vec![false; desired.resources.len()];
        let (gone, gone_vouched) =
            observe(providers, desired, &none_in_git, &scoped.left_git).await?;
        observed.extend(gone);
        vouched.extend(gone_vouched);
    }
    Ok(scoped.gathered(inventory, (observed, vouched)))
}

/// What a plan of a scope examines, from the inventory, before anything
/// is listed ([`Gathered`] says what each part is).
struct Scoped {
    settled_in_git: Vec<bool>,
    examined_in_git: Vec<bool>,
    left_git: Vec<Address>,
    left_alone: usize,
}

impl Scoped {
    /// What a plan of `scope` examines of `desired` against `inventory`;
    /// refused when an examined owned object's provider is gone.
    fn of<P>(
        providers: &Providers<P>,
        desired: &DesiredState,
        inventory: &Inventory,
        scope: PlanScope,
    ) -> Result<Self, PlanError> {
        let (settled_in_git, owned_in_git) = settled_in_git(desired, inventory);
        let examined_in_git = match scope {
            PlanScope::Full => vec![true; desired.resources.len()],
            PlanScope::Changed => moved(desired, &settled_in_git),
            PlanScope::Holding => desired
                .resources
                .iter()
                .map(|resource| rechecking(&inventory.owned, &resource.address))
                .collect(),
        };
        let every_left_git = left_git(desired, &inventory.owned, owned_in_git);
        let left_git_count = every_left_git.len();
        let left_git: Vec<Address> = match scope {
            PlanScope::Full | PlanScope::Changed => every_left_git,
            PlanScope::Holding => every_left_git
                .into_iter()
                .filter(|address| rechecking(&inventory.owned, address))
                .collect(),
        };
        let left_alone = examined_in_git
            .iter()
            .filter(|examined| !**examined)
            .count()
            + (left_git_count - left_git.len());
        check_providers_configured(
            desired,
            &inventory.owned,
            &examined_in_git,
            &left_git,
            providers,
        )?;
        Ok(Self {
            settled_in_git,
            examined_in_git,
            left_git,
            left_alone,
        })
    }

    /// What was gathered: this, with the inventory and what was observed
    /// (the states, and the objects their provider vouches for).
    fn gathered(
        self,
        inventory: Arc<Inventory>,
        seen: (AddressMap<Value>, AddressSet),
    ) -> Gathered {
        let (observed, vouched) = seen;
        Gathered {
            inventory,
            settled_in_git: self.settled_in_git,
            examined_in_git: self.examined_in_git,
            left_git: self.left_git,
            left_alone: self.left_alone,
            observed,
            vouched,
        }
    }
}

/// Owned objects of a provider cairn.toml no longer configures can be
/// neither observed nor deleted: the plan stops, naming one it examines.
fn check_providers_configured<P>(
    desired: &DesiredState,
    owned: &AddressMap<OwnedResource>,
    examined_in_git: &[bool],
    left_git: &[Address],
    providers: &Providers<P>,
) -> Result<(), PlanError> {
    // Nearly always every provider is configured: the instance is checked
    // first, and whether the plan examines the object only for a stray.
    let mut strays = owned
        .keys()
        .filter(|address| !providers.contains_key(&address.provider))
        .peekable();
    if strays.peek().is_none() {
        return Ok(());
    }
    let index_of = index_of(desired);
    let examined = |address: &Address| match index_of.get(address) {
        Some(&index) => examined_in_git[index],
        None => left_git.contains(address),
    };
    let Some(stray) = strays.find(|address| examined(address)) else {
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
/// and its provider did not ask to compare it again over time. With how
/// many desired resources the inventory holds.
///
/// Against a daemon's kept inventory, what an earlier plan found is
/// remembered ([`Inventory::verdicts`]): only the resources that changed
/// and those whose row a write touched since are judged again.
fn settled_in_git(desired: &DesiredState, inventory: &Inventory) -> (Vec<bool>, usize) {
    let verdicts = inventory.verdicts(&desired.resources, |resource| judge(resource, inventory));
    // Debug builds (the tests') judge every resource too: a remembered
    // verdict that disagrees fails the plan.
    #[cfg(debug_assertions)]
    for (resource, verdict) in desired.resources.iter().zip(&verdicts) {
        assert_eq!(
            *verdict,
            judge(resource, inventory),
            "the remembered verdict of {} is stale",
            resource.address
        );
    }
    let owned_in_git = verdicts.iter().filter(|verdict| verdict.owned).count();
    let settled = verdicts.iter().map(|verdict| verdict.settled).collect();
    (settled, owned_in_git)
}

/// What `resource` is against `inventory` (see [`settled_in_git`]): it
/// looks only at the resource and the row and journal entry at its
/// address, as [`Inventory::verdicts`] asks.
fn judge(resource: &DesiredResource, inventory: &Inventory) -> Verdict {
    let Some(o) = inventory.owned.get(&resource.address) else {
        return Verdict {
            owned: false,
            settled: false,
        };
    };
    Verdict {
        owned: true,
        settled: !o.pending
            && !o.recheck
            && o.spec_digest == resource.spec.digest()
            && o.lifecycle == resource.lifecycle
            && o.depends_on == resource.depends_on
            && !inventory.interrupted.contains_key(&resource.address),
    }
}

/// The owned objects Git no longer declares, in address order.
/// `owned_in_git` of them are declared: when that is all of them (a
/// commit's addresses are unique, the checks across files refuse
/// duplicates), none left Git and they are not walked.
fn left_git(
    desired: &DesiredState,
    owned: &AddressMap<OwnedResource>,
    owned_in_git: usize,
) -> Vec<Address> {
    if owned_in_git == owned.len() {
        return Vec::new();
    }
    let in_git: HashSet<&Address, FastHash> =
        desired.resources.iter().map(|r| &r.address).collect();
    let mut left: Vec<Address> = owned
        .keys()
        .filter(|address| !in_git.contains(address))
        .cloned()
        .collect();
    left.sort();
    left
}

/// Each desired resource's index, by address.
fn index_of(desired: &DesiredState) -> HashMap<&Address, usize, FastHash> {
    desired
        .resources
        .iter()
        .enumerate()
        .map(|(index, resource)| (&resource.address, index))
        .collect()
}

/// Whether the provider of an owned object asked at its last apply to
/// compare it again over time.
fn rechecking(owned: &AddressMap<OwnedResource>, address: &Address) -> bool {
    owned.get(address).is_some_and(|o| o.recheck)
}

/// Per desired resource (by index), what a [`PlanScope::Changed`] plan
/// examines: what is not settled in Git (`settled_in_git`, by index), and
/// everything that depends on it, directly or not. The dependents are
/// looked for only when something moved and something depends on
/// anything.
fn moved(desired: &DesiredState, settled_in_git: &[bool]) -> Vec<bool> {
    let mut moved: Vec<bool> = settled_in_git.iter().map(|settled| !settled).collect();
    let mut queue: Vec<usize> = (0..moved.len()).filter(|&i| moved[i]).collect();
    if queue.is_empty() || desired.resources.iter().all(|r| r.depends_on.is_empty()) {
        return moved;
    }
    let index_of = index_of(desired);
    let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
    for (index, resource) in desired.resources.iter().enumerate() {
        for dependency in &resource.depends_on {
            if let Some(&target) = index_of.get(dependency) {
                dependents.entry(target).or_default().push(index);
            }
        }
    }
    while let Some(index) = queue.pop() {
        for &dependent in dependents.get(&index).map_or(&[][..], Vec::as_slice) {
            if !moved[dependent] {
                moved[dependent] = true;
                queue.push(dependent);
            }
        }
    }
    moved
}

/// Lists, per provider and in parallel, every object of interest: the
/// desired resources the plan examines (by index), and the examined owned
/// objects that left Git. Returns their states, and which of them their
/// provider vouches for.
#[tracing::instrument(level = "debug", skip_all)]
async fn observe<P: Provider>(
    providers: &Providers<P>,
    desired: &DesiredState,
    examined_in_git: &[bool],
    left_git: &[Address],
) -> Result<(AddressMap<Value>, AddressSet), PluginError> {
    let mut ids: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for address in desired
        .resources
        .iter()
        .zip(examined_in_git)
        .filter(|(_, examined)| **examined)
        .map(|(resource, _)| &resource.address)
        .chain(left_git)
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
    let listed = futures::future::join_all(calls).await;
    // Sized once: ten thousand states inserted into a map that grows by
    // doubling are moved about a dozen times.
    let count = listed
        .iter()
        .map(|result| result.as_ref().map_or(0, |(_, observed)| observed.len()))
        .sum();
    let mut seen = AddressMap::with_capacity_and_hasher(count, FastHash::default());
    let mut vouched = AddressSet::default();
    for result in listed {
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
