//! Errors of the plugin host. A provider's own typed errors (WIT `result`
//! errors) are kept apart from what broke the sandbox: traps, timeouts,
//! exhausted limits and host failures.

use super::bindings;
use crate::secrets::SecretError;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The kind of a provider's own error, as the WIT contract defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The desired state or configuration is wrong.
    Invalid,
    /// The server refused the credentials.
    Unauthorized,
    /// The object conflicts with what exists.
    Conflict,
    /// Something the change needs does not exist.
    NotFound,
    /// The network gate refused a request.
    Denied,
    /// The server could not be reached; retryable.
    Unavailable,
    /// The server did not answer in time; retryable.
    Timeout,
    /// Anything else.
    Internal,
}

impl ErrorKind {
    /// Whether trying again later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Unavailable | Self::Timeout)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Invalid => "invalid",
            Self::Unauthorized => "unauthorized",
            Self::Conflict => "conflict",
            Self::NotFound => "not found",
            Self::Denied => "denied by the network gate",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Internal => "internal",
        };
        f.write_str(text)
    }
}

impl From<bindings::ErrorKind> for ErrorKind {
    fn from(kind: bindings::ErrorKind) -> Self {
        match kind {
            bindings::ErrorKind::Invalid => Self::Invalid,
            bindings::ErrorKind::Unauthorized => Self::Unauthorized,
            bindings::ErrorKind::Conflict => Self::Conflict,
            bindings::ErrorKind::NotFound => Self::NotFound,
            bindings::ErrorKind::Denied => Self::Denied,
            bindings::ErrorKind::Unavailable => Self::Unavailable,
            bindings::ErrorKind::Timeout => Self::Timeout,
            bindings::ErrorKind::Internal => Self::Internal,
        }
    }
}

/// An error a provider returned through its WIT interface.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProviderError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The provider's message.
    pub message: String,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

impl From<bindings::Error> for ProviderError {
    fn from(error: bindings::Error) -> Self {
        Self {
            kind: error.kind.into(),
            message: error.message,
        }
    }
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
        "provider `{provider}` did not finish `{function}` within {timeout:?}; it was stopped (raise `timeout` in cairn.toml if the server is just slow)"
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
        "provider `{provider}` exceeded its memory limit of {limit_mib} MiB in `{function}` and was stopped (raise `memory` in cairn.toml if it needs more)"
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
        "provider `{provider}` held more than {limit} host resources (header sets, requests, bodies, streams) at once in `{function}` and was stopped: a call may hold at most {limit}"
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
    #[error("provider `{provider}` crashed in `{function}`: {reason}{}", stderr_suffix(.stderr))]
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
    #[error("provider `{provider}` failed in `{function}`: {error}")]
    Provider {
        /// The provider instance.
        provider: String,
        /// The function.
        function: &'static str,
        /// Its error.
        error: ProviderError,
    },
    /// The call returned more than the host accepts from one call.
    #[error(
        "provider `{provider}` returned {} MiB from `{function}`, more than the {} MiB the host accepts from one call; the answer was dropped (a provider should return less per call)",
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
    #[error("provider `{provider}` broke the contract in `{function}`: {reason}")]
    Contract {
        /// The provider instance.
        provider: String,
        /// The function.
        function: &'static str,
        /// What it did wrong.
        reason: String,
    },
    /// The host itself failed.
    #[error("the plugin host failed: {0}")]
    Host(String),
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
