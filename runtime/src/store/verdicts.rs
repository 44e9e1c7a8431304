//! What plans found of each desired resource against a kept inventory,
//! kept for the next plan: a daemon's plan of one changed file among
//! 10,000 then judges the resources that changed and those whose row a
//! write touched, not every one (each judgement is a lookup of the
//! resource's row, and the 10,000 resources and rows it reads are
//! scattered in memory: about 3 ms).
//!
//! A verdict is about one resource (a desired resource is immutable: it is
//! known by its allocation, which the memo keeps alive) and the inventory's
//! row and journal entry at its address. The memo belongs to a kept
//! inventory's line of versions ([`super::StateStore::keeping_inventory`]):
//! each write the copy follows forgets the verdicts of the addresses it
//! touches (the functions of `mirror`), and the memo is used only for the
//! version it was kept in step with. An inventory read afresh (a command's,
//! a small one) has no memo, and every resource is judged.

use crate::model::{Address, ByAddress, DesiredResource, FastHash};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Addresses the memo may remember beyond the resources of the plan asking
/// it (resources of earlier commits, objects that left Git), before it is
/// emptied and filled again: what it holds stays proportional to the
/// commit.
const SPARE_ADDRESSES: usize = 1_024;

/// What a plan finds of a desired resource against the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The inventory holds an object at its address.
    pub owned: bool,
    /// Git did not move it since its last apply, and nothing waits to be
    /// confirmed (the planner's definition: `settled_in_git`).
    pub settled: bool,
}

/// The verdicts memo of a kept inventory, shared by the copies of one line
/// of versions (an inventory a plan still held when a write came is copied
/// before the write; both refer to the memo, which says which version it
/// holds for).
#[derive(Debug, Clone, Default)]
pub struct Verdicts(Arc<Mutex<Option<Memo>>>);

#[derive(Debug)]
struct Memo {
    /// The inventory version the verdicts hold for.
    version: i64,
    /// By resource: the address of its allocation, which `by_address`
    /// keeps alive (no other resource can take it while it is here).
    by_resource: HashMap<usize, Verdict, FastHash>,
    /// The one resource remembered at each address, by its address.
    by_address: HashSet<ByAddress, FastHash>,
}

/// The key of a resource in the memo.
fn key(resource: &Arc<DesiredResource>) -> usize {
    Arc::as_ptr(resource) as usize
}

impl Memo {
    fn new(version: i64) -> Self {
        Self {
            version,
            by_resource: HashMap::default(),
            by_address: HashSet::default(),
        }
    }

    /// Forgets what is known at `address`.
    fn forget(&mut self, address: &Address) {
        if let Some(known) = self.by_address.take(address) {
            self.by_resource.remove(&key(&known.0));
        }
    }

    /// Remembers `verdict` of `resource`, in place of any other resource
    /// at its address.
    fn remember(&mut self, resource: &Arc<DesiredResource>, verdict: Verdict) {
        self.forget(&resource.address);
        self.by_address.insert(ByAddress(resource.clone()));
        self.by_resource.insert(key(resource), verdict);
    }
}

impl Verdicts {
    /// The verdicts of `resources` against the inventory at `version`
    /// (`None`: not a kept inventory, no memo): remembered ones where the
    /// memo holds for `version`, `judge` for the others. `judge` must look
    /// only at the resource and the inventory's row and journal entry at
    /// its address.
    pub(super) fn of(
        &self,
        version: Option<i64>,
        resources: &[Arc<DesiredResource>],
        judge: impl Fn(&DesiredResource) -> Verdict,
    ) -> Vec<Verdict> {
        let Some(version) = version else {
            return resources.iter().map(|resource| judge(resource)).collect();
        };
        let mut memo = self.0.lock().expect("the verdicts memo");
        let memo = match memo.as_mut() {
            Some(memo)
                if memo.version == version
                    && memo.by_address.len() <= resources.len() + SPARE_ADDRESSES =>
            {
                memo
            }
            _ => memo.insert(Memo::new(version)),
        };
        resources
            .iter()
            .map(|resource| match memo.by_resource.get(&key(resource)) {
                Some(verdict) => *verdict,
                None => {
                    let verdict = judge(resource);
                    memo.remember(resource, verdict);
                    verdict
                }
            })
            .collect()
    }

    /// A write that moves the inventory from version `from` to `to`
    /// touched the rows and journal entries at `addresses`: their verdicts
    /// are forgotten, and the others hold for `to`. A memo not of `from`
    /// is emptied.
    pub(super) fn follow<'a>(
        &self,
        from: i64,
        to: i64,
        addresses: impl IntoIterator<Item = &'a Address>,
    ) {
        let mut memo = self.0.lock().expect("the verdicts memo");
        match memo.as_mut() {
            Some(kept) if kept.version == from => {
                for address in addresses {
                    kept.forget(address);
                }
                kept.version = to;
            }
            _ => *memo = None,
        }
    }

    /// How many resources the memo remembers.
    #[cfg(test)]
    pub(super) fn remembered(&self) -> usize {
        let memo = self.0.lock().expect("the verdicts memo");
        memo.as_ref().map_or(0, |memo| memo.by_resource.len())
    }
}
