//! Checking desired resources: what `validate` receives and answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A desired resource as written in Git, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resource {
    /// The resource type's name.
    pub type_name: String,
    /// The spec: the resource's table without Cairn's reserved keys.
    pub spec: Value,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The resource is invalid: nothing of the commit is applied.
    Error,
    /// Accepted, but probably wrong.
    Warning,
}

/// A problem found in one desired resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Path of the offending field, `/`-separated; empty for the whole resource.
    pub path: String,
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(default)]
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
#[derive(Debug, Clone, Default, Serialize)]
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
