//! What a run does, decided from what it found: whether to plan at all and
//! how much to examine, which changes to hold back, and whether to apply.
//! Pure functions of values, so that every rule has a unit test.

use crate::daemon::status::Trigger;
use crate::model::Address;
use crate::plan::{Plan, PlanScope};
use std::collections::HashSet;

/// What a run found before planning.
#[derive(Debug, Clone, Copy)]
pub struct Situation {
    /// Why the run started.
    pub trigger: Trigger,
    /// The run is a drift check (start-up, or the drift interval elapsed).
    pub drift_due: bool,
    /// The commit to reconcile is not the one the last run saw, or another
    /// process (`cairn apply`, `cairn rollback`) moved the tenant since.
    pub moved: bool,
    /// Suspension or a rollback hold changed since the last run.
    pub control_changed: bool,
    /// The tenant applies (mode `apply` and not suspended).
    pub applies: bool,
    /// The journal holds changes a crash interrupted.
    pub interrupted: bool,
    /// A failed resource is due for its retry.
    pub retry_due: bool,
    /// A provider's recheck is due: the resources that asked for it are
    /// compared again (a chaos run to start or end).
    pub recheck_due: bool,
    /// The last plan was blocked by the safety threshold.
    pub blocked: bool,
}

/// Whether a run plans, and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing is due: no plugin is called.
    Skip,
    /// Plan with this scope.
    Plan(PlanScope),
}

/// Whether to plan and how much to examine. Between drift checks a new
/// commit costs what it changed; start-up, drift checks, retries, crash
/// recovery and control changes look at everything.
pub fn decide(situation: &Situation) -> Decision {
    let start = situation.trigger == Trigger::Start;
    // Retries, crash recovery and blocks are reasons to plan only where
    // something may be applied.
    let pending_work =
        situation.applies && (situation.interrupted || situation.retry_due || situation.blocked);
    let due = situation.moved
        || situation.drift_due
        || situation.control_changed
        || situation.recheck_due
        || pending_work;
    if !due && !start {
        return Decision::Skip;
    }
    // What Git moved and the resources that asked to be compared again
    // over time are what a `Changed` plan examines.
    let only_what_moved = (situation.moved || situation.recheck_due)
        && !situation.drift_due
        && !pending_work
        && !situation.control_changed
        && !start;
    Decision::Plan(if only_what_moved {
        PlanScope::Changed
    } else {
        PlanScope::Full
    })
}

/// The changes a run holds back: drift when self-heal is off (reported,
/// not repaired), and resources still waiting for their retry.
/// [`Plan::without`] holds back what depends on them too.
pub fn held_back(
    plan: &Plan,
    drifted: &[Address],
    self_heal: bool,
    is_due: impl Fn(&Address) -> bool,
) -> HashSet<Address> {
    let mut excluded: HashSet<Address> = HashSet::new();
    if !self_heal {
        excluded.extend(drifted.iter().cloned());
    }
    excluded.extend(
        plan.changes
            .iter()
            .filter(|change| !is_due(&change.address))
            .map(|change| change.address.clone()),
    );
    excluded
}

/// What a run that planned does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The tenant does not apply (plan-only or suspended): the plan is
    /// reported; `record` says whether it goes into the history (it
    /// changes something, and Git moved or the world drifted).
    Report {
        /// Record the plan as a run.
        record: bool,
    },
    /// Nothing left to apply, and Git did not move: the tenant is in sync
    /// (or drifted, with self-heal off).
    Settled,
    /// The same blocked plan as last time: recorded and alerted once
    /// already, so it is not refused again.
    StillBlocked,
    /// Apply what is left.
    Apply,
}

/// What to do with a plan. `to_apply` is the plan less what is held back;
/// `blocked_before` is the checksum of the plan last refused as blocked.
pub fn next_step(
    applies: bool,
    moved: bool,
    plan: &Plan,
    drifted: &[Address],
    to_apply: &Plan,
    blocked_before: Option<&str>,
) -> Step {
    if !applies {
        return Step::Report {
            record: plan.has_changes() && (moved || !drifted.is_empty()),
        };
    }
    if to_apply.changes.is_empty() && !moved {
        return Step::Settled;
    }
    let blocked = !to_apply.blocked.is_empty() || !to_apply.blocking_policies(&[]).is_empty();
    if blocked && blocked_before == Some(to_apply.checksum.as_str()) {
        return Step::StillBlocked;
    }
    Step::Apply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanAction;
    use crate::plan::fixtures::{change, plan_of};

    fn situation(trigger: Trigger) -> Situation {
        Situation {
            trigger,
            drift_due: false,
            moved: false,
            control_changed: false,
            applies: true,
            interrupted: false,
            retry_due: false,
            recheck_due: false,
            blocked: false,
        }
    }

    #[test]
    fn every_rule_of_the_decision() {
        use Decision::{Plan, Skip};
        use PlanScope::{Changed, Full};
        let poll = situation(Trigger::Poll);
        let rows: Vec<(&str, Situation, Decision)> = vec![
            (
                "the start-up run always plans, all of it",
                situation(Trigger::Start),
                Plan(Full),
            ),
            (
                "the start-up run with a new commit examines everything",
                Situation {
                    moved: true,
                    ..situation(Trigger::Start)
                },
                Plan(Full),
            ),
            (
                "a poll that finds nothing moved calls no plugin",
                poll,
                Skip,
            ),
            (
                "a webhook that finds nothing moved calls no plugin",
                situation(Trigger::Webhook),
                Skip,
            ),
            (
                "a new commit between drift checks examines what it moved",
                Situation {
                    moved: true,
                    ..poll
                },
                Plan(Changed),
            ),
            (
                "a drift check examines everything",
                Situation {
                    drift_due: true,
                    ..poll
                },
                Plan(Full),
            ),
            (
                "a recheck examines what asked for it, not the whole tenant",
                Situation {
                    recheck_due: true,
                    ..situation(Trigger::Recheck)
                },
                Plan(Changed),
            ),
            (
                "a recheck at a drift check examines everything",
                Situation {
                    recheck_due: true,
                    drift_due: true,
                    ..situation(Trigger::Recheck)
                },
                Plan(Full),
            ),
            (
                "a new commit at a drift check examines everything",
                Situation {
                    moved: true,
                    drift_due: true,
                    ..poll
                },
                Plan(Full),
            ),
            (
                "suspension or a hold changing plans everything",
                Situation {
                    control_changed: true,
                    ..poll
                },
                Plan(Full),
            ),
            (
                "a retry coming due plans everything",
                Situation {
                    retry_due: true,
                    ..poll
                },
                Plan(Full),
            ),
            (
                "a retry with a new commit still plans everything",
                Situation {
                    retry_due: true,
                    moved: true,
                    ..poll
                },
                Plan(Full),
            ),
            (
                "an interrupted change is found out",
                Situation {
                    interrupted: true,
                    ..poll
                },
                Plan(Full),
            ),
            (
                "a blocked plan is planned again until it is not",
                Situation {
                    blocked: true,
                    ..poll
                },
                Plan(Full),
            ),
            (
                "a plan-only tenant ignores retries",
                Situation {
                    retry_due: true,
                    applies: false,
                    ..poll
                },
                Skip,
            ),
            (
                "a suspended tenant ignores the journal",
                Situation {
                    interrupted: true,
                    applies: false,
                    ..poll
                },
                Skip,
            ),
            (
                "a suspended tenant ignores a block",
                Situation {
                    blocked: true,
                    applies: false,
                    ..poll
                },
                Skip,
            ),
            (
                "a plan-only tenant still reports a new commit",
                Situation {
                    moved: true,
                    applies: false,
                    ..poll
                },
                Plan(Changed),
            ),
            (
                "a plan-only tenant still checks drift",
                Situation {
                    drift_due: true,
                    applies: false,
                    ..poll
                },
                Plan(Full),
            ),
        ];
        for (rule, situation, expected) in rows {
            assert_eq!(decide(&situation), expected, "{rule}");
        }
    }

    fn address(id: &str) -> Address {
        Address::parse(&format!("dns/record/{id}")).expect("an address")
    }

    #[test]
    fn held_back_are_drift_without_self_heal_and_retries_not_due() {
        let plan = plan_of(vec![
            change("dns/record/a", PlanAction::Update),
            change("dns/record/b", PlanAction::Create),
            change("dns/record/c", PlanAction::Update),
        ]);
        let drifted = [address("a")];
        let waiting = address("c");
        let not_waiting = |a: &Address| *a != waiting;
        let held = held_back(&plan, &drifted, false, not_waiting);
        assert_eq!(held, HashSet::from([address("a"), address("c")]));
        let held = held_back(&plan, &drifted, true, not_waiting);
        assert_eq!(
            held,
            HashSet::from([address("c")]),
            "self-heal repairs drift"
        );
        let held = held_back(&plan, &drifted, true, |_| true);
        assert!(held.is_empty());
    }

    #[test]
    fn every_rule_of_the_next_step() {
        let empty = plan_of(Vec::new());
        let one = plan_of(vec![change("dns/record/a", PlanAction::Update)]);
        let mut blocked = one.clone();
        blocked.blocked = vec!["too many deletes".to_string()];
        let drifted = [address("a")];
        let checksum = blocked.checksum.clone();
        let mut by_policy = one.clone();
        by_policy.findings = vec![crate::plan::PolicyFinding {
            policy: "ttl".into(),
            enforcement: crate::config::Enforcement::Mandatory,
            finding: cairn_contract::Finding::error("dns-min-ttl", "60 s"),
        }];
        by_policy.checksum = "checksum with the finding".into();
        let mut advised = by_policy.clone();
        advised.findings[0].enforcement = crate::config::Enforcement::Advisory;
        let rows: Vec<(&str, Step, Step)> = vec![
            (
                "plan-only, Git moved: recorded",
                next_step(false, true, &one, &[], &one, None),
                Step::Report { record: true },
            ),
            (
                "plan-only, drift found: recorded",
                next_step(false, false, &one, &drifted, &one, None),
                Step::Report { record: true },
            ),
            (
                "plan-only, nothing new: not recorded again",
                next_step(false, false, &one, &[], &one, None),
                Step::Report { record: false },
            ),
            (
                "plan-only, no change: not recorded",
                next_step(false, true, &empty, &[], &empty, None),
                Step::Report { record: false },
            ),
            (
                "nothing to apply, Git still: settled",
                next_step(true, false, &one, &drifted, &empty, None),
                Step::Settled,
            ),
            (
                "nothing to apply, Git moved: applied (records the commit)",
                next_step(true, true, &empty, &[], &empty, None),
                Step::Apply,
            ),
            (
                "changes: applied",
                next_step(true, false, &one, &[], &one, None),
                Step::Apply,
            ),
            (
                "a new blocked plan: applied, so that it is refused and recorded",
                next_step(true, false, &blocked, &[], &blocked, None),
                Step::Apply,
            ),
            (
                "the same blocked plan: not refused twice",
                next_step(true, false, &blocked, &[], &blocked, Some(&checksum)),
                Step::StillBlocked,
            ),
            (
                "the plan refused before, no longer blocked (threshold raised): applied",
                next_step(true, false, &one, &[], &one, Some(&one.checksum)),
                Step::Apply,
            ),
            (
                "another blocked plan: refused again",
                next_step(true, false, &blocked, &[], &blocked, Some("other")),
                Step::Apply,
            ),
            (
                "a plan a policy blocks: applied, so that it is refused and recorded",
                next_step(true, true, &by_policy, &[], &by_policy, None),
                Step::Apply,
            ),
            (
                "the same plan a policy blocks, at a drift check: not refused twice",
                next_step(
                    true,
                    false,
                    &by_policy,
                    &[],
                    &by_policy,
                    Some("checksum with the finding"),
                ),
                Step::StillBlocked,
            ),
            (
                "an advisory finding blocks nothing: applied",
                next_step(
                    true,
                    false,
                    &advised,
                    &[],
                    &advised,
                    Some("checksum with the finding"),
                ),
                Step::Apply,
            ),
        ];
        for (rule, step, expected) in rows {
            assert_eq!(step, expected, "{rule}");
        }
    }
}
