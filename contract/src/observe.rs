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
}
