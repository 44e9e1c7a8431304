//! Errors of the plugin host. A provider's own typed errors (WIT `result`
//! errors) are kept apart from what broke the sandbox: traps, timeouts,
//! exhausted limits and host failures.

use crate::secrets::SecretError;
use std::path::PathBuf;
use std::time::Duration;

/// How a provider broke the contract: what it returned cannot be what
/// the WIT contract promises.
#[derive(Debug, thiserror::Error)]
pub enum ContractViolation {
    /// A JSON document it sent is not JSON.
    #[error("{what} is not JSON: {source}")]
    NotJson {
        /// Which document.
        what: String,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// It returned another number of results than it was given inputs.
    #[error("it returned {received} results for {sent} inputs")]
    ResultCount {
        /// The inputs sent.
        sent: usize,
        /// The results received.
        received: usize,
    },
    /// `diff` returned its changes in another order than its inputs.
    #[error(
        "the change for {expected} came back as {returned}: changes must keep the order of the inputs"
    )]
    ChangeOrder {
        /// The input's `TYPE/ID`.
        expected: String,
        /// The `TYPE/ID` of the change returned in its place.
        returned: String,
    },
    /// A schema it describes itself with is not a JSON Schema the host can
    /// use.
    #[error(
        "{what} is not a JSON Schema the host can use: {problem}; the plugin's author must fix it (the host fetches no schema it refers to)"
    )]
    InvalidSchema {
        /// Which schema.
        what: String,
        /// Why.
        problem: String,
    },
    /// A resource type names a field its schema does not define.
    #[error(
        "resource type `{type_name}` names `{field}` as {role}, but its schema does not define `{field}`; the plugin's author must define it in the schema or name a field the schema has (the resources are not at fault)"
    )]
    UndefinedField {
        /// The resource type.
        type_name: String,
        /// What the field is for (`an identity field`, …).
        role: &'static str,
        /// The field, with `.` between its parts (`metadata.name`).
        field: String,
    },
    /// `diff` proposed deleting a resource the repository declares.
    #[error("it proposed deleting {address}, which the repository declares")]
    DeletesDeclared {
        /// The resource's address.
        address: String,
    },
}

/// Everything that can go wrong loading or calling a plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The plugin file is larger than the host loads.
    #[error("plugin {path} is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The plugin's sha256 is not the one the operator pinned.
    #[error(
        "plugin {path} has sha256 {actual}, but cairn.toml pins {expected}: refusing to load it. If the new plugin is intended, update `sha256` in cairn.toml"
    )]
    DigestMismatch {
        /// The file.
        path: PathBuf,
        /// The pinned digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// The file is not a component of the provider world.
    #[error("plugin {path} is not a valid Cairn provider component: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The compiler's or linker's reason.
        reason: String,
    },
    /// A secret the provider instance references could not be fetched.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The call ran past its deadline.
    #[error(
        "{} did not finish `{function}` within {timeout:?}; it was stopped (raise `timeout` in cairn.toml if the server is just slow)",
        subject(.provider)
    )]
    Timeout {
        /// The provider instance.
        provider: String,
        /// The function.
        function: &'static str,
        /// The deadline.
        timeout: Duration,
    },
    /// The call used more memory than its limit.
    #[error(
        "{} exceeded its memory limit of {limit_mib} MiB in `{function}` and was stopped (raise `memory` in cairn.toml if it needs more)",
        subject(.provider)
    )]
    MemoryExhausted {
        /// The provider instance.
        provider: String,
        /// The function.
        function: &'static str,
        /// The limit in MiB.
        limit_mib: u64,
    },
    /// The call held more host resources at once than one call may.
    #[error(
        "{} held more than {limit} host resources (header sets, requests, bodies, streams) at once in `{function}` and was stopped: a call may hold at most {limit}",
        subject(.provider)
    )]
    TooManyResources {
        /// The provider instance.
        provider: String,
        /// The function.
        function: &'static str,
        /// [`super::limits::MAX_RESOURCES_PER_CALL`].
        limit: usize,
    },
    /// The plugin trapped (panicked, hit `unreachable`, broke a limit).
    #[error("{} crashed in `{function}`: {reason}{}",
        subject(.provider), stderr_suffix(.stderr))]
    Trap {
        /// The provider instance.
        provider: String,
        /// The function.
        function: &'static str,
        /// The trap.
        reason: String,
        /// What the plugin printed to stderr (its panic message).
        stderr: String,
    },
    /// The provider returned an error.
    #[error("{} failed in `{function}`: {error}",
        subject(.provider))]
    Provider {
        /// The provider instance.
        provider: String,
        /// The function.
        function: &'static str,
        /// Its error.
        error: cairn_contract::Error,
    },
    /// The call returned more than the host accepts from one call.
    #[error(
        "{} returned {} MiB from `{function}`, more than the {} MiB the host accepts from one call; the answer was dropped (a provider should return less per call)",
        subject(.provider),
        .bytes >> 20,
        .limit >> 20
    )]
    ResultTooLarge {
        /// The provider instance.
        provider: String,
        /// The function.
        function: &'static str,
        /// The bytes of its result.
        bytes: usize,
        /// [`super::limits::MAX_RESULT_BYTES`].
        limit: usize,
    },
    /// The provider returned something that breaks the contract.
    #[error("{} broke the contract in `{function}`: {violation}",
        subject(.provider))]
    Contract {
        /// The provider instance.
        provider: String,
        /// The function.
        function: &'static str,
        /// What it did wrong.
        #[source]
        violation: ContractViolation,
    },
    /// A policy returned an error: it could not evaluate.
    #[error("policy `{policy}` could not evaluate: {error}")]
    Policy {
        /// The policy's id.
        policy: String,
        /// Its error.
        error: cairn_contract::PolicyError,
    },
    /// The host itself failed.
    #[error("the plugin host failed: {0}")]
    Host(String),
}

/// Who a call's error is about: `provider `dns`` or, for the calls of a
/// policy (labelled `policy:ID`, see [`crate::POLICY_LABEL_PREFIX`]),
/// `policy `ID``.
fn subject(label: &str) -> String {
    match label.strip_prefix(crate::POLICY_LABEL_PREFIX) {
        Some(policy) => format!("policy `{policy}`"),
        None => format!("provider `{label}`"),
    }
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("\n  the plugin printed: {stderr}")
    }
}

impl PluginError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } => true,
            Self::Provider { error, .. } => error.kind.is_retryable(),
            _ => false,
        }
    }
}
