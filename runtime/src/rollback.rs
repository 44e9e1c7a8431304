//! Where `cairn rollback` goes: back through the commits the tenant applied
//! with success, in the order each was first applied, one further each
//! time — with v1, v2 and v3 applied, rollbacks go to v2, then v1, then
//! refuse: there is nothing further back. A commit applied again (by a
//! rollback, or the ref moved back to it) keeps the place of its first
//! success, so a rollback never moves forward.
//!
//! The walk starts from where the tenant is: the commit a rollback holds
//! it at, else the commit last reconciled. When that commit never applied
//! with success (its apply failed in part, or it was only planned), the
//! first step back is the last commit that did.
//!
//! `--to COMMIT` may name only a commit applied with success; any other is
//! refused, naming the ones a rollback may return to. Both choices are
//! pure: the store's list of applied commits and the tenant's control
//! state in, a commit or a refusal out.

use crate::store::{AppliedCommit, TenantState};

/// The most commits a refusal names; older ones are counted, not listed.
/// Enough for the recent past an operator rolls back to, short enough to
/// read in a terminal.
pub const MAX_NAMED_COMMITS: usize = 10;

/// Why a rollback has nowhere to go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackError {
    /// The tenant never applied a commit with success.
    #[error("tenant {tenant} has no commit applied with success to return to; nothing was applied")]
    NothingApplied {
        /// The tenant.
        tenant: String,
    },
    /// The tenant is at the first commit it applied with success.
    #[error(
        "tenant {tenant} is at commit {}, the first commit it applied with success: there is nothing further back to roll back to; nothing was applied. `cairn resume` follows the ref again",
        short(.current)
    )]
    NothingFurther {
        /// The tenant.
        tenant: String,
        /// The commit it is at.
        current: String,
    },
    /// `--to` names a commit the tenant never applied with success.
    #[error(
        "commit {} was never applied with success to tenant {tenant}, so a rollback cannot return to it; nothing was applied. A rollback returns to a commit applied with success: {choices}",
        short(.commit)
    )]
    NeverApplied {
        /// The tenant.
        tenant: String,
        /// The commit asked for.
        commit: String,
        /// The commits it may return to, newest first, for the message.
        choices: String,
    },
}

/// The commit the tenant is at, for the walk back: the commit a rollback
/// holds it at, else the commit last reconciled.
fn position(state: &TenantState) -> Option<&str> {
    state
        .held_commit
        .as_deref()
        .or(state.last_commit.as_deref())
}

/// The commit a rollback without `--to` returns to. `applied` are the
/// tenant's commits applied with success, in the order each was first
/// applied (as [`crate::store::StateStore::applied_commits`] lists them).
pub fn previous<'a>(
    tenant: &str,
    applied: &'a [AppliedCommit],
    state: &TenantState,
) -> Result<&'a AppliedCommit, RollbackError> {
    let index = |id: &str| applied.iter().position(|commit| commit.id == id);
    match position(state).and_then(index) {
        Some(0) => Err(RollbackError::NothingFurther {
            tenant: tenant.to_string(),
            current: applied[0].id.clone(),
        }),
        Some(at) => Ok(&applied[at - 1]),
        // The tenant is at a commit that never applied with success: one
        // step back is the last that did.
        None => state
            .last_applied_commit
            .as_deref()
            .and_then(index)
            .or_else(|| applied.len().checked_sub(1))
            .map(|at| &applied[at])
            .ok_or_else(|| RollbackError::NothingApplied {
                tenant: tenant.to_string(),
            }),
    }
}

/// Checks that `commit` (a full id), asked for with `--to`, is one the
/// tenant applied with success.
pub fn check_chosen(
    tenant: &str,
    applied: &[AppliedCommit],
    commit: &str,
) -> Result<(), RollbackError> {
    if applied.iter().any(|applied| applied.id == commit) {
        return Ok(());
    }
    if applied.is_empty() {
        return Err(RollbackError::NothingApplied {
            tenant: tenant.to_string(),
        });
    }
    Err(RollbackError::NeverApplied {
        tenant: tenant.to_string(),
        commit: commit.to_string(),
        choices: choices(applied),
    })
}

/// The commits a rollback may return to, newest first, at most
/// [`MAX_NAMED_COMMITS`] of them named.
fn choices(applied: &[AppliedCommit]) -> String {
    let mut named: Vec<String> = applied
        .iter()
        .rev()
        .take(MAX_NAMED_COMMITS)
        .map(|commit| format!("{} ({})", short(&commit.id), commit.summary))
        .collect();
    if applied.len() > MAX_NAMED_COMMITS {
        named.push(format!("and {} older", applied.len() - MAX_NAMED_COMMITS));
    }
    named.join(", ")
}

/// The first 12 characters of a commit id.
fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(ids: &[&str]) -> Vec<AppliedCommit> {
        ids.iter()
            .map(|id| AppliedCommit {
                id: id.to_string(),
                summary: format!("make it {id}"),
            })
            .collect()
    }

    /// The tenant after `last_commit` was reconciled, `last_applied` the
    /// last commit applied with success, held at `held` by a rollback.
    fn at(last_commit: &str, last_applied: &str, held: Option<&str>) -> TenantState {
        TenantState {
            held_commit: held.map(str::to_string),
            held_head: held.map(|_| "head".to_string()),
            last_commit: Some(last_commit.to_string()),
            last_applied_commit: Some(last_applied.to_string()),
            ..TenantState::default()
        }
    }

    /// Rolls back from `state` as `cairn rollback` leaves it: the target
    /// applied with success and held.
    fn roll_back(applied: &[AppliedCommit], state: &TenantState) -> Result<String, RollbackError> {
        previous("t", applied, state).map(|commit| commit.id.clone())
    }

    #[test]
    fn each_rollback_goes_one_further_back_until_there_is_nothing_further() {
        let history = applied(&["v1", "v2", "v3"]);
        let mut state = at("v3", "v3", None);
        let mut visited = Vec::new();
        // As many rollbacks as there are commits, and one more: the walk
        // must have ended by then.
        let refusal = (0..=history.len())
            .find_map(|_| match roll_back(&history, &state) {
                Ok(target) => {
                    // What a rollback's apply and hold leave.
                    state = at(&target, &target, Some(&target));
                    visited.push(target);
                    None
                }
                Err(refusal) => Some(refusal),
            })
            .unwrap_or_else(|| panic!("the rollbacks never stopped: {visited:?}"));
        assert_eq!(visited, ["v2", "v1"]);
        assert_eq!(
            refusal,
            RollbackError::NothingFurther {
                tenant: "t".into(),
                current: "v1".into()
            }
        );
        assert!(refusal.to_string().contains("nothing further back"));
    }

    #[test]
    fn a_commit_applied_again_keeps_the_place_of_its_first_success() {
        // v2 was applied again by the rollback: the store still lists it
        // second, and the next rollback goes to v1, not to v3.
        let history = applied(&["v1", "v2", "v3"]);
        assert_eq!(
            roll_back(&history, &at("v2", "v2", Some("v2"))),
            Ok("v1".into())
        );
        // The hold is what counts, whatever was reconciled since.
        assert_eq!(
            roll_back(&history, &at("v3", "v3", Some("v2"))),
            Ok("v1".into())
        );
        // After `cairn resume` the ref's commit is applied again: from v3.
        assert_eq!(roll_back(&history, &at("v3", "v3", None)), Ok("v2".into()));
    }

    #[test]
    fn from_a_commit_that_never_applied_the_first_step_is_the_last_good_one() {
        let history = applied(&["v1", "v2", "v3"]);
        // v4 failed in part: the rollback undoes it, to v3.
        assert_eq!(roll_back(&history, &at("v4", "v3", None)), Ok("v3".into()));
        // The ref was moved back to v1 and applied, then v5 failed.
        assert_eq!(roll_back(&history, &at("v5", "v1", None)), Ok("v1".into()));
        // Nothing known of the tenant but its applies.
        assert_eq!(
            roll_back(&history, &TenantState::default()),
            Ok("v3".into())
        );
        assert_eq!(
            roll_back(&[], &at("v1", "v1", None)),
            Err(RollbackError::NothingApplied { tenant: "t".into() })
        );
    }

    #[test]
    fn to_accepts_only_a_commit_applied_with_success_and_names_the_others() {
        let history = applied(&["v1", "v2", "v3"]);
        assert_eq!(check_chosen("t", &history, "v1"), Ok(()));
        let refusal = check_chosen("t", &history, "v4").unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "commit v4 was never applied with success to tenant t, so a rollback cannot return to it; nothing was applied. A rollback returns to a commit applied with success: v3 (make it v3), v2 (make it v2), v1 (make it v1)"
        );
        assert_eq!(
            check_chosen("t", &[], "v1"),
            Err(RollbackError::NothingApplied { tenant: "t".into() })
        );
    }

    #[test]
    fn a_long_history_names_the_newest_commits_and_counts_the_rest() {
        let ids: Vec<String> = (1..=25)
            .map(|n| format!("{n:02}{}", "a".repeat(38)))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let refusal = check_chosen("t", &applied(&ids), "ffff")
            .unwrap_err()
            .to_string();
        let named = |id: &str| refusal.contains(&format!("{} (make it {id})", &id[..12]));
        assert!(named(ids[24]) && named(ids[15]), "{refusal}");
        assert!(!named(ids[14]), "{refusal}");
        assert!(refusal.ends_with("and 15 older"), "{refusal}");
    }
}
