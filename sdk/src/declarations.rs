//! What a commit declares: the resources `diff` may see referred to.

use crate::{Declared, DiffInput};
use std::collections::{BTreeMap, BTreeSet};

/// Every resource of this provider instance that the commit declares: the
/// inputs of a [`Provider::diff`](crate::Provider::diff) call that have a
/// desired spec, and the others the host named. A reference resolves when
/// its target is declared here or exists in the real world; any other is
/// an error [`Diagnostic`](crate::Diagnostic) on the referring change
/// ([`Change::diagnostics`](crate::Change::diagnostics)), so that the plan
/// stops before anything is applied.
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    ids: BTreeMap<String, BTreeSet<String>>,
}

impl Declarations {
    /// The declarations of one `diff` call: its inputs with a desired spec,
    /// and `others`.
    pub fn new(inputs: &[DiffInput], others: Vec<Declared>) -> Self {
        let mut declarations = Self::default();
        for input in inputs.iter().filter(|input| input.desired.is_some()) {
            declarations.insert(&input.type_name, input.id.clone());
        }
        // A commit may declare ten thousand: their ids are kept as they
        // came, and a type's name is copied once.
        for declared in others {
            declarations.insert(&declared.type_name, declared.id);
        }
        declarations
    }

    fn insert(&mut self, type_name: &str, id: String) {
        match self.ids.get_mut(type_name) {
            Some(ids) => {
                ids.insert(id);
            }
            None => {
                self.ids.insert(type_name.to_string(), BTreeSet::from([id]));
            }
        }
    }

    /// Whether the commit declares the resource of `type_name` and `id`.
    pub fn contains(&self, type_name: &str, id: &str) -> bool {
        self.ids.get(type_name).is_some_and(|ids| ids.contains(id))
    }

    /// The ids the commit declares of `type_name`, in order.
    pub fn ids(&self, type_name: &str) -> impl Iterator<Item = &str> {
        self.ids
            .get(type_name)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inputs_with_a_desired_spec_and_the_others_are_declared() {
        let input = |id: &str, desired| DiffInput {
            type_name: "user".into(),
            id: id.into(),
            desired,
            observed: None,
            prior: None,
            halt: false,
        };
        let inputs = [input("alan", Some(json!({}))), input("gone", None)];
        let others = vec![Declared {
            type_name: "group".into(),
            id: "admins".into(),
        }];
        let declarations = Declarations::new(&inputs, others);
        assert!(declarations.contains("user", "alan"));
        assert!(!declarations.contains("user", "gone"), "leaving Git");
        assert!(declarations.contains("group", "admins"));
        assert!(!declarations.contains("group", "alan"));
        assert_eq!(declarations.ids("user").collect::<Vec<_>>(), ["alan"]);
    }
}
