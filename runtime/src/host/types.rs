//! The host's own view of the values that cross the WIT boundary: JSON
//! documents parsed into [`serde_json::Value`], checked on the way in. A
//! provider that sends text that is not JSON breaks the contract, and its
//! call fails; the host never trusts it further.

use super::bindings as wit;
use super::error::ProviderError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a provider is and what it manages.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderInfo {
    /// The provider's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it talks to.
    pub description: String,
    /// The object kinds it manages.
    pub resource_types: Vec<ResourceType>,
    /// A JSON Schema of its `config`.
    pub config_schema: Value,
}

impl ProviderInfo {
    /// The resource type called `name`.
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        self.resource_types.iter().find(|t| t.name == name)
    }
}

/// One kind of object a provider manages.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceType {
    /// The name used in resource files.
    pub name: String,
    /// What it is.
    pub description: String,
    /// A JSON Schema of the spec.
    pub schema: Value,
    /// The fields that make the id.
    pub identity: Vec<String>,
    /// Fields whose change replaces the object.
    pub force_replace: Vec<String>,
    /// Fields holding secrets.
    pub sensitive: Vec<String>,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Invalid: nothing of the commit is applied.
    Error,
    /// Accepted, probably wrong.
    Warning,
}

/// A problem a provider found in one resource.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    /// The field's path in the spec, `/`-separated.
    pub path: String,
    /// How serious.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: Option<String>,
}

/// The outcome of validating one resource.
#[derive(Debug, Clone)]
pub struct Validation {
    /// The canonical spec when valid.
    pub canonical: Option<Value>,
    /// Errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
}

/// An object as the provider sees it.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Its type.
    pub type_name: String,
    /// Its id.
    pub id: String,
    /// Its canonical state.
    pub state: Value,
}

/// What `diff` compares for one resource.
#[derive(Debug, Clone)]
pub struct DiffInput {
    /// The type.
    pub type_name: String,
    /// The id.
    pub id: String,
    /// The canonical desired spec; `None` to delete.
    pub desired: Option<Value>,
    /// The observed state; `None` when absent.
    pub observed: Option<Value>,
    /// The state after the last successful apply.
    pub prior: Option<Value>,
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing differs.
    NoOp,
    /// Create.
    Create,
    /// Change in place.
    Update,
    /// Delete and create again.
    Replace,
    /// Delete.
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
    /// Its path.
    pub path: String,
    /// The observed value.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub before: Option<Value>,
    /// The desired value.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub after: Option<Value>,
    /// Whether the values are secret.
    #[serde(default)]
    pub sensitive: bool,
}

/// A change a provider proposed for one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The type.
    pub type_name: String,
    /// The id.
    pub id: String,
    /// What it does.
    pub action: Action,
    /// One line for humans.
    pub summary: String,
    /// The fields that differ.
    pub fields: Vec<FieldChange>,
    /// The canonical desired spec.
    pub desired: Option<Value>,
    /// The observed state it was computed against.
    pub observed: Option<Value>,
}

/// The outcome of one change.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Made; the new state.
    Applied(Option<Value>),
    /// Not made.
    Failed(ProviderError),
    /// Not attempted.
    Skipped(String),
}

/// Parses JSON text a plugin sent; `what` names it in the error.
pub(super) fn parse_json(what: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|error| format!("{what} is not JSON: {error}"))
}

fn parse_optional(what: &str, text: Option<String>) -> Result<Option<Value>, String> {
    text.map(|text| parse_json(what, &text)).transpose()
}

impl TryFrom<wit::ProviderInfo> for ProviderInfo {
    type Error = String;

    fn try_from(info: wit::ProviderInfo) -> Result<Self, String> {
        Ok(Self {
            config_schema: parse_json("the config schema", &info.config_schema)?,
            resource_types: info
                .resource_types
                .into_iter()
                .map(|t| {
                    Ok(ResourceType {
                        schema: parse_json(&format!("the schema of `{}`", t.name), &t.schema)?,
                        name: t.name,
                        description: t.description,
                        identity: t.identity,
                        force_replace: t.force_replace,
                        sensitive: t.sensitive,
                    })
                })
                .collect::<Result<_, String>>()?,
            name: info.name,
            version: info.version,
            description: info.description,
        })
    }
}

impl TryFrom<wit::Validation> for Validation {
    type Error = String;

    fn try_from(validation: wit::Validation) -> Result<Self, String> {
        Ok(Self {
            canonical: parse_optional("a canonical spec", validation.canonical)?,
            diagnostics: validation
                .diagnostics
                .into_iter()
                .map(|d| Diagnostic {
                    path: d.path,
                    severity: match d.severity {
                        wit::Severity::Error => Severity::Error,
                        wit::Severity::Warning => Severity::Warning,
                    },
                    message: d.message,
                    help: d.help,
                })
                .collect(),
        })
    }
}

impl TryFrom<wit::Observed> for Observed {
    type Error = String;

    fn try_from(observed: wit::Observed) -> Result<Self, String> {
        Ok(Self {
            state: parse_json(&format!("the state of {}", observed.id), &observed.state)?,
            type_name: observed.type_name,
            id: observed.id,
        })
    }
}

impl From<&DiffInput> for wit::DiffInput {
    fn from(input: &DiffInput) -> Self {
        Self {
            type_name: input.type_name.clone(),
            id: input.id.clone(),
            desired: input.desired.as_ref().map(Value::to_string),
            observed: input.observed.as_ref().map(Value::to_string),
            prior: input.prior.as_ref().map(Value::to_string),
        }
    }
}

impl From<wit::Action> for Action {
    fn from(action: wit::Action) -> Self {
        match action {
            wit::Action::NoOp => Self::NoOp,
            wit::Action::Create => Self::Create,
            wit::Action::Update => Self::Update,
            wit::Action::Replace => Self::Replace,
            wit::Action::Delete => Self::Delete,
        }
    }
}

impl From<Action> for wit::Action {
    fn from(action: Action) -> Self {
        match action {
            Action::NoOp => Self::NoOp,
            Action::Create => Self::Create,
            Action::Update => Self::Update,
            Action::Replace => Self::Replace,
            Action::Delete => Self::Delete,
        }
    }
}

impl TryFrom<wit::Change> for Change {
    type Error = String;

    fn try_from(change: wit::Change) -> Result<Self, String> {
        let what = |part: &str| format!("the {part} of the change to {}", change.id);
        Ok(Self {
            action: change.action.into(),
            fields: change
                .fields
                .into_iter()
                .map(|field| {
                    Ok(FieldChange {
                        before: parse_optional(&what("field values"), field.before)?,
                        after: parse_optional(&what("field values"), field.after)?,
                        path: field.path,
                        sensitive: field.sensitive,
                    })
                })
                .collect::<Result<_, String>>()?,
            desired: parse_optional(&what("desired spec"), change.desired)?,
            observed: parse_optional(&what("observed state"), change.observed)?,
            type_name: change.type_name,
            id: change.id,
            summary: change.summary,
        })
    }
}

impl From<&Change> for wit::Change {
    fn from(change: &Change) -> Self {
        Self {
            type_name: change.type_name.clone(),
            id: change.id.clone(),
            action: change.action.into(),
            summary: change.summary.clone(),
            fields: change
                .fields
                .iter()
                .map(|field| wit::FieldChange {
                    path: field.path.clone(),
                    before: field.before.as_ref().map(Value::to_string),
                    after: field.after.as_ref().map(Value::to_string),
                    sensitive: field.sensitive,
                })
                .collect(),
            desired: change.desired.as_ref().map(Value::to_string),
            observed: change.observed.as_ref().map(Value::to_string),
        }
    }
}

impl TryFrom<wit::Outcome> for Outcome {
    type Error = String;

    fn try_from(outcome: wit::Outcome) -> Result<Self, String> {
        Ok(match outcome {
            wit::Outcome::Applied(state) => Self::Applied(parse_optional("a new state", state)?),
            wit::Outcome::Failed(error) => Self::Failed(error.into()),
            wit::Outcome::Skipped(reason) => Self::Skipped(reason),
        })
    }
}
