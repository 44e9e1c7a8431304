//! The contract rules that hand the plugin what it must refuse: a type it
//! does not have, and an id that is not the one its spec gives.

use super::{Desired, Rule, Runner};
use cairn::contract::{Action, Change, DiffInput, ErrorKind, Outcome, Severity};
use cairn::host::PluginError;
use serde_json::Value;

/// The type name no provider has, for [`Rule::UnknownTypeRefused`].
const NO_SUCH_TYPE: &str = "cairn-test-no-such-type";

/// Appended to an object's id to make the id of another, for
/// [`Rule::ForeignIdRefused`]: no spec's identity fields give it beside
/// the spec they come from.
const FOREIGN_SUFFIX: &str = "-foreign-to-its-spec";

/// How a `diff` of one input came out: refused (the call failed with
/// `invalid`, or the change carries an error diagnostic), or answered with
/// an action.
enum DiffAnswer {
    Refused,
    Answered(Action),
    Failed(PluginError),
}

impl Runner<'_> {
    /// `validate` and `diff` refuse a type the provider does not have.
    pub(super) async fn unknown_type(&mut self) {
        let resources = [(NO_SUCH_TYPE.to_string(), Value::Object(Default::default()))];
        match self.instance.validate(&resources).await {
            Ok(validations) => {
                self.keep(&validations);
                let refused = validations
                    .first()
                    .is_some_and(|v| v.diagnostics.iter().any(|d| d.severity == Severity::Error));
                if refused {
                    self.pass(
                        Rule::UnknownTypeRefused,
                        format!("validate and diff refused `{NO_SUCH_TYPE}`"),
                    );
                } else {
                    self.fail(
                        Rule::UnknownTypeRefused,
                        format!("validate accepted a `{NO_SUCH_TYPE}`"),
                    );
                }
            }
            Err(error) => {
                self.failed_call::<()>(Rule::UnknownTypeRefused, "validate", &error);
            }
        }
        let input = DiffInput {
            type_name: NO_SUCH_TYPE.into(),
            id: "a".into(),
            desired: Some(Value::Object(Default::default())),
            observed: None,
            prior: None,
            halt: false,
        };
        match self.diff_one(input).await {
            DiffAnswer::Refused => {}
            DiffAnswer::Answered(action) => self.fail(
                Rule::UnknownTypeRefused,
                format!("diff answered {action:?} for a `{NO_SUCH_TYPE}`"),
            ),
            DiffAnswer::Failed(error) => {
                self.failed_call::<()>(Rule::UnknownTypeRefused, "diff", &error);
            }
        }
    }

    /// `diff` and `apply` refuse the first step's first resource under an
    /// id that is not its own, and nothing is made.
    pub(super) async fn foreign_id(&mut self) {
        let Some(probe) = self.probe.first().cloned() else {
            return;
        };
        let foreign = format!("{}{FOREIGN_SUFFIX}", probe.id);
        let named = format!(
            "{} `{foreign}` with the spec of `{}`",
            probe.type_name, probe.id
        );
        let input = DiffInput {
            type_name: probe.type_name.clone(),
            id: foreign.clone(),
            desired: Some(probe.spec.clone()),
            observed: None,
            prior: None,
            halt: false,
        };
        match self.diff_one(input).await {
            DiffAnswer::Refused => {}
            DiffAnswer::Answered(action) => {
                self.fail(
                    Rule::ForeignIdRefused,
                    format!("diff answered {action:?} for the {named}"),
                );
                return;
            }
            DiffAnswer::Failed(error) => {
                self.failed_call::<()>(Rule::ForeignIdRefused, "diff", &error);
                return;
            }
        }
        let existed = self.exists(&probe).await;
        let change = Change {
            type_name: probe.type_name.clone(),
            id: foreign,
            action: Action::Create,
            summary: "create".into(),
            fields: Vec::new(),
            desired: Some(probe.spec.clone()),
            observed: None,
            diagnostics: Vec::new(),
            recheck_after_ms: None,
            holds: Vec::new(),
            notice: None,
        };
        let outcome = match self.apply(std::slice::from_ref(&change)).await {
            Ok(mut outcomes) => outcomes.pop(),
            Err(error) => {
                self.failed_call::<()>(Rule::ForeignIdRefused, "apply", &error);
                return;
            }
        };
        let made = !existed && self.exists(&probe).await;
        if made {
            self.remove_leftovers(std::slice::from_ref(&probe))
                .await
                .unwrap_or_default();
        }
        match outcome {
            Some(Outcome::Failed(error)) if error.kind == ErrorKind::Invalid && !made => self.pass(
                Rule::ForeignIdRefused,
                format!("diff and apply refused the {named}"),
            ),
            Some(Outcome::Failed(error)) if error.kind == ErrorKind::Invalid => self.fail(
                Rule::ForeignIdRefused,
                format!("apply refused the {named}, but made the object all the same"),
            ),
            Some(Outcome::Failed(error)) => self.fail(
                Rule::ForeignIdRefused,
                format!(
                    "apply of the {named} failed with {:?}, not `invalid`: {}",
                    error.kind, error.message
                ),
            ),
            Some(Outcome::Applied(_)) => {
                self.fail(Rule::ForeignIdRefused, format!("apply created the {named}"))
            }
            Some(Outcome::Skipped(reason)) => self.fail(
                Rule::ForeignIdRefused,
                format!("apply skipped the {named} ({reason}) instead of refusing it"),
            ),
            None => self.fail(Rule::ForeignIdRefused, "apply returned no outcome"),
        }
    }

    /// What `diff` makes of one input.
    async fn diff_one(&mut self, input: DiffInput) -> DiffAnswer {
        match self.instance.diff(std::slice::from_ref(&input), &[]).await {
            Ok(changes) => {
                self.keep(&changes);
                // The host has checked that there is one change per input.
                let Some(change) = changes.first() else {
                    return DiffAnswer::Refused;
                };
                if change
                    .diagnostics
                    .iter()
                    .any(|d| d.severity == Severity::Error)
                {
                    DiffAnswer::Refused
                } else {
                    DiffAnswer::Answered(change.action)
                }
            }
            Err(PluginError::Provider { error, .. }) if error.kind == ErrorKind::Invalid => {
                self.keep(&error);
                DiffAnswer::Refused
            }
            Err(error) => DiffAnswer::Failed(error),
        }
    }

    /// Whether `list` shows `desired`'s object (a failed list counts as
    /// not shown).
    async fn exists(&mut self, desired: &Desired) -> bool {
        self.observe(std::slice::from_ref(desired))
            .await
            .is_ok_and(|observed| {
                observed.contains_key(&(desired.type_name.clone(), desired.id.clone()))
            })
    }
}
