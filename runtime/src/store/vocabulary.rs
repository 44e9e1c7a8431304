//! The words the store writes: what kind of run it was, how it ended, what
//! an audit row records, how that ended, and a resource's status. Each is a
//! Rust enum whose word is the one stored in SQL (the same words every
//! version of Cairn wrote, so old rows read as they are) and shown in
//! `cairn history` and the JSON APIs. A word read back that no enum knows
//! is an error naming the word, never a panic and never a guess; the
//! migrations refuse such words on write, by CHECK constraints of the same
//! names in both engines (`runs_kind_is_known`, …: `0004_vocabulary`, each
//! later migration that adds a word, `0005_refused`, and for SQLite
//! `0007_vocabulary_checks`, which replaced its triggers).

use crate::plan::PlanAction;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A word read from the store that this version of Cairn does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{word}` is not a {vocabulary} this version of Cairn knows")]
pub struct UnknownWord {
    /// The word.
    pub word: String,
    /// What it should have been: `run kind`, `run outcome`, …
    pub vocabulary: &'static str,
}

impl UnknownWord {
    fn new(word: &str, vocabulary: &'static str) -> Self {
        Self {
            word: word.to_string(),
            vocabulary,
        }
    }
}

/// An enum and its words, declared once: the variants, `as_str`, `ALL`,
/// `FromStr`, `Display` and serde all come from the same list, so that a
/// word cannot be written that is not read back.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($vocabulary:literal) {
            $( $(#[$variant_meta:meta])* $variant:ident => $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The word stored in SQL and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;

            fn from_str(word: &str) -> Result<Self, UnknownWord> {
                match word {
                    $($word => Ok(Self::$variant),)+
                    _ => Err(UnknownWord::new(word, $vocabulary)),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let word = String::deserialize(deserializer)?;
                word.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

vocabulary! {
    /// What a run of the history is.
    pub enum RunKind ("run kind") {
        /// A plan made and not applied (`cairn plan` recorded by a daemon
        /// in plan-only mode, or a plan of a suspended tenant).
        Plan => "plan",
        /// `cairn apply`.
        Apply => "apply",
        /// `cairn rollback`: an earlier commit applied.
        Rollback => "rollback",
        /// A daemon's apply of its tenant's commit.
        Reconcile => "reconcile",
        /// Drift found by a daemon, recorded once when first seen.
        Drift => "drift",
        /// `cairn suspend`.
        Suspend => "suspend",
        /// `cairn resume`.
        Resume => "resume",
        /// A new commit on the ref ended a rollback's hold.
        ReleaseHold => "release-hold",
    }
}

impl RunKind {
    /// The kinds whose success means their commit was applied: what
    /// `cairn rollback` may return to.
    pub const APPLYING: [Self; 3] = [Self::Apply, Self::Rollback, Self::Reconcile];
}

/// An event recorded in the history as a run without actions: an
/// operator's command, or a daemon's decision that changes no object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Automatic applies were stopped.
    Suspend,
    /// Automatic applies were restarted.
    Resume,
    /// A rollback's hold ended.
    ReleaseHold,
}

impl From<EventKind> for RunKind {
    fn from(event: EventKind) -> Self {
        match event {
            EventKind::Suspend => Self::Suspend,
            EventKind::Resume => Self::Resume,
            EventKind::ReleaseHold => Self::ReleaseHold,
        }
    }
}

vocabulary! {
    /// How a run ended. A run still going (or whose process died before
    /// [`super::StateStore::close_interrupted_runs`] saw it) has none.
    pub enum RunOutcome ("run outcome") {
        /// A plan recorded; nothing was applied.
        Planned => "planned",
        /// The safety threshold refused the plan; nothing was applied.
        Blocked => "blocked",
        /// Every change was made (or an event took effect).
        Succeeded => "succeeded",
        /// No change was made.
        Failed => "failed",
        /// Some changes were made, or some were held back.
        Partial => "partial",
        /// The run stopped before it ended: the store failed, or its
        /// process died.
        Interrupted => "interrupted",
        /// Drift was found and recorded.
        Detected => "detected",
        /// The commit was refused before anything was planned (its
        /// signature, a quota, its ref gone from the remote): nothing was
        /// applied, and the run's `reason` says why.
        Refused => "refused",
    }
}

vocabulary! {
    /// How an action ended.
    pub enum ActionResult ("action result") {
        /// Done.
        Ok => "ok",
        /// Attempted and failed.
        Failed => "failed",
        /// Not attempted.
        Skipped => "skipped",
        /// Found (drift), not acted on by this record.
        Detected => "detected",
    }
}

vocabulary! {
    /// The status of an owned resource.
    pub enum ResourceStatus ("resource status") {
        /// The world matches the last applied desired state.
        InSync => "in-sync",
        /// The world differs from it, or the object vanished.
        Drifted => "drifted",
        /// The last change failed.
        Failed => "failed",
        /// A create was started and not confirmed.
        Pending => "pending",
    }
}

/// What a row of the audit log records: a change of a plan, or drift found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// A planned change, made or not.
    Change(PlanAction),
    /// The object differs from what was last applied.
    Drift,
}

impl AuditAction {
    /// The word stored in SQL and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Change(action) => action.as_str(),
            Self::Drift => "drift",
        }
    }
}

impl From<PlanAction> for AuditAction {
    fn from(action: PlanAction) -> Self {
        Self::Change(action)
    }
}

impl FromStr for AuditAction {
    type Err = UnknownWord;

    fn from_str(word: &str) -> Result<Self, UnknownWord> {
        match word {
            "drift" => Ok(Self::Drift),
            _ => plan_action(word)
                .map(Self::Change)
                .map_err(|_| UnknownWord::new(word, "audited action")),
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A plan action from its word. [`PlanAction`]'s serde names are its words
/// (saved plans hold them): reading through them keeps one list of words,
/// the plan's own.
pub(super) fn plan_action(word: &str) -> Result<PlanAction, UnknownWord> {
    use serde::de::IntoDeserializer;
    let deserializer: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        word.into_deserializer();
    PlanAction::deserialize(deserializer).map_err(|_| UnknownWord::new(word, "plan action"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every plan action, listed by a match so that a new one fails to
    /// compile here until it is added.
    pub(crate) fn every_plan_action() -> Vec<PlanAction> {
        let all = [
            PlanAction::Create,
            PlanAction::Update,
            PlanAction::Replace,
            PlanAction::Delete,
            PlanAction::Forget,
            PlanAction::Adopt,
            PlanAction::Refresh,
        ];
        for action in all {
            match action {
                PlanAction::Create
                | PlanAction::Update
                | PlanAction::Replace
                | PlanAction::Delete
                | PlanAction::Forget
                | PlanAction::Adopt
                | PlanAction::Refresh => {}
            }
        }
        all.to_vec()
    }

    /// Every word of `T` reads back as itself, in SQL's form and in JSON's.
    fn round_trip<T>(all: &[T])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr<Err = UnknownWord>,
        T: Serialize + for<'de> Deserialize<'de>,
    {
        for &value in all {
            let word = value.to_string();
            assert_eq!(word.parse::<T>(), Ok(value), "{word}");
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{word}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
        }
    }

    #[test]
    fn every_word_reads_back_as_itself() {
        round_trip(RunKind::ALL);
        round_trip(RunOutcome::ALL);
        round_trip(ActionResult::ALL);
        round_trip(ResourceStatus::ALL);
        for action in every_plan_action() {
            assert_eq!(plan_action(action.as_str()), Ok(action));
            let audited = AuditAction::Change(action);
            assert_eq!(audited.as_str().parse(), Ok(audited));
        }
        assert_eq!("drift".parse(), Ok(AuditAction::Drift));
    }

    #[test]
    fn the_words_are_the_ones_earlier_versions_stored() {
        let words = |all: &[&str]| all.join(" ");
        let kinds: Vec<&str> = RunKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            words(&kinds),
            "plan apply rollback reconcile drift suspend resume release-hold"
        );
        let outcomes: Vec<&str> = RunOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(
            words(&outcomes),
            "planned blocked succeeded failed partial interrupted detected refused"
        );
        let results: Vec<&str> = ActionResult::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(words(&results), "ok failed skipped detected");
        let statuses: Vec<&str> = ResourceStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(words(&statuses), "in-sync drifted failed pending");
        assert_eq!(RunKind::from(EventKind::Suspend), RunKind::Suspend);
        assert_eq!(RunKind::from(EventKind::Resume), RunKind::Resume);
        assert_eq!(RunKind::from(EventKind::ReleaseHold), RunKind::ReleaseHold);
    }

    #[test]
    fn an_unknown_word_is_an_error_naming_it() {
        let error = "import".parse::<RunKind>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "`import` is not a run kind this version of Cairn knows"
        );
        assert!("Succeeded".parse::<RunOutcome>().is_err());
        assert!("".parse::<ActionResult>().is_err());
        assert!("in_sync".parse::<ResourceStatus>().is_err());
        assert_eq!(
            "drifted".parse::<AuditAction>().unwrap_err().vocabulary,
            "audited action"
        );
        assert!(plan_action("destroy").is_err());
        assert!(serde_json::from_str::<RunKind>("\"import\"").is_err());
    }
}
