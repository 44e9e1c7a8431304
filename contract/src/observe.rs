//! Observing the real world: what `list` is asked for and answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which objects the host wants to see in `list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scope {
    /// Resource types to list.
    pub type_names: Vec<String>,
    /// Ids of interest: every desired id and every id the host owns.
    #[serde(default)]
    pub ids: Vec<String>,
}

impl Scope {
    /// Whether the scope asks for objects of `type_name`.
    pub fn wants(&self, type_name: &str) -> bool {
        self.type_names.iter().any(|name| name == type_name)
    }
}

/// An object as it is in the real world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// Its resource type.
    pub type_name: String,
    /// Its id.
    pub id: String,
    /// Its state, shaped like the spec, canonical.
    pub state: Value,
    /// The provider vouches that this provider instance made the object: it
    /// bears the owner mark `configure` received (contract 0.2.0; always
    /// `false` from a 0.1.0 provider). The host then treats an object it
    /// has no record of as its own instead of refusing it as a conflict.
    /// Set it only from such a mark, never from a guess.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vouched: bool,
}

impl Observed {
    /// An object the provider does not vouch for.
    pub fn new(type_name: impl Into<String>, id: impl Into<String>, state: Value) -> Self {
        Self {
            type_name: type_name.into(),
            id: id.into(),
            state,
            vouched: false,
        }
    }
}
