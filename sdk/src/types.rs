//! The values a provider receives and returns, as plain Rust types.
//!
//! They mirror the records of `cairn:provider/types`, with JSON documents as
//! [`serde_json::Value`] instead of text.

use serde_json::Value;
use std::fmt;

/// What a provider is and what it manages; returned by
/// [`Provider::describe`](crate::Provider::describe).
#[derive(Debug, Clone)]
pub struct ProviderInfo {
    /// The provider's name, such as `powerdns`.
    pub name: String,
    /// The provider's version (semantic versioning).
    pub version: String,
    /// One line saying what the provider talks to.
    pub description: String,
    /// The object kinds it manages.
    pub resource_types: Vec<ResourceType>,
    /// A JSON Schema of the operator's `config` table.
    pub config_schema: Value,
}

/// One kind of object a provider manages.
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// The name used in resource files: `[[PROVIDER.NAME]]`.
    pub name: String,
    /// One line saying what the type is.
    pub description: String,
    /// A JSON Schema of the spec.
    pub schema: Value,
    /// The spec fields that together identify an object. A field may be a
    /// `/`-separated path into nested tables (`metadata/name`); a field
    /// ending in `?` is optional and left out of the id when absent.
    pub identity: Vec<String>,
    /// Fields whose change replaces the object.
    pub force_replace: Vec<String>,
    /// Fields holding secrets.
    pub sensitive: Vec<String>,
}

impl ResourceType {
    /// A type with a name, a description and the fields of its identity.
    pub fn new(name: &str, description: &str, identity: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            description: description.to_string(),
            schema: Value::Object(Default::default()),
            identity: identity.iter().map(|field| field.to_string()).collect(),
            force_replace: Vec::new(),
            sensitive: Vec::new(),
        }
    }

    /// Sets the JSON Schema of the spec.
    pub fn schema(mut self, schema: Value) -> Self {
        self.schema = schema;
        self
    }

    /// Declares fields whose change replaces the object.
    pub fn force_replace(mut self, fields: &[&str]) -> Self {
        self.force_replace = fields.iter().map(|field| field.to_string()).collect();
        self
    }

    /// Declares fields holding secrets.
    pub fn sensitive(mut self, fields: &[&str]) -> Self {
        self.sensitive = fields.iter().map(|field| field.to_string()).collect();
        self
    }
}

/// The secrets the operator referenced for this provider instance.
#[derive(Clone, Default)]
pub struct Secrets(Vec<(String, String)>);

impl Secrets {
    /// Wraps name/value pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The value of the secret `name`, if the operator gave one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of the secret `name`, or an [`ErrorKind::Invalid`] error
    /// telling the operator to reference it.
    pub fn require(&self, name: &str) -> Result<&str, Error> {
        self.get(name).ok_or_else(|| {
            Error::invalid(format!(
                "the secret `{name}` is missing: add `secrets = {{ {name} = {{ env = \"VAR\" }} }}` to this provider in cairn.toml"
            ))
        })
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Secrets").field("names", &names).finish()
    }
}

/// A desired resource as written in Git, before validation.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The resource type's name.
    pub type_name: String,
    /// The spec: the resource's table without Cairn's reserved keys.
    pub spec: Value,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The resource is invalid.
    Error,
    /// Accepted, but probably wrong.
    Warning,
}

/// A problem found in one desired resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Path of the offending field, `/`-separated; empty for the whole resource.
    pub path: String,
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            severity: Severity::Error,
            message: message.into(),
            help: None,
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(path, message)
        }
    }

    /// Adds advice on what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// The outcome of validating one resource.
#[derive(Debug, Clone, Default)]
pub struct Validation {
    /// The canonical spec, present when there is no error.
    pub canonical: Option<Value>,
    /// Errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
}

impl Validation {
    /// A valid resource in canonical form.
    pub fn valid(canonical: Value) -> Self {
        Self {
            canonical: Some(canonical),
            diagnostics: Vec::new(),
        }
    }

    /// An invalid resource.
    pub fn invalid(diagnostics: Vec<Diagnostic>) -> Self {
        Self {
            canonical: None,
            diagnostics,
        }
    }
}

/// Which objects the host wants to see in `list`.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Resource types to list.
    pub type_names: Vec<String>,
    /// Ids of interest: every desired id and every id the host owns.
    pub ids: Vec<String>,
}

impl Scope {
    /// Whether the scope asks for objects of `type_name`.
    pub fn wants(&self, type_name: &str) -> bool {
        self.type_names.iter().any(|name| name == type_name)
    }
}

/// An object as it is in the real world.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// Its resource type.
    pub type_name: String,
    /// Its id.
    pub id: String,
    /// Its state, shaped like the spec, canonical.
    pub state: Value,
}

/// What `diff` compares for one resource.
#[derive(Debug, Clone)]
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
        }
    }
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One field that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// The field's path, `/`-separated.
    pub path: String,
    /// The observed value.
    pub before: Option<Value>,
    /// The desired value.
    pub after: Option<Value>,
    /// Whether the values are secret.
    pub sensitive: bool,
}

/// A change for one resource.
#[derive(Debug, Clone)]
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
}

/// Why something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The desired state or configuration is wrong.
    Invalid,
    /// Credentials or permission refused.
    Unauthorized,
    /// The object conflicts with what exists.
    Conflict,
    /// Something the change needs does not exist.
    NotFound,
    /// The host's network gate refused the request.
    Denied,
    /// The server could not be reached or answered 5xx.
    Unavailable,
    /// The server did not answer in time.
    Timeout,
    /// Anything else.
    Internal,
}

/// An error returned by a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The error's kind.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// An [`ErrorKind::Invalid`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// An [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Prefixes the message with what was being done.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// The outcome of one change.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Made; the new state (`None` after a delete).
    Applied(Option<Value>),
    /// Not made.
    Failed(Error),
    /// Not attempted because a change batched with it failed first.
    Skipped(String),
}
