//! Secrets by reference: the operator names an environment variable or a
//! file, and the value is fetched only when a plugin call needs it. Values
//! never enter Git, logs, plans or the state store.

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// Where a secret's value comes from.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, untagged)]
pub enum SecretRef {
    /// `{ env = "VAR" }`: an environment variable of the Cairn process.
    Env {
        /// The variable's name.
        env: String,
    },
    /// `{ file = "/run/secrets/x" }`: a file's contents, without the final
    /// newline.
    File {
        /// The file's path.
        file: PathBuf,
    },
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env { env } => write!(f, "env:{env}"),
            Self::File { file } => write!(f, "file:{}", file.display()),
        }
    }
}

/// A secret could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error(
        "the secret `{name}` refers to the environment variable {var}, which is not set: export it before running cairn"
    )]
    MissingEnv {
        /// The secret's name.
        name: String,
        /// The variable.
        var: String,
    },
    /// The file could not be read.
    #[error("the secret `{name}` refers to {path}, which cannot be read: {source}")]
    File {
        /// The secret's name.
        name: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A secret's value; its `Debug` never shows it.
#[derive(Clone)]
pub struct SecretValue(String);

impl SecretValue {
    /// The value, for handing to a plugin.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(redacted)")
    }
}

impl SecretRef {
    /// Fetches the value of the secret called `name`.
    pub fn resolve(&self, name: &str) -> Result<SecretValue, SecretError> {
        match self {
            Self::Env { env } => {
                std::env::var(env)
                    .map(SecretValue)
                    .map_err(|_| SecretError::MissingEnv {
                        name: name.to_string(),
                        var: env.clone(),
                    })
            }
            Self::File { file } => std::fs::read_to_string(file)
                .map(|text| SecretValue(text.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|source| SecretError::File {
                    name: name.to_string(),
                    path: file.clone(),
                    source,
                }),
        }
    }
}
