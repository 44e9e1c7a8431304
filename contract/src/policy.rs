//! The values of `cairn:policy@0.1.0` (`wit/policy@0.1.0/policy.wit`): what
//! a policy is shown and what it finds. JSON documents (specs, the plan,
//! the operator's config) are [`Value`]s here and text on the wire.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How serious a finding is. Only [`FindingSeverity::Error`] findings of a
/// policy the operator made `soft-mandatory` or `mandatory` block a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingSeverity {
    /// A rule is broken (Conftest's `deny` and `violation`).
    Error,
    /// Something is probably wrong (Conftest's `warn`).
    Warning,
    /// Worth knowing; nothing is wrong.
    Info,
}

impl FindingSeverity {
    /// The word shown and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

/// What a policy says of itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyInfo {
    /// The policy's name, such as `rego`.
    pub name: String,
    /// Its version (semantic versioning).
    pub version: String,
    /// One line saying what it checks.
    pub description: String,
    /// A JSON Schema of the operator's `config` table for it.
    pub config_schema: Value,
}

/// A file the operator named for the policy, read by the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFile {
    /// The path as the operator wrote it, for messages.
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// What the operator configured for a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicySettings {
    /// The operator's `config` table as a JSON object.
    pub config: Value,
    /// The files named by `files`, in the order written.
    #[serde(default)]
    pub files: Vec<RuleFile>,
}

/// The commit whose desired state is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyCommit {
    /// The full commit id.
    pub id: String,
    /// The author, `Name <email>`.
    pub author: String,
    /// The first line of the message.
    pub message: String,
    /// Commit time, seconds since the Unix epoch.
    pub time: i64,
    /// The key that signed it, when the tenant checks signatures.
    #[serde(default)]
    pub signer: Option<String>,
}

/// One resource the commit declares, as its provider validated it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyResource {
    /// `PROVIDER/TYPE/ID`.
    pub address: String,
    /// The provider instance.
    pub provider: String,
    /// The resource type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The id.
    pub id: String,
    /// The canonical spec, sensitive values withheld.
    pub spec: Value,
    /// The file that declares it.
    pub file: String,
    /// The line of its table, from 1.
    pub line: u32,
}

/// Everything a policy is shown. Its JSON form is the `input` document
/// of the shipped Rego policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyInput {
    /// The tenant.
    pub tenant: String,
    /// The commit.
    pub commit: PolicyCommit,
    /// Every resource the commit declares, in the order declared.
    pub resources: Vec<PolicyResource>,
    /// The plan as `cairn plan --json` prints it; `None` when only the
    /// desired state is checked.
    #[serde(default)]
    pub plan: Option<Value>,
}

/// One thing a policy found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Finding {
    /// The rule that found it (`dns-min-ttl`).
    pub rule: String,
    /// How serious it is.
    pub severity: FindingSeverity,
    /// What is wrong.
    pub message: String,
    /// The resource it concerns, `PROVIDER/TYPE/ID`.
    #[serde(default)]
    pub address: Option<String>,
    /// The field inside the spec, `/`-separated.
    #[serde(default)]
    pub field: Option<String>,
    /// What to do about it.
    #[serde(default)]
    pub help: Option<String>,
}

impl Finding {
    /// A finding of `rule` with `severity`.
    pub fn new(
        rule: impl Into<String>,
        severity: FindingSeverity,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.into(),
            severity,
            message: message.into(),
            address: None,
            field: None,
            help: None,
        }
    }

    /// An `error` finding: a broken rule.
    pub fn error(rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(rule, FindingSeverity::Error, message)
    }

    /// A `warning` finding.
    pub fn warning(rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(rule, FindingSeverity::Warning, message)
    }

    /// The resource it concerns.
    pub fn at(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// The field inside the resource's spec.
    pub fn field(mut self, path: impl Into<String>) -> Self {
        self.field = Some(path.into());
        self
    }

    /// What to do about it.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// What kind of failure kept a policy from evaluating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyErrorKind {
    /// The operator's `config` is not what the policy accepts.
    InvalidConfig,
    /// A rule file cannot be used.
    InvalidRules,
    /// Anything else.
    Internal,
}

impl PolicyErrorKind {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidConfig => "invalid-config",
            Self::InvalidRules => "invalid-rules",
            Self::Internal => "internal",
        }
    }
}

/// Why a policy could not evaluate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyError {
    /// What kind of failure.
    pub kind: PolicyErrorKind,
    /// What went wrong.
    pub message: String,
    /// The rule file at fault.
    #[serde(default)]
    pub file: Option<String>,
    /// The line in that file, from 1.
    #[serde(default)]
    pub line: Option<u32>,
}

impl PolicyError {
    /// An error of `kind`.
    pub fn new(kind: PolicyErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            file: None,
            line: None,
        }
    }

    /// The rule file and line at fault.
    pub fn in_file(mut self, file: impl Into<String>, line: Option<u32>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self
    }
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            _ => {}
        }
        write!(f, "{} ({})", self.message, self.kind.as_str())
    }
}

impl std::error::Error for PolicyError {}
