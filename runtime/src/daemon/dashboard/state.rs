//! A tenant's state in one word, as the overview lists and filters it:
//! from its live status and its control state, the condition that most
//! needs the operator's eye wins.

use crate::daemon::status::{Outcome, TenantStatus};
use crate::store::TenantState as ControlState;

/// A tenant's state in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TenantState {
    /// Its plugins are not loaded (yet, or they failed to load).
    NotLoaded,
    /// Its last run failed, in whole or in part, or changes wait for a
    /// retry.
    Failed,
    /// The safety threshold or a policy refused its plan.
    Blocked,
    /// Objects differ from Git and are not (yet) repaired.
    Drifted,
    /// Automatic applies are stopped (`cairn suspend`).
    Suspended,
    /// A rollback holds it at an earlier commit.
    Held,
    /// Loaded and not reconciled yet.
    Waiting,
    /// The world matches Git.
    InSync,
}

impl TenantState {
    /// Every state, in the order the overview's filters list them.
    pub const ALL: [Self; 8] = [
        Self::InSync,
        Self::Drifted,
        Self::Failed,
        Self::Blocked,
        Self::Suspended,
        Self::Held,
        Self::NotLoaded,
        Self::Waiting,
    ];

    /// The state of a tenant with live status `status` and control state
    /// `control`. Conditions that need the operator come first: a tenant
    /// that failed while suspended is shown failed.
    pub fn of(status: &TenantStatus, control: &ControlState) -> Self {
        let outcome = status.last_run.as_ref().map(|run| run.outcome);
        if !status.loaded {
            Self::NotLoaded
        } else if status.last_error.is_some()
            || matches!(
                outcome,
                Some(Outcome::Failed | Outcome::Partial | Outcome::Error)
            )
            || !status.retrying.is_empty()
            || !status.not_converged.is_empty()
        {
            Self::Failed
        } else if !status.blocked.is_empty() || outcome == Some(Outcome::Blocked) {
            Self::Blocked
        } else if !status.drifted.is_empty() {
            Self::Drifted
        } else if control.suspended {
            Self::Suspended
        } else if control.held_commit.is_some() {
            Self::Held
        } else if outcome.is_none() {
            Self::Waiting
        } else {
            Self::InSync
        }
    }

    /// The word of URLs and CSS classes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotLoaded => "not-loaded",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
            Self::Drifted => "drifted",
            Self::Suspended => "suspended",
            Self::Held => "held",
            Self::Waiting => "waiting",
            Self::InSync => "in-sync",
        }
    }

    /// The words people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotLoaded => "not loaded",
            Self::InSync => "in sync",
            other => other.as_str(),
        }
    }

    /// A sign that tells the states apart without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::InSync => "✓",
            Self::Drifted => "≠",
            Self::Failed => "✗",
            Self::Blocked => "⛔",
            Self::Suspended => "⏸",
            Self::Held => "↶",
            Self::NotLoaded => "…",
            Self::Waiting => "○",
        }
    }

    /// The state named `word` in a URL.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::{LastRun, Trigger};

    fn run(outcome: Outcome) -> Option<LastRun> {
        Some(LastRun {
            at: "2026-12-03T12:00:00Z".into(),
            trigger: Trigger::Poll,
            outcome,
            changes: 0,
            failures: 0,
            duration_ms: 1,
            run_id: None,
        })
    }

    fn loaded() -> TenantStatus {
        let mut status = TenantStatus::new("t", "main");
        status.loaded = true;
        status
    }

    #[test]
    fn each_condition_gives_its_state() {
        let control = ControlState::default();
        let suspended = ControlState {
            suspended: true,
            ..ControlState::default()
        };
        let held = ControlState {
            held_commit: Some("c1".into()),
            ..ControlState::default()
        };
        let with = |change: &dyn Fn(&mut TenantStatus)| {
            let mut status = loaded();
            status.last_run = run(Outcome::InSync);
            change(&mut status);
            status
        };
        let table: Vec<(TenantStatus, &ControlState, TenantState)> = vec![
            (
                TenantStatus::new("t", "main"),
                &control,
                TenantState::NotLoaded,
            ),
            (loaded(), &control, TenantState::Waiting),
            (with(&|_| {}), &control, TenantState::InSync),
            (
                with(&|s| s.last_run = run(Outcome::Applied)),
                &control,
                TenantState::InSync,
            ),
            (
                with(&|s| s.drifted = vec!["dns/record/a".into()]),
                &control,
                TenantState::Drifted,
            ),
            (
                with(&|s| s.last_run = run(Outcome::Partial)),
                &control,
                TenantState::Failed,
            ),
            (
                with(&|s| s.last_error = Some("boom".into())),
                &control,
                TenantState::Failed,
            ),
            (
                with(&|s| s.retrying = vec!["dns/record/a".into()]),
                &control,
                TenantState::Failed,
            ),
            (
                with(&|s| s.blocked = vec!["policy `x`".into()]),
                &control,
                TenantState::Blocked,
            ),
            (with(&|_| {}), &suspended, TenantState::Suspended),
            (with(&|_| {}), &held, TenantState::Held),
            // What needs the operator comes first.
            (
                with(&|s| s.last_run = run(Outcome::Error)),
                &suspended,
                TenantState::Failed,
            ),
            (
                with(&|s| s.drifted = vec!["a".into()]),
                &held,
                TenantState::Drifted,
            ),
        ];
        for (status, control, expected) in table {
            assert_eq!(
                TenantState::of(&status, control),
                expected,
                "{status:?} {control:?}"
            );
        }
    }

    #[test]
    fn every_state_reads_back_from_its_word() {
        for state in TenantState::ALL {
            assert_eq!(TenantState::parse(state.as_str()), Some(state));
        }
        assert_eq!(TenantState::parse("bogus"), None);
    }
}
