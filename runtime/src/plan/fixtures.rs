//! Plans for the unit tests of what consumes them (the daemon's
//! decisions, the preview's Markdown): a change of an address, and a plan
//! of changes at one commit.

use super::{PLAN_FORMAT, Plan, PlanAction, PlannedChange};
use crate::model::Address;
use crate::source::CommitInfo;

/// A change of `action` to `address`, with nothing else said of it.
pub(crate) fn change(address: &str, action: PlanAction) -> PlannedChange {
    PlannedChange {
        address: Address::parse(address).expect("an address"),
        action,
        summary: String::new(),
        fields: Vec::new(),
        depends_on: Vec::new(),
        drift: false,
        observed_digest: None,
        desired_digest: None,
        change: None,
        lifecycle: Default::default(),
        sensitive: Vec::new(),
    }
}

/// A plan of tenant `default` at commit `c0ffee` making `changes`, its
/// checksum naming how many.
pub(crate) fn plan_of(changes: Vec<PlannedChange>) -> Plan {
    Plan {
        format: PLAN_FORMAT,
        tenant: "default".into(),
        commit: CommitInfo {
            id: "c0ffee".into(),
            author: String::new(),
            summary: String::new(),
            time: 0,
        },
        checksum: format!("checksum of {} change(s)", changes.len()),
        changes,
        unchanged: 0,
        notes: Vec::new(),
        diverged: Vec::new(),
        held: Vec::new(),
        scheduled: Vec::new(),
        blocked: Vec::new(),
        findings: Vec::new(),
        safety: Default::default(),
        examined: Default::default(),
        recheck_after: None,
    }
}
