//! Plans: what would change, why, and in which order; and applying them.
//!
//! A plan is computed from the desired state at a commit, the inventory of
//! owned objects and what the providers observe. It carries a checksum over
//! the commit, every change and the observed state each change was computed
//! against; a saved plan is applied only when a fresh plan has the same
//! checksum, so nothing is applied against a world that moved.

mod apply;
mod converge;
#[cfg(test)]
mod fake;
pub mod findings;
#[cfg(test)]
pub(crate) mod fixtures;
mod planner;
pub mod port;

pub use apply::{ActionReport, ApplyError, ApplyOptions, ApplyReport, apply};
pub(crate) use converge::makes_a_difference;
pub use findings::{PolicyFinding, PolicyOverride};
pub use planner::{
    Inventory, PlanDiagnostic, PlanError, PlanSettings, plan, plan_against, plan_reading,
};
pub(crate) use planner::{fields_marked, same_but_write_only, write_only_fields};
pub use port::{Provider, Providers};

use crate::host::PluginError;
use crate::model::{Address, Lifecycle};
use crate::source::CommitInfo;
use cairn_contract::{Action, Change, DiffInput, FieldChange};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// Providers below this many owned objects are never blocked: deleting 2
/// of 3 records is ordinary (octoDNS uses the same floor of 10).
pub const SAFETY_MIN_OWNED: usize = 10;

/// The inputs of the safety threshold.
#[derive(Debug, Clone, Default)]
pub(crate) struct Safety {
    /// Owned (confirmed) objects per provider.
    pub owned: BTreeMap<String, usize>,
    /// The tenant's `max_delete_percent`.
    pub max_delete_percent: u8,
}

/// How much of the desired state a plan examines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanScope {
    /// Observe every resource, and compare with the provider each one whose
    /// observed state is not exactly what was last applied: what `cairn
    /// plan` and the drift check do.
    Full,
    /// Observe and compare only what Git moved: resources whose spec,
    /// lifecycle or dependencies differ from what was last applied, what
    /// depends on them, unconfirmed ones, and those that left Git. What a
    /// new commit needs between two drift checks.
    Changed,
    /// Observe and compare only the objects whose provider asked, at their
    /// last apply, to compare them again over time (a chaos run in
    /// progress), whether or not they are still in Git: what a tenant
    /// that cannot plan whole (its commit refused, another provider
    /// failing) still plans, with `halt`, to end what they hold.
    Holding,
}

/// What a plan examined (observed, and compared where needed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Examined {
    /// Every resource Git declares and every object the tenant owns: a
    /// [`PlanScope::Full`] plan.
    #[default]
    Everything,
    /// Only these resources and objects: a [`PlanScope::Changed`] or
    /// [`PlanScope::Holding`] plan, which left the others alone, neither
    /// observed nor compared. Kept as what was examined, which is what
    /// Git moved, rather than as what was not: a plan of one changed
    /// file among thousands holds one address, not thousands.
    Only(HashSet<Address>),
}

impl Examined {
    /// Whether the plan left `address` alone: it did not look at it, so it
    /// says nothing of it. Asked of the tenant's own resources and objects
    /// (an address it neither declares nor owns is never examined).
    pub fn left_alone(&self, address: &Address) -> bool {
        match self {
            Self::Everything => false,
            Self::Only(examined) => !examined.contains(address),
        }
    }
}

/// The version of the saved-plan format.
pub const PLAN_FORMAT: u32 = 1;

/// What the host does for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanAction {
    /// Create the object.
    Create,
    /// Change it in place.
    Update,
    /// Delete it and create it again.
    Replace,
    /// Delete it (it left Git).
    Delete,
    /// Stop managing it without touching it (`on_delete = "orphan"`, or it
    /// is already gone).
    Forget,
    /// Take over an existing object that already matches (`adopt = true`).
    Adopt,
    /// Record what Git changed that the world does not show (lifecycle
    /// flags, dependencies, an `ignore_changes` field): the inventory is
    /// updated, the object is not touched.
    Refresh,
}

impl PlanAction {
    /// The word shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Replace => "replace",
            Self::Delete => "delete",
            Self::Forget => "forget",
            Self::Adopt => "adopt",
            Self::Refresh => "refresh",
        }
    }

    /// Whether the provider is called for it.
    pub fn calls_provider(self) -> bool {
        !matches!(self, Self::Forget | Self::Adopt | Self::Refresh)
    }
}

/// One change of a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedChange {
    /// The resource.
    pub address: Address,
    /// What happens.
    pub action: PlanAction,
    /// One line for humans.
    pub summary: String,
    /// The fields that differ; values of sensitive fields are withheld.
    pub fields: Vec<FieldChange>,
    /// Resources that must be applied first.
    pub depends_on: Vec<Address>,
    /// The change repairs drift: Git did not move for this resource since
    /// it was last applied, the world did (edited or removed outside Cairn).
    #[serde(default)]
    pub drift: bool,
    /// sha256 of the observed state the change was computed against.
    pub observed_digest: Option<String>,
    /// sha256 of the canonical desired spec.
    pub desired_digest: Option<String>,
    /// What the provider's `apply` receives; not saved with the plan.
    #[serde(skip)]
    pub(crate) change: Option<Change>,
    /// The lifecycle flags to record.
    #[serde(skip)]
    pub(crate) lifecycle: Lifecycle,
    /// The sensitive fields of its type, removed from stored state.
    #[serde(skip)]
    pub(crate) sensitive: Vec<String>,
}

impl PlannedChange {
    /// What the provider asked the operator to hear of once the change is
    /// applied (contract 0.3.0).
    pub fn notice(&self) -> Option<&cairn_contract::Notice> {
        self.change.as_ref()?.notice.as_ref()
    }

    /// Whether the change is of a resource that holds others (a chaos
    /// experiment's run): what a halted tenant still applies, so that the
    /// run ends and its targets are restored. Nothing else is applied
    /// while halted.
    pub fn holds_others(&self) -> bool {
        self.change
            .as_ref()
            .is_some_and(|change| !change.holds.is_empty())
    }
}

/// A resource held because its provider did not converge on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diverged {
    /// The resource.
    pub address: Address,
    /// What differed after its last apply.
    pub reason: String,
}

/// A resource that another resource of the tenant keeps away from its
/// desired state on purpose for a while (contract 0.3.0's holds): a chaos
/// experiment's target. No change is planned for it while the hold lasts,
/// and its difference is not drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// The held resource.
    pub address: Address,
    /// The resource that holds it.
    pub by: Address,
    /// How long the hold lasts at most from the plan, in milliseconds.
    pub for_ms: u64,
    /// The change it would otherwise get, when it differs now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
}

/// A resource whose provider compares it again over time though it needs
/// no change now: a chaos experiment waiting for its next run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    /// The resource.
    pub address: Address,
    /// What its provider says of it: `start in 4m: pause 1 of 2 web for 30s`.
    pub summary: String,
    /// When it is compared again, in milliseconds from the plan.
    pub after_ms: u64,
}

/// A plan for one tenant at one commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The saved-plan format.
    pub format: u32,
    /// The tenant.
    pub tenant: String,
    /// The commit.
    pub commit: CommitInfo,
    /// The changes, in the order they will be applied.
    pub changes: Vec<PlannedChange>,
    /// Resources that need no change.
    pub unchanged: usize,
    /// Things the operator should know (protected resources left alone).
    pub notes: Vec<String>,
    /// Resources held because their provider did not converge after
    /// their last apply: no change is planned for them until their spec
    /// in Git or their provider's plugin changes.
    #[serde(default)]
    pub diverged: Vec<Diverged>,
    /// Resources other resources hold on purpose (a chaos experiment's
    /// targets): no change is planned for them until the hold ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<Held>,
    /// Resources compared again over time that need no change now, with
    /// what their provider says of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scheduled: Vec<Scheduled>,
    /// Why the plan is unsafe to apply without `--force` (the safety
    /// threshold); empty when it is safe.
    #[serde(default)]
    pub blocked: Vec<String>,
    /// What the tenant's policies found, blocking findings first
    /// ([`findings::sort`]); part of the checksum.
    #[serde(default)]
    pub findings: Vec<PolicyFinding>,
    /// What the safety threshold is computed from: owned objects per
    /// provider, and the tenant's `max_delete_percent`.
    #[serde(skip)]
    pub(crate) safety: Safety,
    /// The checksum a saved plan is checked against.
    pub checksum: String,
    /// What the plan examined: everything, or (a [`PlanScope::Changed`]
    /// plan) what Git moved, the others left alone and the world not
    /// observed for them.
    #[serde(skip)]
    pub examined: Examined,
    /// The soonest a provider asked to compare one of the examined
    /// resources again, even if neither Git nor the world moves
    /// (contract 0.3.0's `recheck-after-ms`, a 0.2.0 provider's `recheck-after`): the daemon observes the tenant
    /// again no later than that.
    #[serde(skip)]
    pub recheck_after: Option<Duration>,
}

impl Plan {
    /// Whether the plan changes anything.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The policies whose findings block the plan, `overridden` aside.
    pub fn blocking_policies(&self, overridden: &[String]) -> Vec<String> {
        findings::blocking_policies(&self.findings, overridden)
    }

    /// Why the plan's deletes and replaces are unsafe: for each provider
    /// holding at least [`SAFETY_MIN_OWNED`] owned objects, the share it
    /// would delete or replace, when above `max_delete_percent`.
    pub(crate) fn safety_check(&self) -> Vec<String> {
        let mut destructive: BTreeMap<&str, usize> = BTreeMap::new();
        for change in &self.changes {
            if matches!(change.action, PlanAction::Delete | PlanAction::Replace) {
                *destructive
                    .entry(change.address.provider.as_str())
                    .or_default() += 1;
            }
        }
        let max_percent = self.safety.max_delete_percent;
        destructive
            .into_iter()
            .filter_map(|(provider, count)| {
                let total = self.safety.owned.get(provider).copied().unwrap_or(0);
                let too_many = count * 100 > total * usize::from(max_percent);
                (total >= SAFETY_MIN_OWNED && too_many).then(|| {
                    format!(
                        "the plan deletes or replaces {count} of the {total} objects provider `{provider}` owns ({}%), more than max_delete_percent = {max_percent}",
                        count * 100 / total
                    )
                })
            })
            .collect()
    }

    /// The plan without the `excluded` changes and every change that must
    /// come after one of them (directly or not).
    pub fn without(&self, excluded: &HashSet<Address>) -> Plan {
        let mut removed: HashSet<Address> = excluded.clone();
        loop {
            let before = removed.len();
            for change in &self.changes {
                if !removed.contains(&change.address)
                    && change.depends_on.iter().any(|d| removed.contains(d))
                {
                    removed.insert(change.address.clone());
                }
            }
            if removed.len() == before {
                break;
            }
        }
        let mut plan = Plan {
            changes: self
                .changes
                .iter()
                .filter(|c| !removed.contains(&c.address))
                .cloned()
                .collect(),
            ..self.clone()
        };
        // What is left out is not deleted either.
        plan.blocked = plan.safety_check();
        plan
    }

    /// The plan with only the changes `keep` accepts, less what depends on
    /// one it leaves out ([`Plan::without`]).
    pub fn only(&self, keep: impl Fn(&PlannedChange) -> bool) -> Plan {
        let excluded: HashSet<Address> = self
            .changes
            .iter()
            .filter(|change| !keep(change))
            .map(|change| change.address.clone())
            .collect();
        self.without(&excluded)
    }

    /// The plan with only the changes that end what their resources hold
    /// (a chaos run's restore: [`PlannedChange::holds_others`]) and no
    /// policy findings: ending a run undoes what the tenant itself did,
    /// and no policy keeps it from being undone.
    pub fn ending_holds(&self) -> Plan {
        let mut ending = self.only(PlannedChange::holds_others);
        ending.findings.clear();
        ending
    }

    /// How many changes of each action, in action order.
    pub fn counts(&self) -> Vec<(PlanAction, usize)> {
        let mut counts: Vec<(PlanAction, usize)> = Vec::new();
        for change in &self.changes {
            match counts
                .iter_mut()
                .find(|(action, _)| *action == change.action)
            {
                Some((_, count)) => *count += 1,
                None => counts.push((change.action, 1)),
            }
        }
        counts.sort_by_key(|(action, _)| *action as u8);
        counts
    }
}

/// Asks `provider` to compare `inputs`, told the `declared` resources of
/// the commit it was not asked about: the one place planning and the
/// convergence check after an apply call `diff`.
pub(crate) async fn provider_diff<P: Provider>(
    provider: &P,
    inputs: &[DiffInput],
    declared: &[&Address],
) -> Result<Vec<Change>, PluginError> {
    provider.diff(inputs, declared).await
}

/// sha256 of a JSON document's canonical text (keys sorted).
pub fn digest(value: &Value) -> String {
    text_digest(&value.to_string())
}

/// sha256 of a canonical text, hex: [`digest`] of the value it writes
/// (a spec kept as its text, [`crate::model::Spec`], uses it directly).
pub fn text_digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The checksum of a plan: the tenant, the commit, and for every change its
/// address, action, fields and the digests of the desired spec and of the
/// observed state it was computed against.
pub(crate) fn checksum(tenant: &str, commit: &CommitInfo, changes: &[PlannedChange]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tenant.as_bytes());
    hasher.update([0]);
    hasher.update(commit.id.as_bytes());
    for change in changes {
        let fields = serde_json::to_string(&change.fields).expect("fields serialize");
        for part in [
            change.address.to_string().as_str(),
            change.action.as_str(),
            fields.as_str(),
            change.desired_digest.as_deref().unwrap_or("-"),
            change.observed_digest.as_deref().unwrap_or("-"),
        ] {
            hasher.update([0]);
            hasher.update(part.as_bytes());
        }
    }
    hex::encode(hasher.finalize())
}

/// Removes the values of sensitive fields: from field changes (replaced by
/// a marker) and from states (the keys removed).
pub(crate) fn redact_fields(fields: &mut [FieldChange]) {
    for field in fields.iter_mut().filter(|field| field.sensitive) {
        field.before = field
            .before
            .as_ref()
            .map(|_| Value::String("(sensitive)".into()));
        field.after = field
            .after
            .as_ref()
            .map(|_| Value::String("(sensitive)".into()));
    }
}

/// A document with the values of its sensitive top-level fields withheld
/// (shown as `(sensitive)`), for showing.
pub(crate) fn withhold_top_level(document: &Value, sensitive: &[String]) -> Value {
    match document {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = if sensitive.contains(key) {
                        Value::String("(sensitive)".into())
                    } else {
                        value.clone()
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A state without its sensitive top-level fields, for storing.
pub(crate) fn without_sensitive(state: &Value, sensitive: &[String]) -> Value {
    match state {
        Value::Object(map) if !sensitive.is_empty() => Value::Object(
            map.iter()
                .filter(|(key, _)| !sensitive.contains(key))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// [`without_sensitive`] of a state given away: it loses only its
/// sensitive fields, without a copy of the rest.
pub(crate) fn without_sensitive_owned(mut state: Value, sensitive: &[String]) -> Value {
    if let Value::Object(map) = &mut state
        && !sensitive.is_empty()
    {
        map.retain(|key, _| !sensitive.contains(key));
    }
    state
}

impl PlanAction {
    /// The host action for a provider's action; `None` for a no-op.
    pub(crate) fn from_provider(action: Action) -> Option<Self> {
        match action {
            Action::NoOp => None,
            Action::Create => Some(Self::Create),
            Action::Update => Some(Self::Update),
            Action::Replace => Some(Self::Replace),
            Action::Delete => Some(Self::Delete),
        }
    }
}
