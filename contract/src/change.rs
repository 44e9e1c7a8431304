//! Changes: what `diff` compares and proposes, and what `apply` does with
//! each change.
//!
//! [`Action`], [`FieldChange`] and [`Change`] are also part of the host's
//! saved plans, and a plan's checksum covers the JSON of its
//! [`FieldChange`]s: their serialized form does not change without a new
//! saved-plan format.

use crate::{Diagnostic, Error};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What `diff` compares for one resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiffInput {
    /// The resource type.
    pub type_name: String,
    /// The resource id.
    pub id: String,
    /// The canonical desired spec; `None` when the resource is to be deleted.
    pub desired: Option<Value>,
    /// The observed state; `None` when the object does not exist.
    pub observed: Option<Value>,
    /// The state recorded after the last successful apply.
    pub prior: Option<Value>,
    /// The tenant stops acting on its own (suspended, or its daemon
    /// shutting down): a resource whose desired state depends on time ends
    /// what it is doing and starts nothing new (contract 0.3.0; older
    /// providers are not told).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub halt: bool,
}

impl DiffInput {
    /// The change this input becomes: its type, id, desired spec and
    /// observed state carried over, with what `diff` decided.
    pub fn into_change(self, action: Action, summary: String, fields: Vec<FieldChange>) -> Change {
        Change {
            type_name: self.type_name,
            id: self.id,
            action,
            summary,
            fields,
            desired: self.desired,
            observed: self.observed,
            diagnostics: Vec::new(),
            recheck_after_ms: None,
            holds: Vec::new(),
            notice: None,
        }
    }
}

/// A resource of the commit that `diff` may see referred to, named by its
/// type and id (contract 0.2.0 and later).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Declared {
    /// The resource type.
    pub type_name: String,
    /// The resource id.
    pub id: String,
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing differs.
    NoOp,
    /// Create the object.
    Create,
    /// Change the object in place.
    Update,
    /// Delete the object and create it again.
    Replace,
    /// Delete the object.
    Delete,
}

impl Action {
    /// The word used in plans and history.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoOp => "no-op",
            Self::Create => "create",
            Self::Update => "update",
            Self::Replace => "replace",
            Self::Delete => "delete",
        }
    }
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field's path, `/`-separated.
    pub path: String,
    /// The observed value, absent when the field is not set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub before: Option<Value>,
    /// The desired value, absent when the field goes away.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub after: Option<Value>,
    /// Whether the values are secret.
    #[serde(default)]
    pub sensitive: bool,
}

/// A change for one resource: what `diff` proposes and `apply` carries out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The resource type.
    pub type_name: String,
    /// The resource id.
    pub id: String,
    /// What the change does.
    pub action: Action,
    /// One line for humans.
    pub summary: String,
    /// The fields that differ.
    pub fields: Vec<FieldChange>,
    /// The canonical desired spec (absent for a delete).
    pub desired: Option<Value>,
    /// The observed state the change was computed against.
    pub observed: Option<Value>,
    /// Problems only the real world reveals, such as a reference to an
    /// object that neither the commit declares nor the server has
    /// (contract 0.2.0; always empty from a 0.1.0 provider). An error stops
    /// the plan.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub diagnostics: Vec<Diagnostic>,
    /// Milliseconds after which the provider wants the resource compared
    /// again even if neither Git nor the real world changes, for a desired
    /// state that depends on time (contract 0.3.0; a 0.2.0 provider's
    /// seconds are converted; always `None` from a 0.1.0 provider). Set on
    /// any change, a no-op included.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub recheck_after_ms: Option<u64>,
    /// Objects of the tenant's other provider instances that this
    /// resource keeps away from their desired state on purpose, each until
    /// a time: a chaos experiment's targets (contract 0.3.0; always empty
    /// from older providers). Carried by every change of the resource for
    /// as long as the holds last.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub holds: Vec<Hold>,
    /// What the operator must hear of once the change is applied
    /// (contract 0.3.0; always `None` from older providers).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notice: Option<Notice>,
}

/// An object that a change's resource keeps away from its desired state
/// for a while (contract 0.3.0).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hold {
    /// The provider instance the object belongs to, by the name the
    /// tenant's resource files use (`apps`).
    pub provider: String,
    /// The object's resource type (`app`).
    pub type_name: String,
    /// The object's id (`web`).
    pub id: String,
    /// Milliseconds from the `diff` call the hold lasts at most, as the
    /// provider knows it now; the hold ends sooner when a plan's changes
    /// no longer carry it. `0` holds nothing.
    pub until_ms: u64,
}

/// The kinds of [`Notice`] (contract 0.3.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// A chaos experiment's run ended early (a probe failed beyond its
    /// tolerance, or the experiment changed or left Git); its targets are
    /// restored.
    ChaosAborted,
    /// A chaos experiment's targets were restored, and its probes did not
    /// pass again within its recovery time.
    ChaosRestoreFailed,
}

impl NoticeKind {
    /// The name used in alerts and the history: `chaos-aborted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChaosAborted => "chaos-aborted",
            Self::ChaosRestoreFailed => "chaos-restore-failed",
        }
    }
}

/// Something the operator must hear of once a change is applied
/// (contract 0.3.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// In one sentence, with what the provider saw.
    pub message: String,
}

impl Change {
    /// The error diagnostics among [`Change::diagnostics`].
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == crate::Severity::Error)
    }
}

/// The outcome of one change. As JSON, `{"applied": STATE}`,
/// `{"failed": ERROR}` or `{"skipped": REASON}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Made; the new state (`None` after a delete).
    Applied(Option<Value>),
    /// Not made.
    Failed(Error),
    /// Not attempted because a change batched with it failed first.
    Skipped(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ttl_change() -> FieldChange {
        FieldChange {
            path: "ttl".into(),
            before: Some(json!(300)),
            after: Some(json!(600)),
            sensitive: false,
        }
    }

    /// Saved plans hold field changes, and a plan's checksum covers their
    /// JSON: this text is part of the saved-plan format.
    #[test]
    fn a_field_change_serializes_as_saved_plans_hold_it() {
        assert_eq!(
            serde_json::to_string(&ttl_change()).unwrap(),
            r#"{"path":"ttl","before":300,"after":600,"sensitive":false}"#
        );
        let added = FieldChange {
            path: "records/1".into(),
            before: None,
            after: Some(json!("192.0.2.11")),
            sensitive: true,
        };
        assert_eq!(
            serde_json::to_string(&[added]).unwrap(),
            r#"[{"path":"records/1","after":"192.0.2.11","sensitive":true}]"#
        );
        let read: FieldChange = serde_json::from_str(r#"{"path":"ttl"}"#).unwrap();
        assert_eq!(
            read,
            FieldChange {
                path: "ttl".into(),
                before: None,
                after: None,
                sensitive: false,
            }
        );
    }

    #[test]
    fn a_change_serializes_with_its_action_in_kebab_case() {
        let change = DiffInput {
            type_name: "record".into(),
            id: "www.example.org./A".into(),
            desired: Some(json!({"ttl": 600})),
            observed: None,
            prior: None,
            halt: false,
        }
        .into_change(Action::NoOp, "no changes".into(), vec![ttl_change()]);
        let text = serde_json::to_string(&change).unwrap();
        assert_eq!(
            text,
            r#"{"type_name":"record","id":"www.example.org./A","action":"no-op","summary":"no changes","fields":[{"path":"ttl","before":300,"after":600,"sensitive":false}],"desired":{"ttl":600},"observed":null}"#
        );
        assert_eq!(serde_json::from_str::<Change>(&text).unwrap(), change);
        for action in [
            Action::NoOp,
            Action::Create,
            Action::Update,
            Action::Replace,
            Action::Delete,
        ] {
            assert_eq!(
                serde_json::to_string(&action).unwrap(),
                format!("\"{}\"", action.as_str())
            );
        }
    }
}
