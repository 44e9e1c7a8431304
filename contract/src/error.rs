//! A provider's own errors: the WIT `error` record, typed by kind so that
//! the host knows whether trying again may help.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The desired state or configuration is wrong; retrying won't help.
    Invalid,
    /// Credentials or permission refused.
    Unauthorized,
    /// The object conflicts with what exists.
    Conflict,
    /// Something the change needs does not exist.
    NotFound,
    /// The host's network gate refused the request.
    Denied,
    /// The server could not be reached or answered 5xx; worth retrying.
    Unavailable,
    /// The server did not answer in time; worth retrying.
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

/// An error returned by a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// The error's kind.
    pub kind: ErrorKind,
    /// What went wrong, for the operator.
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

/// The message, then the kind in words: `zone not found (not found)`, as
/// the host records a failed change.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reads_as_its_message_then_its_kind() {
        let error =
            Error::new(ErrorKind::Unavailable, "the server answered 503").context("listing zones");
        assert_eq!(
            error.to_string(),
            "listing zones: the server answered 503 (unavailable)"
        );
        assert!(error.kind.is_retryable());
        assert!(!ErrorKind::Invalid.is_retryable());
        assert_eq!(
            serde_json::to_string(&ErrorKind::NotFound).unwrap(),
            "\"not-found\""
        );
    }
}
